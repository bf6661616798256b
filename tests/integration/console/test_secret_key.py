"""Issue: a default install signed session cookies with a published key, so anyone could forge an
admin session.  Now there is no usable default: the first start generates a private key."""

from __future__ import annotations

import json
import shutil
import stat
from base64 import b64encode
from pathlib import Path

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent_console.app import create_app
from agent_console.security import SESSION_COOKIE
from registratura.bootstrap import bootstrap
from registratura.cli import app as cli_app
from registratura.secret_key import InsecureSecretKey, resolve_secret_key
from registratura.settings import Settings

OLD_DEFAULT = "dev-only-change-me"


def _forged_cookie(key: str, username: str) -> str:
    """A session cookie as Starlette's SessionMiddleware signs it, for ``username``."""
    data = b64encode(json.dumps({"agent": username, "gen": 0, "csrf": "x"}).encode())
    return itsdangerous.TimestampSigner(key).sign(data).decode()


def test_first_start_generates_a_private_key_and_keeps_it(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "secret_key"
    key = resolve_secret_key(None, key_file)
    assert len(key) >= 48
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert resolve_secret_key(None, key_file) == key  # the next start reads the same key
    assert resolve_secret_key(None, tmp_path / "other") != key  # random, not derived


@pytest.mark.parametrize("weak", [OLD_DEFAULT, "change-me", "short-key"])
def test_weak_configured_keys_are_refused(tmp_path: Path, weak: str) -> None:
    with pytest.raises(InsecureSecretKey) as err:
        resolve_secret_key(weak, tmp_path / "secret_key")
    assert weak not in str(err.value)  # the message names the setting, never the value
    assert "REGISTRATURA_SECRET_KEY" in str(err.value)


def test_a_key_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("k" * 40 + "\n")
    key_file.chmod(0o644)
    assert resolve_secret_key(None, key_file) == "k" * 40
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_cookie_forged_with_the_old_default_key_is_not_an_admin_session(
        console_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "console.db"
    shutil.copy(console_template, db)
    key_file = tmp_path / "secret_key"
    container = bootstrap(Settings(database_url=f"sqlite:///{db}",  # type: ignore[call-arg]
                                   secret_key_file=key_file))
    try:
        client = TestClient(create_app(container))
        client.cookies.set(SESSION_COOKIE, _forged_cookie(OLD_DEFAULT, "admin1"))
        forged = client.get("/api/agents", follow_redirects=False)
        assert forged.status_code == 401
        # The same forgery with the install's own key does open the session: the test above
        # failed for the right reason (the key), not because the cookie was malformed.
        client.cookies.set(SESSION_COOKIE, _forged_cookie(key_file.read_text().strip(), "admin1"))
        assert client.get("/api/agents").status_code == 200
    finally:
        container.dispose()


def test_the_cli_refuses_to_start_on_the_old_default(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRATURA_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("REGISTRATURA_SECRET_KEY", OLD_DEFAULT)
    result = CliRunner().invoke(cli_app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "placeholder" in result.output
    assert OLD_DEFAULT not in result.output
