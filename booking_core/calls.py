"""Call records: what each IVR call did, for the agent who picks it up and for statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from booking_core.uow import UnitOfWork
from models.tables import CallRecord

#: Call records of engineers' test calls (``REG_TEST=1`` in the dialplan): left out of statistics.
TEST_CHANNEL = "test"


@dataclass
class CallData:
    """A call record as the IVR builds it (no ORM object crosses into the channel)."""

    call_id: str
    uniqueid: str = ""
    caller_number: str = ""
    channel: str = "ivr"
    #: The number the caller dialled (DNID / extension of the line), "" when unknown.
    dialled_number: str = ""
    #: The line's clinic, then the identified patient's: what a per-clinic console filters on.
    clinic_id: int | None = None
    locale: str = "ru"
    patient_id: int | None = None
    intent: str | None = None
    outcome: str = "in_progress"
    escalation_reason: str | None = None
    appointment_id: int | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    escalated_at: datetime | None = None


_FIELDS = ("uniqueid", "caller_number", "channel", "locale", "patient_id", "intent", "outcome",
           "escalation_reason", "appointment_id", "steps", "ended_at", "escalated_at",
           "dialled_number", "clinic_id")


def save_call(data: CallData, uow: UnitOfWork) -> None:
    """Insert or update the record of ``data.call_id`` (called at escalation and at the end)."""
    with uow:
        row = uow.session.exec(_by_call_id(), params={"call_id": data.call_id}).first()
        if row is None:
            started = data.started_at or uow.clock.now_utc()
            row = CallRecord(call_id=data.call_id, started_at=started)
            uow.session.add(row)
        for name in _FIELDS:
            value = getattr(data, name)
            setattr(row, name, list(value) if name == "steps" else value)
        if data.ended_at is not None:
            row.duration_s = (data.ended_at - row.started_at).total_seconds()
        uow.commit()


@cache
def _by_call_id() -> Select:  # type: ignore[type-arg]
    """Built once: every call saves its record (building cost more CPU than running it)."""
    return select(CallRecord).where(CallRecord.call_id == bindparam("call_id"))


def get_call(call_id: str, uow: UnitOfWork) -> CallData | None:
    """The record of one call by its REG_CALL_ID."""
    with uow.reading():
        row = uow.session.exec(select(CallRecord).where(CallRecord.call_id == call_id)).first()
        return _data(row) if row else None


def recent_calls(uow: UnitOfWork, *, outcome: str | None = None, limit: int = 50) -> list[CallData]:
    """The newest calls, optionally only those with ``outcome`` (e.g. "escalated")."""
    with uow.reading():
        stmt = select(CallRecord).order_by(col(CallRecord.started_at).desc()).limit(limit)
        if outcome:
            stmt = stmt.where(CallRecord.outcome == outcome)
        return [_data(r) for r in uow.session.exec(stmt).all()]


def _data(row: CallRecord) -> CallData:
    return CallData(
        call_id=row.call_id, uniqueid=row.uniqueid, caller_number=row.caller_number,
        channel=row.channel, dialled_number=row.dialled_number, clinic_id=row.clinic_id,
        locale=row.locale, patient_id=row.patient_id, intent=row.intent,
        outcome=row.outcome, escalation_reason=row.escalation_reason,
        appointment_id=row.appointment_id, steps=list(row.steps or []),
        started_at=row.started_at, ended_at=row.ended_at, escalated_at=row.escalated_at,
    )
