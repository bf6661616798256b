"""Read models for exports: appointments over a date range, and one doctor's day list.

Both carry only what a registrar's printout needs: the patient's name, birth year and the last
four digits of the policy (never the whole number nor the full date of birth).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import col, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.errors import InvalidInput
from booking_core.scope import EVERYWHERE, ClinicScope, check_doctor
from booking_core.uow import UnitOfWork
from models.tables import Appointment, AppointmentStatus, Doctor, Patient, Slot, Specialty

logger = logging.getLogger(__name__)

MAX_EXPORT_DAYS = 366
POLICY_TAIL = 4


@dataclass(frozen=True)
class ExportRow:
    starts_at: datetime
    doctor: str
    specialty: str
    cabinet: str
    patient: str
    birth_year: int
    policy_tail: str
    status: str
    channel: str
    talon: str
    flag: str


@dataclass(frozen=True)
class DayList:
    """What the registrar prints for the doctor's cabinet: one line per live visit."""

    day: date
    doctor: str
    specialty: str
    cabinet: str
    rows: list[ExportRow]


def appointments_between(first: date, last: date, uow: UnitOfWork,
                         scope: ClinicScope = EVERYWHERE) -> list[ExportRow]:
    """Every appointment (any status) starting from ``first`` through ``last``, by time;
    with the doctors of the reader's clinic only when ``scope`` is one clinic's."""
    if last < first:
        raise InvalidInput("the range ends before it starts")
    if (last - first).days >= MAX_EXPORT_DAYS:
        raise InvalidInput(f"at most {MAX_EXPORT_DAYS} days at once")
    lo = datetime.combine(first, time.min)
    hi = datetime.combine(last + timedelta(days=1), time.min)
    where = [Appointment.starts_at >= lo, Appointment.starts_at < hi]
    if scope.clinic_id is not None:
        where.append(Doctor.clinic_id == scope.clinic_id)
    return _rows(uow, *where)


def note_export(actor: Actor, what: str, first: date, last: date, rows: int,
                uow: UnitOfWork) -> None:
    """Audit who took personal data out of the system, which range and how many rows."""
    with uow:
        audit.record(uow, actor, "export", what, "", None,
                     {"from": first.isoformat(), "to": last.isoformat(), "rows": rows})
        uow.commit()


def day_list(doctor_id: int, day: date, uow: UnitOfWork,
             scope: ClinicScope = EVERYWHERE) -> DayList:
    """The doctor's live visits of one day (cancelled ones left out), by time."""
    with uow.reading():
        doctor = check_doctor(uow, scope, doctor_id)
        spec = uow.session.get(Specialty, doctor.specialty_id)
    lo = datetime.combine(day, time.min)
    rows = _rows(uow, Appointment.doctor_id == doctor_id, Appointment.starts_at >= lo,
                 Appointment.starts_at < lo + timedelta(days=1),
                 Appointment.status != AppointmentStatus.CANCELLED)
    return DayList(day, doctor.full_name, spec.name_ru if spec else "", doctor.cabinet, rows)


def _rows(uow: UnitOfWork, *where) -> list[ExportRow]:  # type: ignore[no-untyped-def]
    with uow.reading():
        found = uow.session.exec(
            select(Appointment, Patient, Doctor, Specialty, Slot.cabinet)
            .join(Patient, col(Patient.id) == Appointment.patient_id)
            .join(Doctor, col(Doctor.id) == Appointment.doctor_id)
            .join(Specialty, col(Specialty.id) == Appointment.specialty_id)
            .outerjoin(Slot, col(Slot.id) == Appointment.slot_id)
            .where(*where)
            .order_by(col(Appointment.starts_at), col(Doctor.last_name))
        ).all()
        return [ExportRow(a.starts_at, d.full_name, s.name_ru, cabinet or d.cabinet,
                          p.full_name, p.birth_date.year, p.policy_number[-POLICY_TAIL:],
                          a.status, a.channel, a.confirmation_code,
                          a.flag or ("absence" if a.absence_id else ""))
                for a, p, d, s, cabinet in found]
