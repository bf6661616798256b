"""Fixtures of the import tests: an empty database (schema only) on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from booking_core.clock import FixedClock
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a clinic's first install."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    name = f"e_{uuid.uuid4().hex[:12]}"
    _admin(admin, f"CREATE DATABASE {name} TEMPLATE template0")
    yield admin.rsplit("/", 1)[0] + "/" + name
    _admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty(empty_url: str, clock: FixedClock) -> Iterator[Container]:
    """A migrated, empty database (no demo clinic) with the tests' fixed clock."""
    from models.migrate import upgrade

    c = bootstrap(Settings(database_url=empty_url, secret_key="test-secret-key-0123456789"),  # type: ignore[arg-type]
                  clock=clock)
    upgrade(c.engine)
    yield c
    c.dispose()
