"""Administration of the clinic's structure: clinics, districts with their streets, specialties.

Every change is one transaction with an audit entry holding the values before and after
(rule 15).  Stable keys (a clinic's code, a district's number within its clinic, a specialty's
code) are checked here so the admin gets a clear ``duplicate`` instead of a database error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import exists
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.errors import Duplicate, InvalidInput, NotFound, OtherClinic
from booking_core.scope import check_actor
from booking_core.uow import UnitOfWork
from models.tables import (
    AgeGroup,
    BookingMode,
    Clinic,
    District,
    DistrictAddress,
    Doctor,
    Specialty,
)

logger = logging.getLogger(__name__)

CLINIC_FIELDS = ("code", "name", "short_name", "address", "phone", "timezone")
DISTRICT_FIELDS = ("clinic_id", "number", "name")
SPECIALTY_FIELDS = ("code", "name_ru", "name_en", "synonyms_ru", "booking_mode", "age_group",
                    "district_based", "ivr_order")


@dataclass(frozen=True)
class ClinicData:
    code: str
    name: str
    short_name: str
    address: str = ""
    phone: str = ""
    timezone: str = "Europe/Moscow"


@dataclass(frozen=True)
class StreetView:
    street: str
    houses: str


@dataclass(frozen=True)
class DistrictView:
    id: int
    clinic_id: int
    number: int
    name: str
    streets: tuple[StreetView, ...] = ()


@dataclass(frozen=True)
class ClinicView:
    id: int
    code: str
    name: str
    short_name: str
    address: str
    phone: str
    timezone: str
    districts: tuple[DistrictView, ...] = field(default=())


@dataclass(frozen=True)
class SpecialtyData:
    code: str
    name_ru: str
    name_en: str
    synonyms_ru: str = ""
    booking_mode: str = BookingMode.SELF_REFERRAL
    age_group: str = AgeGroup.ANY
    district_based: bool = False
    ivr_order: int = 100


def _regional_or_own(actor: Actor, clinic_id: int | None, why: str) -> None:
    """An administrator of one clinic changes that clinic only; ``clinic_id`` None stands
    for something of the whole region (a new clinic, the specialty directory)."""
    if actor.clinic_id is None:
        return
    if clinic_id is None:
        raise OtherClinic(why)
    check_actor(actor, clinic_id, "clinic")


def clinic_ready(uow: UnitOfWork) -> bool:
    """True once a clinic has at least one working doctor: only then is there anything to book.

    An empty installation (started without the demo, nothing imported yet) says so on the
    console and on the phone instead of offering empty menus.
    """
    with uow.reading():
        return bool(uow.session.exec(_any_active_doctor()).one())


@cache
def _any_active_doctor() -> Select:  # type: ignore[type-arg]
    """Built once: every call asks (building cost more CPU than running it)."""
    return select(exists().where(col(Doctor.active).is_(True)))


def clinics(uow: UnitOfWork) -> list[ClinicView]:
    """Every clinic with its districts and their streets, for the admin pages."""
    with uow.reading():
        rows = uow.session.exec(select(Clinic).order_by(col(Clinic.id))).all()
        districts = uow.session.exec(
            select(District).order_by(col(District.clinic_id), col(District.number))).all()
        streets = uow.session.exec(
            select(DistrictAddress).order_by(col(DistrictAddress.street))).all()
    by_district: dict[int, list[StreetView]] = {}
    for s in streets:
        by_district.setdefault(s.district_id, []).append(StreetView(s.street, s.houses))
    by_clinic: dict[int, list[DistrictView]] = {}
    for d in districts:
        assert d.id is not None
        by_clinic.setdefault(d.clinic_id, []).append(DistrictView(
            d.id, d.clinic_id, d.number, d.name, tuple(by_district.get(d.id, ()))))
    out = []
    for c in rows:
        assert c.id is not None
        out.append(ClinicView(c.id, c.code, c.name, c.short_name, c.address, c.phone,
                              c.timezone, tuple(by_clinic.get(c.id, ()))))
    return out


def clinic_id_by_code(code: str, uow: UnitOfWork) -> int:
    """The id of the clinic with this code (``not_found`` if none), e.g. for the command line."""
    with uow.reading():
        found = uow.session.exec(select(Clinic.id).where(Clinic.code == code.strip())).first()
    if found is None:
        raise NotFound("no clinic with this code", field="clinic")
    return found


def save_clinic(data: ClinicData, actor: Actor, uow: UnitOfWork,
                clinic_id: int | None = None) -> int:
    """Create a clinic (``clinic_id`` None) or change one; the code stays unique."""
    code = data.code.strip()
    if not code or not data.name.strip():
        raise InvalidInput("a clinic needs a code and a name")
    _regional_or_own(actor, clinic_id, "a new clinic is added by a regional administrator")
    with uow:
        clash = uow.session.exec(select(Clinic).where(Clinic.code == code)).first()
        if clash is not None and clash.id != clinic_id:
            raise Duplicate("a clinic with this code exists")
        clinic = _get(uow, Clinic, clinic_id) if clinic_id else Clinic(code=code, name="",
                                                                        short_name="")
        before = audit.snapshot(clinic, CLINIC_FIELDS) if clinic_id else None
        clinic.code, clinic.name = code, data.name.strip()
        clinic.short_name = data.short_name.strip() or data.name.strip()
        clinic.address, clinic.phone = data.address.strip(), data.phone.strip()
        clinic.timezone = data.timezone.strip() or "Europe/Moscow"
        uow.session.add(clinic)
        uow.flush()
        audit.record(uow, actor, "clinic_update" if clinic_id else "clinic_create", "clinic",
                     clinic.id, before, audit.snapshot(clinic, CLINIC_FIELDS))
        uow.commit()
        assert clinic.id is not None
        return clinic.id


def save_district(clinic_id: int, number: int, name: str, actor: Actor, uow: UnitOfWork,
                  district_id: int | None = None) -> int:
    """Create or change a district (участок); its number is unique within the clinic."""
    if number <= 0:
        raise InvalidInput("a district number is positive")
    check_actor(actor, clinic_id, "clinic")
    with uow:
        _get(uow, Clinic, clinic_id)
        if district_id:
            check_actor(actor, _get(uow, District, district_id).clinic_id, "district")
        clash = uow.session.exec(select(District).where(
            District.clinic_id == clinic_id, District.number == number)).first()
        if clash is not None and clash.id != district_id:
            raise Duplicate("this clinic already has a district with this number")
        district = (_get(uow, District, district_id) if district_id
                    else District(clinic_id=clinic_id, number=number))
        before = audit.snapshot(district, DISTRICT_FIELDS) if district_id else None
        district.clinic_id, district.number, district.name = clinic_id, number, name.strip()
        uow.session.add(district)
        uow.flush()
        audit.record(uow, actor, "district_update" if district_id else "district_create",
                     "district", district.id, before, audit.snapshot(district, DISTRICT_FIELDS))
        uow.commit()
        assert district.id is not None
        return district.id


def parse_streets(text: str) -> list[StreetView]:
    """Streets as an admin types them, one per line: ``street; houses`` (houses optional)."""
    out: dict[str, StreetView] = {}
    for line in text.splitlines():
        street, _, houses = line.partition(";")
        if street.strip():
            out[street.strip()] = StreetView(street.strip()[:200], houses.strip()[:400])
    return list(out.values())


def set_district_streets(district_id: int, streets: Sequence[StreetView], actor: Actor,
                         uow: UnitOfWork) -> None:
    """Replace the streets (and houses) a district serves."""
    with uow:
        check_actor(actor, _get(uow, District, district_id).clinic_id, "district")
        _get(uow, District, district_id)
        old = uow.session.exec(select(DistrictAddress).where(
            DistrictAddress.district_id == district_id)).all()
        before = {"streets": sorted(f"{a.street}; {a.houses}".strip("; ") for a in old)}
        for row in old:
            uow.session.delete(row)
        uow.flush()
        for s in streets:
            uow.session.add(DistrictAddress(district_id=district_id, street=s.street,
                                            houses=s.houses))
        after = {"streets": sorted(f"{s.street}; {s.houses}".strip("; ") for s in streets)}
        audit.record(uow, actor, "district_streets", "district", district_id, before, after)
        uow.commit()


def specialty_list(uow: UnitOfWork) -> list[Specialty]:
    """Every specialty row (detached), in the IVR's order."""
    with uow.reading():
        return list(uow.session.exec(select(Specialty).order_by(
            col(Specialty.ivr_order), col(Specialty.name_ru))).all())


def save_specialty(data: SpecialtyData, actor: Actor, uow: UnitOfWork,
                   specialty_id: int | None = None) -> int:
    """Create or change a specialty: booking mode, age group, the words callers say for it."""
    code = data.code.strip()
    if not code or not data.name_ru.strip():
        raise InvalidInput("a specialty needs a code and a Russian name")
    if data.booking_mode not in set(BookingMode):
        raise InvalidInput("unknown booking mode")
    if data.age_group not in set(AgeGroup):
        raise InvalidInput("unknown age group")
    # The specialty directory is the whole region's: one clinic's admin reads it only.
    _regional_or_own(actor, None, "specialties are the region's: a regional administrator "
                     "changes them")
    with uow:
        clash = uow.session.exec(select(Specialty).where(Specialty.code == code)).first()
        if clash is not None and clash.id != specialty_id:
            raise Duplicate("a specialty with this code exists")
        spec = (_get(uow, Specialty, specialty_id) if specialty_id
                else Specialty(code=code, name_ru="", name_en=""))
        before = audit.snapshot(spec, SPECIALTY_FIELDS) if specialty_id else None
        spec.code, spec.name_ru = code, data.name_ru.strip()
        spec.name_en = data.name_en.strip() or data.name_ru.strip()
        spec.synonyms_ru = ", ".join(w.strip() for w in data.synonyms_ru.split(",") if w.strip())
        spec.booking_mode, spec.age_group = data.booking_mode, data.age_group
        spec.district_based, spec.ivr_order = data.district_based, data.ivr_order
        uow.session.add(spec)
        uow.flush()
        audit.record(uow, actor, "specialty_update" if specialty_id else "specialty_create",
                     "specialty", spec.id, before, audit.snapshot(spec, SPECIALTY_FIELDS))
        uow.commit()
        assert spec.id is not None
        return spec.id


def _get(uow: UnitOfWork, table: type, row_id: int | None):  # type: ignore[no-untyped-def]
    row = uow.session.get(table, row_id) if row_id is not None else None
    if row is None:
        raise NotFound(f"{table.__name__.lower()} not found")
    return row
