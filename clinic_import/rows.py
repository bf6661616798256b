"""One file row (cells by field name) -> one :mod:`booking_core.onboarding` record.

Only the shape of values is checked here (a date is a date, a weekday a weekday); the domain
rules (Luhn, SNILS, references, duplicates) are booking_core's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from booking_core.onboarding_records import (
    ClinicRecord,
    DistrictRecord,
    DoctorRecord,
    PatientRecord,
    SpecialtyRecord,
    TemplateRecord,
)
from booking_core.schedules import TemplateRow
from clinic_import import values as v


class RowErrors(Exception):
    """The row's cells that could not be read: [(field, code)]."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("row has unreadable cells")
        self.errors = errors


class Cells:
    """A row's cells by field name; each ``get`` records a problem instead of raising, so one
    row reports all its bad cells at once."""

    def __init__(self, cells: dict[str, object]) -> None:
        self.cells = cells
        self.errors: list[tuple[str, str]] = []

    def raw(self, name: str) -> object:
        return self.cells.get(name)

    def has(self, name: str) -> bool:
        return v.text(self.cells.get(name)) != ""

    def text(self, name: str, *, required: bool = False) -> str:
        value = v.text(self.cells.get(name))
        if required and not value:
            self.errors.append((name, "required"))
        return value

    def digits(self, name: str, *, required: bool = False) -> str:
        """A number-like cell as text (Excel may hold a policy or a phone as a number)."""
        value = v.digits_text(self.cells.get(name))
        if required and not value:
            self.errors.append((name, "required"))
        return value

    def optional(self, name: str) -> str | None:
        return v.text(self.cells.get(name)) or None

    def parse(self, name: str, parser: Callable[[object], Any], default: Any = None, *,
              required: bool = False) -> Any:
        raw = self.cells.get(name)
        if v.text(raw) == "":
            if required:
                self.errors.append((name, "required"))
            return default
        try:
            return parser(raw)
        except v.BadValue as exc:
            self.errors.append((name, exc.code))
            return default

    def done(self) -> None:
        if self.errors:
            raise RowErrors(self.errors)


def clinic(c: Cells) -> ClinicRecord:
    record = ClinicRecord(code=c.text("code", required=True), name=c.text("name", required=True),
                          short_name=c.text("short_name"), address=c.text("address"),
                          phone=c.text("phone"),
                          timezone=c.text("timezone") or "Europe/Moscow",
                          line=c.parse("line", v.parse_line_number, ""))
    c.done()
    return record


def district(c: Cells) -> DistrictRecord:
    record = DistrictRecord(number=c.parse("number", lambda x: v.parse_int(x, 0, 99999),
                                           required=True),
                            clinic=c.optional("clinic"), name=c.text("name"),
                            street=c.text("street"), houses=c.text("houses"))
    c.done()
    return record


def specialty(c: Cells) -> SpecialtyRecord:
    record = SpecialtyRecord(
        code=c.text("code", required=True), name_ru=c.text("name_ru", required=True),
        name_en=c.text("name_en"),
        booking_mode=c.parse("booking_mode", v.parse_booking_mode, "self_referral"),
        age_group=c.parse("age_group", v.parse_age_group, "any"),
        synonyms_ru=",".join(w.strip() for w in c.text("synonyms_ru").replace(";", ",")
                             .split(",") if w.strip()),
        district_based=c.parse("district_based", lambda x: v.parse_bool(x, False), False),
        ivr_order=c.parse("ivr_order", lambda x: v.parse_int(x, 0, 9999), 100),
    )
    c.done()
    return record


def doctor(c: Cells) -> DoctorRecord:
    record = DoctorRecord(
        external_id=c.text("external_id", required=True),
        specialty=c.text("specialty", required=True),
        last_name=c.text("last_name", required=True), first_name=c.text("first_name",
                                                                           required=True),
        middle_name=c.text("middle_name"), clinic=c.optional("clinic"),
        district=c.parse("district", lambda x: v.parse_int(x, 0, 99999)),
        cabinet=c.text("cabinet"),
        active=c.parse("active", lambda x: v.parse_bool(x, True), True),
        left_on=c.parse("left_on", v.parse_date),
        columns=frozenset(c.cells),
    )
    c.done()
    return record


def template(c: Cells) -> TemplateRecord:
    start, end = c.parse("hours", v.parse_span, (None, None))
    start = c.parse("start_time", v.parse_time, start, required=start is None
                    and not c.errors)
    end = c.parse("end_time", v.parse_time, end, required=end is None and not c.errors)
    break_start, break_end = c.parse("break", v.parse_span, (None, None))
    break_start = c.parse("break_start", v.parse_time, break_start)
    break_end = c.parse("break_end", v.parse_time, break_end)
    weekday = c.parse("weekday", v.parse_weekday, required=True)
    slot = c.parse("slot_minutes", lambda x: v.parse_int(x, 5, 240), 15)
    date_parity = c.parse("date_parity", v.parse_parity, "any")
    week_parity = c.parse("week_parity", v.parse_parity, "any")
    valid_from = c.parse("valid_from", v.parse_date)
    valid_to = c.parse("valid_to", v.parse_date)
    doctor_id = c.text("doctor", required=True)
    c.done()
    row = TemplateRow(weekday=weekday, start_time=start, end_time=end, slot_minutes=slot,
                      cabinet=c.text("cabinet"), valid_from=valid_from, valid_to=valid_to,
                      date_parity=date_parity, week_parity=week_parity,
                      break_start=break_start, break_end=break_end)
    return TemplateRecord(doctor=doctor_id, row=row, clinic=c.optional("clinic"))


def patient(c: Cells) -> PatientRecord:
    record = PatientRecord(
        policy_number=c.digits("policy_number", required=True),
        last_name=c.text("last_name", required=True),
        first_name=c.text("first_name", required=True),
        birth_date=c.parse("birth_date", v.parse_date, required=True),
        middle_name=c.text("middle_name"),
        snils=c.digits("snils"),
        phone=c.digits("phone"),
        clinic=c.optional("clinic"),
        district=c.parse("district", _district_number),
        attached_on=c.parse("attached_on", v.parse_date),
        external_id=c.text("external_id"),
        columns=frozenset(c.cells),
    )
    c.done()
    return record


def _district_number(value: object) -> int:
    return v.parse_int(value, 0, 99999)


BUILDERS: dict[str, Callable[[Cells], Any]] = {
    "clinics": clinic, "districts": district, "specialties": specialty, "doctors": doctor,
    "templates": template, "patients": patient,
}
