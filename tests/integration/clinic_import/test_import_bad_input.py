"""Files a clinic should not send but will: each gets a message naming the file (and row),
and nothing already saved changes."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from models.tables import AuditLog, Doctor, Patient, ScheduleTemplate
from support.import_files import EXAMPLES, codes, do_import, write_csv, write_xlsx

PATIENT_HEAD = ["Полис ОМС", "Фамилия", "Имя", "Дата рождения"]
ONE = ["5099000000000019", "Орлова", "Вера", "12.04.1975"]


def _state(c) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        return tuple(uow.session.exec(select(func.count()).select_from(t)).one()
                     for t in (Patient, Doctor, ScheduleTemplate, AuditLog))


@pytest.fixture
def clinic(empty):
    assert do_import(empty, EXAMPLES / "clinic.xlsx").applied
    return empty


def _only(report, code):  # type: ignore[no-untyped-def]
    found = [p for p in report.problems if p.code == code]
    assert found, codes(report)
    return found[0]


def test_truncated_xlsx(clinic, tmp_path):
    data = (EXAMPLES / "clinic.xlsx").read_bytes()
    cut = tmp_path / "выгрузка.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    before = _state(clinic)
    report = do_import(clinic, cut, EXAMPLES / "csv" / "patients.csv", skip_invalid=True)
    problem = _only(report, "xlsx_broken")
    assert problem.file == "выгрузка.xlsx" and "обрезан" in problem.message_ru
    assert not report.applied and _state(clinic) == before


def test_utf16_csv_is_refused_with_the_encodings_it_takes(clinic, tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text(";".join(PATIENT_HEAD) + "\n" + ";".join(ONE) + "\n", encoding="utf-16")
    before = _state(clinic)
    report = do_import(clinic, path)
    problem = _only(report, "unsupported_encoding")
    assert (problem.file, problem.row) == ("patients.csv", 1)
    assert "Windows-1251" in problem.message_ru and "UTF-8" in problem.message_en
    assert not report.applied and _state(clinic) == before


def test_koi8_csv_reads_as_no_header_and_says_which_encodings(clinic, tmp_path):
    path = tmp_path / "patients.csv"
    path.write_bytes((";".join(PATIENT_HEAD) + "\n" + ";".join(ONE) + "\n").encode("koi8-r"))
    report = do_import(clinic, path)
    problem = _only(report, "no_header")
    assert (problem.file, problem.row) == ("patients.csv", 1)
    assert "Полис ОМС" in problem.message_ru and "Windows-1251" in problem.message_ru
    assert not report.applied


def test_encoding_changing_mid_file_names_the_row(clinic, tmp_path):
    rows = [";".join(PATIENT_HEAD)] + [";".join(ONE)] * 30_000  # past the 1 MB sniffed
    path = tmp_path / "patients.csv"
    path.write_bytes("\n".join(rows).encode() + "\n5099;Ёжиков;Иван;01.01.1990\n".encode("cp1251"))
    before = _state(clinic)
    report = do_import(clinic, path)
    problem = _only(report, "bad_encoding_at")
    assert problem.file == "patients.csv" and problem.row and problem.row > 30_000
    assert not report.applied and _state(clinic) == before


def test_wrong_header_row(clinic, tmp_path):
    path = write_csv(tmp_path / "patients.csv", [ONE, ONE])
    report = do_import(clinic, path)
    problem = _only(report, "no_header")
    assert (problem.file, problem.row) == ("patients.csv", 1)
    assert "Дата рождения" in problem.message_ru and "Date" not in problem.message_ru
    unnamed = write_csv(tmp_path / "export_2026.csv", [["а", "б", "в"], ["1", "2", "3"]])
    _only(do_import(clinic, unnamed), "unknown_entity")
    missing = write_csv(tmp_path / "doctors.csv", [["Код врача", "Фамилия"], ["D-1", "Х"]])
    problem = _only(do_import(clinic, missing), "missing_columns")
    assert "Специальность" in problem.message_ru and "Имя" in problem.message_ru


def test_file_over_the_size_limit_is_not_read(clinic, tmp_path):
    path = write_csv(tmp_path / "patients.csv", [PATIENT_HEAD, *[ONE] * 100])
    before = _state(clinic)
    report = do_import(clinic, path, max_file_bytes=1024)
    problem = _only(report, "file_too_large")
    assert problem.file == "patients.csv"
    assert "REGISTRATURA_IMPORT_MAX_FILE_MB" in problem.message_en
    assert not report.applied and _state(clinic) == before


def test_formulas_and_merged_cells(clinic, tmp_path):
    path = write_xlsx(tmp_path / "врачи.xlsx", {"Врачи": [
        ["Код врача", "Специальность", "Фамилия", "Имя", "Кабинет"],
        ["D-801", "therapist", "Белкина", "Ольга", "=100+3"],
        ["D-802", "surgeon", "Хорьков", "Антон", "104"],
        ["D-803", "", "Ежов", "Иван", "105"],
    ]})
    import openpyxl

    wb = openpyxl.load_workbook(path)
    wb["Врачи"].merge_cells("B3:B4")
    wb.save(path)
    before = _state(clinic)
    report = do_import(clinic, path)
    formula = _only(report, "formula_no_value")
    assert (formula.file, formula.row, formula.column) == ("врачи.xlsx [Врачи]", 2, "Кабинет")
    assert "E2" in formula.message_ru
    merged = sorted(p.row for p in report.problems if p.code == "merged_cells")
    assert merged == [3, 4]
    assert not report.applied and _state(clinic) == before


def test_a_template_may_come_before_its_doctor_but_not_without_one(clinic, tmp_path):
    templates = write_csv(tmp_path / "templates.csv", [
        ["Код врача", "День недели", "Начало", "Окончание"], ["D-810", "пн", "8:00", "12:00"]])
    doctors = write_csv(tmp_path / "doctors.csv", [
        ["Код врача", "Специальность", "Фамилия", "Имя"], ["D-810", "surgeon", "Ершов", "Пётр"]])
    report = do_import(clinic, templates, doctors)
    assert report.applied and report.entities["templates"].created == 1, codes(report)
    orphan = write_csv(tmp_path / "расписание.csv", [
        ["Код врача", "День недели", "Начало", "Окончание"], ["D-811", "вт", "8:00", "12:00"]])
    before = _state(clinic)
    report = do_import(clinic, orphan)
    problem = _only(report, "unknown_doctor")
    assert (problem.file, problem.row, problem.column) == ("расписание.csv", 2, "Код врача")
    assert "D-811" in problem.message_ru
    assert not report.applied and _state(clinic) == before


def test_a_formula_with_its_saved_value_is_imported_with_a_warning(clinic, tmp_path):
    """Excel saves a formula's value beside it; that value is what the user sees."""
    import zipfile

    path = write_xlsx(tmp_path / "врачи.xlsx", {"Врачи": [
        ["Код врача", "Специальность", "Фамилия", "Имя", "Кабинет"],
        ["D-820", "therapist", "Белкина", "Ольга", "=100+3"],
    ]})
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(b"<f>100+3</f><v />", b"<f>100+3</f><v>103</v>")
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    report = do_import(clinic, path)
    warning = _only(report, "formula")
    assert (warning.row, warning.column, warning.severity) == (2, "Кабинет", "warning")
    assert report.applied and report.entities["doctors"].created == 1
    with clinic.uow().reading() as uow:
        doctor = uow.session.exec(select(Doctor).where(Doctor.external_id == "D-820")).one()
        assert doctor.cabinet == "103"


def test_a_misspelt_column_is_reported_with_a_suggestion_and_ignored(clinic, tmp_path):
    path = write_csv(tmp_path / "patients.csv", [
        [*PATIENT_HEAD, "Телфон"], [*ONE, "+79161234567"]])
    report = do_import(clinic, path)
    warning = _only(report, "unknown_column_typo")
    assert (warning.row, warning.column, warning.severity) == (1, "Телфон", "warning")
    assert "«Телефон»" in warning.message_ru and "'Телефон'" in warning.message_en
    assert report.applied and report.entities["patients"].created == 1
