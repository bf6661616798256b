"""Slot generation in the 500-doctor clinic: the first window, the idempotent re-run, the
nightly one-day roll, and a schedule change of every doctor in one transaction (as a nightly
import from the clinic's MIS does), with the re-run after it.

The change gives every doctor even-date mornings and odd-date afternoons with a break, and a
Saturday in odd ISO weeks, through :func:`booking_core.schedules.replace_templates`: free slots
the new schedule doesn't produce are deleted and the window's new ones created.
"""

from __future__ import annotations

import argparse
from datetime import time as dtime
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select

from bench.common import (
    DbHost,
    Stopwatch,
    add_doctors,
    console,
    db_kinds,
    make_container,
    prepare_demo,
    print_table,
    save_json,
)
from bench.search import DISTRICTS, DOCTORS
from booking_core import schedules, slots
from booking_core.actors import Actor
from models.tables import Doctor
from registratura.bootstrap import Container

DEFAULT_DB = "both"
ACTOR = Actor.system("bench")


def even_odd_week(minutes: int) -> list[schedules.TemplateRow]:
    """Mornings on even dates, afternoons on odd ones (a break each), Saturdays in odd weeks."""
    rows = []
    for weekday in range(5):
        rows.append(schedules.TemplateRow(weekday, dtime(8, 0), dtime(14, 0), minutes,
                                          date_parity="even", break_start=dtime(11, 0),
                                          break_end=dtime(11, 30)))
        rows.append(schedules.TemplateRow(weekday, dtime(14, 0), dtime(20, 0), minutes,
                                          date_parity="odd", break_start=dtime(17, 0),
                                          break_end=dtime(17, 30)))
    rows.append(schedules.TemplateRow(5, dtime(9, 0), dtime(13, 0), minutes, week_parity="odd"))
    return rows


def _timed(what: str, fn: Any) -> tuple[Any, float]:
    with console.status(what), Stopwatch() as sw:
        result = fn()
    return result, sw.seconds


def _change_all(container: Container) -> dict[str, int]:
    totals = {"flagged": 0, "removed_free_slots": 0, "created_slots": 0}
    with container.uow() as uow:
        doctors = uow.session.exec(select(Doctor.id).where(col(Doctor.active))).all()
        for i, doctor_id in enumerate(doctors):
            change = schedules.replace_templates(uow, doctor_id,  # type: ignore[arg-type]
                                                 even_odd_week(15 if i % 4 else 20), ACTOR)
            for key in totals:
                totals[key] += getattr(change, key)
        uow.commit()
    return totals


def _run_one(container: Container, kind: str) -> dict[str, Any]:
    with console.status(f"building the 500-doctor clinic on {kind}"):
        prepare_demo(container)
        add_doctors(container, DOCTORS, districts=DISTRICTS)
    steps: list[list[Any]] = []
    first, s1 = _timed("generate_slots: the first window", lambda: slots.generate_slots(
        container.uow()))
    steps.append(["first 30-day window", first, s1])
    again, s2 = _timed("generate_slots again", lambda: slots.generate_slots(container.uow()))
    steps.append(["re-run (idempotent)", again, s2])
    container.clock.advance(days=1)  # type: ignore[attr-defined]
    rolled, s3 = _timed("the nightly roll", lambda: slots.generate_slots(container.uow()))
    steps.append(["nightly roll, one new day", rolled, s3])
    change, s4 = _timed("replace_templates for every doctor", lambda: _change_all(container))
    steps.append([f"every doctor's schedule changed (removed {change['removed_free_slots']}, "
                  f"flagged {change['flagged']})", change["created_slots"], s4])
    after, s5 = _timed("generate_slots after the change",
                       lambda: slots.generate_slots(container.uow()))
    steps.append(["re-run after the change", after, s5])
    with container.engine.connect() as conn:
        doctors = conn.execute(text("SELECT COUNT(*) FROM doctor")).scalar_one()
        total = conn.execute(text("SELECT COUNT(*) FROM slot")).scalar_one()
    print_table(f"slots — {kind}: {doctors} doctors, {total} slots after the change",
                ["step", "slots made", "seconds"],
                [[name, n, f"{sec:.1f}"] for name, n, sec in steps])
    return {"doctors": doctors, "slots_total": total, "change": change,
            "steps": [{"step": name, "slots": n, "seconds": round(sec, 2)}
                      for name, n, sec in steps]}


def run(args: argparse.Namespace) -> int:
    for kind in db_kinds(args.db):
        with DbHost(kind, args.pg_url) as host:
            container = make_container(host.create("bench_slots"))
            try:
                result = _run_one(container, kind)
            finally:
                container.dispose()
        save_json("slots", kind, {"quick": args.quick, **result})
    return 0
