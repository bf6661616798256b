"""The MIS's FHIR R4 Bundle as one more import format: a doctor with the weekly hours of its
PractitionerRole, patients with their OMS identifier; same keys, same report, idempotent."""

from __future__ import annotations

import json
from datetime import date, time

from sqlmodel import select

from booking_core.commands import Identify
from booking_core.identification import identify
from models.tables import Doctor, ScheduleTemplate
from support.import_files import EXAMPLES, codes, do_import

BUNDLE = EXAMPLES / "fhir" / "bundle.json"


def test_a_bundle_adds_a_doctor_with_hours_and_patients(empty):
    assert do_import(empty, EXAMPLES / "clinic.xlsx").applied
    report = do_import(empty, BUNDLE)
    assert report.applied and not report.errors, codes(report)
    assert (report.entities["doctors"].created, report.entities["patients"].created) == (1, 2)
    with empty.uow().reading() as uow:
        doctor = uow.session.exec(select(Doctor).where(Doctor.external_id == "D-710")).one()
        rows = uow.session.exec(select(ScheduleTemplate).where(
            ScheduleTemplate.doctor_id == doctor.id).order_by(ScheduleTemplate.weekday)).all()
    assert (doctor.last_name, doctor.middle_name, doctor.cabinet) == ("Голубева", "Сергеевна",
                                                                      "210")
    assert [(r.weekday, r.start_time, r.end_time, r.slot_minutes) for r in rows] == [
        (1, time(9), time(13), 20), (3, time(9), time(13), 20), (4, time(14), time(18), 15)]
    patient = identify(Identify("5077000000090016", date(1971, 2, 14), "ivr"), empty.uow())
    assert patient.last_name == "Лаптев" and patient.phone == "+79167009001"
    again = do_import(empty, BUNDLE)
    assert again.changes == 0  # the nightly re-run changes nothing


def test_an_invalid_resource_is_reported_on_its_entry_and_nothing_changes(empty, tmp_path):
    assert do_import(empty, EXAMPLES / "clinic.xlsx").applied
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    bundle["entry"][3]["resource"]["birthDate"] = "14.02.1971"  # not a FHIR date
    bundle["entry"][4]["resource"]["identifier"][0]["value"] = "5077000000090025"  # bad Luhn
    path = tmp_path / "mis.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    report = do_import(empty, path)
    assert not report.applied
    found = codes(report)
    assert ("mis.json [patients]", 4, "fhir_invalid_resource") in found
    assert ("mis.json [patients]", 5, "policy_luhn") in found
    assert report.entities["doctors"].created == 1  # counted, then rolled back
    with empty.uow().reading() as uow:
        assert uow.session.exec(select(Doctor).where(Doctor.external_id == "D-710")).first() \
            is None


def test_not_json_and_not_a_bundle_say_so(empty, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Bundle", ', encoding="utf-8")
    patient = tmp_path / "patient.json"
    patient.write_text('{"resourceType": "Patient"}', encoding="utf-8")
    report = do_import(empty, broken, patient)
    assert not report.applied
    assert {(f, c) for f, _, c in codes(report)} == {("broken.json", "fhir_not_json"),
                                                    ("patient.json", "fhir_not_bundle")}
    assert all("JSON" in p.message_en or "Bundle" in p.message_en for p in report.problems)
