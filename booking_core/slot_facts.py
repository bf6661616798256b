"""What booking one slot must know, read in one statement.

A booking judges the slot with its doctor and specialty, the doctor's absence that day, the
channel's restrictions that day (rule 13), an expired hold still on the slot (rule 10), the
patient's appointments that count toward the limits (rule 9), whether a drawn confirmation
code is in use and whether the patient has a waiting-list entry the booking serves.  Each
used to be its own round trip inside the booking transaction, which is on every phone call's
path; here they are correlated subqueries of one SELECT, and :mod:`booking_core.booking`
judges the rules from the facts, in its own order.

Run it after the patient row is locked: the counts then cannot change under the booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, null, or_
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from booking_core.eligibility import channel_restriction_at
from booking_core.errors import NotFound
from booking_core.rules import is_remote
from booking_core.uow import UnitOfWork
from models.tables import (
    Appointment,
    AppointmentStatus,
    ChannelRestriction,
    Clinic,
    Doctor,
    DoctorAbsence,
    Slot,
    Specialty,
    WaitlistEntry,
    WaitlistStatus,
)

LIVE_FUTURE = (AppointmentStatus.PENDING, AppointmentStatus.BOOKED)
#: A waiting-list entry still to be served: waiting, or holding an offered slot.
ACTIVE_ENTRY = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


def hold_in_force(now_utc: datetime | BindParameter) -> ColumnElement[bool]:
    """SQL: the appointment is not a pending hold, or its hold has not run out (rule 10: an
    expired hold occupies no slot and counts toward no limit, even before it is cleaned up)."""
    return or_(Appointment.status != AppointmentStatus.PENDING,
               col(Appointment.hold_expires_at) >= now_utc)


@dataclass(frozen=True)
class SlotFacts:
    """A slot and everything around it that may refuse booking it for one patient."""

    slot: Slot
    doctor: Doctor
    specialty: Specialty
    clinic: Clinic
    #: The doctor has an absence covering the slot's day.
    doctor_absent: bool
    #: A restriction closing the channel that day for the specialty or this doctor (remote
    #: channels only; the lowest id when several do).
    closing_restriction_id: int | None
    #: A pending hold on the slot whose time ran out, still to be cancelled.
    expired_hold: bool
    #: The patient's live future appointments with the specialty (a hold only while it lasts).
    same_specialty: int
    #: The patient's visits on the slot's day, in any status but cancelled (a hold only while
    #: it lasts): completed and walk-in visits count too.
    same_day: int
    #: The confirmation code drawn for the booking is carried by a live appointment.
    code_taken: bool
    #: The patient has an active waiting-list entry for the specialty (the booking serves it).
    #: Read after the patient row is locked, as joining the list locks it too: no entry can
    #: appear before the booking commits.
    waiting_entry: bool


def load_slot_facts(uow: UnitOfWork, slot_id: int, *, patient_id: int, channel: str,
                    code: str) -> SlotFacts:
    """The :class:`SlotFacts` of ``slot_id`` for ``patient_id`` booking through ``channel``.

    Raises :class:`NotFound` for an unknown slot.  The slot, doctor, specialty and clinic are
    kept for the unit of work (the booking SMS names the clinic).
    """
    params = {"slot_id": slot_id, "patient_id": patient_id, "channel": channel, "code": code,
              "now_utc": uow.clock.now_utc(), "now_local": uow.clock.now_local()}
    row = uow.session.exec(_statement(is_remote(channel)), params=params).first()
    if row is None:
        raise NotFound("slot not found")
    slot, doctor, spec, clinic, *rest = row
    uow.keep(slot, doctor, spec, clinic)
    is_absent, closing, expired, n_specialty, n_day, taken, waiting = rest
    return SlotFacts(slot, doctor, spec, clinic, bool(is_absent), closing, bool(expired),
                     n_specialty or 0, n_day or 0, bool(taken), bool(waiting))


@cache
def _statement(remote: bool) -> Select:  # type: ignore[type-arg]
    """The facts SELECT, built once: building it (a dozen subqueries) cost more CPU than
    running it.  Values come as bound parameters."""
    now_utc, now_local = bindparam("now_utc"), bindparam("now_local")
    patient_id = bindparam("patient_id")
    day = func.date(Slot.starts_at)
    counted = and_(Appointment.patient_id == patient_id, hold_in_force(now_utc))
    same_specialty = select(func.count()).where(
        counted, col(Appointment.status).in_(LIVE_FUTURE),
        Appointment.specialty_id == Doctor.specialty_id, Appointment.starts_at > now_local,
    ).scalar_subquery()
    same_day = select(func.count()).where(
        counted, Appointment.status != AppointmentStatus.CANCELLED,
        func.date(Appointment.starts_at) == day,
    ).scalar_subquery()
    absent = exists().where(DoctorAbsence.doctor_id == Slot.doctor_id,
                            DoctorAbsence.starts_on <= day, DoctorAbsence.ends_on >= day)
    expired_hold = exists().where(Appointment.slot_id == Slot.id,
                                  Appointment.status == AppointmentStatus.PENDING,
                                  col(Appointment.hold_expires_at) < now_utc)
    code_taken = exists().where(Appointment.confirmation_code == bindparam("code"),
                                col(Appointment.status).in_(LIVE_FUTURE))
    waiting = exists().where(WaitlistEntry.patient_id == patient_id,
                             WaitlistEntry.specialty_id == Doctor.specialty_id,
                             col(WaitlistEntry.status).in_(ACTIVE_ENTRY))
    closing = _closing_restriction(day) if remote else null()
    return (
        select(Slot, Doctor, Specialty, Clinic, absent, closing, expired_hold, same_specialty,
               same_day, code_taken, waiting)
        .join(Doctor, col(Doctor.id) == Slot.doctor_id)
        .join(Specialty, col(Specialty.id) == Doctor.specialty_id)
        .join(Clinic, col(Clinic.id) == Doctor.clinic_id)
        .where(Slot.id == bindparam("slot_id"))
    )


def _closing_restriction(day):  # type: ignore[no-untyped-def]
    """The id of a restriction closing the channel on ``day`` for the slot's doctor or their
    specialty (a restriction naming another doctor of the specialty does not close this one).
    Only remote channels are closed by restrictions."""
    return (
        select(ChannelRestriction.id)
        .where(
            channel_restriction_at(Doctor.clinic_id),
            ChannelRestriction.starts_on <= day,
            ChannelRestriction.ends_on >= day,
            or_(
                ChannelRestriction.doctor_id == Doctor.id,
                and_(ChannelRestriction.specialty_id == Doctor.specialty_id,
                     col(ChannelRestriction.doctor_id).is_(None)),
            ),
        )
        .order_by(col(ChannelRestriction.id))
        .limit(1)
        .scalar_subquery()
    )
