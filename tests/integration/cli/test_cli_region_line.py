"""The two-clinic demo line as a user runs it: ``registratura seed --demo --region``, the IVR
alone (``registratura ivr``), then ``registratura call --dnid ...`` on each clinic's number.
Real processes, real FastAGI over TCP, a temporary SQLite file."""

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

ROOT = Path(__file__).resolve().parents[3]
IVANOV = ("7700000000000123", "05031985", "+79161234567")  # attached to № 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "registratura", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def region_ivr(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env.update(
        REGISTRATURA_DATABASE_URL=f"sqlite:///{tmp_path / 'region.db'}",
        REGISTRATURA_SECRET_KEY="cli-test-secret-0123456789",
        REGISTRATURA_AGI_PORT=str(_free_port()),
        REGISTRATURA_SOUNDS_DIR=str(tmp_path / "sounds"),
        REGISTRATURA_RECORD_DIR=str(tmp_path / "rec"), REGISTRATURA_LOG_LEVEL="WARNING",
        COLUMNS="160",
    )
    seeded = _cli(env, "seed", "--demo", "--region")
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "4951230007" in seeded.stdout and "Волкова" in seeded.stdout
    with registratura_serving(["ivr"], env, tmp_path / "ivr.log"):
        yield env


def _said(stdout: str) -> list[str]:
    return [line[5:] for line in stdout.splitlines() if line.startswith("IVR: ")]


@pytest.mark.slow
def test_call_with_dnid_books_at_clinic_3_on_its_line_and_from_clinic_7s(region_ivr):
    policy, birth, phone = IVANOV
    keys = f",1,{policy},{birth},1,1,1"
    call = _cli(region_ivr, "call", "--dnid", "4951230003", "--caller", phone, "--keys", keys)
    said = _said(call.stdout)
    assert call.returncode == 0, call.stdout + call.stderr
    assert said[0].startswith("Здравствуйте! Городская поликлиника № 3."), said
    assert not any("другой поликлинике" in s for s in said)
    assert any(s.startswith("Вы записаны: терапевт Кашинцева") and
               "Городская поликлиника № 3, кабинет пятнадцать" in s for s in said), said

    # The same patient on № 7's number: № 7 greets, he is told once and served by № 3.
    moved = _cli(region_ivr, "call", "--dnid", "+7 495 123-00-07", "--caller", phone,
                 "--keys", f",2,{policy},{birth},1,2,1,1")
    said = _said(moved.stdout)
    assert said[0].startswith("Здравствуйте! Городская поликлиника № 7."), said
    assert sum("Вы прикреплены к другой поликлинике: Городская поликлиника № 3." in s
               for s in said) == 1, said

    engine = create_engine(region_ivr["REGISTRATURA_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT r.dialled_number, c.code FROM callrecord r JOIN clinic c"
            " ON c.id = r.clinic_id ORDER BY r.started_at, r.id")).all()
        booked = conn.execute(text(
            "SELECT c.code FROM appointment a JOIN doctor d ON d.id = a.doctor_id"
            " JOIN clinic c ON c.id = d.clinic_id WHERE a.status = 'booked'")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("4951230003", "gp3"), ("+74951230007", "gp3")]
    assert [tuple(r) for r in booked] == [("gp3",)]


def test_line_commands(tmp_path):
    env = dict(os.environ)
    env.update(REGISTRATURA_DATABASE_URL=f"sqlite:///{tmp_path / 'lines.db'}",
               REGISTRATURA_SECRET_KEY="cli-test-secret-0123456789", COLUMNS="160",
               REGISTRATURA_LOG_LEVEL="WARNING")
    assert _cli(env, "seed", "--demo").returncode == 0
    added = _cli(env, "line", "add", "+7 (495) 123-00-03", "--clinic", "gp3", "--label", "№ 3")
    assert added.returncode == 0 and "4951230003" in added.stdout, added.stdout + added.stderr
    regional = _cli(env, "line", "add", "122")
    assert regional.returncode == 0 and "regional" in regional.stdout
    again = _cli(env, "line", "add", "84951230003")
    assert again.returncode == 1 and "duplicate" in again.stdout
    unknown = _cli(env, "line", "add", "4951230009", "--clinic", "nope")
    assert unknown.returncode == 1 and "not_found" in unknown.stdout
    bad = _cli(env, "line", "add", "ext. 5")
    assert bad.returncode == 1 and "invalid_input" in bad.stdout
    listed = _cli(env, "line", "list").stdout
    assert "4951230003" in listed and "gp3" in listed and "(regional)" in listed
    assert _cli(env, "line", "remove", "122").returncode == 0
    assert "(regional)" not in _cli(env, "line", "list").stdout
