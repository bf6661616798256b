"""The registrar's schedule grid and the clinic directory (specialties, doctors).

The grid shows, per day and doctor, the free slots a registrar may book at the desk (the console
channel: no remote horizon, no channel restrictions), the taken ones with whose they are (the
patient being rescheduled sees their own current slot marked), and whether the doctor is away.
Taken and past slots are not offered; booking still goes through
:func:`booking_core.booking.book`, which is what makes a slot impossible to sell twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import col, select

from booking_core.booking import LIVE_FUTURE
from booking_core.eligibility import check_static_eligibility, valid_referral
from booking_core.errors import (
    DomainError,
    InvalidInput,
    LimitReached,
    NotFound,
    OtherClinic,
    ReferralRequired,
)
from booking_core.rules import booking_window
from booking_core.slots import slot_is_taken
from booking_core.uow import UnitOfWork
from booking_core.views import DoctorView, SpecialtyView
from models.tables import (
    Appointment,
    AppointmentStatus,
    BookingMode,
    Channel,
    Doctor,
    DoctorAbsence,
    Patient,
    Slot,
    Specialty,
)

logger = logging.getLogger(__name__)

MAX_GRID_DAYS = 14


@dataclass(frozen=True)
class GridQuery:
    date_from: date
    date_to: date
    specialty_id: int | None = None
    doctor_id: int | None = None
    patient_id: int | None = None  # restricts the grid to the patient's clinic
    clinic_id: int | None = None  # the reader's clinic scope or filter


@dataclass(frozen=True)
class GridSlot:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    cabinet: str


@dataclass(frozen=True)
class TakenSlot:
    """A slot somebody holds: for the registrar, whose it is."""

    slot_id: int
    starts_at: datetime
    appointment_id: int
    patient_short: str  # «Петрова А.И.»
    own: bool = False  # the grid's patient holds it (their current visit when rescheduling)


@dataclass(frozen=True)
class DoctorDay:
    doctor: DoctorView
    free: list[GridSlot]
    total: int  # slots still ahead that day, free or taken
    absent_reason: str | None = None
    taken_slots: list[TakenSlot] = field(default_factory=list)

    @property
    def taken(self) -> int:
        return len(self.taken_slots)

    @property
    def absent(self) -> bool:
        return self.absent_reason is not None

    @property
    def timeline(self) -> list[GridSlot | TakenSlot]:
        """Free and taken slots in time order, as the grid draws them."""
        return sorted([*self.free, *self.taken_slots], key=lambda s: s.starts_at)


@dataclass(frozen=True)
class GridDay:
    day: date
    doctors: list[DoctorDay] = field(default_factory=list)

    @property
    def free(self) -> int:
        return sum(len(d.free) for d in self.doctors)


@dataclass(frozen=True)
class ScheduleGrid:
    date_from: date
    date_to: date
    specialty: SpecialtyView | None
    doctors: list[DoctorView]
    days: list[GridDay]

    @property
    def free(self) -> int:
        return sum(d.free for d in self.days)


@dataclass(frozen=True)
class SpecialtyChoice:
    """A specialty on the patient's card: bookable now, or why not (a stable error id)."""

    specialty: SpecialtyView
    reason: str | None = None  # wrong_clinic, age_mismatch, referral_required, limit_reached
    until: datetime | None = None  # limit_reached: the visit already booked

    @property
    def open(self) -> bool:
        return self.reason is None


def specialty_choices(patient_id: int, uow: UnitOfWork) -> list[SpecialtyChoice]:
    """Every specialty of the patient's clinic with whether a registrar may book it for them
    now (age group, referral, one future visit per specialty), bookable ones first."""
    with uow.reading():
        patient = uow.session.get(Patient, patient_id)
        if patient is None:
            raise NotFound("patient not found")
        today, now = uow.clock.today(), uow.clock.now_local()
        booked = {spec_id: at for spec_id, at in uow.session.exec(
            select(Appointment.specialty_id, Appointment.starts_at)
            .where(Appointment.patient_id == patient_id,
                   col(Appointment.status).in_(LIVE_FUTURE), Appointment.starts_at > now))}
        choices = []
        for spec in uow.session.exec(select(Specialty).order_by(col(Specialty.ivr_order),
                                                                col(Specialty.name_ru))):
            reason = None
            try:
                check_static_eligibility(patient, spec, Channel.CONSOLE, today)
                if (spec.booking_mode == BookingMode.REFERRAL_ONLY and valid_referral(
                        uow, patient_id, spec.id, today, None) is None):  # type: ignore[arg-type]
                    reason = ReferralRequired.code
                elif spec.id in booked:
                    reason = LimitReached.code
            except DomainError as exc:
                reason = exc.code
            choices.append(SpecialtyChoice(SpecialtyView.of(spec), reason,
                                           booked.get(spec.id) if reason == "limit_reached"
                                           else None))
        return sorted(choices, key=lambda c: not c.open)


def specialties(uow: UnitOfWork) -> list[SpecialtyView]:
    """Every specialty, in the IVR's order."""
    with uow.reading():
        rows = uow.session.exec(select(Specialty).order_by(col(Specialty.ivr_order),
                                                           col(Specialty.name_ru)))
        return [SpecialtyView.of(s) for s in rows.all()]


def doctors(uow: UnitOfWork, specialty_id: int | None = None,
            active_only: bool = True, clinic_id: int | None = None) -> list[DoctorView]:
    """Doctors, optionally of one specialty or one clinic, by name."""
    with uow.reading():
        stmt = select(Doctor)
        if clinic_id is not None:
            stmt = stmt.where(Doctor.clinic_id == clinic_id)
        if specialty_id is not None:
            stmt = stmt.where(Doctor.specialty_id == specialty_id)
        if active_only:
            stmt = stmt.where(col(Doctor.active).is_(True))
        stmt = stmt.order_by(col(Doctor.last_name), col(Doctor.first_name))
        return [DoctorView.of(d) for d in uow.session.exec(stmt).all()]


def schedule_grid(q: GridQuery, uow: UnitOfWork) -> ScheduleGrid:
    """Free slots per day and doctor for a specialty or one doctor over a date range."""
    if q.specialty_id is None and q.doctor_id is None:
        raise InvalidInput("choose a specialty or a doctor")
    if q.date_to < q.date_from:
        raise InvalidInput("the range ends before it starts")
    if (q.date_to - q.date_from).days >= MAX_GRID_DAYS:
        raise InvalidInput(f"at most {MAX_GRID_DAYS} days at once")
    with uow.reading():
        spec = None
        doctor_stmt = select(Doctor).where(col(Doctor.active).is_(True))
        if q.doctor_id is not None:
            one = uow.session.get(Doctor, q.doctor_id)
            if one is None:
                raise NotFound("doctor not found")
            if q.clinic_id is not None and one.clinic_id != q.clinic_id:
                raise OtherClinic("this doctor works in another clinic")
            doctor_stmt = doctor_stmt.where(Doctor.id == q.doctor_id)
            spec = uow.session.get(Specialty, one.specialty_id)
        if q.specialty_id is not None:
            spec = uow.session.get(Specialty, q.specialty_id)
            if spec is None:
                raise NotFound("specialty not found")
            doctor_stmt = doctor_stmt.where(Doctor.specialty_id == q.specialty_id)
        if q.patient_id is not None:
            patient = uow.session.get(Patient, q.patient_id)
            if patient is None:
                raise NotFound("patient not found")
            if q.clinic_id is not None and patient.clinic_id != q.clinic_id:
                raise OtherClinic("this patient is attached to another clinic")
            if patient.clinic_id is not None:
                doctor_stmt = doctor_stmt.where(Doctor.clinic_id == patient.clinic_id)
        if q.clinic_id is not None:
            doctor_stmt = doctor_stmt.where(Doctor.clinic_id == q.clinic_id)
        docs = list(uow.session.exec(doctor_stmt.order_by(col(Doctor.last_name))).all())
        doctor_ids = [d.id for d in docs]
        now = uow.clock.now_local()
        start = max(datetime.combine(q.date_from, time.min), now)
        _, window_end = booking_window(Channel.CONSOLE, now, uow.rules)
        end = min(datetime.combine(q.date_to + timedelta(days=1), time.min), window_end)
        rows = []
        holders: dict[int, tuple[int, int, str]] = {}
        absences: list[DoctorAbsence] = []
        if doctor_ids and start < end:
            taken = slot_is_taken(uow.clock.now_utc())
            rows = list(uow.session.exec(
                select(Slot, taken.label("taken"))
                .where(col(Slot.doctor_id).in_(doctor_ids), Slot.starts_at >= start,
                       Slot.starts_at < end)
                .order_by(col(Slot.starts_at))
            ).all())
            holders = _holders(uow, [slot.id for slot, taken in rows if taken])
            absences = list(uow.session.exec(
                select(DoctorAbsence).where(col(DoctorAbsence.doctor_id).in_(doctor_ids),
                                            DoctorAbsence.starts_on <= q.date_to,
                                            DoctorAbsence.ends_on >= q.date_from)
            ).all())
        days = _build_days(q, docs, rows, absences, holders)
        return ScheduleGrid(q.date_from, q.date_to, SpecialtyView.of(spec) if spec else None,
                            [DoctorView.of(d) for d in docs], days)


def _holders(uow: UnitOfWork, slot_ids: list[int]) -> dict[int, tuple[int, int, str]]:
    """slot id → (appointment id, patient id, «Петрова А.И.») of the appointments holding them."""
    if not slot_ids:
        return {}
    rows = uow.session.exec(
        select(Appointment.slot_id, Appointment.id, Patient)
        .join(Patient, col(Patient.id) == Appointment.patient_id)
        .where(col(Appointment.slot_id).in_(slot_ids),
               Appointment.status != AppointmentStatus.CANCELLED)
        .order_by(col(Appointment.id))
    ).all()
    return {slot_id: (appt_id, p.id, _short(p)) for slot_id, appt_id, p in rows}  # type: ignore[misc]


def _short(p: Patient) -> str:
    initials = "".join(f"{part[0]}." for part in (p.first_name, p.middle_name) if part)
    return f"{p.last_name} {initials}".strip()


def _build_days(q: GridQuery, docs: list[Doctor], rows: list, absences: list[DoctorAbsence],  # type: ignore[type-arg]
                holders: dict[int, tuple[int, int, str]]) -> list[GridDay]:
    by_key: dict[tuple[date, int], list[tuple[Slot, bool]]] = {}
    for slot, taken in rows:
        by_key.setdefault((slot.starts_at.date(), slot.doctor_id), []).append((slot, bool(taken)))
    days = []
    day = q.date_from
    while day <= q.date_to:
        grid_day = GridDay(day)
        for d in docs:
            assert d.id is not None
            away = next((a for a in absences
                         if a.doctor_id == d.id and a.starts_on <= day <= a.ends_on), None)
            slots = by_key.get((day, d.id), [])
            if not slots and away is None:
                continue
            free = [] if away else [GridSlot(s.id, s.starts_at, s.ends_at, s.cabinet or d.cabinet)  # type: ignore[arg-type]
                                    for s, taken in slots if not taken]
            held = []
            for s, taken in slots:
                if taken and s.id in holders:
                    appt_id, holder_id, short = holders[s.id]
                    held.append(TakenSlot(s.id, s.starts_at, appt_id, short,  # type: ignore[arg-type]
                                          own=holder_id == q.patient_id))
            grid_day.doctors.append(DoctorDay(DoctorView.of(d), free, len(slots),
                                              (away.reason or "absent") if away else None,
                                              held))
        days.append(grid_day)
        day += timedelta(days=1)
    return days
