"""The issue's "done when", as a user runs it: an empty install, ``registratura import`` of the
example clinic, then ``registratura call`` identifies an imported patient and books an
imported doctor.  Real processes, real FastAGI over TCP, a temporary SQLite file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from support.cli_procs import registratura_serving
from support.import_files import EXAMPLES, ROOT

PATIENT = "5077000000000007"  # the first row of examples/import (Смирнов, district 1)
BIRTH = "01011940"
PATIENT_PHONE = "+79167000000"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = dict(os.environ)
    out.update(
        REGISTRATURA_DATABASE_URL=f"sqlite:///{tmp_path / 'clinic7.db'}",
        REGISTRATURA_SECRET_KEY="cli-test-secret-0123456789",
        REGISTRATURA_HTTP_PORT=str(_free_port()), REGISTRATURA_AGI_PORT=str(_free_port()),
        REGISTRATURA_SOUNDS_DIR=str(tmp_path / "sounds"),
        REGISTRATURA_RECORD_DIR=str(tmp_path / "rec"), REGISTRATURA_LOG_LEVEL="WARNING",
        COLUMNS="160",
    )
    return out


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "registratura", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def served(env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    with registratura_serving(["serve", "--no-seed-demo"], env, tmp_path / "serve.log"):
        yield env


@pytest.mark.slow
def test_empty_install_import_then_a_call_books_an_imported_doctor(served):
    imported = _cli(served, "import", str(EXAMPLES / "clinic.xlsx"))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "Imported. Changes: 101" in imported.stdout
    assert "patients" in imported.stdout and "created" in imported.stdout
    again = _cli(served, "import", *sorted(str(p) for p in (EXAMPLES / "csv").glob("*.csv")))
    assert again.returncode == 0 and "Imported. Changes: 0" in again.stdout, again.stdout

    # From the patient's own phone on file (the import's +7 (916) 700-00-00): no SMS code.
    call = _cli(served, "call", "--caller", PATIENT_PHONE, "--keys", f",1,{PATIENT},{BIRTH},1,1,1")
    said = call.stdout
    assert call.returncode == 0, said + call.stderr
    assert "Карта найдена" in said and "Воронцова" in said and "Вы записаны" in said, said
    # The IVR came up on an empty install; the clinic imported since is greeted by its name.
    greeting = next(line for line in said.splitlines() if "Здравствуйте" in line)
    assert "Городская поликлиника № 7" in greeting, greeting
    engine = create_engine(served["REGISTRATURA_DATABASE_URL"])
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT d.external_id, a.status FROM appointment a JOIN doctor d ON d.id = a.doctor_id"
            " JOIN patient p ON p.id = a.patient_id WHERE p.policy_number = :p"),
            {"p": PATIENT}).one()
    engine.dispose()
    assert tuple(row) == ("D-701", "booked")


def test_import_with_errors_exits_non_zero_and_writes_the_error_file(env, tmp_path):
    bad = tmp_path / "patients.csv"
    bad.write_text("Полис ОМС;Фамилия;Имя;Дата рождения\n1234567890123456;Ершов;Иван;01.01.1990\n",
                   encoding="utf-8")
    assert _cli(env, "import", str(EXAMPLES / "clinic.xlsx")).returncode == 0
    dry = _cli(env, "import", "--dry-run", str(bad))
    assert dry.returncode == 1 and "policy_luhn" not in dry.stdout
    assert "контрольной цифры" in dry.stdout and "Nothing was changed" not in dry.stdout
    errors = tmp_path / "rejected.csv"
    skipped = _cli(env, "import", "--skip-invalid", "--errors", str(errors), "--lang", "en",
                   str(bad))
    assert skipped.returncode == 1 and "check digit" in skipped.stdout
    assert "rejected" in skipped.stdout and errors.exists()
    assert "1234567890123456" in errors.read_text(encoding="utf-8-sig")
