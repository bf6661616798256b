"""Free-slot search (nearest first, district doctor first) and slot generation (rule 7)."""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import accumulate

from sqlalchemy import Date, and_, bindparam, exists, func, insert, not_, null, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from booking_core.commands import FindSlots
from booking_core.eligibility import (
    channel_restriction_at,
    check_patient_may_book,
    check_static_eligibility,
    get_patient_and_block,
    window_restrictions,
    with_block,
)
from booking_core.errors import (
    AgeMismatch,
    ChannelClosed,
    NotFound,
    ReferralRequired,
)
from booking_core.rules import age_group_days, booking_window, is_remote
from booking_core.schedules import SlotSpec, TemplateRow, slots_for_day
from booking_core.slot_facts import LIVE_FUTURE, hold_in_force
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
        hold_in_force(now_utc),
    )


def _day_span(first: date, last: date) -> tuple[datetime, datetime]:
    return datetime.combine(first, time.min), datetime.combine(last + timedelta(days=1), time.min)


def bookable_specialties(patient_id: int, channel: str, uow: UnitOfWork) -> list[SpecialtyOption]:
    """Specialties at the patient's clinic they may book through ``channel`` (rules 4-6, 13).

    Each option also carries what would refuse a booking before any slot is offered: a
    remote no-show block (rule 11), a channel closed for the whole window (rule 13) and the
    patient's future appointment with the specialty (rule 9), so a channel can say so when
    the specialty is chosen rather than after a slot was taken.
    """
    with uow.reading():
        patient, block = get_patient_and_block(uow, patient_id, uow.clock.today())
        if patient.clinic_id is None:
            return []
        start, end = booking_window(channel, uow.clock.now_local(), uow.rules)
        rows = uow.session.exec(_specialties_with_doctors(is_remote(channel)), params={
            "clinic_id": patient.clinic_id, "today": uow.clock.today(),
            "patient_id": patient_id, "now_local": uow.clock.now_local(),
            "now_utc": uow.clock.now_utc(), "channel": channel,
            "first": start.date(), "last": _last_day(end)}).all()
        blocked_until = block.blocked_until if block is not None and is_remote(channel) else None
        return [
            SpecialtyOption(SpecialtyView.of(spec), closed, blocked_until, held)
            for spec, held, closed in rows if _listed(patient, spec, channel, start, end)
        ]


@cache
def _specialties_with_doctors(remote: bool) -> Select:  # type: ignore[type-arg]
    """Specialties with an active doctor at a clinic, in menu order, each with the patient's
    nearest future appointment with it (rule 9's count: live statuses, a pending hold only
    while it lasts) or None, and on a remote channel the reason of a restriction closing it
    for the whole window [``first``, ``last``] (rule 13) or None.  Built once per kind of
    channel, as building cost more CPU than running it; values bound at execution."""
    held = (
        select(Appointment.id)
        .where(
            Appointment.patient_id == bindparam("patient_id"),
            Appointment.specialty_id == Specialty.id,
            col(Appointment.status).in_(LIVE_FUTURE),
            Appointment.starts_at > bindparam("now_local"),
            hold_in_force(bindparam("now_utc")),
        )
        .order_by(col(Appointment.starts_at), col(Appointment.id))
        .limit(1)
        .scalar_subquery()
    )
    closing = (
        select(func.coalesce(func.nullif(ChannelRestriction.reason, ""), "closed"))
        .where(
            channel_restriction_at(bindparam("clinic_id")),
            ChannelRestriction.specialty_id == Specialty.id,
            col(ChannelRestriction.doctor_id).is_(None),
            ChannelRestriction.starts_on <= bindparam("first", type_=Date()),
            ChannelRestriction.ends_on >= bindparam("last", type_=Date()),
        )
        .order_by(col(ChannelRestriction.id))
        .limit(1)
        .scalar_subquery()
    ) if remote else null()
    return (
        select(Specialty, held, closing)
        .where(
            exists().where(
                Doctor.specialty_id == Specialty.id,
                Doctor.clinic_id == bindparam("clinic_id"),
                col(Doctor.active).is_(True),
                # a doctor past their last day no longer makes the specialty bookable
                or_(col(Doctor.left_on).is_(None),
                    col(Doctor.left_on) >= bindparam("today", type_=Date())),
            )
        )
        .order_by(col(Specialty.ivr_order), col(Specialty.name_ru))
    )


def booking_days(channel: str, uow: UnitOfWork) -> tuple[date, date, int]:
    """The first and last day ``channel`` may book, and the horizon in days (rule 7), so a
    channel can tell a day beyond the horizon from a day without free time."""
    start, end = booking_window(channel, uow.clock.now_local(), uow.rules)
    days = uow.rules.booking_horizon_days if is_remote(channel) else uow.rules.slot_window_days
    return start.date(), (end - timedelta(seconds=1)).date(), days


def _listed(
    patient: Patient, spec: Specialty, channel: str, start: datetime, end: datetime
) -> bool:
    """Whether the specialty menu shows ``spec`` to this patient.

    Age is judged on the visit day (rule 21): a specialty is listed when its age group
    admits the patient on some day of the window [start, end) the channel books.

    Only the checks that need no database decide it: a no-show block still lists the
    specialty (the booking attempt explains the block) and so does a referral-only one off
    the remote channels, with or without a valid referral, so neither is looked up here.
    """
    try:
        check_static_eligibility(patient, spec, channel, start.date(), _last_day(end))
    except AgeMismatch:
        return False
    except ReferralRequired:
        return not is_remote(channel)  # referral-only specialties are booked by a registrar
    return True


def _last_day(end: datetime) -> date:
    """The last day of a window ending (exclusively) at ``end``."""
    return (end - timedelta(seconds=1)).date()


def within_age(patient: Patient, spec: Specialty, start: datetime,
               end: datetime) -> tuple[datetime, datetime]:
    """[start, end) narrowed to the visit days the specialty's age group admits the patient
    on (rule 21: a 17-year-old sees pediatrician slots until her 18th birthday only);
    empty (start >= end) when there are none."""
    lo, hi = age_group_days(spec.age_group, patient.birth_date)
    if lo is not None:
        start = max(start, datetime.combine(lo, time.min))
    if hi is not None:
        end = min(end, datetime.combine(hi + timedelta(days=1), time.min))
    return start, end


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
    first, last = start.date(), _last_day(end)
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
        start, end = booking_window(q.channel, uow.clock.now_local(), uow.rules)
        patient, block, spec, restricted = _patient_block_and_specialty(uow, q, start, end)
        check_patient_may_book(uow, patient, spec, q.channel, on=start.date(), block=block,
                               last=_last_day(end))
        assert patient.clinic_id is not None
        start, end = within_age(patient, spec, start, end)
        # One query serves both the whole-window check and the hidden periods below; most
        # searches meet no restriction at all, which the patient's statement already told.
        found = _remote_restrictions(uow, patient.clinic_id, q.channel, [spec], start, end,
                                     with_doctors=True) if restricted else []
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
    uow: UnitOfWork, q: FindSlots, start: datetime, end: datetime
) -> tuple[Patient, NoShowBlock | None, Specialty, bool]:
    """The patient, their no-show block in force today, the specialty and whether any
    restriction of the channel at the patient's clinic overlaps [start, end) for the
    specialty or one of its doctors: one round trip."""
    row = uow.session.exec(_patient_block_specialty_statement(), params={
        "on": uow.clock.today(), "specialty_id": q.specialty_id,
        "patient_id": q.patient_id, "channel": q.channel, "first": start.date(),
        "last": end.date()}).first()
    if row is None:
        raise NotFound("patient not found")
    patient, block, spec, restricted = row
    if spec is None:
        raise NotFound("specialty not found")
    return patient, block, spec, bool(restricted)


@cache
def _patient_block_specialty_statement() -> Select:  # type: ignore[type-arg]
    specialty_id = bindparam("specialty_id")
    restricted = exists().where(
        channel_restriction_at(Patient.clinic_id),
        ChannelRestriction.starts_on <= bindparam("last", type_=Date()),
        ChannelRestriction.ends_on >= bindparam("first", type_=Date()),
        or_(ChannelRestriction.specialty_id == specialty_id,
            col(ChannelRestriction.doctor_id).in_(
                select(Doctor.id).where(Doctor.specialty_id == specialty_id))),
    )
    return (
        with_block(select(Patient, NoShowBlock, Specialty, restricted),
                   bindparam("on", type_=Date()))
        .outerjoin(Specialty, Specialty.id == specialty_id)
        .where(Patient.id == bindparam("patient_id"))
        .limit(1)
    )


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
    hidden = _unavailable_periods(absences, found, start, end)
    # The usual search hides nothing: its statement is built once (building it cost more CPU
    # than running it); absences and restrictions add their own conditions.
    stmt = (_free_statement(tuple(not_(cond) for cond in hidden)) if hidden
            else _plain_free_statement())
    params = {"start": start, "end": end, "now_utc": uow.clock.now_utc()}
    if spec.district_based and district_id is not None:
        # District doctor first.  Ordering by "is it the district's doctor" would sort every
        # free slot of the window; two ordered, LIMITed queries stop early instead, and the
        # second runs only when the district's doctors fall short.
        own = [i for i, district in doctors.items() if district == district_id]
        rows = _free_of(uow, stmt, params, own, q.limit)
        others = [i for i in doctors if i not in own]
        rows += _free_of(uow, stmt, params, others, q.limit - len(rows))
    else:
        rows = _free_of(uow, stmt, params, list(doctors), q.limit)
    return [SlotOffer.of(slot, doctor, district_id) for slot, doctor in rows]


@cache
def _plain_free_statement() -> Select:  # type: ignore[type-arg]
    return _free_statement(())


def _free_statement(conditions: tuple) -> Select:  # type: ignore[type-arg]
    """Free slots among ``doctor_ids`` in [``start``, ``end``), nearest first, at most
    ``limit`` rows (all bound at execution), and matching all of ``conditions``."""
    return (
        select(Slot, Doctor)
        .join(Doctor, col(Doctor.id) == Slot.doctor_id)
        .where(Slot.starts_at >= bindparam("start"), Slot.starts_at < bindparam("end"),
               col(Slot.doctor_id).in_(bindparam("doctor_ids", expanding=True)),
               not_(slot_is_taken(bindparam("now_utc"))), *conditions)
        .order_by(col(Slot.starts_at), col(Slot.doctor_id))
        .limit(bindparam("limit"))
    )


def _free_of(  # type: ignore[no-untyped-def]
    uow: UnitOfWork, stmt, params: dict, doctor_ids: list[int], limit: int
) -> list[tuple[Slot, Doctor]]:
    """The first ``limit`` rows of ``stmt`` among these doctors' slots.

    No query at all for no doctors: PostgreSQL would otherwise walk the whole window's slots
    in time order looking for a doctor who isn't there (a district without a pediatrician).
    """
    if not doctor_ids or limit <= 0:
        return []
    return list(uow.session.exec(
        stmt, params=params | {"doctor_ids": doctor_ids, "limit": limit}).all())


def _doctors_and_absences(
    uow: UnitOfWork, clinic_id: int, spec: Specialty, start: datetime, end: datetime
) -> tuple[dict[int, int | None], list[tuple[int, date, date]]]:
    """The clinic's active doctors of the specialty (id -> district) and their absences
    overlapping [start, end) as (doctor, first day, last day), in one query of plain columns.

    The search picks its doctors from these rows and names them in the slot query, which
    lets the database walk a few doctors' slots by index instead of the whole window's.
    """
    rows = uow.session.exec(_doctors_and_absences_statement(), params={
        "first": start.date(), "last": end.date(), "clinic_id": clinic_id,
        "specialty_id": spec.id}).all()
    doctors = {doctor_id: district for doctor_id, district, _, _ in rows}
    absences = [(doctor_id, lo, hi) for doctor_id, _, lo, hi in rows if lo is not None]
    return doctors, absences  # type: ignore[return-value]


@cache
def _doctors_and_absences_statement() -> Select:  # type: ignore[type-arg]
    return (
        select(Doctor.id, Doctor.district_id, DoctorAbsence.starts_on, DoctorAbsence.ends_on)
        .outerjoin(DoctorAbsence, and_(
            DoctorAbsence.doctor_id == Doctor.id,
            DoctorAbsence.starts_on <= bindparam("last", type_=Date()),
            DoctorAbsence.ends_on >= bindparam("first", type_=Date()),
        ))
        .where(Doctor.clinic_id == bindparam("clinic_id"),
               Doctor.specialty_id == bindparam("specialty_id"), col(Doctor.active).is_(True))
        .order_by(col(Doctor.id))
    )


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
