"""The console on several processes over one database, as started from the command line.

Two console processes (``registratura console`` on two ports, one PostgreSQL database) stand
for two workers or two hosts behind a proxy: a request may reach either, so the login
throttle, an API client's rate, a revoked session and the live queue must come out the same
whichever one answers.  ``--workers 2`` runs two worker processes on one port and restarts one
that dies; SQLite keeps one process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import time as dtime
from pathlib import Path

import httpx
import pytest

from booking_core import agents, api_clients
from booking_core.actors import Actor
from booking_core.hours import DeskHours
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from ivr.transports.terminal import AsteriskCall, ScriptedCaller
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings
from support.console_procs import SECRET, console_process, worker_pids
from support.fhir_api import ApiClientCreds, get_token
from support.live_console import free_port

PASSWORD = "correct-horse-1"
#: The desk open round the clock, every day: the test runs whenever the machine's clock says.
ALWAYS_OPEN = DeskHours.build((dtime(0, 0), dtime(23, 59)),
                              {day: "00:00-23:59" for day in ("sat", "sun")}, None)
pytestmark = pytest.mark.slow


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database from the seeded template."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE reg_template")
    yield pg_admin_url.rsplit("/", 1)[0] + "/" + name
    _admin(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _with_users(url: str) -> Container:
    """A container on ``url`` (wall clock, as the console processes have) with agent1."""
    container = bootstrap(Settings(database_url=url, secret_key=SECRET))  # type: ignore[arg-type]
    agents.create_agent(agents.NewAgent("agent1", "agent", PASSWORD, Actor.system("test")),
                        container.uow())
    return container


@pytest.fixture
def shared_db(pg_url: str) -> Iterator[tuple[str, Container]]:
    container = _with_users(pg_url)
    yield pg_url, container
    container.dispose()


@pytest.fixture
def two_consoles(shared_db: tuple[str, Container], tmp_path: Path
                 ) -> Iterator[tuple[str, str, Container]]:
    """Two console processes over one PostgreSQL database."""
    url, container = shared_db
    with console_process(url, tmp_path / "a") as (a, _), \
            console_process(url, tmp_path / "b") as (b, _):
        yield a, b, container


def _login(base: str, client: httpx.Client, password: str = PASSWORD) -> int:
    return client.post(f"{base}/api/session",
                       json={"username": "agent1", "password": password}).status_code


@pytest.mark.postgres
def test_failed_logins_spread_over_two_processes_hit_the_throttle_at_the_same_count(
        two_consoles: tuple[str, str, Container]) -> None:
    a, b, _ = two_consoles
    with httpx.Client() as client:
        # The limit is 10 failures per name and address: alternate the processes.
        codes = [_login((a, b)[i % 2], client, "wrong") for i in range(10)]
        assert codes == [401] * 10
        # The 11th attempt is refused on both, even with the right password.
        assert _login(a, client) == 429 and _login(b, client) == 429


@pytest.mark.postgres
def test_a_session_revoked_on_one_process_is_refused_on_the_other(
        two_consoles: tuple[str, str, Container]) -> None:
    a, b, _ = two_consoles
    with httpx.Client() as client:
        r = client.post(f"{a}/api/session", json={"username": "agent1", "password": PASSWORD})
        assert r.status_code == 200
        csrf = r.json()["csrf_token"]
        issued = httpx.Cookies(client.cookies)  # a copy, as a thief would keep it
        assert client.get(f"{b}/api/session").status_code == 200  # the cookie works on B
        # Log out on B with the CSRF token A issued (it rides in the shared session).
        assert client.delete(f"{b}/api/session", headers={"X-CSRF-Token": csrf}
                             ).status_code == 204
    for base in (a, b):
        assert httpx.get(f"{base}/api/session", cookies=issued).status_code == 401


@pytest.mark.postgres
def test_an_api_client_rate_counts_across_processes(
        two_consoles: tuple[str, str, Container]) -> None:
    a, b, container = two_consoles
    client, secret = api_clients.register_client(api_clients.NewClient(
        "portal", "portal", "internet", ("system/*.read",), Actor.agent("admin1"), 4),
        container.uow())
    token = get_token(f"{a}/fhir/R4", ApiClientCreds(client.client_id, secret))
    headers = {"Authorization": f"Bearer {token}"}
    codes = [httpx.get(f"{(a, b)[i % 2]}/fhir/R4/HealthcareService", headers=headers).status_code
             for i in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    assert httpx.get(f"{b}/fhir/R4/HealthcareService", headers=headers).status_code == 429


def _escalate(container: Container) -> str:
    """An IVR call whose caller asks for an agent (agents online): it waits in the queue."""
    io = ScriptedCallIO([None, "0"])
    io.info.caller_number = "+79035550011"
    deps = IvrDeps(uow=container.uow, clinic_name="Городская поликлиника № 3",
                   opening_time=dtime(0, 0), closing_time=dtime(23, 59),
                   now_local=container.clock.now_local, agents_available=lambda: True,
                   hours=ALWAYS_OPEN)
    run_registry_call(io, deps)
    assert io.transcript.escalated
    return io.transcript.variables["REG_CALL_ID"]


def _queue_events(base: str, cookie: httpx.Cookies, want: str, timeout: float = 30) -> bool:
    """True once an SSE ``queue`` event from ``base`` lists the call ``want``."""
    deadline = time.monotonic() + timeout
    with httpx.Client(cookies=cookie, timeout=timeout) as client:
        while time.monotonic() < deadline:
            with client.stream("GET", f"{base}/events") as r:
                assert r.status_code == 200
                event = ""
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event == "queue":
                        calls = json.loads(line[5:])["calls"]
                        if any(c["call_id"] == want for c in calls):
                            return True
                    if time.monotonic() > deadline:
                        return False
    return False


@pytest.mark.postgres
def test_a_call_escalated_by_the_ivr_shows_in_the_other_process_event_stream(
        two_consoles: tuple[str, str, Container]) -> None:
    a, b, container = two_consoles
    with httpx.Client() as client:
        assert _login(a, client) == 200
        cookie = client.cookies
    call_id = _escalate(container)
    assert _queue_events(b, cookie, call_id)
    assert _queue_events(a, cookie, call_id)


@pytest.mark.postgres
def test_two_workers_share_one_port_and_a_dead_one_is_replaced(
        shared_db: tuple[str, Container], tmp_path: Path) -> None:
    url, _ = shared_db
    with console_process(url, tmp_path, workers=2) as (base, proc):
        pids = worker_pids(proc.pid)
        assert len(pids) == 2
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = worker_pids(proc.pid)
            if len(now) == 2 and pids[0] not in now:
                break
            time.sleep(0.3)
        assert len(worker_pids(proc.pid)) == 2 and pids[0] not in worker_pids(proc.pid)
        for _ in range(4):  # logins still work through the port, whichever worker answers
            with httpx.Client() as client:
                assert _login(base, client) == 200


@pytest.mark.postgres
def test_serve_with_two_console_workers_shows_a_call_the_ivr_escalated(
        shared_db: tuple[str, Container], tmp_path: Path) -> None:
    """The whole product: ``serve --console-workers 2``; a call over real FastAGI asks for an
    agent; the queue stream on the console port (whichever worker serves it) lists it."""
    url, _ = shared_db
    agi_port = free_port()
    open_all_day = json.dumps({d: "00:00-23:59" for d in ("mon", "tue", "wed", "thu", "fri",
                                                          "sat", "sun")})
    with console_process(url, tmp_path, args=("serve", "--console-workers", "2"),
                         REGISTRATURA_AGI_PORT=str(agi_port),
                         REGISTRATURA_DESK_HOURS=open_all_day,
                         REGISTRATURA_DESK_HOLIDAY_COUNTRY="") as (base, proc):
        assert len(worker_pids(proc.pid)) == 2
        with httpx.Client() as client:
            assert _login(base, client) == 200
            cookie = client.cookies
        _wait_listening(agi_port)  # the console answers while the IVR still renders prompts
        call = AsteriskCall("127.0.0.1", agi_port, caller_number="+79035550011",
                            caller=ScriptedCaller([None, "0"])).run()
        call_id = call.variables["REG_CALL_ID"]
        assert call.variables.get("REG_ESCALATE") == "1"
        for _ in range(3):  # each stream may be served by either worker
            assert _queue_events(base, cookie, call_id)


def _wait_listening(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_on_sqlite_the_console_keeps_one_process(sqlite_template: Path, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "one.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    _with_users(url).dispose()
    with console_process(url, tmp_path / "c", workers=2) as (base, proc):
        assert worker_pids(proc.pid) == []
        with httpx.Client() as client:
            assert [_login(base, client, "wrong") for _ in range(10)] == [401] * 10
            assert _login(base, client) == 429


def _phone(base: str, client: httpx.Client) -> dict:  # type: ignore[type-arg]
    r = client.get(f"{base}/api/telephony/me")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.postgres
def test_each_process_follows_asterisk_on_its_own_ami_session(
        shared_db: tuple[str, Container], tmp_path: Path) -> None:
    """Each console process has its own AMI session: a pause made through one process shows
    on the other, because Asterisk tells every session."""
    from support.ami_sim import AmiSimulator

    url, _ = shared_db
    with AmiSimulator({"registratura": "s3cret"}).start() as sim:
        sim.add_member("PJSIP/agent101", "Агент 1")
        ami = {"REGISTRATURA_AMI_HOST": "127.0.0.1", "REGISTRATURA_AMI_PORT": str(sim.port),
               "REGISTRATURA_AMI_SECRET": "s3cret",
               "REGISTRATURA_AMI_AGENT_INTERFACES": json.dumps({"agent1": "PJSIP/agent101"})}
        with console_process(url, tmp_path / "a", **ami) as (a, _), \
                console_process(url, tmp_path / "b", **ami) as (b, _), httpx.Client() as client:
            r = client.post(f"{a}/api/session", json={"username": "agent1", "password": PASSWORD})
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            assert sim.wait_for(lambda: len(sim.logged_in_sessions()) == 2, timeout=30)
            deadline = time.monotonic() + 30
            while not all(_phone(base, client)["connected"] for base in (a, b)):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert [_phone(base, client)["paused"] for base in (a, b)] == [False, False]
            r = client.post(f"{a}/api/telephony/pause", json={"paused": True, "reason": "обед"})
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 30
            while not _phone(b, client)["paused"]:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert _phone(b, client)["paused_reason"] == "обед"
