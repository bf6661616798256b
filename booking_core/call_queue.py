"""The agents' queue: IVR calls escalated to a human, with what the IVR already learned.

A call waits while its record says ``escalated``, nobody has taken it and it is not too old.
The list follows reality: with AMI connected the console closes a record when Asterisk says
the caller hung up or left the queue, or their call with an agent ended
(:func:`close_waiting_call`), and
shows only callers Asterisk still has (``live_call_ids``); without AMI a callback request
closes it (:func:`booking_core.admin.request_callback`), an agent taking it answers it, and
records older than the queue's longest wait age out (:func:`expire_stale_calls`).  Taking a
call is atomic: of two agents clicking at once, one gets it and the other is told
``call_taken``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.errors import DomainError, NotFound
from booking_core.masking import mask_digits, mask_phone
from booking_core.rules import age_on
from booking_core.scope import EVERYWHERE, ClinicScope
from booking_core.uow import UnitOfWork
from models.tables import CallRecord, Patient, Specialty

logger = logging.getLogger(__name__)

#: Longer than the dialplan lets a caller wait (REG_QUEUE_TIMEOUT 300 s x REG_QUEUE_MAX_ATTEMPTS 2,
#: plus the callback flow in between): a record older than this is nobody on the line.
DEFAULT_MAX_WAIT_MINUTES = 15
#: Between the IVR's escalation and Asterisk's QueueCallerJoin: not yet on the live board.
JOIN_GRACE_SECONDS = 30
ESCALATED = "escalated"
ABANDONED = "abandoned"
CALLBACK = "callback"


class CallTaken(DomainError):
    """Another agent took this call first."""

    code = "call_taken"


@dataclass(frozen=True)
class CallStep:
    name: str
    input: str | None = None


@dataclass(frozen=True)
class QueuedCall:
    """An escalated call as the agent sees it: who, what they tried, why, how long."""

    call_id: str
    caller_masked: str
    locale: str
    patient_id: int | None
    patient_name: str | None
    patient_age: int | None
    policy_masked: str | None
    intent: str | None
    reason: str | None
    specialty_name: str | None
    steps: tuple[CallStep, ...]
    started_at: datetime  # UTC
    escalated_at: datetime | None  # UTC
    waiting_s: int
    answered_by: str | None
    outcome: str
    # The line's clinic, else the identified patient's; None: not known yet (anyone's).
    clinic_id: int | None = None


def _call_clinic(row: CallRecord, patient: Patient | None) -> int | None:
    return row.clinic_id if row.clinic_id is not None else (patient.clinic_id if patient
                                                            else None)


def _check_scope(uow: UnitOfWork, scope: ClinicScope, row: CallRecord) -> None:
    """``other_clinic`` for a call known to belong to a clinic outside ``scope``."""
    if scope.regional:
        return
    patient = uow.session.get(Patient, row.patient_id) if row.patient_id else None
    scope.check_call(_call_clinic(row, patient))


def _queued(row: CallRecord, patient: Patient | None, specialties: dict[str, str],
            now_utc: datetime, today) -> QueuedCall:  # type: ignore[no-untyped-def]
    steps = tuple(CallStep(str(s.get("step", "")), None if s.get("input") is None
                           else str(s.get("input")))
                  for s in (row.steps or []) if isinstance(s, dict))
    chosen = [s.input for s in steps if s.name == "specialty_chosen" and s.input]
    # the IVR notes the specialty by code; people read its name
    steps = tuple(CallStep(s.name, specialties.get(s.input, s.input))
                  if s.name == "specialty_chosen" and s.input else s for s in steps)
    since = row.escalated_at or row.started_at
    return QueuedCall(
        call_id=row.call_id,
        caller_masked=mask_phone(row.caller_number),
        locale=row.locale,
        patient_id=row.patient_id,
        patient_name=patient.full_name if patient else None,
        patient_age=age_on(patient.birth_date, today) if patient else None,
        policy_masked=mask_digits(patient.policy_number) if patient else None,
        intent=row.intent,
        reason=row.escalation_reason,
        specialty_name=specialties.get(chosen[-1], chosen[-1]) if chosen else None,
        steps=steps,
        started_at=row.started_at,
        escalated_at=row.escalated_at,
        waiting_s=max(0, int((now_utc - since).total_seconds())),
        answered_by=row.answered_by,
        outcome=row.outcome,
        clinic_id=_call_clinic(row, patient),
    )


def _load(uow: UnitOfWork, rows: list[CallRecord]) -> list[QueuedCall]:
    ids = {r.patient_id for r in rows if r.patient_id}
    patients = {p.id: p for p in uow.session.exec(
        select(Patient).where(col(Patient.id).in_(ids)))} if ids else {}
    specialties = {code: name for code, name in uow.session.exec(
        select(Specialty.code, Specialty.name_ru))} if rows else {}
    now, today = uow.clock.now_utc(), uow.clock.today()
    return [_queued(r, patients.get(r.patient_id), specialties, now, today) for r in rows]


def _waiting() -> list[object]:
    return [CallRecord.outcome == ESCALATED, col(CallRecord.answered_by).is_(None)]


def _since_escalated() -> Any:
    """When the caller started waiting for an agent (the IVR part of the call not counted)."""
    return func.coalesce(CallRecord.escalated_at, CallRecord.started_at)


def _asterisk_id(call_id: str) -> str:
    """The REG_CALL_ID Asterisk carries for a record: the IVR's callback flow names its own
    record ``<call id>/callback`` but the channel keeps the original id."""
    return call_id.partition("/")[0]


def waiting_calls(uow: UnitOfWork, *, max_wait_minutes: int = DEFAULT_MAX_WAIT_MINUTES,
                  limit: int = 100, live_call_ids: set[str] | None = None) -> list[QueuedCall]:
    """Escalated calls nobody has taken yet, longest waiting first.

    ``live_call_ids`` — the REG_CALL_IDs of the callers Asterisk has right now (AMI connected):
    a record not among them is shown only in the moments before its caller joins the queue.
    """
    with uow.reading():
        now = uow.clock.now_utc()
        since = now - timedelta(minutes=max_wait_minutes)
        rows = list(uow.session.exec(
            select(CallRecord).where(*_waiting(), _since_escalated() >= since)
            .order_by(col(CallRecord.escalated_at), col(CallRecord.started_at)).limit(limit)
        ).all())
        if live_call_ids is not None:
            joining = now - timedelta(seconds=JOIN_GRACE_SECONDS)
            rows = [r for r in rows if _asterisk_id(r.call_id) in live_call_ids
                    or (r.escalated_at or r.started_at) >= joining]
        return _load(uow, rows)


def close_waiting_call(call_id: str, uow: UnitOfWork, *, answered_by: str | None = None,
                       outcome: str = ABANDONED) -> bool:
    """Asterisk says the caller of ``call_id`` is no longer waiting: an agent answered
    (``answered_by``: the agent's name or phone) or the caller hung up / left the queue
    (``outcome``).  Only a record still waiting changes; True when it did."""
    if not call_id:
        return False
    with uow:
        rows = uow.session.exec(select(CallRecord).where(
            col(CallRecord.call_id).in_((call_id, f"{call_id}/callback")), *_waiting())).all()
        if not rows:
            return False
        for row in rows:
            if answered_by:
                row.answered_by = answered_by[:60]
            else:
                row.outcome = outcome
                row.ended_at = uow.clock.now_utc()
        uow.commit()
    logger.info("call %s: %s", call_id, "answered in Asterisk" if answered_by else outcome)
    return True


def expire_stale_calls(uow: UnitOfWork, *,
                       max_wait_minutes: int = DEFAULT_MAX_WAIT_MINUTES) -> int:
    """Close records that have waited longer than any caller can: nobody is on the line."""
    with uow:
        cutoff = uow.clock.now_utc() - timedelta(minutes=max_wait_minutes)
        result = uow.session.execute(
            update(CallRecord)
            .where(*_waiting(), _since_escalated() < cutoff)
            .values(outcome=ABANDONED, ended_at=uow.clock.now_utc()))
        uow.commit()
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        logger.info("%d escalated call record(s) aged out of the queue", count)
    return count


def get_call(call_id: str, uow: UnitOfWork, scope: ClinicScope = EVERYWHERE) -> QueuedCall:
    """One call with its context (waiting or not); ``other_clinic`` outside ``scope``."""
    with uow.reading():
        row = uow.session.exec(select(CallRecord).where(CallRecord.call_id == call_id)).first()
        if row is None:
            raise NotFound("call not found")
        _check_scope(uow, scope, row)
        return _load(uow, [row])[0]


def take_call(call_id: str, actor: Actor, uow: UnitOfWork) -> QueuedCall:
    """Mark the call answered by the agent ``actor.ident``; idempotent for the same agent."""
    with uow:
        row = uow.session.exec(select(CallRecord).where(CallRecord.call_id == call_id)).first()
        if row is None:
            raise NotFound("call not found")
        _check_scope(uow, ClinicScope.of(actor), row)
        if row.answered_by == actor.ident:
            return _load(uow, [row])[0]
        if row.answered_by:
            raise CallTaken("the call was taken by another agent")
        result = uow.session.execute(
            update(CallRecord)
            .where(col(CallRecord.call_id) == call_id, col(CallRecord.answered_by).is_(None))
            .values(answered_by=actor.ident)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise CallTaken("the call was taken by another agent")
        audit.record(uow, actor, "take_call", "call", call_id, None, {"answered_by": actor.ident})
        uow.commit()
    return get_call(call_id, uow)


def dismiss_call(call_id: str, actor: Actor, uow: UnitOfWork) -> None:
    """Take a call off the queue without answering it (the caller hung up meanwhile)."""
    with uow:
        row = uow.session.exec(select(CallRecord).where(CallRecord.call_id == call_id)).first()
        if row is None:
            raise NotFound("call not found")
        _check_scope(uow, ClinicScope.of(actor), row)
        if row.answered_by or row.outcome != ESCALATED:
            raise CallTaken("the call is no longer waiting")
        row.outcome = "abandoned"
        row.ended_at = uow.clock.now_utc()
        audit.record(uow, actor, "dismiss_call", "call", call_id, {"outcome": ESCALATED},
                     {"outcome": "abandoned"})
        uow.commit()
