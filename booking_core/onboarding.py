"""Onboarding a clinic from its MIS's files: validate and upsert, in the caller's transaction.

The file side (formats, headers, cell values) lives in ``clinic_import``; it hands this module
plain records, in batches, entity by entity (clinics, districts, specialties, doctors, schedule
templates, patients).  Here every domain rule is checked once (policy Luhn, SNILS, dates of
birth, references, duplicate keys inside the import) and each record is upserted by its stable
key: clinic code, (clinic, district number, street), specialty code, (clinic, MIS doctor id),
policy number.  A record equal to the stored row changes nothing, so the same files imported
twice report no change.

Nothing is committed here: the caller opens one unit of work for the whole import and commits
it only when the import may be applied (no errors, or ``--skip-invalid``), so a rejected import
leaves the database as it was.  Changes that touch bookings go through
:mod:`booking_core.schedules` (``replace_templates``, ``doctor_leaves``), which flag the
affected appointments instead of deleting them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import col, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.notifications import normalize_phone
from booking_core.onboarding_records import (
    ENTITIES,
    WARNING,
    ClinicRecord,
    DistrictRecord,
    DoctorRecord,
    EntityCounts,
    Issue,
    Item,
    PatientRecord,
    SpecialtyRecord,
    TemplateRecord,
)
from booking_core.rules import (
    birth_date_problem,
    is_russian_mobile,
    luhn_valid,
    only_digits,
    snils_valid,
)
from booking_core.schedules import (
    TemplateRow,
    doctor_leaves,
    doctor_returns,
    replace_templates,
)
from booking_core.uow import UnitOfWork
from models.tables import (
    Clinic,
    ClinicLine,
    District,
    DistrictAddress,
    Doctor,
    Patient,
    ScheduleTemplate,
    Specialty,
    patient_name_key,
)

logger = logging.getLogger(__name__)

_NAME_FIELDS = ("last_name", "first_name", "middle_name")


# Stored fields -> the record field whose column decides them, where the names differ.
_PATIENT_COLUMNS = {"snils": "snils", "phone": "phone", "sms_reachable": "phone",
                    "clinic_id": "clinic", "district_id": "district"}
_OPTIONAL = frozenset({"middle_name", "snils", "phone", "clinic", "district", "attached_on",
                       "external_id", "cabinet", "active", "left_on"})


def _present(values: dict[str, Any], columns: frozenset[str] | None,
             renamed: dict[str, str]) -> dict[str, Any]:
    """``values`` without the optional fields the file has no column for."""
    if columns is None:
        return values
    return {k: v for k, v in values.items()
            if renamed.get(k, k) not in _OPTIONAL or renamed.get(k, k) in columns}


# Which column a template rule points at (the rules live in booking_core.schedules).
_TEMPLATE_COLUMNS = {
    "weekday_out_of_range": "weekday", "ends_before_start": "end_time",
    "slot_minutes_out_of_range": "slot_minutes", "valid_to_before_valid_from": "valid_to",
    "unknown_parity": "date_parity", "break_needs_start_and_end": "break_start",
    "break_outside_hours": "break_start",
}


# --- the use case ---------------------------------------------------------------------------


class Onboarding:
    """One import, inside one open unit of work: feed it batches entity by entity, in the
    order of :data:`ENTITIES`, then call :meth:`finish`.

    Each ``*_batch`` method returns the issues of its records; a record with an error is not
    written (the caller rolls the whole transaction back unless it skips invalid rows).
    """

    def __init__(self, uow: UnitOfWork, actor: Actor) -> None:
        self.uow = uow
        self.actor = actor
        self.today = uow.clock.today()
        self.counts: dict[str, EntityCounts] = {e: EntityCounts() for e in ENTITIES}
        self._seen: dict[str, dict[Hashable, Hashable]] = defaultdict(dict)
        self._clinics: dict[str, int] | None = None
        self._districts: dict[tuple[int, int], int] | None = None
        self._specialties: dict[str, int] | None = None
        self._doctors: dict[str, list[tuple[int, int]]] | None = None
        self._templates: dict[int, list[TemplateRow]] = defaultdict(list)
        self.slots_created = 0  # by schedule changes, in the booking window
        self._created: list[tuple[str, Any, tuple[str, ...]]] = []
        self._district_cache: tuple[dict[tuple[int, int], District],
                                    dict[tuple[int, str], DistrictAddress]] | None = None
        self._doctor_rows: dict[tuple[int, str], Doctor] | None = None
        self._fields_cache: dict[frozenset[str] | None, tuple[tuple[str, int], ...]] = {}

    # -- look-ups (loaded once per phase: a batch never costs a query per row) --

    def _clinic_map(self) -> dict[str, int]:
        if self._clinics is None:
            rows = self.uow.session.exec(select(Clinic.code, Clinic.id)).all()
            self._clinics = {code: cid for code, cid in rows if cid is not None}
        return self._clinics

    def _district_map(self) -> dict[tuple[int, int], int]:
        if self._districts is None:
            rows = self.uow.session.exec(
                select(District.clinic_id, District.number, District.id)).all()
            self._districts = {(c, n): i for c, n, i in rows if i is not None}
        return self._districts

    def _specialty_map(self) -> dict[str, int]:
        if self._specialties is None:
            rows = self.uow.session.exec(
                select(Specialty.code, Specialty.name_ru, Specialty.id)).all()
            # A file may name the specialty by its code or by its Russian name («Терапевт»).
            self._specialties = {name.casefold(): sid for _, name, sid in rows if sid is not None}
            self._specialties.update({code: sid for code, _, sid in rows if sid is not None})
        return self._specialties

    def _doctor_map(self) -> dict[str, list[tuple[int, int]]]:
        if self._doctors is None:
            rows = self.uow.session.exec(
                select(Doctor.external_id, Doctor.clinic_id, Doctor.id)
                .where(col(Doctor.external_id).is_not(None))).all()
            found: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for ext, clinic_id, doctor_id in rows:
                found[ext].append((clinic_id, doctor_id))  # type: ignore[index]
            self._doctors = dict(found)
        return self._doctors

    def _clinic_id(self, code: str | None, ref: Hashable, issues: list[Issue]) -> int | None:
        """The clinic a row names, or the only clinic there is when the row names none."""
        clinics = self._clinic_map()
        if code is None:
            if len(clinics) == 1:
                return next(iter(clinics.values()))
            issues.append(Issue(ref, "clinic", "clinic_required", {"count": len(clinics)}))
            return None
        if code not in clinics:
            issues.append(Issue(ref, "clinic", "unknown_clinic", {"value": code}))
            return None
        return clinics[code]

    def _district_id(self, clinic_id: int, number: int | None, ref: Hashable,
                     issues: list[Issue]) -> int | None:
        if number is None:
            return None
        district_id = self._district_map().get((clinic_id, number))
        if district_id is None:
            issues.append(Issue(ref, "district", "unknown_district", {"value": number}))
        return district_id

    def _first_time(self, entity: str, key: Hashable, ref: Hashable, column: str,
                    issues: list[Issue], code: str = "duplicate_key") -> bool:
        """False (and an issue) when ``key`` was already seen in this import."""
        seen = self._seen[entity]
        if key in seen:
            issues.append(Issue(ref, column, code, {"first": seen[key]}))
            return False
        seen[key] = ref
        return True

    def _audit_change(self, entity: str, row: Any, before: dict[str, Any] | None,
                      fields: tuple[str, ...]) -> None:
        after = audit.snapshot(row, fields)
        audit.record(self.uow, self.actor, "import_create" if before is None else "import_update",
                     entity, row.id, before, after)

    # -- clinics --

    CLINIC_FIELDS = ("code", "name", "short_name", "address", "phone", "timezone")

    def clinics_batch(self, items: Sequence[Item[ClinicRecord]]) -> list[Issue]:
        issues: list[Issue] = []
        counts = self.counts["clinics"]
        lines: list[tuple[str, Clinic]] = []
        for item in items:
            r = item.record
            if not self._first_time("clinics", r.code, item.ref, "code", issues):
                continue
            values = asdict(r)
            values["short_name"] = r.short_name or r.name
            line = values.pop("line")
            clinic = self.uow.session.exec(select(Clinic).where(Clinic.code == r.code)).first()
            clinic = self._upsert(clinic, Clinic, values, self.CLINIC_FIELDS, "clinic", counts)
            if line:
                lines.append((line, clinic))
        self._flush_created()
        for number, clinic in lines:
            self._clinic_line(number, clinic.id)
        self._clinics = None
        return issues

    def _clinic_line(self, number: str, clinic_id: int) -> None:
        """The clinic's own number on the registry line: created, or moved to this clinic
        (a number answers for one clinic only); audited like the rest."""
        row = self.uow.session.exec(select(ClinicLine).where(ClinicLine.number == number)).first()
        fields = ("number", "clinic_id", "label")
        if row is None:
            row = ClinicLine(number=number, clinic_id=clinic_id)
            self.uow.session.add(row)
            self.uow.flush()
            self._audit_change("clinic_line", row, None, fields)
        elif row.clinic_id != clinic_id:
            before = audit.snapshot(row, fields)
            row.clinic_id = clinic_id
            self._audit_change("clinic_line", row, before, fields)

    def _upsert(self, row: Any, table: type, values: dict[str, Any], fields: tuple[str, ...],
                entity: str, counts: EntityCounts, *, need_id: bool = False) -> Any:
        """Create ``row`` or bring it to ``values``; count and audit what happened.

        A new row is flushed (for its id) only when ``need_id``; otherwise its audit entry
        waits for the batch's single flush (:meth:`_flush_created`).
        """
        if row is None:
            row = table(**values)
            self.uow.session.add(row)
            if need_id:
                self.uow.flush()
                self._audit_change(entity, row, None, fields)
            else:
                self._created.append((entity, row, fields))
            counts.created += 1
            return row
        before = audit.snapshot(row, fields)
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed:
            counts.unchanged += 1
            return row
        for k, v in changed.items():
            setattr(row, k, v)
        self._audit_change(entity, row, before, fields)
        counts.updated += 1
        return row

    def _flush_created(self) -> None:
        """One flush for the batch's new rows, then their audit entries (with their ids)."""
        if self._created:
            self.uow.flush()
            for entity, row, fields in self._created:
                self._audit_change(entity, row, None, fields)
            self._created.clear()

    # -- districts --

    def districts_batch(self, items: Sequence[Item[DistrictRecord]]) -> list[Issue]:
        issues: list[Issue] = []
        counts = self.counts["districts"]
        districts, streets = self._district_rows()
        for item in items:
            r = item.record
            clinic_id = self._clinic_id(r.clinic, item.ref, issues)
            if clinic_id is None:
                continue
            key = (clinic_id, r.number, r.street.casefold())
            if not self._first_time("districts", key, item.ref, "district", issues):
                continue
            district = districts.get((clinic_id, r.number))
            district_seen = ("district", clinic_id, r.number)
            if district is None or district_seen not in self._seen["districts"]:
                # The first row of a district decides its name; the others add streets.
                self._seen["districts"][district_seen] = item.ref
                values = {"clinic_id": clinic_id, "number": r.number,
                          "name": r.name or (district.name if district else f"Участок {r.number}")}
                district = self._upsert(district, District, values,
                                        ("clinic_id", "number", "name"), "district", counts,
                                        need_id=True)
                districts[(clinic_id, r.number)] = district
            if r.street:
                self._upsert(streets.get((district.id, r.street)), DistrictAddress,
                             {"district_id": district.id, "street": r.street, "houses": r.houses},
                             ("district_id", "street", "houses"), "district_address", counts)
        self._flush_created()
        self._districts = None
        return issues

    def _district_rows(self) -> tuple[dict[tuple[int, int], District],
                                      dict[tuple[int, str], DistrictAddress]]:
        """Every district and street, loaded once (and kept: the ORM holds rows weakly)."""
        if self._district_cache is None:
            districts = {(d.clinic_id, d.number): d
                         for d in self.uow.session.exec(select(District)).all()}
            streets = {(a.district_id, a.street): a
                       for a in self.uow.session.exec(select(DistrictAddress)).all()}
            self._district_cache = (districts, streets)
        return self._district_cache

    # -- specialties --

    SPECIALTY_FIELDS = ("code", "name_ru", "name_en", "booking_mode", "age_group", "synonyms_ru",
                        "district_based", "ivr_order")

    def specialties_batch(self, items: Sequence[Item[SpecialtyRecord]]) -> list[Issue]:
        issues: list[Issue] = []
        counts = self.counts["specialties"]
        for item in items:
            r = item.record
            if not self._first_time("specialties", r.code, item.ref, "code", issues):
                continue
            values = asdict(r)
            values["name_en"] = r.name_en or r.name_ru
            spec = self.uow.session.exec(select(Specialty).where(Specialty.code == r.code)).first()
            self._upsert(spec, Specialty, values, self.SPECIALTY_FIELDS, "specialty", counts)
        self._flush_created()
        self._specialties = None
        return issues

    # -- doctors --

    DOCTOR_FIELDS = ("external_id", "clinic_id", "specialty_id", "district_id", "last_name",
                     "first_name", "middle_name", "cabinet", "active", "left_on")

    def doctors_batch(self, items: Sequence[Item[DoctorRecord]]) -> list[Issue]:
        issues: list[Issue] = []
        for item in items:
            r = item.record
            before = len(issues)
            clinic_id = self._clinic_id(r.clinic, item.ref, issues)
            specialties = self._specialty_map()
            specialty_id = specialties.get(r.specialty, specialties.get(r.specialty.casefold()))
            if specialty_id is None:
                issues.append(Issue(item.ref, "specialty", "unknown_specialty",
                                    {"value": r.specialty}))
            district_id = (self._district_id(clinic_id, r.district, item.ref, issues)
                           if clinic_id is not None else None)
            if clinic_id is not None:
                self._first_time("doctors", (clinic_id, r.external_id), item.ref, "external_id",
                                 issues)
            if len(issues) > before:
                continue
            assert clinic_id is not None and specialty_id is not None
            self._doctor(r, clinic_id, specialty_id, district_id)
        self._flush_created()
        self._doctors = None
        return issues

    def _doctor(self, r: DoctorRecord, clinic_id: int, specialty_id: int,
                district_id: int | None) -> None:
        counts = self.counts["doctors"]
        if self._doctor_rows is None:  # every imported doctor, loaded once
            self._doctor_rows = {(d.clinic_id, d.external_id): d for d in self.uow.session.exec(
                select(Doctor).where(col(Doctor.external_id).is_not(None))).all()}
        doctor = self._doctor_rows.get((clinic_id, r.external_id))
        values: dict[str, Any] = {
            "external_id": r.external_id, "clinic_id": clinic_id, "specialty_id": specialty_id,
            "district_id": district_id, "last_name": r.last_name, "first_name": r.first_name,
            "middle_name": r.middle_name, "cabinet": r.cabinet,
        }
        # Leaving: a last working day in the file, or "active: no" (then today is the last).
        last_day = r.left_on or (None if r.active else self.today)
        if doctor is not None:
            values = _present(values, r.columns, {"district_id": "district"})
            if r.columns is not None and not r.columns & {"active", "left_on"}:
                last_day = doctor.left_on  # the file says nothing about leaving
        if doctor is None:
            values.update(left_on=last_day, active=True)
            self._upsert(None, Doctor, values, self.DOCTOR_FIELDS, "doctor", counts)
            return
        leaving = last_day is not None and last_day != doctor.left_on and (
            doctor.left_on is None or r.left_on is not None)
        returning = last_day is None and doctor.left_on is not None
        if last_day is None:
            values["active"] = True  # still working, or back (left_on: doctor_returns)
        unchanged_before = counts.unchanged
        doctor = self._upsert(doctor, Doctor, values, self.DOCTOR_FIELDS, "doctor", counts)
        assert doctor.id is not None
        if leaving:
            assert last_day is not None
            counts.flagged += doctor_leaves(self.uow, doctor.id, last_day, self.actor)
        elif returning:
            self.slots_created += doctor_returns(self.uow, doctor.id, self.actor)
        if (leaving or returning) and counts.unchanged > unchanged_before:
            counts.unchanged -= 1  # the leave (or the return) is the change
            counts.updated += 1

    # -- schedule templates --

    def templates_batch(self, items: Sequence[Item[TemplateRecord]]) -> list[Issue]:
        """Collect template rows per doctor; :meth:`finish` replaces each doctor's set."""
        issues: list[Issue] = []
        doctors = self._doctor_map()
        clinics = self._clinic_map()
        for item in items:
            r = item.record
            candidates = doctors.get(r.doctor, [])
            if r.clinic is not None:
                if r.clinic not in clinics:
                    issues.append(Issue(item.ref, "clinic", "unknown_clinic", {"value": r.clinic}))
                    continue
                candidates = [c for c in candidates if c[0] == clinics[r.clinic]]
            if not candidates:
                issues.append(Issue(item.ref, "doctor", "unknown_doctor", {"value": r.doctor}))
                continue
            if len(candidates) > 1:
                issues.append(Issue(item.ref, "clinic", "ambiguous_doctor", {"value": r.doctor}))
                continue
            doctor_id = candidates[0][1]
            t = r.row
            key = (doctor_id, t.weekday, t.start_time, t.date_parity, t.week_parity, t.valid_from)
            if not self._first_time("templates", key, item.ref, "weekday", issues):
                continue
            problems = t.problems()  # the schedule's own rules, kept in one place
            if problems:
                issues += [Issue(item.ref, _TEMPLATE_COLUMNS.get(p, "start_time"), p)
                           for p in problems]
                continue
            self._templates[doctor_id].append(t)
        return issues

    def _replace_templates(self) -> None:
        counts = self.counts["templates"]
        for doctor_id, rows in self._templates.items():
            had = self.uow.session.exec(select(func.count()).select_from(ScheduleTemplate).where(
                ScheduleTemplate.doctor_id == doctor_id)).one()
            change = replace_templates(self.uow, doctor_id, rows, self.actor)
            if not change.changed:
                counts.unchanged += len(rows)
            elif had:
                counts.updated += len(rows)
            else:
                counts.created += len(rows)
            counts.flagged += change.flagged
            self.slots_created += change.created_slots
        self._templates.clear()

    # -- patients --

    PATIENT_FIELDS = ("last_name", "first_name", "middle_name", "birth_date", "snils", "phone",
                      "sms_reachable", "clinic_id", "district_id", "attached_on", "external_id")

    def patients_batch(self, items: Sequence[Item[PatientRecord]]) -> list[Issue]:
        """Validate and upsert a batch with one query to read and one statement per kind of
        write: this is the entity with hundreds of thousands of rows."""
        if self._templates:
            self._replace_templates()
        issues: list[Issue] = []
        good: dict[str, tuple[dict[str, Any], frozenset[str] | None]] = {}
        for item in items:
            values = self._patient_values(item, issues)
            if values is not None:
                good[values["policy_number"]] = (values, item.record.columns)
        if good:
            self._write_patients(good)
        return issues

    def _patient_values(self, item: Item[PatientRecord], issues: list[Issue]
                        ) -> dict[str, Any] | None:
        r, ref = item.record, item.ref
        before = len(issues)
        policy = only_digits(r.policy_number)
        if len(policy) != 16:
            issues.append(Issue(ref, "policy_number", "policy_format"))
        elif not luhn_valid(policy):
            issues.append(Issue(ref, "policy_number", "policy_luhn"))
        snils = only_digits(r.snils) if r.snils else ""
        if r.snils and not snils_valid(snils):
            issues.append(Issue(ref, "snils", "snils_invalid"))
        problem = birth_date_problem(r.birth_date, self.today)
        if problem:
            issues.append(Issue(ref, "birth_date", f"birth_date_{problem}"))
        clinic_id = self._clinic_id(r.clinic, ref, issues)
        district_id = (self._district_id(clinic_id, r.district, ref, issues)
                       if clinic_id is not None else None)
        if len(policy) == 16:
            self._patient_seen(policy, clinic_id, ref, issues)
        if len(issues) > before:  # only errors so far: the phone's warning comes below
            return None
        phone = normalize_phone(r.phone) if r.phone else ""
        mobile = is_russian_mobile(phone)
        if r.phone and not mobile:
            issues.append(Issue(ref, "phone", "phone_not_mobile" if phone else "phone_invalid",
                                severity=WARNING))
        return {
            "policy_number": policy, "last_name": r.last_name, "first_name": r.first_name,
            "middle_name": r.middle_name, "birth_date": r.birth_date, "snils": snils or None,
            "phone": phone, "sms_reachable": mobile, "clinic_id": clinic_id,
            "district_id": district_id, "attached_on": r.attached_on,
            "external_id": r.external_id or None,
        }

    def _patient_seen(self, policy: str, clinic_id: int | None, ref: Hashable,
                      issues: list[Issue]) -> None:
        seen = self._seen["patients"]
        first = seen.get(policy)
        if first is None:
            seen[policy] = (ref, clinic_id)
            return
        first_ref, first_clinic = first  # type: ignore[misc]
        code = "patient_two_clinics" if first_clinic != clinic_id else "duplicate_key"
        issues.append(Issue(ref, "policy_number", code, {"first": first_ref}))

    def _patient_fields(self, columns: frozenset[str] | None) -> tuple[tuple[str, int], ...]:
        """The stored fields a file with these columns decides, with their index in the rows
        :meth:`_write_patients` reads (computed once per file)."""
        names = self._fields_cache.get(columns)
        if names is None:
            kept = _present(dict.fromkeys(self.PATIENT_FIELDS), columns, _PATIENT_COLUMNS)
            names = tuple((n, 2 + self.PATIENT_FIELDS.index(n)) for n in {*kept, "attached_on"})
            self._fields_cache[columns] = names
        return names

    def _write_patients(self, good: dict[str, tuple[dict[str, Any], frozenset[str] | None]]
                        ) -> None:
        counts = self.counts["patients"]
        table = Patient.__table__  # type: ignore[attr-defined]
        cols = [table.c[name] for name in ("id", "policy_number", *self.PATIENT_FIELDS)]
        stored = {row.policy_number: row for row in self.uow.session.execute(
            select(*cols).where(table.c.policy_number.in_(list(good)))).all()}
        inserts, updates = [], []
        now = self.uow.clock.now_utc()
        for policy, (values, columns) in good.items():
            row = stored.get(policy)
            if row is None:
                inserts.append({**values, "created_at": now})
                continue
            names = self._patient_fields(columns)
            if columns is not None and "clinic" not in columns:
                values["clinic_id"] = row.clinic_id
            if values["attached_on"] is None or (
                    columns is not None and "attached_on" not in columns):
                values["attached_on"] = (row.attached_on if row.clinic_id == values["clinic_id"]
                                         else self.today)
            changed = {n: values[n] for n, i in names if row[i] != values[n]}
            if changed.keys() & _NAME_FIELDS:
                # A bulk UPDATE fires no ORM events: keep the folded search name in step here.
                changed["name_key"] = patient_name_key(*(
                    changed.get(n, row[2 + self.PATIENT_FIELDS.index(n)]) for n in _NAME_FIELDS))
            if changed:
                updates.append({"id": row.id, **changed})
            else:
                counts.unchanged += 1
        if inserts:  # Core, not the ORM: several times cheaper per row at this volume
            self.uow.session.execute(insert(table), inserts)
        if updates:
            self.uow.session.execute(update(Patient), updates)
        counts.created += len(inserts)
        counts.updated += len(updates)

    # -- the end --

    def finish(self, files: Iterable[str]) -> None:
        """Apply what was collected (templates) and write the import's audit entry."""
        if self._templates:
            self._replace_templates()
        audit.record(self.uow, self.actor, "import", "import", "", None, {
            "files": sorted(files),
            "counts": {e: asdict(c) for e, c in self.counts.items()},
        })
        logger.info("import: %s", {e: c.changed for e, c in self.counts.items()})
