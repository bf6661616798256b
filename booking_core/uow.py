"""Unit of work: one database transaction per use case.

A use case writes ``with uow: ...; uow.commit()``; leaving the block without a commit rolls
everything back, so a failure half-way never leaves half a booking.  Reads use
``with uow.reading():`` which, on SQLite, opens a deferred transaction instead of taking the
write lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from booking_core.clock import Clock
from booking_core.rules import BookingRules

logger = logging.getLogger(__name__)


class UnitOfWork:
    """A transaction over the booking tables plus the clock and the rules it is judged by."""

    def __init__(self, engine: Engine, clock: Clock, rules: BookingRules) -> None:
        self.engine = engine
        self.clock = clock
        self.rules = rules
        self._session: Session | None = None
        self._sqlite = engine.dialect.name == "sqlite"
        self._kept: list[object] = []

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its 'with' block")
        return self._session

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _open(self, write: bool) -> None:
        if self._session is not None:
            raise RuntimeError("unit of work is already open")
        # A read never flushes: nothing added by mistake can reach the database.
        session_class = Session if write else _ReadSession
        self._session = session_class(self.engine, expire_on_commit=False, autoflush=write)
        if self._sqlite:
            mode = "IMMEDIATE" if write else "DEFERRED"
            self._session.connection(execution_options={"sqlite_begin": mode})
        elif not write and self.is_postgres:
            # Under READ COMMITTED every statement takes its own snapshot, so a read-only
            # transaction adds nothing but two round trips (BEGIN, ROLLBACK) to each read of
            # every call step: reads run in autocommit.
            self._session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    def keep(self, *rows: object) -> None:
        """Hold rows loaded in this unit of work until it closes.

        The session's identity map holds rows weakly: once a helper returns, an unmodified row
        it loaded is dropped, and the next ``session.get`` of it (say, the SMS facts after a
        booking) costs another query.  Kept rows are found in the map instead.
        """
        self._kept.extend(rows)

    def _close(self) -> None:
        self._kept.clear()
        session, self._session = self._session, None
        if session is not None:
            # close() rolls back anything uncommitted without expiring loaded objects, so
            # values read inside the block stay readable after it.
            session.close()

    def __enter__(self) -> Self:
        self._open(write=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    @contextmanager
    def reading(self) -> Iterator[Self]:
        """Open a read-only transaction (no write lock on SQLite)."""
        self._open(write=False)
        try:
            yield self
        finally:
            self._close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def flush(self) -> None:
        """Send pending changes; constraint violations surface here as IntegrityError."""
        self.session.flush()


class UnitOfWorkFactory:
    """Makes a fresh :class:`UnitOfWork` per use case (they are not reusable concurrently)."""

    def __init__(self, engine: Engine, clock: Clock, rules: BookingRules) -> None:
        self.engine = engine
        self.clock = clock
        self.rules = rules

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, self.rules)


class _ReadSession(Session):
    """The session of a read: a flush of anything added or changed is refused, on every
    backend (a PostgreSQL read runs in autocommit, where a flush would be kept at once).

    A subclass rather than a ``before_flush`` listener: registering a listener on every read's
    session cost more CPU than the read's statement on the call path.
    """

    def flush(self, objects: object = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise RuntimeError("a read-only unit of work cannot write (use 'with uow:')")
        super().flush(objects)  # type: ignore[arg-type]


def is_unique_violation(exc: IntegrityError) -> bool:
    """True when ``exc`` is a unique-constraint violation on either backend."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate == "23505"
    return "UNIQUE constraint failed" in str(orig)
