"""Every validation problem is reported per row (file, row, column, reason in Russian and
English); a file with errors changes nothing unless the invalid rows are skipped."""

from __future__ import annotations

import csv

import pytest
from sqlmodel import func, select

from booking_core.rules import luhn_check_digit
from models.tables import Doctor, Patient
from support.import_files import EXAMPLES, codes, do_import, write_csv


def policy(first15: str) -> str:
    return first15 + luhn_check_digit(first15)


GOOD, TWICE = policy("509900000000001"), policy("509900000000002")
BAD_LUHN = GOOD[:-1] + str((int(GOOD[-1]) + 1) % 10)
HEAD = ["Полис ОМС", "Фамилия", "Имя", "Дата рождения", "СНИЛС", "Телефон", "Код МО", "Участок"]
ROWS = [  # row 2 onwards
    [GOOD, "Орлова", "Вера", "12.04.1975", "112-233-445 95", "+7 495 123-45-67", "gp7", "1"],
    [BAD_LUHN, "Ершов", "Иван", "12.04.1975", "", "", "gp7", "1"],
    [GOOD[:15], "Ершов", "Иван", "12.04.1975", "", "", "gp7", "1"],
    [policy("509900000000004"), "Ершов", "Иван", "12.04.1975", "112-233-445 00", "", "gp7", "1"],
    [policy("509900000000005"), "Ершов", "Иван", "12.04.2030", "", "", "gp7", "1"],
    [policy("509900000000006"), "Ершов", "Иван", "31.02.1980", "", "", "gp7", "1"],
    [policy("509900000000007"), "Ершов", "Иван", "12.04.1850", "", "", "gp7", "1"],
    [policy("509900000000008"), "Ершов", "Иван", "12.04.1975", "", "", "gp7", "9"],
    [policy("509900000000009"), "Ершов", "Иван", "12.04.1975", "", "", "zz", "1"],
    [GOOD, "Орлова", "Вера", "12.04.1975", "", "", "gp7", "1"],
    [TWICE, "Белов", "Пётр", "01.01.1960", "", "+79161110022", "gp7", "2"],
    [TWICE, "Белов", "Пётр", "01.01.1960", "", "+79161110022", "gp8", "1"],
]
EXPECTED = {
    (2, "phone_not_mobile", "Телефон"), (3, "policy_luhn", "Полис ОМС"),
    (4, "policy_format", "Полис ОМС"), (5, "snils_invalid", "СНИЛС"),
    (6, "birth_date_future", "Дата рождения"), (7, "impossible_date", "Дата рождения"),
    (8, "birth_date_impossible", "Дата рождения"), (9, "unknown_district", "Участок"),
    (10, "unknown_clinic", "Код МО"), (11, "duplicate_key", "Полис ОМС"),
    (13, "patient_two_clinics", "Полис ОМС"),
}


@pytest.fixture
def two_clinics(empty, tmp_path):
    """The example clinic № 7 and a second one (gp8, one district) beside it."""
    do_import(empty, EXAMPLES / "clinic.xlsx")
    clinics = write_csv(tmp_path / "clinics.csv", [["Код МО", "Наименование"],
                                                   ["gp8", "Поликлиника № 8"]])
    districts = write_csv(tmp_path / "districts.csv", [["Код МО", "Участок"], ["gp8", "1"]])
    assert do_import(empty, clinics, districts).applied
    return empty


def _patients(c) -> int:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        return uow.session.exec(select(func.count()).select_from(Patient)).one()


def test_each_problem_is_named_by_row_and_column_and_nothing_changes(two_clinics, tmp_path):
    path = write_csv(tmp_path / "patients.csv", [HEAD, *ROWS])
    before = _patients(two_clinics)
    report = do_import(two_clinics, path)
    got = {(p.row, p.code, p.column) for p in report.problems}
    assert got == EXPECTED
    assert not report.applied and _patients(two_clinics) == before
    assert report.entities["patients"].rejected == 10
    warning = next(p for p in report.problems if p.code == "phone_not_mobile")
    assert warning.severity == "warning"
    first = next(p for p in report.problems if p.code == "patient_two_clinics")
    assert "строка/row 12" in first.message_ru and "row 12" in first.message_en
    for p in report.problems:  # both languages, and never a personal value
        assert p.message_ru and p.message_en and p.message_ru != p.message_en
        assert p.file == "patients.csv"
        assert all(secret not in p.message_ru + p.message_en
                   for secret in (GOOD, TWICE, BAD_LUHN, "12.04.1975", "+7 495"))


def test_skip_invalid_imports_the_good_rows_and_writes_the_rest(two_clinics, tmp_path):
    path = write_csv(tmp_path / "patients.csv", [HEAD, *ROWS])
    errors = tmp_path / "rejected.csv"
    report = do_import(two_clinics, path, skip_invalid=True, error_file=errors)
    assert report.applied
    assert report.entities["patients"].created == 2  # rows 2 and 12
    with two_clinics.uow().reading() as uow:
        kept = uow.session.exec(select(Patient).where(Patient.policy_number == GOOD)).one()
        assert (kept.phone, kept.sms_reachable) == ("+74951234567", False)  # kept, no SMS
        assert kept.snils == "11223344595"
    with errors.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0][:4] == ["Файл / file", "Строка / row", "Ошибка", "Error"]
    assert [int(r[1]) for r in rows[1:]] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 13]
    assert "контрольной цифры" in rows[1][2] and "check digit" in rows[1][3]
    assert rows[1][4:] == [str(c) for c in ROWS[1]]  # the row as it was, to fix and re-send


def test_dry_run_counts_and_changes_nothing(empty):
    report = do_import(empty, EXAMPLES / "clinic.xlsx", dry_run=True)
    assert not report.applied and report.entities["patients"].created == 30
    assert _patients(empty) == 0


def test_unknown_specialty_district_and_doctor(empty, tmp_path):
    do_import(empty, EXAMPLES / "clinic.xlsx")
    doctors = write_csv(tmp_path / "doctors.csv", [
        ["Код врача", "Специальность", "Участок", "Фамилия", "Имя"],
        ["D-900", "cardiologist", "", "Новиков", "Пётр"],
        ["D-901", "therapist", "7", "Новикова", "Анна"],
        ["D-701", "therapist", "1", "Воронцова", "Марина"],
        ["D-701", "therapist", "1", "Воронцова", "Марина"],
    ])
    templates = write_csv(tmp_path / "templates.csv", [
        ["Код врача", "День недели", "Часы приёма"],
        ["D-999", "пн", "08:00-12:00"],
        ["D-701", "среда", "12:00-08:00"],
        ["D-701", "Friday", "8:00-14:00"],
        ["D-701", "Friday", "8:00-14:00"],
    ])
    report = do_import(empty, templates, doctors)
    assert {(p.file, p.row, p.code) for p in report.errors} == {
        ("doctors.csv", 2, "unknown_specialty"), ("doctors.csv", 3, "unknown_district"),
        ("doctors.csv", 5, "duplicate_key"), ("templates.csv", 2, "unknown_doctor"),
        ("templates.csv", 3, "ends_before_start"), ("templates.csv", 5, "duplicate_key"),
    }, codes(report)
    assert not report.applied
    with empty.uow().reading() as uow:
        assert uow.session.exec(select(func.count()).select_from(Doctor)).one() == 9
