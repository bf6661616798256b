"""Fixtures for console tests: the demo clinic plus three console users, a TestClient per role,
and scripted IVR calls that leave escalated call records behind."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_console.app import create_app
from booking_core import agents
from booking_core.actors import Actor
from booking_core.clock import FixedClock
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings
from support.world import demo, own_phone

PASSWORD = "correct-horse-1"
USERS = {"admin1": "admin", "agent1": "agent", "agent2": "agent", "observer1": "observer"}


def _make_settings(url: str) -> Settings:
    return Settings(database_url=url, secret_key="test-secret-key-0123456789")  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def console_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clinic with console users whose password is known (hashing once a session)."""
    path = tmp_path_factory.mktemp("console") / "console.db"
    shutil.copy(sqlite_template, path)
    c = bootstrap(_make_settings(f"sqlite:///{path}"),
                  clock=FixedClock(datetime(2026, 9, 7, 10, 0)))
    for username, role in USERS.items():
        agents.create_agent(agents.NewAgent(username, role, PASSWORD, Actor.system("test"),
                                            full_name=f"Тест {username}"), c.uow())
    c.dispose()
    return path


@pytest.fixture
def console_container(console_template: Path, tmp_path: Path,
                      clock: FixedClock) -> Iterator[Container]:
    path = tmp_path / "console.db"
    shutil.copy(console_template, path)
    c = bootstrap(_make_settings(f"sqlite:///{path}"), clock=clock)
    yield c
    c.dispose()


@pytest.fixture
def app(console_container: Container):  # type: ignore[no-untyped-def]
    return create_app(console_container, poll_interval=0.05, sse_max_seconds=5)


@pytest.fixture
def make_client(app) -> Iterator[Callable[..., TestClient]]:  # type: ignore[no-untyped-def]
    """``make_client(username)``: a client logged in through the JSON API (CSRF header set);
    ``make_client(None)``: an anonymous one."""
    clients: list[TestClient] = []

    def build(username: str | None = None) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        if username:
            r = client.post("/api/session", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def admin(make_client) -> TestClient:  # type: ignore[no-untyped-def]
    return make_client("admin1")


@pytest.fixture
def agent(make_client) -> TestClient:  # type: ignore[no-untyped-def]
    return make_client("agent1")


@pytest.fixture
def observer(make_client) -> TestClient:  # type: ignore[no-untyped-def]
    return make_client("observer1")


def _page_token(client: TestClient, path: str = "/queue") -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]


@pytest.fixture
def page_token() -> Callable[..., str]:
    """``page_token(client, path="/queue")``: the CSRF token a page embeds in its forms."""
    return _page_token


@pytest.fixture
def password() -> str:
    return PASSWORD


def _identify_keys(role: str = "adult") -> list[str]:
    p = demo(role)
    return [p.policy_number, p.birth_date.strftime("%d%m%Y"), "1"]


@pytest.fixture
def identify_keys() -> Callable[..., list[str]]:
    """``identify_keys(role)``: the IVR key presses that identify a demo patient."""
    return _identify_keys


@pytest.fixture
def ivr_call(console_container: Container) -> Callable[..., ScriptedCallIO]:
    """Run one scripted IVR call over the console's database: ``ivr_call(script)``."""

    def run(script: list, *, caller: str = "",
            agents_online: bool | None = None) -> ScriptedCallIO:
        io = ScriptedCallIO(script)
        io.info.caller_number = caller or own_phone(script)
        deps = IvrDeps(uow=console_container.uow, clinic_name="Городская поликлиника № 3",
                       opening_time=time(8, 0), closing_time=time(20, 0),
                       now_local=console_container.clock.now_local,
                       agents_available=lambda: agents_online)
        run_registry_call(io, deps)
        return io

    return run


@pytest.fixture
def blocked_call(ivr_call) -> str:  # type: ignore[no-untyped-def]
    """The blocked patient tries to book, hears of the block before the specialty menu and is
    escalated; returns REG_CALL_ID."""
    io = ivr_call([None, "1", *_identify_keys("3 no-shows")], caller="+79857778899")
    assert io.transcript.escalated
    return io.transcript.variables["REG_CALL_ID"]
