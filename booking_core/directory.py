"""The clinic directory as other systems read it: clinics, specialties, doctors, cabinets.

Plain read models for the FHIR API (Practitioner, PractitionerRole, HealthcareService,
Location, Schedule); nothing here changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from booking_core.errors import NotFound
from booking_core.uow import UnitOfWork
from booking_core.views import SpecialtyView
from models.tables import Clinic, Doctor, Specialty


@dataclass(frozen=True)
class ClinicEntry:
    id: int
    code: str
    name: str
    short_name: str
    address: str
    phone: str


@dataclass(frozen=True)
class DoctorEntry:
    id: int
    external_id: str | None
    last_name: str
    first_name: str
    middle_name: str
    cabinet: str
    active: bool
    clinic_id: int
    specialty: SpecialtyView


@dataclass(frozen=True)
class DoctorQuery:
    specialty_code: str | None = None
    doctor_id: int | None = None
    name: str | None = None
    active_only: bool = True


def clinics(uow: UnitOfWork) -> list[ClinicEntry]:
    with uow.reading():
        rows = uow.session.exec(select(Clinic).order_by(col(Clinic.id))).all()
        return [ClinicEntry(c.id, c.code, c.name, c.short_name, c.address, c.phone)  # type: ignore[arg-type]
                for c in rows]


def specialty_by_code(code: str, uow: UnitOfWork) -> SpecialtyView:
    with uow.reading():
        spec = uow.session.exec(select(Specialty).where(Specialty.code == code)).first()
        if spec is None:
            raise NotFound("specialty not found")
        return SpecialtyView.of(spec)


def find_doctors(q: DoctorQuery, uow: UnitOfWork) -> list[DoctorEntry]:
    """Doctors with their specialty, by name; filters combine."""
    with uow.reading():
        stmt = select(Doctor, Specialty).join(Specialty, col(Specialty.id) == Doctor.specialty_id)
        if q.specialty_code:
            stmt = stmt.where(Specialty.code == q.specialty_code)
        if q.doctor_id is not None:
            stmt = stmt.where(Doctor.id == q.doctor_id)
        if q.name:
            stmt = stmt.where(col(Doctor.last_name).ilike(f"{q.name.strip()}%"))
        if q.active_only:
            stmt = stmt.where(col(Doctor.active).is_(True))
        rows = uow.session.exec(stmt.order_by(col(Doctor.last_name), col(Doctor.id))).all()
        return [DoctorEntry(d.id, d.external_id, d.last_name, d.first_name, d.middle_name,  # type: ignore[arg-type]
                            d.cabinet, d.active, d.clinic_id, SpecialtyView.of(s))
                for d, s in rows]


def get_doctor(doctor_id: int, uow: UnitOfWork) -> DoctorEntry:
    found = find_doctors(DoctorQuery(doctor_id=doctor_id, active_only=False), uow)
    if not found:
        raise NotFound("doctor not found")
    return found[0]
