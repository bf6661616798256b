"""A FHIR R4 Bundle from the MIS as one more import format (a ``.json`` file).

The Bundle's resources become the rows of the entities the import already knows, under the
English headers, so every rule, key and report of the XLSX/CSV import applies unchanged:

* ``PractitionerRole`` (with the ``Practitioner`` it names) → a doctor: the Practitioner's first
  identifier (else its id) is the MIS doctor id; the role gives the specialty code, the clinic
  (``organization.identifier``), the cabinet (a ``Location`` named «Кабинет N», or its display),
  ``active`` and ``period.end`` (the last working day);
* its ``availableTime`` → schedule template rows (days of week, start and end; slot length in
  minutes from the extension :data:`SLOT_MINUTES_URL`, else the import's default);
* ``Patient`` → a patient: the OMS policy is the identifier of the configured policy system (or
  one typed «Полис ОМС»/``OMS``), SNILS the identifier whose system ends in ``snils``, the mobile
  from ``telecom``, the clinic from ``managingOrganization.identifier``, the MIS id from ``id``.

Row numbers in the report are the entries' positions in the Bundle (the first entry is 1).
Each resource is validated with ``fhir.resources`` (R4B); an invalid one is reported on its
row and rejected like a bad spreadsheet line.  ``Schedule`` entries need no rows of their own:
the weekly hours travel in ``availableTime``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from clinic_import.readers import FileError, Row, Source

SLOT_MINUTES_URL = "urn:registratura:fhir:slot-minutes"
INVALID = "fhir_invalid_resource"

DOCTOR_HEADERS = ["doctor id", "clinic code", "specialty", "last name", "first name",
                  "middle name", "cabinet", "active", "left on"]
TEMPLATE_HEADERS = ["doctor id", "clinic code", "weekday", "start time", "end time",
                    "slot minutes"]
PATIENT_HEADERS = ["policy", "last name", "first name", "middle name", "birth date", "snils",
                   "phone", "clinic code", "external id"]
_CABINET = re.compile(r"^\s*(?:кабинет|каб\.?|room|cabinet)\s*", re.IGNORECASE)


def bundle_sources(path: Path, size: int, policy_system: str) -> list[Source]:
    """The Bundle in ``path`` as up to three sources: doctors, templates, patients."""
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileError("fhir_not_json") from exc
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise FileError("fhir_not_bundle")
    entries = [e.get("resource") if isinstance(e, dict) else None
               for e in data.get("entry") or []]
    index = _index(entries)
    doctors, templates, patients, invalid = _rows(entries, index, policy_system)
    sources = []
    for name, headers, rows in (("doctors", DOCTOR_HEADERS, doctors),
                                ("templates", TEMPLATE_HEADERS, templates),
                                ("patients", PATIENT_HEADERS, patients)):
        if rows or (name == "patients" and not (doctors or templates)):
            source = Source(path, name, _opener(headers, rows), size)
            source.cell_problems = {n: [(0, INVALID)] for n in invalid.get(name, ())}
            sources.append(source)
    return sources


def _opener(headers: list[str], rows: list[tuple[int, Row]]):  # type: ignore[no-untyped-def]
    def open_rows() -> Iterator[tuple[int, Row]]:
        yield 0, list(headers)  # the header comes before the first entry
        yield from rows

    return open_rows


def _index(entries: list[Any]) -> dict[str, dict[str, Any]]:
    """``Type/id`` → resource, for references inside the Bundle."""
    found = {}
    for r in entries:
        if isinstance(r, dict) and r.get("resourceType") and r.get("id"):
            found[f"{r['resourceType']}/{r['id']}"] = r
    return found


def _valid(resource: dict[str, Any]) -> bool:
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except (ValidationError, KeyError, ValueError):
        return False
    return True


def _rows(entries: list[Any], index: dict[str, dict[str, Any]], policy_system: str):  # type: ignore[no-untyped-def]
    doctors: list[tuple[int, Row]] = []
    templates: list[tuple[int, Row]] = []
    patients: list[tuple[int, Row]] = []
    invalid: dict[str, list[int]] = {}
    for number, r in enumerate(entries, 1):
        kind = r.get("resourceType") if isinstance(r, dict) else None
        if kind not in ("PractitionerRole", "Patient"):
            continue  # Practitioner, Location, Schedule, ...: read through the roles
        entity = "doctors" if kind == "PractitionerRole" else "patients"
        ok = _valid(r)
        if not ok:
            invalid.setdefault(entity, []).append(number)
        if kind == "Patient":
            patients.append((number, _patient(r, policy_system)))
            continue
        practitioner = index.get(_ref(r.get("practitioner")) or "", {})
        if practitioner and not _valid(practitioner):
            invalid.setdefault(entity, []).append(number)
        doctor = _doctor(r, practitioner, index)
        doctors.append((number, doctor))
        if ok:
            templates += [(number, row) for row in _templates(r, doctor[0], doctor[1])]
    return doctors, templates, patients, invalid


def _ref(reference: Any) -> str | None:
    return reference.get("reference") if isinstance(reference, dict) else None


def _identifier(reference: Any) -> str:
    ident = reference.get("identifier") if isinstance(reference, dict) else None
    return str(ident.get("value") or "") if isinstance(ident, dict) else ""


def _name(resource: dict[str, Any]) -> tuple[str, str, str]:
    names = resource.get("name") or [{}]
    official = next((n for n in names if n.get("use") == "official"), names[0])
    given = official.get("given") or []
    return (official.get("family") or "", given[0] if given else "",
            " ".join(given[1:]))


def _doctor(role: dict[str, Any], practitioner: dict[str, Any],
            index: dict[str, dict[str, Any]]) -> Row:
    idents = practitioner.get("identifier") or []
    external = (idents[0].get("value") if idents else None) or practitioner.get("id") or ""
    specialty = ""
    for concept in role.get("specialty") or []:
        codings = concept.get("coding") or []
        if codings:
            specialty = codings[0].get("code") or ""
            break
    last, first, middle = _name(practitioner)
    active = role.get("active", True) and practitioner.get("active", True)
    left_on = (role.get("period") or {}).get("end", "")[:10]
    return [external, _identifier(role.get("organization")), specialty, last, first, middle,
            _cabinet(role, index), "yes" if active else "no", left_on]


def _cabinet(role: dict[str, Any], index: dict[str, dict[str, Any]]) -> str:
    for loc in role.get("location") or []:
        target = index.get(_ref(loc) or "", {})
        label = target.get("name") or loc.get("display") or ""
        if target.get("partOf") or _CABINET.match(label):
            return _CABINET.sub("", label).strip()
    return ""


def _templates(role: dict[str, Any], doctor_id: object, clinic: object) -> list[Row]:
    rows = []
    for available in role.get("availableTime") or []:
        start = (available.get("availableStartTime") or "")[:5]
        end = (available.get("availableEndTime") or "")[:5]
        minutes = next((str(x.get("valueInteger", "")) for x in available.get("extension") or []
                        if x.get("url") == SLOT_MINUTES_URL), "")
        rows += [[doctor_id, clinic, day, start, end, minutes]
                 for day in available.get("daysOfWeek") or []]
    return rows


def _patient(patient: dict[str, Any], policy_system: str) -> Row:
    policy = snils = ""
    for ident in patient.get("identifier") or []:
        system = str(ident.get("system") or "")
        type_text = str((ident.get("type") or {}).get("text") or "").casefold()
        if system == policy_system or "омс" in type_text or type_text == "oms":
            policy = policy or str(ident.get("value") or "")
        elif system.casefold().endswith("snils"):
            snils = str(ident.get("value") or "")
    phones = [t for t in patient.get("telecom") or [] if t.get("system") == "phone"]
    mobile = next((t for t in phones if t.get("use") == "mobile"), phones[0] if phones else {})
    last, first, middle = _name(patient)
    return [policy, last, first, middle, patient.get("birthDate", ""), snils,
            mobile.get("value", ""), _identifier(patient.get("managingOrganization")),
            patient.get("id", "")]
