"""Free time open to a channel, before anyone is identified: what a portal or an infomat lists.

The patient-specific search (:func:`booking_core.slots.find_free_slots`) applies the patient's
eligibility; this one applies what holds for everybody on the channel: its booking window
(rule 7), its restrictions (rule 13) and doctor absences (rule 14).  Booking a listed slot still
goes through every rule in :mod:`booking_core.booking`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, not_
from sqlmodel import col, select

from booking_core.eligibility import window_restrictions
from booking_core.errors import InvalidInput, NotFound
from booking_core.rules import booking_window, is_remote
from booking_core.slots import _day_span, _unavailable_periods, slot_is_taken
from booking_core.uow import UnitOfWork
from booking_core.views import SlotOffer
from models.tables import ChannelRestriction, Doctor, DoctorAbsence, Slot

MAX_PAGE = 200


@dataclass(frozen=True)
class ListOpenSlots:
    channel: str
    specialty_id: int | None = None
    doctor_id: int | None = None
    start: datetime | None = None  # clinic-local; clamped to the channel's window
    end: datetime | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class OpenSlotsPage:
    offers: list[SlotOffer]
    has_more: bool


def list_open_slots(q: ListOpenSlots, uow: UnitOfWork) -> OpenSlotsPage:
    """Free slots of a specialty or a doctor in a time range, in time order, one page."""
    if q.specialty_id is None and q.doctor_id is None:
        raise InvalidInput("name a specialty or a doctor", field="specialty")
    if not 1 <= q.limit <= MAX_PAGE or q.offset < 0:
        raise InvalidInput(f"page size 1-{MAX_PAGE}", field="_count")
    with uow.reading():
        start, end = booking_window(q.channel, uow.clock.now_local(), uow.rules)
        start = max(start, q.start) if q.start else start
        end = min(end, q.end) if q.end else end
        if start >= end:
            return OpenSlotsPage([], False)
        doctors, absences = _doctors_and_absences(uow, q, start.date(), end.date())
        if not doctors:
            return OpenSlotsPage([], False)
        hidden = _unavailable_periods(absences, [], start, end) + _restricted_periods(
            _restrictions(uow, q.channel, doctors, start.date(), end.date()), doctors)
        stmt = (
            select(Slot, Doctor)
            .join(Doctor, col(Doctor.id) == Slot.doctor_id)
            .where(col(Slot.doctor_id).in_(list(doctors)), Slot.starts_at >= start,
                   Slot.starts_at < end)
            .where(not_(slot_is_taken(uow.clock.now_utc())))
        )
        for cond in hidden:
            stmt = stmt.where(not_(cond))
        rows = uow.session.exec(stmt.order_by(col(Slot.starts_at), col(Slot.doctor_id))
                                .offset(q.offset).limit(q.limit + 1)).all()
        offers = [SlotOffer.of(slot, doctor, None) for slot, doctor in rows[:q.limit]]
        return OpenSlotsPage(offers, len(rows) > q.limit)


def _doctors_and_absences(
    uow: UnitOfWork, q: ListOpenSlots, first: date, last: date
) -> tuple[dict[int, Doctor], list[tuple[int, date, date]]]:
    stmt = (
        select(Doctor, DoctorAbsence.starts_on, DoctorAbsence.ends_on)
        .outerjoin(DoctorAbsence, and_(DoctorAbsence.doctor_id == Doctor.id,
                                       DoctorAbsence.starts_on <= last,
                                       DoctorAbsence.ends_on >= first))
        .where(col(Doctor.active).is_(True))
    )
    if q.specialty_id is not None:
        stmt = stmt.where(Doctor.specialty_id == q.specialty_id)
    if q.doctor_id is not None:
        stmt = stmt.where(Doctor.id == q.doctor_id)
    rows = uow.session.exec(stmt).all()
    doctors = {d.id: d for d, _, _ in rows if d.id is not None}
    absences = [(d.id, lo, hi) for d, lo, hi in rows if lo is not None and d.id is not None]
    return doctors, absences  # type: ignore[return-value]


def _restricted_periods(found: list[ChannelRestriction], doctors: dict[int, Doctor]) -> list:  # type: ignore[type-arg]
    """Conditions for slots a restriction closes: its doctor's, or its specialty's in its own
    clinic only (one specialty is listed across the clinics of a region)."""
    conds = []
    for r in found:
        targets = [r.doctor_id] if r.doctor_id else [
            i for i, d in doctors.items()
            if d.clinic_id == r.clinic_id and r.specialty_id in (None, d.specialty_id)]
        lo, hi = _day_span(r.starts_on, r.ends_on)
        conds.append(and_(col(Slot.doctor_id).in_(targets), Slot.starts_at >= lo,
                          Slot.starts_at < hi))
    return conds


def _restrictions(uow: UnitOfWork, channel: str, doctors: dict[int, Doctor], first: date,
                  last: date) -> list[ChannelRestriction]:
    """The channel's restrictions for these doctors' clinics and specialties (remote only)."""
    if not is_remote(channel):
        return []
    found: list[ChannelRestriction] = []
    by_clinic: dict[int, set[int]] = {}
    for d in doctors.values():
        by_clinic.setdefault(d.clinic_id, set()).add(d.specialty_id)
    for clinic_id, specs in by_clinic.items():
        found += [r for r in window_restrictions(uow, clinic_id, channel, first, last,
                                                  tuple(sorted(specs)), with_doctors=True)
                  if r.doctor_id is None or r.doctor_id in doctors]
    return found


def get_slot(slot_id: int, uow: UnitOfWork) -> tuple[SlotOffer, bool]:
    """One slot and whether it is free now (no live appointment or unexpired hold on it)."""
    with uow.reading():
        row = uow.session.exec(
            select(Slot, Doctor, slot_is_taken(uow.clock.now_utc()))
            .join(Doctor, col(Doctor.id) == Slot.doctor_id).where(Slot.id == slot_id)).first()
        if row is None:
            raise NotFound("slot not found")
        slot, doctor, taken = row
        return SlotOffer.of(slot, doctor, None), not taken
