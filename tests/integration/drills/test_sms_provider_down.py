"""Drill: the SMS provider is down while patients book by phone.

The IVR never talks to the provider: a booking and its SMS are one transaction (the outbox row),
so a provider outage can neither hold a caller on the line nor lose the message. The worker
keeps the row pending with its error and backs off; once the provider answers again the
message goes out exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

from ivr.runtime import IvrRuntime
from ivr.transports.terminal import ScriptedCaller
from models.tables import AppointmentStatus, OutboxMessage, OutboxStatus
from registratura.bootstrap import Container
from sms.providers import provider_from_settings
from sms.worker import OutboxWorker
from support.sms_world import ADULT_PHONE, twilio_settings
from support.twilio_fake import FakeTwilio

from .helpers import BOOK_NEAREST, appointments_of, booked, dial


def _outbox(container: Container) -> list[OutboxMessage]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def _worker(container: Container) -> OutboxWorker:
    return OutboxWorker(container, provider_from_settings(container.settings))


def _make_due(container: Container, row: OutboxMessage) -> None:
    wait = row.next_attempt_at - container.clock.now_utc()
    container.clock.advance(seconds=max(wait.total_seconds(), 0) + 1)


@pytest.mark.parametrize("outage", ["unreachable", "http 503"])
def test_calls_book_while_the_provider_is_down_and_the_sms_waits_then_goes_once(
        container: Container, clock, runtime: Callable[[Container], IvrRuntime],
        adult_id: int, outage: str, tmp_path: Path) -> None:
    down = FakeTwilio(now=clock.now_utc)
    down.start()
    twilio_settings(container, down)
    if outage == "unreachable":
        down.stop()  # nothing listens on the provider's address any more
    else:
        down.fail_next(503, times=50)
    rt = runtime(container)

    host, port = rt.server.server_address
    transcript = dial(host, port, tmp_path / "sounds", ScriptedCaller(BOOK_NEAREST))

    # The caller was told they are booked and the call ended normally.
    assert booked(transcript)
    [appt] = appointments_of(container, adult_id)
    assert appt.status == AppointmentStatus.BOOKED
    [row] = _outbox(container)
    assert row.status == OutboxStatus.PENDING and row.attempts == 0

    # Sending rounds during the outage: the message is kept, with its error, and backed off.
    worker = _worker(container)
    for attempt in (1, 2):
        result = worker.run_once()
        assert (result.sent, result.retried, result.dead) == (0, 1, 0)
        [row] = _outbox(container)
        assert row.status == OutboxStatus.PENDING and row.attempts == attempt
        assert row.last_error and not row.uncertain
        assert worker.run_once().claimed == 0  # not retried before its time
        _make_due(container, row)
    down.stop()

    # The provider is back (a new address, as after a failover): the message goes out once.
    with FakeTwilio(now=clock.now_utc) as up:
        twilio_settings(container, up)
        worker = _worker(container)
        assert worker.run_once().sent == 1
        assert worker.run_once().claimed == 0
        [sent] = up.sent_to(ADULT_PHONE)
        assert appt.confirmation_code in sent["body"]
        assert len(up.messages) == 1
    [row] = _outbox(container)
    assert row.status == OutboxStatus.SENT and row.attempts == 3
    # The booking was never touched by any of this.
    [again] = appointments_of(container, adult_id)
    assert (again.id, again.status) == (appt.id, AppointmentStatus.BOOKED)
