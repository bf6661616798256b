"""What every benchmark shares: databases, a bench clinic, statistics, tables, JSON and plots."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import insert, text
from sqlmodel import col, select

from booking_core.clock import FixedClock
from booking_core.rules import luhn_check_digit
from models.tables import (
    Clinic,
    District,
    Doctor,
    Patient,
    ScheduleTemplate,
    Specialty,
)
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
#: The benchmark clock, as in the tests: a Monday morning, so the booking window is full.
BENCH_NOW = datetime(2026, 9, 7, 10, 0)

console = Console(width=None if sys.stdout.isatty() else 160)
logger = logging.getLogger("bench")


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


def support_module(name: str) -> Any:
    """``tests/support/<name>.py``, shared with the test suite (TempPostgres, fakes, ...)."""
    tests_dir = str(ROOT / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    return importlib.import_module(f"support.{name}")


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class DbHost:
    """Where one benchmark's databases live.

    ``kind="sqlite"``: files in a temporary directory.  ``kind="postgres"``: databases on the
    server at ``pg_url`` (any database URL on it, used for administration), or on a throwaway
    server started from the Debian package (``tests/support/postgres.py``) when none is given.
    """

    def __init__(self, kind: str, pg_url: str | None = None) -> None:
        if kind not in ("sqlite", "postgres"):
            raise ValueError(f"unknown database kind: {kind}")
        self.kind = kind
        self.admin_url = pg_url
        self._server: Any = None
        self.dir = Path(tempfile.mkdtemp(prefix=f"reg-bench-{kind}-"))
        self._created: list[str] = []

    def __enter__(self) -> DbHost:
        if self.kind == "postgres":
            support = support_module("postgres")
            if not self.admin_url:
                self._server = support.TempPostgres()
                self.admin_url = self._server.start()
            support.wait_ready(self.admin_url)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.kind == "postgres" and self.admin_url:
            for name in self._created:
                with contextlib.suppress(Exception):  # best-effort cleanup
                    self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if self._server is not None:
            self._server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def label(self) -> str:
        """How results name this backend."""
        return self.kind

    def admin(self, sql: str) -> None:
        """Run one statement on the PostgreSQL server outside a transaction."""
        import psycopg

        assert self.admin_url is not None
        with psycopg.connect(_pg_dsn(self.admin_url), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def url_of(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.dir / name}.db"
        assert self.admin_url is not None
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def create(self, name: str) -> str:
        """A new empty database; returns its URL."""
        name = f"{name}_{uuid.uuid4().hex[:8]}"
        if self.kind == "postgres":
            self.admin(f"CREATE DATABASE {name}")
            self._created.append(name)
        return self.url_of(name)

    def clone(self, template_url: str, name: str) -> str:
        """A copy of the database at ``template_url`` (nobody may be connected to it)."""
        name = f"{name}_{uuid.uuid4().hex[:8]}"
        if self.kind == "postgres":
            template = template_url.rsplit("/", 1)[1]
            self.admin(f"CREATE DATABASE {name} TEMPLATE {template}")
            self._created.append(name)
            return self.url_of(name)
        source = Path(template_url.removeprefix("sqlite:///"))
        checkpoint_sqlite(template_url)
        shutil.copyfile(source, self.dir / f"{name}.db")
        return self.url_of(name)


def checkpoint_sqlite(url: str) -> None:
    """Fold the WAL into the main file so the file alone is the whole database."""
    import sqlite3

    path = url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def bench_settings(url: str, **overrides: Any) -> Settings:
    """Settings for a benchmark database (secret key fixed, everything else default)."""
    return Settings(database_url=url, secret_key="bench-secret-key-0123456789", **overrides)  # type: ignore[arg-type]


def make_container(url: str, *, now: datetime = BENCH_NOW, **overrides: Any) -> Container:
    """A container over ``url`` with the benchmark's fixed clock."""
    return bootstrap(bench_settings(url, **overrides), clock=FixedClock(now))


def db_kinds(choice: str) -> list[str]:
    """``--db`` → the backends to run on."""
    return ["sqlite", "postgres"] if choice == "both" else [choice]


# --------------------------------------------------------------------------------------------
# A bench clinic: the demo clinic plus many doctors and patients, inserted in bulk
# --------------------------------------------------------------------------------------------


#: Adult specialties a patient may book by phone, in IVR menu order (digit = index + 1).
ADULT_PHONE_SPECIALTIES = ("therapist", "gynecologist", "dentist", "ophthalmologist", "surgeon")

_LAST = ("Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Волков", "Соколов",
         "Лебедев", "Козлов", "Новиков", "Морозов", "Павлов", "Семёнов", "Голубев", "Виноградов")
_FIRST = ("Андрей", "Сергей", "Алексей", "Дмитрий", "Михаил", "Николай", "Павел", "Юрий")
_MIDDLE = ("Андреевич", "Сергеевич", "Петрович", "Иванович", "Николаевич", "Олегович")


def prepare_demo(container: Container) -> None:
    """Migrate and create the demo clinic (no slots yet)."""
    from models.migrate import upgrade
    from registratura.demo import seed_demo

    upgrade(container.engine)
    seed_demo(container.uow())


def clinic_ids(container: Container) -> tuple[int, dict[str, int]]:
    """The demo clinic's id and the specialty ids by code."""
    with container.uow().reading() as uow:
        clinic = uow.session.exec(select(Clinic)).first()
        assert clinic is not None and clinic.id is not None
        specs = {s.code: s.id for s in uow.session.exec(select(Specialty)).all()}
    return clinic.id, specs  # type: ignore[return-value]


def add_districts(container: Container, count: int) -> list[int]:
    """Make sure the clinic has districts 1..count; returns their ids in number order."""
    clinic_id, _ = clinic_ids(container)
    with container.uow() as uow:
        have = {d.number: d.id for d in uow.session.exec(
            select(District).where(District.clinic_id == clinic_id)).all()}
        rows = [{"clinic_id": clinic_id, "number": n, "name": f"Участок {n}"}
                for n in range(1, count + 1) if n not in have]
        if rows:
            uow.session.execute(insert(District), rows)
        uow.commit()
        found = {d.number: d.id for d in uow.session.exec(
            select(District).where(District.clinic_id == clinic_id)).all()}
    return [found[n] for n in range(1, count + 1)]  # type: ignore[misc]


def add_doctors(container: Container, per_specialty: dict[str, int], *,
                districts: int, seed: int = 7) -> int:
    """Add doctors (weekly templates included) in bulk; district doctors get districts 1..N
    round-robin.  Returns how many doctors were added."""
    rnd = random.Random(seed)
    clinic_id, specs = clinic_ids(container)
    district_ids = add_districts(container, districts)
    shifts = [(dtime(8, 0), dtime(14, 0)), (dtime(14, 0), dtime(20, 0))]
    doctors: list[dict[str, Any]] = []
    with container.uow() as uow:
        district_based = {s.code: s.district_based for s in uow.session.exec(select(Specialty))}
        for code, count in per_specialty.items():
            for i in range(count):
                doctors.append({
                    "clinic_id": clinic_id, "specialty_id": specs[code],
                    "district_id": district_ids[i % districts] if district_based[code] else None,
                    "last_name": rnd.choice(_LAST) + ("а" if i % 2 else ""),
                    "first_name": rnd.choice(_FIRST), "middle_name": rnd.choice(_MIDDLE),
                    "cabinet": str(100 + len(doctors) % 400), "active": True,
                })
        first_new = uow.session.execute(
            text("SELECT COALESCE(MAX(id), 0) FROM doctor")).scalar_one()
        uow.session.execute(insert(Doctor), doctors)
        new_ids = list(uow.session.execute(
            text("SELECT id FROM doctor WHERE id > :first ORDER BY id"),
            {"first": first_new}).scalars())
        templates: list[dict[str, Any]] = []
        for index, doctor_id in enumerate(new_ids):
            minutes = 20 if index % 7 == 3 else 15
            for weekday in range(5):
                start, end = shifts[(index + weekday * (index % 3 == 2)) % 2]
                templates.append({"doctor_id": doctor_id, "weekday": weekday, "start_time": start,
                                  "end_time": end, "slot_minutes": minutes,
                                  "cabinet": doctors[index]["cabinet"]})
            if index % 3 == 0:
                templates.append({"doctor_id": doctor_id, "weekday": 5,
                                  "start_time": dtime(9, 0), "end_time": dtime(13, 0),
                                  "slot_minutes": minutes, "cabinet": doctors[index]["cabinet"]})
        uow.session.execute(insert(ScheduleTemplate), templates)
        uow.commit()
    return len(new_ids)


@dataclass(frozen=True)
class ClinicRef:
    """A clinic of the bench region and its districts' ids (in number order)."""

    id: int
    district_ids: list[int]


def add_clinics(container: Container, count: int) -> list[ClinicRef]:
    """Add ``count`` polyclinics shaped like the demo one (three districts, the demo's ten
    doctors and weekly templates each), in bulk: a region served by one registry line."""
    from registratura.demo import DOCTORS as DEMO_DOCTORS
    from registratura.demo import SHIFTS

    _, specs = clinic_ids(container)
    clinics: list[ClinicRef] = []
    with container.uow() as uow:
        for n in range(count):
            clinic = Clinic(code=f"bench{n + 1}", name=f"Поликлиника № {n + 10}",
                            short_name=f"Поликлиника № {n + 10}")
            uow.session.add(clinic)
            uow.flush()
            districts = [District(clinic_id=clinic.id, number=d,  # type: ignore[arg-type]
                                  name=f"Участок {d}") for d in (1, 2, 3)]
            uow.session.add_all(districts)
            uow.flush()
            for index, row in enumerate(DEMO_DOCTORS):
                spec_code, last, first, middle, district, cabinet, shift = row
                doctor = Doctor(clinic_id=clinic.id, specialty_id=specs[spec_code],  # type: ignore[arg-type]
                                district_id=districts[district - 1].id if district else None,
                                last_name=last, first_name=first, middle_name=middle,
                                cabinet=cabinet)
                uow.session.add(doctor)
                uow.flush()
                minutes = 20 if spec_code in ("dentist", "neurologist") else 15
                for weekday in range(5):
                    key = ("morning" if weekday % 2 == 0 else "evening") \
                        if shift == "alternate" else shift
                    start, end = SHIFTS[key]
                    uow.session.add(ScheduleTemplate(
                        doctor_id=doctor.id, weekday=weekday, start_time=start,  # type: ignore[arg-type]
                        end_time=end, slot_minutes=minutes, cabinet=cabinet))
                if index % 3 == 0:
                    uow.session.add(ScheduleTemplate(
                        doctor_id=doctor.id, weekday=5, start_time=dtime(9, 0),  # type: ignore[arg-type]
                        end_time=dtime(13, 0), slot_minutes=minutes, cabinet=cabinet))
            clinics.append(ClinicRef(clinic.id, [d.id for d in districts]))  # type: ignore[misc]
        uow.commit()
    return clinics


@dataclass(frozen=True)
class BenchPatient:
    """A patient the benchmark created (invented data, valid policy number)."""

    id: int
    policy: str
    birth_date: date
    phone: str

    @property
    def dob_keys(self) -> str:
        """The date of birth as typed on the keypad (DDMMYYYY)."""
        return self.birth_date.strftime("%d%m%Y")


def make_policy(prefix: str, index: int) -> str:
    """A valid 16-digit policy number: ``prefix`` + index, Luhn check digit last."""
    body = f"{prefix}{index:0{15 - len(prefix)}d}"
    return body + luhn_check_digit(body)


def add_patients(container: Container, count: int, *, prefix: str = "55", adult: bool = True,
                 districts: int = 3, seed: int = 11,
                 clinics: Sequence[ClinicRef] = ()) -> list[BenchPatient]:
    """Add ``count`` patients in bulk, attached to the demo clinic (over ``districts``
    districts) or round-robin to ``clinics``; returns them in order."""
    rnd = random.Random(seed)
    if not clinics:
        clinics = [ClinicRef(clinic_ids(container)[0], add_districts(container, districts))]
    today = container.clock.today()
    rows = []
    for i in range(count):
        if adult:
            born = date(1940, 1, 1) + timedelta(days=rnd.randrange(0, 365 * 60))
        else:
            born = today - timedelta(days=rnd.randrange(365 * 2, 365 * 16))
        rows.append({
            "last_name": rnd.choice(_LAST), "first_name": rnd.choice(_FIRST),
            "middle_name": rnd.choice(_MIDDLE), "policy_number": make_policy(prefix, i),
            "birth_date": born, "phone": f"+79{prefix[:2]}{i:07d}",
            "clinic_id": clinics[i % len(clinics)].id,
            "district_id": _district(clinics[i % len(clinics)], i // len(clinics)),
            "attached_on": today - timedelta(400),
            "created_at": datetime(2026, 1, 1),
        })
    with container.uow() as uow:
        for start in range(0, len(rows), 5000):
            uow.session.execute(insert(Patient), rows[start:start + 5000])
        uow.commit()
        ids = dict(uow.session.exec(
            select(Patient.policy_number, Patient.id).where(
                col(Patient.policy_number).startswith(prefix))).all())
    return [BenchPatient(ids[r["policy_number"]], r["policy_number"], r["birth_date"],
                         r["phone"]) for r in rows]


def _district(clinic: ClinicRef, n: int) -> int:
    return clinic.district_ids[n % len(clinic.district_ids)]


def double_bookings(container: Container) -> int:
    """Slots holding more than one live appointment (must always be 0)."""
    sql = text("SELECT COUNT(*) FROM (SELECT slot_id FROM appointment WHERE status <> 'cancelled'"
               " AND slot_id IS NOT NULL GROUP BY slot_id HAVING COUNT(*) > 1) AS d")
    with container.engine.connect() as conn:
        return int(conn.execute(sql).scalar_one())


def count_rows(container: Container, sql: str) -> int:
    """``SELECT COUNT(*) ...`` helper."""
    with container.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


# --------------------------------------------------------------------------------------------
# Statistics and output
# --------------------------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (linear interpolation); NaN for no values."""
    if not values:
        return float("nan")
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * p / 100
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """count, p50/p95/p99/max in milliseconds of values in seconds."""
    ms = [v * 1000 for v in values_s]
    return {"count": len(ms), "p50": round(pct(ms, 50), 3), "p95": round(pct(ms, 95), 3),
            "p99": round(pct(ms, 99), 3), "max": round(max(ms), 3) if ms else float("nan"),
            "mean": round(sum(ms) / len(ms), 3) if ms else float("nan")}


def fmt(value: float, digits: int = 1) -> str:
    """A number for a table cell."""
    if value != value:  # NaN
        return "—"
    return f"{value:.{digits}f}"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
                caption: str | None = None) -> None:
    """A rich table on the console."""
    table = Table(title=title, caption=caption)
    for header in headers:
        table.add_column(header, justify="left" if header == headers[0] else "right")
    for row in rows:
        table.add_row(*(str(c) for c in row))
    console.print(table)


def verdict(ok: bool) -> str:
    """A table cell saying whether a target was met."""
    return "[green]met[/green]" if ok else "[red]missed[/red]"


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    commit = ""
    with contextlib.suppress(Exception):  # not a git checkout: leave it empty
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, check=False).stdout.strip()
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "commit": commit,
            "measured_at": datetime.now().isoformat(timespec="seconds")}


def save_json(name: str, db: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/NAME-<db>.json``; returns its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{db}.json"
    body = {"benchmark": name, "db": db, "machine": machine(), **payload}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2, default=str) + "\n",
                    encoding="utf-8")
    console.print(f"[dim]results: {path.relative_to(ROOT)}[/dim]")
    return path


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A transient rich progress bar; yields ``advance(n=1, total=None)``."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1, total: int | None = None, completed: int | None = None) -> None:
            if completed is not None:
                progress.update(task, completed=completed, total=total)
            else:
                progress.update(task, advance=n, total=total)

        yield advance


def plotting() -> Any:
    """matplotlib's pyplot (Agg backend), or None when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def save_plot(fig: Any, name: str) -> Path:
    """Save a matplotlib figure as ``bench/results/<name>.png``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    console.print(f"[dim]plot: {path.relative_to(ROOT)}[/dim]")
    return path


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
