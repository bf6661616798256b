"""Fixtures shared by every test tier.

``db_url`` runs a test once on SQLite and once on PostgreSQL (a real server from the Debian
package, started here).  Each test gets a fresh database copied from a migrated and seeded
template, so the demo clinic is there and tests stay fast.  The clock is fixed: Monday
2026-09-07 10:00 in the clinic's time zone.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from booking_core.clock import FixedClock
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings
from support.postgres import PostgresUnavailable, TempPostgres, wait_ready

if TYPE_CHECKING:
    from ivr.runtime import IvrRuntime
    from speech.tts import TtsEngine

TEST_NOW = datetime(2026, 9, 7, 10, 0)  # a Monday


def make_settings(url: str, **overrides: object) -> Settings:
    return Settings(database_url=url, secret_key="test-secret-key-0123456789", **overrides)  # type: ignore[arg-type]


def _prepare_template(url: str) -> None:
    from booking_core.slots import generate_slots
    from models.migrate import upgrade
    from registratura.demo import seed_demo

    container = bootstrap(make_settings(url), clock=FixedClock(TEST_NOW))
    upgrade(container.engine)
    seed_demo(container.uow())
    generate_slots(container.uow())
    container.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    _prepare_template(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url = os.environ.get("REGISTRATURA_TEST_PG_URL")
    server = None
    if not url:
        server = TempPostgres()
        try:
            url = server.start()
        except PostgresUnavailable as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(str(exc))
    wait_ready(url)
    template_url = url.rsplit("/", 1)[0] + "/reg_template"
    _admin(url, "DROP DATABASE IF EXISTS reg_template")
    _admin(url, "CREATE DATABASE reg_template")
    _prepare_template(template_url)
    yield url
    if server:
        server.stop()


def _admin(url: str, sql: str) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(admin, f"CREATE DATABASE {name} TEMPLATE reg_template")
    yield admin.rsplit("/", 1)[0] + "/" + name
    _admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TEST_NOW)


@pytest.fixture
def container(db_url: str, clock: FixedClock) -> Iterator[Container]:
    c = bootstrap(make_settings(db_url), clock=clock)
    yield c
    c.dispose()


@pytest.fixture
def sqlite_container(
    sqlite_template: Path, tmp_path: Path, clock: FixedClock
) -> Iterator[Container]:
    """SQLite only: for tests of channels where the backend doesn't matter."""
    path = tmp_path / "one.db"
    shutil.copy(sqlite_template, path)
    c = bootstrap(make_settings(f"sqlite:///{path}"), clock=clock)
    yield c
    c.dispose()


@pytest.fixture
def runtime_factory(tmp_path: Path) -> Iterator[Callable[..., IvrRuntime]]:
    """Factory: ``runtime_factory(container, engine=None)`` -> an in-process IVR, FastAGI on a
    free loopback port, prompts and recordings under ``tmp_path``; shut down after the test.
    ``engine=None`` is the real TTS engine; pass ``support.fakes.QuietEngine()`` to skip it."""
    from ivr.runtime import IvrRuntime  # only the tiers that run an IVR pay for the import

    started: list[IvrRuntime] = []

    def make(container: Container, engine: TtsEngine | None = None) -> IvrRuntime:
        container.settings.sounds_dir = tmp_path / "sounds"
        container.settings.record_dir = tmp_path / "recordings"
        rt = IvrRuntime(container, engine=engine, host="127.0.0.1", port=0)
        rt.start()
        started.append(rt)
        return rt

    yield make
    for rt in started:
        rt.shutdown()
