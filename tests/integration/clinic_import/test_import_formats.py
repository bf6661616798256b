"""Every format a clinic's MIS exports, into an empty database, and the same files twice."""

from __future__ import annotations

from sqlmodel import func, select

from booking_core.rules import luhn_check_digit
from models.tables import (
    AuditLog,
    DistrictAddress,
    Doctor,
    Patient,
    ScheduleTemplate,
    Slot,
    Specialty,
)
from support.import_files import EXAMPLES, codes, do_import, example_csvs, write_csv


def policy(first15: str) -> str:
    return first15 + luhn_check_digit(first15)


def _count(c, table) -> int:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        return uow.session.exec(select(func.count()).select_from(table)).one()


def test_example_workbook_builds_a_clinic_and_reimport_changes_nothing(empty):
    first = do_import(empty, EXAMPLES / "clinic.xlsx")
    assert first.applied and not first.errors, first.problems
    got = {e: (c.created, c.rejected) for e, c in first.entities.items()}
    assert got == {"clinics": (1, 0), "districts": (8, 0), "specialties": (8, 0),
                   "doctors": (9, 0), "templates": (45, 0), "patients": (30, 0)}
    assert (_count(empty, Doctor), _count(empty, Patient), _count(empty, DistrictAddress)) == (
        9, 30, 6)
    assert _count(empty, Slot) > 0 and first.slots_created == _count(empty, Slot)
    with empty.uow().reading() as uow:
        entry = uow.session.exec(select(AuditLog).where(AuditLog.action == "import")).one()
        assert entry.actor == "system:import:test"
        assert entry.after["counts"]["patients"]["created"] == 30  # type: ignore[index]
        ent = uow.session.exec(select(Specialty).where(Specialty.code == "otolaryngologist")).one()
        assert (ent.booking_mode, ent.age_group) == ("referral_only", "any")
        assert "ухо горло нос" in ent.synonyms_ru.split(",")

    slots = _count(empty, Slot)
    again = do_import(empty, EXAMPLES / "clinic.xlsx")
    assert again.applied and again.changes == 0
    assert sum(c.unchanged for c in again.entities.values()) == 101
    assert _count(empty, Slot) == slots


def test_csv_set_in_utf8_cp1251_and_english_headers_equals_the_workbook(empty):
    """The CSVs hold the same clinic in UTF-8 with BOM, UTF-8, Windows-1251 (patients), with
    ';' and ',' and English headers for districts and doctors: after the workbook, 0 changes."""
    raw = (EXAMPLES / "csv" / "patients.csv").read_bytes()
    assert "Фамилия".encode("cp1251") in raw  # the file really is Windows-1251
    assert b"last name" in (EXAMPLES / "csv" / "doctors.csv").read_bytes()
    from_csv = do_import(empty, *example_csvs())
    assert from_csv.applied and not from_csv.problems
    assert from_csv.entities["patients"].created == 30
    from_xlsx = do_import(empty, EXAMPLES / "clinic.xlsx")
    assert from_xlsx.changes == 0, from_xlsx.entities


def test_even_odd_and_alternating_week_templates_arrive_as_written(empty):
    do_import(empty, EXAMPLES / "clinic.xlsx")
    with empty.uow().reading() as uow:
        dentist = uow.session.exec(select(Doctor).where(Doctor.external_id == "D-704")).one()
        rows = uow.session.exec(select(ScheduleTemplate).where(
            ScheduleTemplate.doctor_id == dentist.id, ScheduleTemplate.weekday == 0)).all()
        assert sorted((str(r.start_time), r.date_parity) for r in rows) == [
            ("08:00:00", "even"), ("14:00:00", "odd")]
        surgeon = uow.session.exec(select(Doctor).where(Doctor.external_id == "D-705")).one()
        weeks = {(r.weekday, r.week_parity) for r in uow.session.exec(select(ScheduleTemplate)
                 .where(ScheduleTemplate.doctor_id == surgeon.id)).all()}
        assert weeks == {(0, "even"), (2, "even"), (4, "even"), (1, "odd"), (3, "odd")}
        therapist = uow.session.exec(select(Doctor).where(Doctor.external_id == "D-701")).one()
        t = uow.session.exec(select(ScheduleTemplate).where(
            ScheduleTemplate.doctor_id == therapist.id)).first()
        assert t is not None and (str(t.break_start), str(t.break_end)) == ("11:00:00", "11:30:00")


def test_english_headers_comma_bom_and_a_partial_export_keeps_other_fields(empty, tmp_path):
    do_import(empty, EXAMPLES / "clinic.xlsx")
    path = write_csv(tmp_path / "export.csv", [
        ["Policy", "Last name", "First name", "Birth date", "Phone", "District"],
        ["5077000000000007", "Смирнов", "Александр", "1940-01-01", "8 916 700 00 00", "1"],
    ], encoding="utf-8-sig", sep=",")
    report = do_import(empty, path)
    # Recognised by its English headers; the columns it lacks (middle name, SNILS, clinic)
    # keep their stored values, so the same person is unchanged.
    assert report.applied and not report.problems, codes(report)
    assert (report.entities["patients"].unchanged, report.entities["patients"].updated) == (1, 0)


def test_a_header_row_under_a_title_is_found(empty, tmp_path):
    do_import(empty, EXAMPLES / "clinic.xlsx")
    path = write_csv(tmp_path / "выгрузка.csv", [
        ["Прикреплённое население на 01.09.2026"],
        [],
        ["Полис ОМС", "Фамилия", "Имя", "Дата рождения", "Участок"],
        [policy("509900000000010"), "Новый", "Пациент", "02.02.1990", "2"],
    ])
    path.write_bytes(path.read_text(encoding="utf-8").encode("cp1251"))
    report = do_import(empty, path)
    assert report.applied and report.entities["patients"].created == 1, report.problems
