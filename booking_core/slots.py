"""Free-slot search (nearest first, district doctor first) and slot generation (rule 7)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, exists, not_, or_
from sqlmodel import col, select

from booking_core.commands import FindSlots
from booking_core.eligibility import (
    check_patient_may_book,
    get_patient,
    restrictions,
)
from booking_core.errors import (
    AgeMismatch,
    BookingBlocked,
    ChannelClosed,
    NotFound,
    ReferralRequired,
)
from booking_core.rules import booking_window, is_remote
from booking_core.uow import UnitOfWork
from booking_core.views import SlotOffer, SpecialtyOption, SpecialtyView
from models.tables import (
    Appointment,
    AppointmentStatus,
    Doctor,
    DoctorAbsence,
    ScheduleTemplate,
    Slot,
    Specialty,
)

logger = logging.getLogger(__name__)


def slot_is_taken(now_utc: datetime):  # type: ignore[no-untyped-def]
    """SQL condition: the slot holds an appointment that still occupies it.

    A "pending" hold whose time ran out no longer counts, so an abandoned hold returns the slot
    to the pool even before anything cleans it up (rule 10).
    """
    return exists().where(
        Appointment.slot_id == Slot.id,
        Appointment.status != AppointmentStatus.CANCELLED,
        or_(
            Appointment.status != AppointmentStatus.PENDING,
            col(Appointment.hold_expires_at) >= now_utc,
        ),
    )


def _day_span(first: date, last: date) -> tuple[datetime, datetime]:
    return datetime.combine(first, time.min), datetime.combine(last + timedelta(days=1), time.min)


def bookable_specialties(patient_id: int, channel: str, uow: UnitOfWork) -> list[SpecialtyOption]:
    """Specialties at the patient's clinic they may book through ``channel`` (rules 4-6, 13)."""
    with uow.reading():
        patient = get_patient(uow, patient_id)
        if patient.clinic_id is None:
            return []
        rows = uow.session.exec(
            select(Specialty)
            .where(
                exists().where(
                    Doctor.specialty_id == Specialty.id,
                    Doctor.clinic_id == patient.clinic_id,
                    col(Doctor.active).is_(True),
                )
            )
            .order_by(col(Specialty.ivr_order), col(Specialty.name_ru))
        ).all()
        start, end = booking_window(channel, uow.clock.now_local(), uow.rules)
        options = []
        for spec in rows:
            try:
                check_patient_may_book(uow, patient, spec, channel)
            except AgeMismatch:
                continue
            except ReferralRequired:
                if is_remote(channel):
                    continue  # referral-only specialties are booked by a registrar
            except BookingBlocked:
                pass  # still listed: the booking attempt explains the block
            closed = _closed_for_whole_window(uow, patient.clinic_id, channel, spec, start, end)
            options.append(SpecialtyOption(SpecialtyView.of(spec), closed))
        return options


def _closed_for_whole_window(
    uow: UnitOfWork, clinic_id: int, channel: str, spec: Specialty, start: datetime,
    end: datetime,
) -> str | None:
    if not is_remote(channel):
        return None
    first, last = start.date(), (end - timedelta(seconds=1)).date()
    for r in restrictions(uow, clinic_id, channel, first, last, specialty_id=spec.id):
        if r.doctor_id is None and r.starts_on <= first and r.ends_on >= last:
            return r.reason or "closed"
    return None


def find_free_slots(q: FindSlots, uow: UnitOfWork) -> list[SlotOffer]:
    """Free slots for a patient and specialty, nearest first; the district doctor's first.

    Raises the domain error that forbids the patient booking this specialty at all (blocked,
    referral needed, wrong age group, channel closed for the whole window), so a channel can
    say so before offering anything.
    """
    with uow.reading():
        patient = get_patient(uow, q.patient_id)
        spec = uow.session.get(Specialty, q.specialty_id)
        if spec is None:
            raise NotFound("specialty not found")
        check_patient_may_book(uow, patient, spec, q.channel)
        assert patient.clinic_id is not None
        start, end = booking_window(q.channel, uow.clock.now_local(), uow.rules)
        closed = _closed_for_whole_window(uow, patient.clinic_id, q.channel, spec, start, end)
        if closed:
            raise ChannelClosed("channel closed for this specialty", reason=closed)
        if q.on_date is not None:
            day_start, day_end = _day_span(q.on_date, q.on_date)
            start, end = max(start, day_start), min(end, day_end)
        if q.after is not None:
            start = max(start, q.after + timedelta(seconds=1))
        if start >= end:
            return []
        return _query_free(uow, q, patient.clinic_id, patient.district_id, spec, start, end)


def _query_free(
    uow: UnitOfWork, q: FindSlots, clinic_id: int, district_id: int | None, spec: Specialty,
    start: datetime, end: datetime,
) -> list[SlotOffer]:
    doctor_filter = [
        Doctor.clinic_id == clinic_id,
        Doctor.specialty_id == spec.id,
        col(Doctor.active).is_(True),
    ]
    if q.doctor_id is not None:
        doctor_filter.append(Doctor.id == q.doctor_id)
    if q.exclude_doctor_ids:
        doctor_filter.append(not_(col(Doctor.id).in_(q.exclude_doctor_ids)))
    stmt = (
        select(Slot, Doctor)
        .join(Doctor, col(Doctor.id) == Slot.doctor_id)
        .where(*doctor_filter, Slot.starts_at >= start, Slot.starts_at < end)
        .where(not_(slot_is_taken(uow.clock.now_utc())))
    )
    for cond in _unavailable_periods(uow, q.channel, clinic_id, spec, start, end):
        stmt = stmt.where(not_(cond))
    order = [col(Slot.starts_at), col(Slot.doctor_id)]
    if spec.district_based and district_id is not None:
        order.insert(0, case((Doctor.district_id == district_id, 0), else_=1))
    rows = uow.session.exec(stmt.order_by(*order).limit(q.limit)).all()
    return [SlotOffer.of(slot, doctor, district_id) for slot, doctor in rows]


def _unavailable_periods(
    uow: UnitOfWork, channel: str, clinic_id: int, spec: Specialty, start: datetime,
    end: datetime,
) -> list:  # type: ignore[type-arg]
    """Conditions for slots hidden by doctor absences and channel restrictions in the window.

    Both are few rows, so they are fetched first and turned into plain range conditions that
    work the same on SQLite and PostgreSQL.
    """
    first, last = start.date(), end.date()
    conds = []
    absences = uow.session.exec(
        select(DoctorAbsence)
        .join(Doctor, col(Doctor.id) == DoctorAbsence.doctor_id)
        .where(
            Doctor.specialty_id == spec.id,
            DoctorAbsence.starts_on <= last,
            DoctorAbsence.ends_on >= first,
        )
    ).all()
    for a in absences:
        lo, hi = _day_span(a.starts_on, a.ends_on)
        conds.append(and_(Slot.doctor_id == a.doctor_id, Slot.starts_at >= lo, Slot.starts_at < hi))
    if is_remote(channel):
        doctor_ids = tuple(
            uow.session.exec(select(Doctor.id).where(Doctor.specialty_id == spec.id)).all()
        )
        for r in restrictions(uow, clinic_id, channel, first, last, spec.id, doctor_ids):  # type: ignore[arg-type]
            lo, hi = _day_span(r.starts_on, r.ends_on)
            span = and_(Slot.starts_at >= lo, Slot.starts_at < hi)
            conds.append(and_(Slot.doctor_id == r.doctor_id, span) if r.doctor_id else span)
    return conds


def generate_slots(
    uow: UnitOfWork,
    days: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Create the slots of every active doctor's template for the rolling window.

    Idempotent: slots that exist are left alone, so it is safe to run daily (or twice).  Slots
    already in the past are not created.  Returns how many slots were added.
    """
    days = days or uow.rules.slot_window_days
    created = 0
    with uow.reading():
        doctor_ids = list(uow.session.exec(select(Doctor.id).where(col(Doctor.active))).all())
    now = uow.clock.now_local()
    first = now.date()
    last = first + timedelta(days=days - 1)
    for i, doctor_id in enumerate(doctor_ids, 1):
        with uow:
            created += _generate_for_doctor(uow, doctor_id, first, last, now)  # type: ignore[arg-type]
            uow.commit()
        if progress:
            progress(i, len(doctor_ids))
    logger.info("slot generation: %d new slots for %d doctors", created, len(doctor_ids))
    return created


def _generate_for_doctor(
    uow: UnitOfWork, doctor_id: int, first: date, last: date, now: datetime
) -> int:
    templates = uow.session.exec(
        select(ScheduleTemplate).where(ScheduleTemplate.doctor_id == doctor_id)
    ).all()
    if not templates:
        return 0
    doctor = uow.session.get(Doctor, doctor_id)
    lo, hi = _day_span(first, last)
    existing = set(
        uow.session.exec(
            select(Slot.starts_at).where(
                Slot.doctor_id == doctor_id, Slot.starts_at >= lo, Slot.starts_at < hi
            )
        ).all()
    )
    new = []
    day = first
    while day <= last:
        for t in templates:
            if t.weekday != day.weekday():
                continue
            if (t.valid_from and day < t.valid_from) or (t.valid_to and day > t.valid_to):
                continue
            step = timedelta(minutes=t.slot_minutes)
            at, stop = datetime.combine(day, t.start_time), datetime.combine(day, t.end_time)
            while at + step <= stop:
                if at > now and at not in existing:
                    cabinet = t.cabinet or (doctor.cabinet if doctor else "")
                    new.append(Slot(doctor_id=doctor_id, starts_at=at, ends_at=at + step,
                                    cabinet=cabinet))
                    existing.add(at)
                at += step
        day += timedelta(days=1)
    uow.session.add_all(new)
    return len(new)
