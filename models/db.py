"""Database engines for SQLite (embedded default) and PostgreSQL (production).

SQLite needs care to be a safe booking store under many threads: WAL so readers don't block
the writer, a busy timeout so writers queue instead of failing, foreign keys on, and write
transactions opened with ``BEGIN IMMEDIATE`` so two writers never both read-then-upgrade (the
classic SQLite deadlock).  A unit of work asks for that by connecting with the execution option
``sqlite_begin="IMMEDIATE"``.
"""

from __future__ import annotations

import logging
import select
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, *, pool_size: int = 10, statement_timeout_ms: int = 0) -> Engine:
    """Create an engine for ``url`` with the settings this product relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    connect_args: dict[str, object] = {"connect_timeout": 5}
    if statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        connect_args=connect_args,
        hide_parameters=True,  # SQL errors must not carry policy numbers or phones
    )
    if parsed.get_backend_name() == "postgresql":
        # A dropped connection is replaced, not handed to a call.  SQLAlchemy's pre-ping would
        # spend a round trip (SELECT 1) on every checkout, i.e. on every unit of work of every
        # call step; a pooled connection is idle, so the socket itself tells it was dropped.
        event.listen(engine, "checkout", _replace_if_dropped)
    return engine


def _replace_if_dropped(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout hook: raise ``DisconnectionError`` (the pool then opens a new connection)
    if this idle connection was closed or has anything to read.

    An idle connection is sent nothing unasked, except when its server ends it: a terminated
    backend (a restart, ``pg_terminate_backend``, a fail-over, a proxy going away) writes its
    FATAL message and closes the socket, which makes it readable.  A rare harmless message
    (a NOTICE) costs a reconnect, never a call.
    """
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        raise DisconnectionError("pooled connection is closed")
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError) as exc:
        raise DisconnectionError(f"pooled connection unusable: {exc}") from exc
    if readable:
        raise DisconnectionError("pooled connection was ended by the server")


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # One connection per checkout: SQLite connections are cheap and this keeps threads apart.
        poolclass=NullPool,
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded SQLite backend."""
    return engine.dialect.name == "sqlite"
