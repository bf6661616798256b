"""The unit of work's transactions: reads on PostgreSQL spend no BEGIN/ROLLBACK round trips,
and a read can never write."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from models.tables import Specialty


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_reads_run_outside_a_transaction(container) -> None:  # type: ignore[no-untyped-def]
    uow = container.uow()
    with uow.reading():
        uow.session.exec(select(Specialty)).all()
        conn = uow.session.connection().connection.dbapi_connection
        # psycopg opens a transaction with its own BEGIN round trip unless in autocommit
        assert conn.autocommit is True
        assert conn.info.transaction_status.name == "IDLE"
    # the connection goes back to the pool as the writers expect it
    writer = container.uow()
    with writer:
        writer.session.exec(select(Specialty)).all()
        conn = writer.session.connection().connection.dbapi_connection
        assert conn.autocommit is False
        assert conn.info.transaction_status.name == "INTRANS"


def test_a_read_cannot_write(container) -> None:  # type: ignore[no-untyped-def]
    uow = container.uow()
    with uow.reading():
        spec = uow.session.exec(select(Specialty)).first()
        assert spec is not None
        name = spec.name_ru
        spec.name_ru = "Изменено по ошибке"
        # no autoflush before the next query, and an explicit flush is refused
        uow.session.exec(select(Specialty)).all()
        with pytest.raises(RuntimeError, match="read-only"):
            uow.session.flush()
        with pytest.raises(RuntimeError, match="read-only"):
            uow.flush()
    check = container.uow()
    with check.reading():
        row = check.session.exec(text("SELECT name_ru FROM specialty WHERE id = :i"),  # type: ignore[call-overload]
                                 params={"i": spec.id}).one()
        assert row[0] == name


def test_a_read_cannot_add_rows(container) -> None:  # type: ignore[no-untyped-def]
    uow = container.uow()
    with uow.reading():
        before = len(uow.session.exec(select(Specialty)).all())
        uow.session.add(Specialty(code="added_by_mistake", name_ru="Ошибка", name_en="Mistake"))
        with pytest.raises(RuntimeError, match="read-only"):
            uow.session.commit()
    check = container.uow()
    with check.reading():
        assert len(check.session.exec(select(Specialty)).all()) == before
