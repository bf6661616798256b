"""``registratura agent add --clinic CODE`` makes a user of one clinic; ``agent list`` shows
each user's clinic (or «regional»); an unknown code is refused by name."""

from __future__ import annotations

from rich.console import Console
from typer.testing import CliRunner

from booking_core import agents
from booking_core.clinic_admin import clinics
from registratura import cli
from registratura.bootstrap import bootstrap
from registratura.settings import load_settings


def test_agent_add_with_a_clinic_and_the_list(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRATURA_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("REGISTRATURA_SECRET_KEY", "test-secret-key-0123456789")
    monkeypatch.setattr(cli, "console", Console(width=200))
    runner = CliRunner()
    assert runner.invoke(cli.app, ["seed", "--demo"], catch_exceptions=False).exit_code == 0
    container = bootstrap(load_settings())
    code = clinics(container.uow())[0].code
    container.dispose()
    added = runner.invoke(cli.app, ["agent", "add", "gp3desk", "--role", "agent",
                                    "--password", "long-enough-1", "--clinic", code],
                          catch_exceptions=False)
    assert added.exit_code == 0, added.output
    assert f"clinic {code}" in added.output
    wrong = runner.invoke(cli.app, ["agent", "add", "nowhere", "--role", "agent",
                                    "--password", "long-enough-1", "--clinic", "NOPE"],
                          catch_exceptions=False)
    assert wrong.exit_code == 1 and "not_found" in wrong.output
    listed = runner.invoke(cli.app, ["agent", "list"], catch_exceptions=False).output
    row = next(line for line in listed.splitlines() if "gp3desk" in line)
    assert code in row
    assert "regional" in next(line for line in listed.splitlines() if "admin" in line)
    container = bootstrap(load_settings())
    user = agents.get_agent("gp3desk", container.uow())
    assert user is not None and user.clinic_id is not None
    container.dispose()
