"""Statistics for the dashboard: calls, self-service rate, escalation reasons, bookings.

Definitions (one place, so the dashboard and the API agree):

* a *call* is an IVR call record started in the period (follow-up ``/callback`` legs of the
  same call are not counted again);
* a call is *self-served* when it ended without being escalated: its outcome is ``completed``,
  ``booked``, ``cancelled`` or ``rescheduled`` and no escalation reason was recorded;
* the *self-service rate* is self-served calls / all calls (``None`` without calls);
* *bookings by channel* counts appointments created in the period, reschedules excluded.

Call times are stored in UTC and grouped by the clinic's local hour.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select

from booking_core.calls import TEST_CHANNEL
from booking_core.errors import InvalidInput
from booking_core.uow import UnitOfWork
from models.tables import Appointment, CallbackRequest, CallRecord, Doctor, Patient

logger = logging.getLogger(__name__)

SELF_SERVED_OUTCOMES = ("completed", "booked", "cancelled", "rescheduled", "waitlist",
                        "waitlist_left")
MAX_REPORT_DAYS = 366


@dataclass(frozen=True)
class Dashboard:
    date_from: date
    date_to: date
    calls_total: int
    self_served: int
    escalated: int
    calls_per_hour: list[int]  # 24 local hours
    outcomes: dict[str, int] = field(default_factory=dict)
    escalation_reasons: list[tuple[str, int]] = field(default_factory=list)
    bookings_by_channel: list[tuple[str, int]] = field(default_factory=list)
    open_callbacks: int = 0

    @property
    def self_service_rate(self) -> float | None:
        return self.self_served / self.calls_total if self.calls_total else None


def utc_bounds(date_from: date, date_to: date, tz: str) -> tuple[datetime, datetime]:
    """Naive UTC [start, end) of local days ``date_from``..``date_to``."""
    zone = ZoneInfo(tz)

    def conv(d: date) -> datetime:
        return datetime.combine(d, time.min, zone).astimezone(UTC).replace(tzinfo=None)

    return conv(date_from), conv(date_to + timedelta(days=1))


def dashboard(date_from: date, date_to: date, uow: UnitOfWork, tz: str,
              clinic_id: int | None = None) -> Dashboard:
    """The dashboard numbers for local days ``date_from``..``date_to``; of one clinic's calls,
    bookings (by the doctor's clinic) and callback requests when ``clinic_id`` is given."""
    if date_to < date_from:
        raise InvalidInput("the period ends before it starts")
    if (date_to - date_from).days >= MAX_REPORT_DAYS:
        raise InvalidInput("at most a year at once")
    lo, hi = utc_bounds(date_from, date_to, tz)
    zone = ZoneInfo(tz)
    in_period = (CallRecord.started_at >= lo, CallRecord.started_at < hi,
                 ~col(CallRecord.call_id).like("%/callback"),
                 CallRecord.channel != TEST_CHANNEL)  # engineers' test calls are not patients
    booked_here: tuple[Any, ...] = ()
    callbacks_here: tuple[Any, ...] = ()
    if clinic_id is not None:
        # The line's clinic, else the identified caller's (as the queue counts it).
        patient_clinic = select(Patient.clinic_id).where(
            col(Patient.id) == CallRecord.patient_id).scalar_subquery()
        in_period = (*in_period,
                     func.coalesce(CallRecord.clinic_id, patient_clinic) == clinic_id)
        booked_here = (col(Appointment.doctor_id).in_(
            select(Doctor.id).where(Doctor.clinic_id == clinic_id)),)
        callbacks_here = (CallbackRequest.clinic_id == clinic_id,)
    with uow.reading():
        s = uow.session
        outcomes = dict(s.exec(
            select(CallRecord.outcome, func.count()).where(*in_period)
            .group_by(col(CallRecord.outcome))).all())
        self_served = s.exec(
            select(func.count()).select_from(CallRecord).where(
                *in_period, col(CallRecord.outcome).in_(SELF_SERVED_OUTCOMES),
                col(CallRecord.escalation_reason).is_(None))).one()
        reasons = s.exec(
            select(CallRecord.escalation_reason, func.count()).where(
                *in_period, col(CallRecord.escalation_reason).is_not(None))
            .group_by(col(CallRecord.escalation_reason))).all()
        day_col = func.date(CallRecord.started_at)
        hour_col = func.extract("hour", CallRecord.started_at)
        per_hour = [0] * 24
        for day_value, hour, count in s.exec(
                select(day_col, hour_col, func.count()).where(*in_period)
                .group_by(day_col, hour_col)).all():
            day = day_value if isinstance(day_value, date) else date.fromisoformat(str(day_value))
            utc_start = datetime.combine(day, time(int(hour)), UTC)
            per_hour[utc_start.astimezone(zone).hour] += count
        channels = s.exec(
            select(Appointment.channel, func.count()).where(
                Appointment.created_at >= lo, Appointment.created_at < hi,
                col(Appointment.rescheduled_from_id).is_(None), *booked_here)
            .group_by(col(Appointment.channel))).all()
        open_callbacks = s.exec(select(func.count()).select_from(CallbackRequest)
                                .where(CallbackRequest.status == "open", *callbacks_here)).one()
    total = sum(outcomes.values())
    return Dashboard(
        date_from=date_from, date_to=date_to, calls_total=total, self_served=self_served,
        escalated=sum(c for _, c in reasons), calls_per_hour=per_hour, outcomes=outcomes,
        escalation_reasons=sorted(((r or "", c) for r, c in reasons), key=lambda x: -x[1]),
        bookings_by_channel=sorted(((ch, c) for ch, c in channels), key=lambda x: -x[1]),
        open_callbacks=open_callbacks,
    )
