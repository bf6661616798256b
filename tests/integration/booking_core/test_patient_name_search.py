"""Name search folds ё/е, case and spaces, takes surname + initials and a wrong keyboard layout,
on SQLite and PostgreSQL alike (a normalised, indexed search column)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert
from sqlmodel import select

from booking_core import patients
from booking_core.patients import PatientQuery
from models.tables import Patient, patient_name_key

SOKOLOV = "Соколов Артём Игоревич"


def names(container, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.full_name for h in patients.search_patients(PatientQuery(name=query),
                                                           container.uow())]


@pytest.mark.parametrize("query", [
    "Соколов Артем", "соколов артём", "СОКОЛОВ   АРТЕМ  ИГОРЕВИЧ", "  соколов ", "Соколов А.И.",
    "Соколов А. И.", "соколов а и", "Сокол Арт", "Cjrjkjd Fhn`v",  # typed on the QWERTY layout
])
def test_sokolov_is_found_however_typed(container, query):
    assert names(container, query) == [SOKOLOV]


def test_petrova_by_surname_and_initials(container):
    assert names(container, "Петрова А.И.") == ["Петрова Анна Ивановна"]


@pytest.mark.parametrize("query", ["Соколов Игорь", "Соколов И.А.", "Артем Соколов"])
def test_words_match_their_own_part_of_the_name(container, query):
    assert names(container, query) == []


def test_the_key_follows_inserts_and_renames(container):
    with container.uow() as uow:
        p = Patient(last_name="Ёлкина", first_name="Алёна", middle_name="Петровна",
                    policy_number="1" * 16, birth_date=date(1990, 1, 2))
        uow.session.add(p)
        uow.commit()
    assert names(container, "елкина ал") == ["Ёлкина Алёна Петровна"]
    with container.uow() as uow:
        row = uow.session.exec(select(Patient).where(Patient.policy_number == "1" * 16)).one()
        row.last_name = "Зелёная"
        uow.commit()
    assert names(container, "Елкина") == []
    assert names(container, "зеленая а п") == ["Зелёная Алёна Петровна"]
    # Bulk imports use Core inserts: the key is filled there too.
    with container.uow() as uow:
        uow.session.execute(insert(Patient), [{
            "last_name": "Орлов", "first_name": "Пётр", "middle_name": "",
            "policy_number": "2" * 16, "birth_date": date(1970, 5, 6)}])
        uow.commit()
    assert names(container, "Орлов Петр") == ["Орлов Пётр"]


def test_the_key_is_folded():
    assert patient_name_key("  Ёлкина-Смирнова ", "АЛЁНА", "") == "елкина-смирнова алена"


def test_sqlite_name_search_uses_the_index(sqlite_container):
    """SQLite's LIKE cannot use an index; the key range must, or 200,000 patients are scanned."""
    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        if "FROM patient" in statement and "name_key" in statement:
            seen.append((statement, parameters))

    engine = sqlite_container.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        names(sqlite_container, "Соколов Артем")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    (statement, parameters), = seen
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "USING INDEX ix_patient_name_key" in plan, plan
