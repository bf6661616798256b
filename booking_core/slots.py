"""Free-slot search (nearest first, district doctor first) and slot generation (rule 7)."""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from itertools import accumulate

from sqlalchemy import and_, exists, insert, not_, or_
from sqlmodel import col, select

from booking_core.commands import FindSlots
from booking_core.eligibility import (
    check_patient_may_book,
    check_static_eligibility,
    get_patient,
    window_restrictions,
    with_block,
)
from booking_core.errors import (
    AgeMismatch,
    ChannelClosed,
    NotFound,
    ReferralRequired,
)
from booking_core.rules import booking_window, is_remote
from booking_core.schedules import SlotSpec, TemplateRow, slots_for_day
from booking_core.uow import UnitOfWork
from booking_core.views import SlotOffer, SpecialtyOption, SpecialtyView
from models.tables import (
    Appointment,
    AppointmentStatus,
    ChannelRestriction,
    Doctor,
    DoctorAbsence,
    NoShowBlock,
    Patient,
    ScheduleOverride,
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
                    # a doctor past their last day no longer makes the specialty bookable
                    or_(col(Doctor.left_on).is_(None), col(Doctor.left_on) >= uow.clock.today()),
                )
            )
            .order_by(col(Specialty.ivr_order), col(Specialty.name_ru))
        ).all()
        today = uow.clock.today()
        listed = [spec for spec in rows if _listed(patient, spec, channel, today)]
        start, end = booking_window(channel, uow.clock.now_local(), uow.rules)
        found = _remote_restrictions(uow, patient.clinic_id, channel, listed, start, end)
        return [
            SpecialtyOption(SpecialtyView.of(s), _closed_for_whole_window(found, s, start, end))
            for s in listed
        ]


def _listed(patient: Patient, spec: Specialty, channel: str, today: date) -> bool:
    """Whether the specialty menu shows ``spec`` to this patient.

    Only the checks that need no database decide it: a no-show block still lists the
    specialty (the booking attempt explains the block) and so does a referral-only one off
    the remote channels, with or without a valid referral, so neither is looked up here.
    """
    try:
        check_static_eligibility(patient, spec, channel, today)
    except AgeMismatch:
        return False
    except ReferralRequired:
        return not is_remote(channel)  # referral-only specialties are booked by a registrar
    return True


def _remote_restrictions(
    uow: UnitOfWork, clinic_id: int, channel: str, specs: list[Specialty], start: datetime,
    end: datetime, *, with_doctors: bool = False,
) -> list[ChannelRestriction]:
    """Channel restrictions over the whole booking window for ``specs`` (none off remote
    channels, which restrictions do not close), fetched once per use case."""
    if not is_remote(channel):
        return []
    return window_restrictions(
        uow, clinic_id, channel, start.date(), end.date(),
        tuple(s.id for s in specs if s.id is not None), with_doctors=with_doctors,
    )


def _closed_for_whole_window(
    found: list[ChannelRestriction], spec: Specialty, start: datetime, end: datetime
) -> str | None:
    """The reason a specialty-wide restriction covering the whole window gives, if any."""
    first, last = start.date(), (end - timedelta(seconds=1)).date()
    for r in found:
        if (r.specialty_id == spec.id and r.doctor_id is None
                and r.starts_on <= first and r.ends_on >= last):
            return r.reason or "closed"
    return None


def find_free_slots(q: FindSlots, uow: UnitOfWork) -> list[SlotOffer]:
    """Free slots for a patient and specialty, nearest first; the district doctor's first.

    Raises the domain error that forbids the patient booking this specialty at all (blocked,
    referral needed, wrong age group, channel closed for the whole window), so a channel can
    say so before offering anything.
    """
    with uow.reading():
        patient, block, spec = _patient_block_and_specialty(uow, q)
        check_patient_may_book(uow, patient, spec, q.channel, block=block)
        assert patient.clinic_id is not None
        start, end = booking_window(q.channel, uow.clock.now_local(), uow.rules)
        # One query serves both the whole-window check and the hidden periods below.
        found = _remote_restrictions(uow, patient.clinic_id, q.channel, [spec], start, end,
                                     with_doctors=True)
        closed = _closed_for_whole_window(found, spec, start, end)
        if closed:
            raise ChannelClosed("channel closed for this specialty", reason=closed)
        if q.on_date is not None:
            day_start, day_end = _day_span(q.on_date, q.on_date)
            start, end = max(start, day_start), min(end, day_end)
        if q.after is not None:
            start = max(start, q.after + timedelta(seconds=1))
        if start >= end:
            return []
        return _query_free(uow, q, patient.clinic_id, patient.district_id, spec, start, end,
                           found)


def _patient_block_and_specialty(
    uow: UnitOfWork, q: FindSlots
) -> tuple[Patient, NoShowBlock | None, Specialty]:
    """The patient, their no-show block in force today and the specialty: one round trip."""
    stmt = (
        with_block(select(Patient, NoShowBlock, Specialty), uow.clock.today())
        .outerjoin(Specialty, Specialty.id == q.specialty_id)
        .where(Patient.id == q.patient_id)
        .limit(1)
    )
    row = uow.session.exec(stmt).first()
    if row is None:
        raise NotFound("patient not found")
    patient, block, spec = row
    if spec is None:
        raise NotFound("specialty not found")
    return patient, block, spec


def _query_free(
    uow: UnitOfWork, q: FindSlots, clinic_id: int, district_id: int | None, spec: Specialty,
    start: datetime, end: datetime, found: list[ChannelRestriction] | None = None,
) -> list[SlotOffer]:
    """Free slots in [start, end), nearest first, the district doctor's first.

    ``found``: the channel's restrictions already loaded for this specialty and its doctors
    over a span covering [start, end) (see :func:`find_free_slots`); looked up when omitted.
    """
    if found is None:
        found = _remote_restrictions(uow, clinic_id, q.channel, [spec], start, end,
                                     with_doctors=True)
    doctors, absences = _doctors_and_absences(uow, clinic_id, spec, start, end)
    doctors = {
        i: d for i, d in doctors.items()
        if (q.doctor_id is None or i == q.doctor_id) and i not in q.exclude_doctor_ids
    }
    stmt = (
        select(Slot, Doctor)
        .join(Doctor, col(Doctor.id) == Slot.doctor_id)
        .where(Slot.starts_at >= start, Slot.starts_at < end)
        .where(not_(slot_is_taken(uow.clock.now_utc())))
    )
    for cond in _unavailable_periods(absences, found, start, end):
        stmt = stmt.where(not_(cond))
    stmt = stmt.order_by(col(Slot.starts_at), col(Slot.doctor_id))
    if spec.district_based and district_id is not None:
        # District doctor first.  Ordering by "is it the district's doctor" would sort every
        # free slot of the window; two ordered, LIMITed queries stop early instead, and the
        # second runs only when the district's doctors fall short.
        own = [i for i, district in doctors.items() if district == district_id]
        rows = _free_of(uow, stmt, own, q.limit)
        others = [i for i in doctors if i not in own]
        rows += _free_of(uow, stmt, others, q.limit - len(rows))
    else:
        rows = _free_of(uow, stmt, list(doctors), q.limit)
    return [SlotOffer.of(slot, doctor, district_id) for slot, doctor in rows]


def _free_of(  # type: ignore[no-untyped-def]
    uow: UnitOfWork, stmt, doctor_ids: list[int], limit: int
) -> list[tuple[Slot, Doctor]]:
    """The first ``limit`` rows of ``stmt`` among these doctors' slots.

    No query at all for no doctors: PostgreSQL would otherwise walk the whole window's slots
    in time order looking for a doctor who isn't there (a district without a pediatrician).
    """
    if not doctor_ids or limit <= 0:
        return []
    return list(uow.session.exec(
        stmt.where(col(Slot.doctor_id).in_(doctor_ids)).limit(limit)).all())


def _doctors_and_absences(
    uow: UnitOfWork, clinic_id: int, spec: Specialty, start: datetime, end: datetime
) -> tuple[dict[int, int | None], list[tuple[int, date, date]]]:
    """The clinic's active doctors of the specialty (id -> district) and their absences
    overlapping [start, end) as (doctor, first day, last day), in one query of plain columns.

    The search picks its doctors from these rows and names them in the slot query, which
    lets the database walk a few doctors' slots by index instead of the whole window's.
    """
    first, last = start.date(), end.date()
    rows = uow.session.exec(
        select(Doctor.id, Doctor.district_id, DoctorAbsence.starts_on, DoctorAbsence.ends_on)
        .outerjoin(DoctorAbsence, and_(
            DoctorAbsence.doctor_id == Doctor.id,
            DoctorAbsence.starts_on <= last,
            DoctorAbsence.ends_on >= first,
        ))
        .where(Doctor.clinic_id == clinic_id, Doctor.specialty_id == spec.id,
               col(Doctor.active).is_(True))
        .order_by(col(Doctor.id))
    ).all()
    doctors = {doctor_id: district for doctor_id, district, _, _ in rows}
    absences = [(doctor_id, lo, hi) for doctor_id, _, lo, hi in rows if lo is not None]
    return doctors, absences  # type: ignore[return-value]


def _unavailable_periods(
    absences: list[tuple[int, date, date]], found: list[ChannelRestriction], start: datetime,
    end: datetime,
) -> list:  # type: ignore[type-arg]
    """Conditions for slots hidden by doctor absences and channel restrictions in the window.

    Both are few rows, so they are fetched first and turned into plain range conditions that
    work the same on SQLite and PostgreSQL.
    """
    first, last = start.date(), end.date()
    conds = []
    for doctor_id, absent_from, absent_to in absences:
        lo, hi = _day_span(absent_from, absent_to)
        conds.append(and_(Slot.doctor_id == doctor_id, Slot.starts_at >= lo, Slot.starts_at < hi))
    for r in found:
        if r.starts_on > last or r.ends_on < first:
            continue  # outside [start, end): it could hide nothing here
        lo, hi = _day_span(r.starts_on, r.ends_on)
        span = and_(Slot.starts_at >= lo, Slot.starts_at < hi)
        conds.append(and_(Slot.doctor_id == r.doctor_id, span) if r.doctor_id else span)
    return conds


def generate_slots(
    uow: UnitOfWork,
    days: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Create the slots of every active doctor's schedule for the rolling window.

    Honours the whole schedule (:mod:`booking_core.schedules`): per-weekday periods with
    breaks, even/odd dates, alternating weeks, slot length and cabinet per period, valid
    from/to, day overrides, and the doctor's last day (``left_on``).  Idempotent: a slot that
    would overlap one that exists is not made, and existing slots (booked or not) are never
    touched, so it is safe to run daily (or twice).  Slots already in the past are not
    created.  Returns how many slots were added.
    """
    days = days or uow.rules.slot_window_days
    created = 0
    now = uow.clock.now_local()
    first = now.date()
    last = first + timedelta(days=days - 1)
    with uow.reading():
        # Everything the schedules need, in three queries for all doctors at once.
        doctors = list(uow.session.exec(select(Doctor).where(col(Doctor.active))).all())
        rows: dict[int, list[TemplateRow]] = {}
        for t in uow.session.exec(select(ScheduleTemplate)).all():
            rows.setdefault(t.doctor_id, []).append(TemplateRow.of(t))
        overrides: dict[int, list[ScheduleOverride]] = {}
        for o in uow.session.exec(select(ScheduleOverride).where(
                ScheduleOverride.day >= first, ScheduleOverride.day <= last)).all():
            overrides.setdefault(o.doctor_id, []).append(o)
    doctors = [d for d in doctors if d.id in rows or d.id in overrides]
    with _wal_kept(uow):
        for i, doctor in enumerate(doctors, 1):
            with uow:  # one short transaction per doctor: SQLite's write lock is held briefly
                created += generate_for_doctor(uow, doctor, rows.get(doctor.id, []),  # type: ignore[arg-type]
                                               first, last, now,
                                               overrides.get(doctor.id, []))  # type: ignore[arg-type]
                uow.commit()
            if progress:
                progress(i, len(doctors))
    logger.info("slot generation: %d new slots for %d doctors", created, len(doctors))
    return created


@contextmanager
def _wal_kept(uow: UnitOfWork) -> Iterator[None]:
    """On SQLite, hold one idle connection open while the loop runs.

    Connections are not pooled there, and when the last one closes SQLite checkpoints the
    write-ahead log into the database and deletes it: after every doctor's transaction, when
    run from the command line, which cost more than the inserts themselves.  An idle
    connection (no transaction) blocks no writer and no checkpoint.
    """
    if uow.engine.dialect.name != "sqlite":
        yield
        return
    with uow.engine.connect():
        yield


def generate_for_doctor(
    uow: UnitOfWork, doctor: Doctor, rows: Sequence[TemplateRow], first: date, last: date,
    now: datetime, overrides: Sequence[ScheduleOverride] | None = None,
) -> int:
    """Insert the doctor's missing slots for ``first``..``last`` (inside an open transaction).

    ``overrides``: the doctor's day overrides over the span (looked up when None).  Nothing is
    made after the doctor's last day, before ``now``, or overlapping an existing slot.
    """
    assert doctor.id is not None
    if doctor.left_on is not None:
        last = min(last, doctor.left_on)
    if first > last:
        return 0
    if overrides is None:
        overrides = uow.session.exec(select(ScheduleOverride).where(
            ScheduleOverride.doctor_id == doctor.id, ScheduleOverride.day >= first,
            ScheduleOverride.day <= last)).all()
    lo, hi = _day_span(first, last)
    existing = sorted(uow.session.exec(
        select(Slot.starts_at, Slot.ends_at).where(
            Slot.doctor_id == doctor.id, Slot.starts_at >= lo, Slot.starts_at < hi)
    ).all())
    starts = [s for s, _ in existing]
    max_ends = list(accumulate((e for _, e in existing), max))
    new: list[dict[str, object]] = []
    day = first
    while day <= last:
        for spec in slots_for_day(rows, overrides, day, doctor.cabinet):
            if spec.starts_at > now and not _overlaps(starts, max_ends, spec):
                new.append({"doctor_id": doctor.id, "starts_at": spec.starts_at,
                            "ends_at": spec.ends_at, "cabinet": spec.cabinet})
        day += timedelta(days=1)
    if new:
        # A core bulk insert: the ORM's unit of work costs several times more per row.
        uow.session.execute(insert(Slot), new)
    return len(new)


def _overlaps(starts: list[datetime], max_ends: list[datetime], spec: SlotSpec) -> bool:
    """Whether ``spec`` overlaps an existing slot: ``starts`` sorted, ``max_ends[i]`` the latest
    end among the first ``i + 1`` of them (so overlapping legacy slots are judged right too)."""
    i = bisect_left(starts, spec.ends_at)  # the existing slots that start before spec ends
    return i > 0 and max_ends[i - 1] > spec.starts_at
