"""The transactional SMS outbox (rule 18): nothing lost when the provider is down, nothing sent
twice.

Writing: :func:`enqueue` adds a row inside the caller's transaction (the booking change and its
SMS commit or roll back together).  The idempotency key is unique, so one event makes one row
however often it is announced.

Sending (``sms.worker``), one short transaction per step, never holding a transaction open
during a provider call:

1. :func:`claim` takes due rows — ``pending`` ones whose ``next_attempt_at`` has come, and
   ``sending`` ones whose lease ran out (their worker died) — and marks them ``sending`` with a
   lease and a fresh claim token.  On PostgreSQL the rows are selected ``FOR UPDATE SKIP
   LOCKED``, so any number of workers share the table without taking a row twice; on SQLite
   the unit of work's ``BEGIN IMMEDIATE`` makes the claim the single writer.
2. The worker calls the provider.
3. :func:`mark_sent` records the provider's id, or :func:`mark_retry` puts the row back with an
   exponential backoff (or the provider's ``Retry-After``), or :func:`mark_dead` gives up.

The dangerous window is between the provider accepting a message and step 3 committing: a
crash there leaves a ``sending`` row for a message that *was* sent.  Such rows (and rows whose
request timed out) are flagged ``uncertain``; before sending an uncertain row again the worker
asks the provider whether the message exists (``SmsProvider.find_sent``) and only records it if
it does.  A crash *before* the provider call (the common case: process killed after the booking
committed) simply leaves a ``pending`` or lease-expired row that is sent once later.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Insert, and_, func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from booking_core.masking import mask_phone, scrub
from booking_core.uow import UnitOfWork
from models.tables import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
ERROR_LIMIT = 300
#: Kinds whose payload carries a secret (a one-time consent code, rule 20): once the message is
#: sent or given up, the code is blanked in the row so the table never keeps it in clear.
SECRET_KINDS = frozenset({"consent"})

# Statuses only move forward: a late "sent" report must not undo "delivered".
_RANK = {
    OutboxStatus.PENDING: 0, OutboxStatus.SENDING: 0, OutboxStatus.SENT: 1,
    OutboxStatus.DELIVERED: 2, OutboxStatus.FAILED: 2, OutboxStatus.DEAD: 2,
}


@dataclass(frozen=True)
class ClaimedMessage:
    """A row a worker holds until ``lease_until``; everything the provider call needs."""

    id: int
    key: str
    kind: str
    to_phone: str
    body: str
    attempts: int
    token: str
    uncertain: bool
    claimed_at: datetime  # naive UTC
    created_at: datetime  # naive UTC: the message cannot have gone out before this


@dataclass(frozen=True)
class OutboxEntry:
    """A row as the CLI and the console list it (the phone number masked)."""

    id: int
    key: str
    kind: str
    phone_masked: str
    status: str
    attempts: int
    next_attempt_at: datetime
    provider_id: str | None
    provider_status: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    segments: int | None
    body: str | None


def enqueue(uow: UnitOfWork, *, key: str, kind: str, to_phone: str, payload: dict[str, Any],
            patient_id: int | None = None, appointment_id: int | None = None,
            locale: str | None = None) -> bool:
    """Add a message to the outbox in the current transaction; False if ``key`` exists.

    ``INSERT ... ON CONFLICT DO NOTHING`` on both backends, so two transactions announcing the
    same event concurrently make one row and neither fails.
    """
    now = uow.clock.now_utc()
    values = {
        "idempotency_key": key, "kind": kind, "to_phone": to_phone, "payload": payload,
        "patient_id": patient_id, "appointment_id": appointment_id, "locale": locale,
        "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now,
        "uncertain": False, "created_at": now, "updated_at": now,
    }
    return uow.session.exec(_insert(uow.is_postgres), params=values).first() is not None


@cache
def _insert(postgres: bool) -> Insert:
    """``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING id``, built once per
    dialect (every booking enqueues); the values are bound at execution."""
    dialect = postgresql if postgres else sqlite
    return dialect.insert(OutboxMessage).on_conflict_do_nothing(
        index_elements=["idempotency_key"]).returning(OutboxMessage.id)


def claim(uow: UnitOfWork, *, worker_id: str = "", limit: int = 20, lease_seconds: float = 120,
          locale: str = "ru", sender_name: str = "") -> list[ClaimedMessage]:
    """Take up to ``limit`` due messages for sending (see the module docstring).

    A row's text is rendered on its first claim (in ``locale``, signed ``sender_name`` or the
    clinic's short name) and stays the same on every retry.
    """
    from booking_core import notifications

    claimed: list[ClaimedMessage] = []
    with uow:
        now = uow.clock.now_utc()
        due = or_(
            and_(col(OutboxMessage.status) == OutboxStatus.PENDING,
                 col(OutboxMessage.next_attempt_at) <= now),
            and_(col(OutboxMessage.status) == OutboxStatus.SENDING,
                 col(OutboxMessage.lease_until) <= now),
        )
        rows = uow.session.exec(
            select(OutboxMessage).where(due)
            .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
            .limit(limit).with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            assert row.id is not None
            if row.status == OutboxStatus.SENDING:
                # Its worker died (or hung) after claiming: the message may have gone out.
                logger.warning("sms %s: lease of attempt %d expired, checking before resending",
                               row.id, row.attempts)
                row.uncertain = True
            if row.body is None:
                try:
                    rendered = notifications.render(row.kind, row.payload or {},
                                                    row.locale or locale, sender_name)
                except Exception as exc:  # one bad row must not stop the rest
                    logger.exception("sms %s: cannot render %s text", row.id, row.kind)
                    _finish(row, OutboxStatus.DEAD, now, error=f"render: {exc!r}")
                    continue
                row.body = rendered.text
                row.segments = rendered.info.segments
                row.encoding = rendered.info.encoding
            token = uuid.uuid4().hex
            row.status = OutboxStatus.SENDING
            row.attempts += 1
            row.lease_until = now + timedelta(seconds=lease_seconds)
            row.claim_token = token
            row.updated_at = now
            claimed.append(ClaimedMessage(
                id=row.id, key=row.idempotency_key, kind=row.kind, to_phone=row.to_phone,
                body=row.body, attempts=row.attempts, token=token, uncertain=row.uncertain,
                claimed_at=now, created_at=row.created_at,
            ))
        uow.commit()
    if claimed:
        logger.debug("worker %s claimed %d SMS", worker_id or "-", len(claimed))
    return claimed


def mark_sent(uow: UnitOfWork, message_id: int, token: str, *, provider: str, provider_id: str,
              provider_status: str = "", reconciled: bool = False) -> bool:
    """The provider accepted the message: record its id.  Always recorded, even if our lease
    was lost meanwhile — the message did go out, and that is what must be known."""
    with uow:
        row = uow.session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None:
            return False
        now = uow.clock.now_utc()
        if row.claim_token != token:
            logger.warning("sms %s: sent after its lease passed to another worker", message_id)
        if row.provider_id and row.provider_id != provider_id:
            logger.error("sms %s: provider reports a second message %s (first %s)", message_id,
                         provider_id, row.provider_id)
        row.provider = provider
        row.provider_id = row.provider_id or provider_id
        if _RANK[OutboxStatus(row.status)] < _RANK[OutboxStatus.SENT]:
            row.status = OutboxStatus.SENT
            row.provider_status = provider_status or row.provider_status
        row.sent_at = row.sent_at or now
        forget_secret(row)
        row.uncertain = False
        row.lease_until = None
        row.claim_token = None
        row.last_error = "found at the provider after an uncertain attempt" if reconciled \
            else row.last_error
        row.updated_at = now
        uow.commit()
    logger.info("sms %s (%s) to %s %s as %s", message_id, row.kind, mask_phone(row.to_phone),
                "reconciled" if reconciled else "sent", provider_id)
    return True


def backoff_delay(attempts: int, *, base: float = BACKOFF_BASE_SECONDS,
                  cap: float = BACKOFF_CAP_SECONDS, jitter: float = 0.1) -> float:
    """Seconds to wait after the ``attempts``-th failure: base·2^(n-1), capped, ±jitter."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * (1 + random.uniform(-jitter, jitter))


def mark_retry(uow: UnitOfWork, message_id: int, token: str, *, error: str,
               retry_after: float | None = None, uncertain: bool = False,
               max_attempts: int = 10) -> str:
    """Put a failed attempt back with a backoff; ``dead`` after ``max_attempts``.

    ``uncertain``: the request may have reached the provider (a timeout), so the next attempt
    asks the provider first.  A worker whose lease was taken over changes nothing.
    Returns the row's status afterwards.
    """
    with uow:
        row = uow.session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None:
            return ""
        if row.claim_token != token or row.status != OutboxStatus.SENDING:
            return row.status
        now = uow.clock.now_utc()
        row.uncertain = uncertain
        if row.attempts >= max_attempts:
            _finish(row, OutboxStatus.DEAD, now, error=f"gave up after {row.attempts}: {error}")
            logger.error("sms %s (%s) to %s: gave up after %d attempts", message_id, row.kind,
                         mask_phone(row.to_phone), row.attempts)
        else:
            delay = max(backoff_delay(row.attempts), retry_after or 0.0)
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.lease_until = None
            row.claim_token = None
            row.last_error = scrub(error, limit=ERROR_LIMIT - 10)
            row.updated_at = now
            logger.warning("sms %s (%s): attempt %d failed (%s), next in %.0f s", message_id,
                           row.kind, row.attempts, row.last_error, delay)
        uow.commit()
        return row.status


def release(uow: UnitOfWork, message_id: int, token: str) -> bool:
    """Give a claimed row back untried (the worker ran short of lease time): due at once,
    the claim not counted as an attempt."""
    with uow:
        row = uow.session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None or row.claim_token != token or row.status != OutboxStatus.SENDING:
            return False
        row.status = OutboxStatus.PENDING
        row.attempts = max(0, row.attempts - 1)
        row.next_attempt_at = uow.clock.now_utc()
        row.lease_until = None
        row.claim_token = None
        uow.commit()
        return True


def mark_dead(uow: UnitOfWork, message_id: int, token: str, *, error: str) -> None:
    """The provider refused the message for good (bad number, blocked): stop trying."""
    with uow:
        row = uow.session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None or row.claim_token != token:
            return
        _finish(row, OutboxStatus.DEAD, uow.clock.now_utc(), error=error)
        uow.commit()
    logger.error("sms %s (%s) to %s refused: %s", message_id, row.kind, mask_phone(row.to_phone),
                 row.last_error)


def withdraw(uow: UnitOfWork, key: str, *, reason: str) -> bool:
    """Give up a message not yet handed to a worker (``pending``): it is never sent, its
    secret is blanked.  False if it is already out (or being sent) or unknown."""
    with uow:
        row = uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.idempotency_key == key).with_for_update()).first()
        if row is None or row.status != OutboxStatus.PENDING:
            return False
        _finish(row, OutboxStatus.DEAD, uow.clock.now_utc(), error=reason)
        uow.commit()
    logger.info("sms %s (%s) withdrawn: %s", row.id, row.kind, reason)
    return True


def forget_secret(row: OutboxMessage) -> None:
    """Blank the one-time code of a :data:`SECRET_KINDS` row in its payload and text."""
    code = str((row.payload or {}).get("code") or "")
    if row.kind not in SECRET_KINDS or not code:
        return
    row.payload = {k: v for k, v in (row.payload or {}).items() if k != "code"}
    if row.body:
        row.body = row.body.replace(code, "*" * len(code))


def _finish(row: OutboxMessage, status: OutboxStatus, now: datetime, *, error: str) -> None:
    forget_secret(row)
    row.status = status
    row.lease_until = None
    row.claim_token = None
    row.last_error = scrub(error, limit=ERROR_LIMIT - 10)
    row.updated_at = now


# Provider delivery states -> outbox statuses (Twilio's names; a local provider uses the same).
DELIVERY_STATES = {
    "accepted": OutboxStatus.SENT, "scheduled": OutboxStatus.SENT, "queued": OutboxStatus.SENT,
    "sending": OutboxStatus.SENT, "sent": OutboxStatus.SENT,
    "delivered": OutboxStatus.DELIVERED, "read": OutboxStatus.DELIVERED,
    "undelivered": OutboxStatus.FAILED, "failed": OutboxStatus.FAILED,
}


def record_delivery(uow: UnitOfWork, *, provider_status: str, provider_id: str = "",
                    key: str = "", error_code: str = "") -> bool:
    """A delivery report arrived (Twilio status callback): move the row forward.

    The row is found by the provider's id, or by our idempotency key (the report can overtake
    the worker's own update).  Unknown states and stale reports change nothing but the raw
    ``provider_status``.  Returns False if no row matches.
    """
    state = (provider_status or "").lower()
    with uow:
        row = None
        if provider_id:
            row = uow.session.exec(
                select(OutboxMessage).where(OutboxMessage.provider_id == provider_id)
                .with_for_update()
            ).first()
        if row is None and key:
            row = uow.session.exec(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
                .with_for_update()
            ).first()
        if row is None:
            return False
        now = uow.clock.now_utc()
        target = DELIVERY_STATES.get(state)
        if provider_id and not row.provider_id:
            row.provider_id = provider_id
        if target is not None and _RANK[target] > _RANK[OutboxStatus(row.status)]:
            row.status = target
            row.provider_status = state
            row.uncertain = False
            row.lease_until = None
            row.claim_token = None
            row.sent_at = row.sent_at or now
            if target == OutboxStatus.DELIVERED:
                row.delivered_at = now
            if target == OutboxStatus.FAILED:
                row.last_error = f"provider: {state} {error_code}".strip()
        elif target is not None and _RANK[target] == _RANK[OutboxStatus(row.status)]:
            row.provider_status = state
        row.updated_at = now
        uow.commit()
        logger.info("sms %s: delivery report %s", row.id, state or "?")
        return True


def recent(uow: UnitOfWork, *, limit: int = 50, status: str | None = None,
           kinds: Sequence[str] = ()) -> list[OutboxEntry]:
    """The newest messages first (phone numbers masked)."""
    with uow.reading():
        stmt = select(OutboxMessage)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        if kinds:
            stmt = stmt.where(col(OutboxMessage.kind).in_(tuple(kinds)))
        rows = uow.session.exec(stmt.order_by(col(OutboxMessage.id).desc()).limit(limit)).all()
        return [_entry(r) for r in rows]


def counts(uow: UnitOfWork) -> dict[str, int]:
    """How many messages are in each status."""
    with uow.reading():
        rows = uow.session.exec(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
        return {status: n for status, n in rows}


def _entry(r: OutboxMessage) -> OutboxEntry:
    assert r.id is not None
    return OutboxEntry(
        id=r.id, key=r.idempotency_key, kind=r.kind, phone_masked=mask_phone(r.to_phone),
        status=r.status, attempts=r.attempts, next_attempt_at=r.next_attempt_at,
        provider_id=r.provider_id, provider_status=r.provider_status, last_error=r.last_error,
        created_at=r.created_at, sent_at=r.sent_at, delivered_at=r.delivered_at,
        segments=r.segments, body=r.body,
    )
