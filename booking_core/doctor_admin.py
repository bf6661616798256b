"""Administration of doctors: hire, change details, move to another cabinet, change the weekly
schedule (through :mod:`booking_core.schedules`), leave.

Each use case is one transaction with an audit entry (before/after).  Schedule changes and a
doctor's leaving never delete an appointment: ``booking_core.schedules`` flags the affected
visits for the agents' worklist, and this module only opens and commits the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import col, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.errors import Duplicate, InvalidInput, NotFound
from booking_core.schedules import (
    DayOverride,
    ScheduleChange,
    TemplateRow,
    doctor_leaves,
    overrides_of,
    preview_week,
    remove_day_override,
    replace_templates,
    set_day_override,
    stored_rows,
)
from booking_core.scope import EVERYWHERE, ClinicScope, check_actor, check_doctor
from booking_core.uow import UnitOfWork
from models.tables import (
    Clinic,
    District,
    Doctor,
    ScheduleOverride,
    ScheduleTemplate,
    Specialty,
)

logger = logging.getLogger(__name__)

DOCTOR_FIELDS = ("clinic_id", "specialty_id", "district_id", "last_name", "first_name",
                 "middle_name", "cabinet", "external_id", "active", "left_on")


@dataclass(frozen=True)
class DoctorData:
    clinic_id: int
    specialty_id: int
    last_name: str
    first_name: str
    middle_name: str = ""
    cabinet: str = ""
    district_id: int | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class DoctorRow:
    """A doctor as the admin list shows them."""

    id: int
    full_name: str
    specialty_name: str
    clinic_name: str
    cabinet: str
    district_number: int | None
    external_id: str | None
    active: bool
    left_on: date | None
    templates: int


def doctor_rows(uow: UnitOfWork, clinic_id: int | None = None) -> list[DoctorRow]:
    """Every doctor (of one clinic when ``clinic_id`` is given), working ones first, by name."""
    with uow.reading():
        stmt = select(Doctor) if clinic_id is None else select(Doctor).where(
            Doctor.clinic_id == clinic_id)
        docs = uow.session.exec(stmt.order_by(
            col(Doctor.active).desc(), col(Doctor.last_name), col(Doctor.first_name))).all()
        specs = {s.id: s.name_ru for s in uow.session.exec(select(Specialty)).all()}
        clinics = {c.id: c.short_name for c in uow.session.exec(select(Clinic)).all()}
        districts = {d.id: d.number for d in uow.session.exec(select(District)).all()}
        counts: dict[int, int] = {}
        for doctor_id in uow.session.exec(select(ScheduleTemplate.doctor_id)).all():
            counts[doctor_id] = counts.get(doctor_id, 0) + 1
    return [DoctorRow(d.id, d.full_name, specs.get(d.specialty_id, "?"),  # type: ignore[arg-type]
                      clinics.get(d.clinic_id, "?"), d.cabinet,
                      districts.get(d.district_id) if d.district_id else None,
                      d.external_id, d.active, d.left_on, counts.get(d.id, 0))  # type: ignore[arg-type]
            for d in docs]


def get_doctor(doctor_id: int, uow: UnitOfWork, scope: ClinicScope = EVERYWHERE) -> Doctor:
    """One doctor row (detached), or ``not_found``; ``other_clinic`` outside ``scope``."""
    with uow.reading():
        return check_doctor(uow, scope, doctor_id)


def hire_doctor(data: DoctorData, actor: Actor, uow: UnitOfWork) -> int:
    """Add a doctor to a clinic (no schedule yet: the template editor gives them one)."""
    with uow:
        check_actor(actor, data.clinic_id, "clinic")
        doctor = Doctor(clinic_id=data.clinic_id, specialty_id=data.specialty_id,
                        last_name="", first_name="")
        _apply(uow, doctor, data)
        uow.session.add(doctor)
        uow.flush()
        audit.record(uow, actor, "doctor_hire", "doctor", doctor.id, None,
                     audit.snapshot(doctor, DOCTOR_FIELDS))
        uow.commit()
        assert doctor.id is not None
        logger.info("doctor %s hired", doctor.id)
        return doctor.id


def update_doctor(doctor_id: int, data: DoctorData, actor: Actor, uow: UnitOfWork) -> None:
    """Change a doctor's name, specialty, district or cabinet."""
    with uow:
        doctor = _doctor(uow, doctor_id, actor)
        check_actor(actor, data.clinic_id, "clinic")
        before = audit.snapshot(doctor, DOCTOR_FIELDS)
        _apply(uow, doctor, data)
        audit.record(uow, actor, "doctor_update", "doctor", doctor_id, before,
                     audit.snapshot(doctor, DOCTOR_FIELDS))
        uow.commit()


def move_cabinet(doctor_id: int, cabinet: str, actor: Actor, uow: UnitOfWork) -> None:
    """The doctor now receives in another cabinet (slots already generated keep theirs)."""
    cabinet = cabinet.strip()
    if not cabinet:
        raise InvalidInput("name the new cabinet")
    with uow:
        doctor = _doctor(uow, doctor_id, actor)
        before = {"cabinet": doctor.cabinet}
        doctor.cabinet = cabinet[:20]
        audit.record(uow, actor, "doctor_cabinet", "doctor", doctor_id, before,
                     {"cabinet": doctor.cabinet})
        uow.commit()


def templates_of(doctor_id: int, uow: UnitOfWork) -> list[TemplateRow]:
    """The doctor's stored weekly template as rows the editor and the preview understand."""
    with uow.reading():
        _doctor(uow, doctor_id)
        return stored_rows(uow, doctor_id)


def overrides_ahead(doctor_id: int, uow: UnitOfWork) -> list[ScheduleOverride]:
    """The doctor's one-off day changes from today on."""
    with uow.reading():
        return overrides_of(uow, doctor_id, uow.clock.today())


def set_override(doctor_id: int, override: DayOverride, actor: Actor,
                 uow: UnitOfWork) -> ScheduleChange:
    """Add a day off, an extra or a shortened working day; that day's slots follow at once."""
    with uow:
        _doctor(uow, doctor_id, actor)
        change = set_day_override(uow, doctor_id, override, actor)
        uow.commit()
    return change


def remove_override(doctor_id: int, override_id: int, actor: Actor,
                    uow: UnitOfWork) -> ScheduleChange:
    """Drop a day change of this doctor; the weekly template rules that day again."""
    with uow:
        row = uow.session.get(ScheduleOverride, override_id)
        if row is None or row.doctor_id != doctor_id:
            raise NotFound("day override not found")
        _doctor(uow, doctor_id, actor)
        change = remove_day_override(uow, override_id, actor)
        uow.commit()
    return change


def change_schedule(doctor_id: int, rows: Sequence[TemplateRow], actor: Actor,
                    uow: UnitOfWork) -> ScheduleChange:
    """Replace the doctor's weekly template in one transaction (audited by ``schedules``);
    booked visits the new template no longer covers are flagged, never deleted."""
    with uow:
        _doctor(uow, doctor_id, actor)
        change = replace_templates(uow, doctor_id, rows, actor)
        uow.commit()
    logger.info("doctor %s: schedule changed=%s, flagged %d", doctor_id, change.changed,
                change.flagged)
    return change


def leave(doctor_id: int, last_day: date, actor: Actor, uow: UnitOfWork) -> int:
    """The doctor leaves after ``last_day``; returns how many booked visits were flagged."""
    with uow:
        _doctor(uow, doctor_id, actor)
        flagged = doctor_leaves(uow, doctor_id, last_day, actor)
        uow.commit()
    return flagged


def _doctor(uow: UnitOfWork, doctor_id: int, actor: Actor | None = None) -> Doctor:
    """The doctor; with ``actor``, only one of the actor's clinic (``other_clinic``)."""
    doctor = uow.session.get(Doctor, doctor_id)
    if doctor is None:
        raise NotFound("doctor not found")
    if actor is not None:
        check_actor(actor, doctor.clinic_id, "doctor")
    return doctor


def _apply(uow: UnitOfWork, doctor: Doctor, data: DoctorData) -> None:
    """Check the references and copy ``data`` onto ``doctor``."""
    if not data.last_name.strip() or not data.first_name.strip():
        raise InvalidInput("a doctor needs a last and a first name")
    if uow.session.get(Clinic, data.clinic_id) is None:
        raise NotFound("clinic not found")
    if uow.session.get(Specialty, data.specialty_id) is None:
        raise NotFound("specialty not found")
    if data.district_id is not None:
        district = uow.session.get(District, data.district_id)
        if district is None or district.clinic_id != data.clinic_id:
            raise InvalidInput("the district belongs to another clinic")
    external = (data.external_id or "").strip() or None
    if external:
        clash = uow.session.exec(select(Doctor).where(
            Doctor.clinic_id == data.clinic_id, Doctor.external_id == external)).first()
        if clash is not None and clash.id != doctor.id:
            raise Duplicate("another doctor of this clinic has this external id")
    doctor.clinic_id, doctor.specialty_id = data.clinic_id, data.specialty_id
    doctor.district_id, doctor.external_id = data.district_id, external
    doctor.last_name, doctor.first_name = data.last_name.strip(), data.first_name.strip()
    doctor.middle_name, doctor.cabinet = data.middle_name.strip(), data.cabinet.strip()[:20]


def preview(doctor_id: int, rows: Sequence[TemplateRow], monday: date,
            uow: UnitOfWork) -> dict[date, list]:  # type: ignore[type-arg]
    """The slots ``rows`` would give the doctor in the week from ``monday`` (nothing saved),
    with the doctor's one-off day overrides of that week applied."""
    with uow.reading():
        doctor = _doctor(uow, doctor_id)
        overrides = overrides_of(uow, doctor_id, monday, monday + timedelta(days=6))
    return preview_week(rows, overrides, monday, doctor.cabinet)
