"""A clinic's own number on the registry line comes with the clinic in the import (column
«Номер линии»): calls to it hear that clinic's greeting.  Audited, idempotent, and a bad
number is a row error like any other."""

from __future__ import annotations

from sqlmodel import select

from booking_core import lines
from models.tables import AuditLog
from support.import_files import codes, do_import, write_csv

HEAD = ["Код МО", "Наименование", "Краткое наименование", "Номер линии"]


def test_clinic_rows_bring_their_lines(empty, tmp_path):
    path = write_csv(tmp_path / "clinics.csv", [
        HEAD,
        ["gp3", "ГБУЗ «ГП № 3»", "Городская поликлиника № 3", "+7 (495) 123-00-03"],
        ["gp7", "ГБУЗ «ГП № 7»", "Городская поликлиника № 7", "84951230007"],
        ["gp9", "ГБУЗ «ГП № 9»", "Городская поликлиника № 9", ""],
    ])
    report = do_import(empty, path)
    assert report.applied and not report.problems
    listed = {line.number: line.clinic_code for line in lines.list_lines(empty.uow())}
    assert listed == {"4951230003": "gp3", "4951230007": "gp7"}
    answer = lines.resolve_line("4951230007", empty.uow())
    assert answer.clinic_name == "Городская поликлиника № 7" and not answer.regional
    assert do_import(empty, path).changes == 0  # idempotent
    with empty.uow().reading() as uow:
        audited = uow.session.exec(select(AuditLog.entity_id).where(
            AuditLog.entity == "clinic_line")).all()
    assert len(audited) == 2


def test_a_number_moves_to_the_clinic_that_now_claims_it_and_bad_numbers_are_row_errors(
        empty, tmp_path):
    do_import(empty, write_csv(tmp_path / "clinics.csv", [
        HEAD, ["gp3", "ГП 3", "ГП 3", "4951230003"], ["gp7", "ГП 7", "ГП 7", ""]]))
    do_import(empty, write_csv(tmp_path / "clinics.csv", [
        HEAD, ["gp7", "ГП 7", "ГП 7", "4951230003"]]))
    assert [(x.number, x.clinic_code) for x in lines.list_lines(empty.uow())] == [
        ("4951230003", "gp7")]
    bad = do_import(empty, write_csv(tmp_path / "clinics.csv", [
        HEAD, ["gp8", "ГП 8", "ГП 8", "доб. 5"]]))
    assert not bad.applied
    assert codes(bad) == {("clinics.csv", 2, "bad_line_number")}
    assert "номер линии" in bad.problems[0].message_ru
