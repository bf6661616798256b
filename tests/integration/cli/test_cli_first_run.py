"""The first run on a fresh database tells the user what they need: the demo patients, the
console users with their one-time passwords, and how to set a new password later."""

from __future__ import annotations

from rich.console import Console
from typer.testing import CliRunner

from registratura import cli


def test_seed_demo_prints_users_patients_and_the_passwd_command(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRATURA_DATABASE_URL", f"sqlite:///{tmp_path}/fresh.db")
    monkeypatch.setenv("REGISTRATURA_SECRET_KEY", "test-secret-key-0123456789")
    monkeypatch.setattr(cli, "console", Console(width=200))
    runner = CliRunner()
    first = runner.invoke(cli.app, ["seed", "--demo"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "passwords are shown only" in first.output
    assert "registratura agent passwd NAME" in first.output
    assert "7700000000000123" in first.output  # the demo patients, as the README says
    again = runner.invoke(cli.app, ["seed", "--demo"], catch_exceptions=False)
    assert "already exists" in again.output and "passwords are shown" not in again.output
