"""What an import hands :mod:`booking_core.onboarding`: one record per file row, where it came
from, and what was wrong with it; the counts per entity.  Plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from booking_core.schedules import TemplateRow
from models.tables import AgeGroup, BookingMode

ENTITIES = ("clinics", "districts", "specialties", "doctors", "templates", "patients")
ERROR, WARNING = "error", "warning"


# --- records (one per file row) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClinicRecord:
    code: str
    name: str
    short_name: str = ""
    address: str = ""
    phone: str = ""
    timezone: str = "Europe/Moscow"
    line: str = ""  # the clinic's own dialled number (normalised digits), "" = none


@dataclass(frozen=True, slots=True)
class DistrictRecord:
    """A district, and optionally one street (with its houses) it serves."""

    number: int
    clinic: str | None = None
    name: str = ""
    street: str = ""
    houses: str = ""


@dataclass(frozen=True, slots=True)
class SpecialtyRecord:
    code: str
    name_ru: str
    name_en: str = ""
    booking_mode: str = BookingMode.SELF_REFERRAL
    age_group: str = AgeGroup.ANY
    synonyms_ru: str = ""
    district_based: bool = False
    ivr_order: int = 100


@dataclass(frozen=True, slots=True)
class DoctorRecord:
    external_id: str
    specialty: str
    last_name: str
    first_name: str
    middle_name: str = ""
    clinic: str | None = None
    district: int | None = None
    cabinet: str = ""
    active: bool = True
    left_on: date | None = None
    # The optional fields the file has columns for; None: all.  A field without a column is
    # left as stored, so a partial export (no cabinets, say) does not blank it.
    columns: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    doctor: str  # the doctor's MIS id
    row: TemplateRow
    clinic: str | None = None


@dataclass(frozen=True, slots=True)
class PatientRecord:
    policy_number: str
    last_name: str
    first_name: str
    birth_date: date
    middle_name: str = ""
    snils: str = ""
    phone: str = ""
    clinic: str | None = None
    district: int | None = None
    attached_on: date | None = None
    external_id: str = ""
    columns: frozenset[str] | None = None  # as for DoctorRecord


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Item(Generic[R]):
    """A record and where it came from (``ref``: opaque to this module, e.g. file and row)."""

    ref: Hashable
    record: R


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem with one record: ``column`` is the record's field name, ``code`` is stable.

    ``params`` never hold personal data (no policy, birth date, phone or SNILS).
    """

    ref: Hashable
    column: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    severity: str = ERROR


@dataclass
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    flagged: int = 0
    rejected: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated
