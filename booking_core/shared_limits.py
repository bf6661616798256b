"""Counters that every process of an install shares: failed console logins, API clients' rate.

A console served by several worker processes (or hosts) must count a password guess or an API
request the same whichever process took it, so the counters live in the database, not in a
process's memory.  Both are sliding windows: an event counts while it is younger than the
window.  Keys are keyed hashes (:func:`booking_core.rules.personal_key`): the tables hold no
client addresses and nothing a visitor typed.

On PostgreSQL the rate counter of one client is serialised with a transaction-scoped advisory
lock, so two processes cannot both let the last allowed request through; SQLite (one process)
serialises writers with its write lock already.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlmodel import col

from booking_core.uow import UnitOfWork
from models.tables import ApiRequestHit, LoginFailure

logger = logging.getLogger(__name__)

#: First half of the advisory lock key of the API rate counter (the client id is the second).
RATE_LOCK_SPACE = 0x52415445  # "RATE"


def too_many_failures(limits: list[tuple[str, int]], window_s: float, uow: UnitOfWork) -> bool:
    """True when any ``(key, limit)`` has at least ``limit`` failures within the window."""
    keys = [key for key, _ in limits]
    with uow.reading():
        since = uow.clock.now_utc() - timedelta(seconds=window_s)
        rows = uow.session.execute(
            select(LoginFailure.key, func.count()).where(
                col(LoginFailure.key).in_(keys), LoginFailure.at >= since)
            .group_by(LoginFailure.key)).all()
    counts = {key: n for key, n in rows}
    return any(counts.get(key, 0) >= limit for key, limit in limits)


def record_failure(keys: list[str], window_s: float, max_keys: int, uow: UnitOfWork) -> None:
    """Count one failure under each key; forget failures older than the window, and past
    ``max_keys`` tracked keys the least recently failed ones first (so a flood of new keys
    never wipes the counters of an ongoing attack)."""
    with uow:
        now = uow.clock.now_utc()
        session = uow.session
        session.execute(delete(LoginFailure).where(
            LoginFailure.at < now - timedelta(seconds=window_s)))
        for key in keys:
            session.add(LoginFailure(key=key, at=now))
        session.flush()
        tracked = session.execute(select(func.count(func.distinct(LoginFailure.key)))).scalar_one()
        if tracked > max_keys:
            # Recency by insertion order (the id), not by time: equal clocks cannot tie.
            stale = (select(LoginFailure.key).group_by(LoginFailure.key)
                     .order_by(func.max(LoginFailure.id)).limit(tracked - max_keys))
            session.execute(delete(LoginFailure).where(
                col(LoginFailure.key).in_(stale.scalar_subquery())))
        uow.commit()


def forget_failures(key: str, uow: UnitOfWork) -> None:
    """Clear one key's failures (a good password clears that name's counter)."""
    with uow:
        uow.session.execute(delete(LoginFailure).where(LoginFailure.key == key))
        uow.commit()


def take_request(client_id: int, limit: int, window_s: float,
                 uow: UnitOfWork) -> tuple[bool, int]:
    """Count one request of an API client if it is within ``limit`` per window.

    Returns ``(allowed, seconds until the next request would be allowed)``.  Older rows are
    left to :func:`sweep_requests`: one statement less on every request.
    """
    with uow:
        session = uow.session
        if uow.is_postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:space, :client)"),
                            {"space": RATE_LOCK_SPACE, "client": client_id})
        now = uow.clock.now_utc()
        since = now - timedelta(seconds=window_s)
        count, oldest = session.execute(
            select(func.count(), func.min(ApiRequestHit.at))
            .where(ApiRequestHit.client_id == client_id, ApiRequestHit.at > since)).one()
        if count >= limit:
            wait = (oldest + timedelta(seconds=window_s) - now).total_seconds()
            return False, max(1, int(wait) + 1)
        session.add(ApiRequestHit(client_id=client_id, at=now))
        uow.commit()
        return True, 0


def sweep_requests(window_s: float, uow: UnitOfWork) -> int:
    """Drop every client's requests older than the window (clients that went quiet)."""
    with uow:
        since = uow.clock.now_utc() - timedelta(seconds=window_s)
        result = uow.session.execute(delete(ApiRequestHit).where(ApiRequestHit.at <= since))
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)
