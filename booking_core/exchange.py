"""Appointments as another system keeps in step with them: by patient, or changed since a time.

Read models for the FHIR API's Appointment search and for the MIS, which polls
``_lastUpdated`` to mirror every booking, cancellation and reschedule made by any channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from booking_core.errors import InvalidInput, NotFound
from booking_core.uow import UnitOfWork
from booking_core.views import AppointmentView
from models.tables import Appointment, Doctor, Slot, Specialty

MAX_PAGE = 200


@dataclass(frozen=True)
class AppointmentRecord:
    """An appointment with the bookkeeping another system needs to stay in step."""

    view: AppointmentView
    ends_at: datetime | None
    created_at: datetime  # UTC
    updated_at: datetime  # UTC
    hold_expires_at: datetime | None  # UTC
    rescheduled_from_id: int | None


@dataclass(frozen=True)
class AppointmentQuery:
    patient_id: int | None = None
    updated_after: datetime | None = None  # UTC, exclusive
    status: str | None = None
    limit: int = 50
    offset: int = 0


def find_appointments(q: AppointmentQuery, uow: UnitOfWork) -> tuple[list[AppointmentRecord],
                                                                      bool]:
    """One page of appointments and whether more follow.

    Changed-since pages are in update order (oldest first, ties by id) so a poller can resume
    from the last ``updated_at`` it saw; a patient's are newest visit first.
    """
    if q.patient_id is None and q.updated_after is None:
        raise InvalidInput("name a patient or a time the changes are wanted since",
                           field="patient")
    if not 1 <= q.limit <= MAX_PAGE or q.offset < 0:
        raise InvalidInput(f"page size 1-{MAX_PAGE}", field="_count")
    with uow.reading():
        stmt = _joined()
        if q.patient_id is not None:
            stmt = stmt.where(Appointment.patient_id == q.patient_id)
        if q.updated_after is not None:
            stmt = stmt.where(Appointment.updated_at > q.updated_after)
        if q.status:
            stmt = stmt.where(Appointment.status == q.status)
        if q.updated_after is not None:
            stmt = stmt.order_by(col(Appointment.updated_at), col(Appointment.id))
        else:
            stmt = stmt.order_by(col(Appointment.starts_at).desc(), col(Appointment.id))
        rows = uow.session.exec(stmt.offset(q.offset).limit(q.limit + 1)).all()
        return [_record(*r) for r in rows[:q.limit]], len(rows) > q.limit


def get_record(appointment_id: int, uow: UnitOfWork) -> AppointmentRecord:
    with uow.reading():
        row = uow.session.exec(_joined().where(Appointment.id == appointment_id)).first()
        if row is None:
            raise NotFound("appointment not found")
        return _record(*row)


def _joined():  # type: ignore[no-untyped-def]
    return (select(Appointment, Doctor, Specialty, Slot)
            .join(Doctor, col(Doctor.id) == Appointment.doctor_id)
            .join(Specialty, col(Specialty.id) == Appointment.specialty_id)
            .outerjoin(Slot, col(Slot.id) == Appointment.slot_id))


def _record(a: Appointment, d: Doctor, s: Specialty, slot: Slot | None) -> AppointmentRecord:
    return AppointmentRecord(
        view=AppointmentView.of(a, d, s, slot.cabinet if slot else ""),
        ends_at=slot.ends_at if slot else None, created_at=a.created_at,
        updated_at=a.updated_at, hold_expires_at=a.hold_expires_at,
        rescheduled_from_id=a.rescheduled_from_id)
