"""``registratura sms outbox | send-pending | reminders`` on the embedded SQLite database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.console import Console
from typer.testing import CliRunner

from booking_core import outbox
from registratura import cli_sms
from registratura.bootstrap import bootstrap
from registratura.cli_sms import sms_app
from support.sms_world import ADULT_PHONE, book


@pytest.fixture
def cli(sqlite_container, monkeypatch):
    monkeypatch.setenv("REGISTRATURA_DATABASE_URL", sqlite_container.settings.database_url)
    monkeypatch.setenv("REGISTRATURA_SMS_PROVIDER", "local")
    # The commands run on the test clock (the demo schedule lives in September 2026).
    monkeypatch.setattr(cli_sms, "bootstrap",
                        lambda settings: bootstrap(settings, clock=sqlite_container.clock))
    monkeypatch.setattr(cli_sms, "console", Console(width=200))
    runner = CliRunner()
    return lambda *args: runner.invoke(sms_app, list(args), catch_exceptions=False)


def test_outbox_lists_messages_with_masked_phones(sqlite_container, cli):
    appt = book(sqlite_container)
    result = cli("outbox", "--text")
    assert result.exit_code == 0, result.output
    assert "********4567" in result.output and ADULT_PHONE not in result.output
    assert "booked" in result.output and "pending: 1" in result.output
    [entry] = outbox.recent(sqlite_container.uow())
    assert f"#{entry.id}: (the text is rendered when it is sent)" in result.output
    cli("send-pending")
    sent = cli("outbox", "--text").output
    assert appt.confirmation_code in sent and "sent: 1" in sent


def test_send_pending_runs_one_round(sqlite_container, cli):
    book(sqlite_container)
    result = cli("send-pending")
    assert result.exit_code == 0, result.output
    assert "Provider local: 1 due, 1 sent" in result.output
    assert outbox.counts(sqlite_container.uow()) == {"sent": 1}


def test_reminders_queues_tomorrows_reminders_now(sqlite_container, cli):
    book(sqlite_container, on=sqlite_container.clock.today() + timedelta(days=1))
    result = cli("reminders")  # 10:00, before the reminder hour: by hand it queues anyway
    assert result.exit_code == 0, result.output
    assert "Reminders queued for tomorrow: 1." in result.output
    assert "Reminders queued for tomorrow: 0." in cli("reminders").output
    assert outbox.counts(sqlite_container.uow()) == {"pending": 2}  # booking + reminder
