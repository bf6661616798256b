"""Drills: the database connection drops, the server goes away, the database is slow.

In every case the caller is never left in dead air: the call escalates with
``REG_REASON=system_error`` (the dialplan queues it for an agent), no half booking remains, and
once the database is back the next call books normally (``pool_pre_ping`` replaces dead
pooled connections).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from booking_core.slots import generate_slots
from ivr.transports.terminal import ScriptedCaller, Transcript
from models import db as models_db
from models.migrate import upgrade
from registratura.bootstrap import Container, bootstrap
from registratura.demo import seed_demo
from registratura.settings import Settings
from support.postgres import PostgresUnavailable, TempPostgres, _pg_bin, wait_ready
from support.world import patient_id

from .helpers import (
    BOOK_NEAREST,
    BeforeIdentifyHook,
    assert_complete_or_absent,
    booked,
    dial,
)


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _settings(url: str, **overrides: Any) -> Settings:
    return Settings(database_url=url, secret_key="test-secret-key-0123456789", **overrides)  # type: ignore[arg-type]


def _escalated_for_system_error(t: Transcript) -> bool:
    return (t.variables.get("REG_ESCALATE") == "1"
            and t.variables.get("REG_REASON") == "system_error"
            and "REG_IVR_DONE" not in t.variables)


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    """An exception, its causes/contexts and SQLAlchemy's wrapped driver errors."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        orig = getattr(exc, "orig", None)
        if isinstance(orig, BaseException):
            yield orig
        exc = exc.__cause__ or exc.__context__


def _logged(caplog: pytest.LogCaptureFixture, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for r in caplog.records if r.exc_info
               for e in _causes(r.exc_info[1]))


def _lock_waiters(conn: psycopg.Connection, deadline_s: float = 20.0) -> list[int]:
    """Backends of this database waiting for a lock (the IVR's, blocked by ``conn``)."""
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchall()
        if rows:
            return [r[0] for r in rows]
        time.sleep(0.02)
    raise AssertionError("the IVR never waited for the lock")


def _call_in_thread(host: str, port: int, sounds: Any) -> tuple[threading.Thread, dict]:
    out: dict[str, Transcript] = {}

    def run() -> None:
        out["t"] = dial(host, port, sounds, ScriptedCaller(BOOK_NEAREST))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# --- PostgreSQL: the connection is dropped --------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_backend_terminated_inside_a_query(db_url, container, adult_id, runtime, tmp_path):
    """pg_terminate_backend on the IVR's connection while it waits inside a transaction."""
    rt = runtime(container)
    host, port = rt.server.server_address
    with psycopg.connect(_dsn(db_url)) as side:
        side.execute("LOCK TABLE appointment IN ACCESS EXCLUSIVE MODE")
        thread, out = _call_in_thread(host, port, tmp_path / "sounds")
        for pid in _lock_waiters(side):
            side.execute("SELECT pg_terminate_backend(%s)", (pid,))
        side.rollback()
    thread.join(30)
    assert _escalated_for_system_error(out["t"])
    assert assert_complete_or_absent(container, adult_id) == []
    again = dial(host, port, tmp_path / "sounds", ScriptedCaller(BOOK_NEAREST))
    assert booked(again)
    assert len(assert_complete_or_absent(container, adult_id)) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_idle_pooled_connections_terminated_mid_call(db_url, container, adult_id, runtime,
                                                     tmp_path):
    """Connections dropped between queries (a restarted pgbouncer, a failover): pool_pre_ping
    replaces them and the call simply goes on."""
    rt = runtime(container)
    host, port = rt.server.server_address

    def terminate_all() -> None:
        with psycopg.connect(_dsn(db_url), autocommit=True) as side:
            side.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")

    dial(host, port, tmp_path / "sounds", ScriptedCaller([None, "0"]))  # fill the pool
    caller = BeforeIdentifyHook(BOOK_NEAREST, hook=terminate_all)
    transcript = dial(host, port, tmp_path / "sounds", caller)
    assert caller.fired
    assert booked(transcript)
    assert len(assert_complete_or_absent(container, adult_id)) == 1


class RestartablePostgres(TempPostgres):
    """A throwaway server of this drill's own, which it can stop and start again."""

    def _opts(self) -> str:
        return (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.dir} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")

    def stop_server(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def start_again(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", self._opts(), "-w", "-t",
                  "60", "-l", str(self.dir / "log"), "start")


@pytest.fixture
def own_postgres(clock) -> Iterator[tuple[RestartablePostgres, Container]]:  # type: ignore[no-untyped-def]
    server = RestartablePostgres()
    try:
        admin = server.start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        wait_ready(admin)
        with psycopg.connect(_dsn(admin), autocommit=True) as conn:
            conn.execute("CREATE DATABASE drill")
        container = bootstrap(_settings(admin.rsplit("/", 1)[0] + "/drill"), clock=clock)
        upgrade(container.engine)
        seed_demo(container.uow())
        generate_slots(container.uow())
        yield server, container
        container.dispose()
    finally:
        server.stop()


@pytest.mark.postgres
def test_database_server_down_mid_call_then_back(own_postgres, runtime, tmp_path):
    """The server stops as the caller confirms their date of birth (identification next)."""
    server, container = own_postgres
    rt = runtime(container)
    host, port = rt.server.server_address
    caller = BeforeIdentifyHook(BOOK_NEAREST, hook=server.stop_server)
    transcript = dial(host, port, tmp_path / "sounds", caller)
    assert caller.fired
    assert _escalated_for_system_error(transcript)

    server.start_again()
    again = dial(host, port, tmp_path / "sounds", ScriptedCaller(BOOK_NEAREST))
    assert booked(again)
    assert len(assert_complete_or_absent(container, patient_id(container, "adult"))) == 1


# --- a slow database ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_slow_postgres_escalates_at_the_statement_timeout(db_url, clock, runtime, tmp_path,
                                                          caplog):
    """Another transaction holds the appointment table: the IVR's query is cancelled by
    ``statement_timeout`` (setting ``db_statement_timeout_ms``) instead of hanging the call."""
    container = bootstrap(_settings(db_url, db_statement_timeout_ms=300), clock=clock)
    try:
        rt = runtime(container)
        host, port = rt.server.server_address
        with psycopg.connect(_dsn(db_url)) as side:
            side.execute("LOCK TABLE appointment IN ACCESS EXCLUSIVE MODE")
            transcript = dial(host, port, tmp_path / "sounds", ScriptedCaller(BOOK_NEAREST))
            side.rollback()
        assert _escalated_for_system_error(transcript)
        assert _logged(caplog, psycopg.errors.QueryCanceled)
        pid = patient_id(container, "adult")
        assert assert_complete_or_absent(container, pid) == []
        again = dial(host, port, tmp_path / "sounds", ScriptedCaller(BOOK_NEAREST))
        assert booked(again)
    finally:
        container.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_locked_sqlite_escalates_at_the_busy_timeout(db_url, clock, runtime, tmp_path, caplog,
                                                     monkeypatch):
    """Another process holds SQLite's write lock: the IVR's write gives up after the busy
    timeout (30 s in production, shortened here) and the call escalates."""
    monkeypatch.setattr(models_db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    container = bootstrap(_settings(db_url), clock=clock)
    try:
        rt = runtime(container)
        host, port = rt.server.server_address
        side = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            side.execute("BEGIN IMMEDIATE")
            transcript = dial(host, port, tmp_path / "sounds", ScriptedCaller(BOOK_NEAREST))
            side.execute("ROLLBACK")
        finally:
            side.close()
        assert _escalated_for_system_error(transcript)
        assert _logged(caplog, sqlite3.OperationalError)
        pid = patient_id(container, "adult")
        assert assert_complete_or_absent(container, pid) == []
        again = dial(host, port, tmp_path / "sounds", ScriptedCaller(BOOK_NEAREST))
        assert booked(again)
    finally:
        container.dispose()
