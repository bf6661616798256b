"""``contention``: 200 simultaneous attempts to book one slot, and ten slots, via booking_core.

Each attempt runs in its own thread with its own database connection (the PostgreSQL pool is
sized to the thread count and warmed up first; SQLite opens a connection per unit of work), all
released at once by a barrier.  Reported: successes (must equal the number of slots), failures
by error code (all must be ``slot_taken``), live appointments per slot (must be 1), attempt
latency and throughput (attempts per second from the barrier to the last answer).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import text

from bench.common import (
    BenchPatient,
    DbHost,
    add_patients,
    db_kinds,
    double_bookings,
    fmt,
    make_container,
    prepare_demo,
    print_table,
    progress_bar,
    save_json,
    summary_ms,
    verdict,
)
from booking_core import booking, slots
from booking_core.actors import Actor
from booking_core.commands import BookSlot, FindSlots
from booking_core.errors import DomainError
from models.tables import Channel
from registratura.bootstrap import Container

DEFAULT_DB = "both"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=200, help="simultaneous attempts")
    parser.add_argument("--rounds", type=int, default=0,
                        help="rounds per scenario (default 5, --quick 1)")


def _free_slots(container: Container, patient: BenchPatient, specialty_id: int,
                count: int) -> list[int]:
    offers = slots.find_free_slots(FindSlots(patient.id, specialty_id, Channel.IVR, limit=count),
                                   container.uow())
    assert len(offers) == count, "not enough free slots for the scenario"
    return [o.slot_id for o in offers]


def _warm_pool(container: Container, threads: int) -> None:
    """Open one connection per thread before measuring (PostgreSQL pool)."""
    barrier = threading.Barrier(threads)

    def touch(_: int) -> None:
        with container.engine.connect() as conn:
            barrier.wait()
            conn.execute(text("SELECT 1"))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(touch, range(threads)))


def _round(container: Container, patients: list[BenchPatient], slot_ids: list[int]) -> dict:
    """One burst: patient i books slot i mod len(slot_ids)."""
    n = len(patients)
    barrier = threading.Barrier(n + 1)
    latencies: list[float] = [0.0] * n
    outcomes: list[str] = [""] * n
    done_at: list[float] = [0.0] * n

    def attempt(i: int) -> None:
        p = patients[i]
        actor = Actor.patient(p.id, Channel.IVR, p.phone)
        barrier.wait()
        t0 = time.perf_counter()
        try:
            booking.book(BookSlot(p.id, slot_ids[i % len(slot_ids)], actor), container.uow())
            outcomes[i] = "ok"
        except DomainError as exc:
            outcomes[i] = exc.code
        except Exception as exc:  # noqa: BLE001 - counted and reported as a wrong failure
            outcomes[i] = f"error:{type(exc).__name__}"
        done_at[i] = time.perf_counter()
        latencies[i] = done_at[i] - t0

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(attempt, i) for i in range(n)]
        time.sleep(0.05)  # let every thread reach the barrier
        barrier.wait()
        started = time.perf_counter()
        for f in futures:
            f.result()
    elapsed = max(done_at) - started
    live = {}
    with container.engine.connect() as conn:
        for slot_id in slot_ids:
            live[slot_id] = conn.execute(text(
                "SELECT COUNT(*) FROM appointment WHERE slot_id = :s AND status <> 'cancelled'"),
                {"s": slot_id}).scalar_one()
    return {"outcomes": dict(Counter(outcomes)), "latencies": latencies, "elapsed_s": elapsed,
            "live_per_slot": list(live.values())}


def _run_backend(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    threads = args.threads
    rounds = args.rounds or (1 if args.quick else 5)
    scenarios = [("one slot", 1), ("ten slots", 10)]
    with DbHost(kind, args.pg_url) as host:
        url = host.create("bench_contention")
        container = make_container(url, db_pool_size=threads)
        prepare_demo(container)
        from booking_core.slots import generate_slots

        generate_slots(container.uow())
        patients = add_patients(container, threads * rounds * len(scenarios), prefix="61")
        therapist = _specialty(container, "therapist")
        if kind == "postgres":
            _warm_pool(container, threads)
        results: dict[str, Any] = {}
        total = rounds * len(scenarios)
        with progress_bar(f"contention on {kind}", total) as advance:
            offset = 0
            for label, slot_count in scenarios:
                runs = []
                for _ in range(rounds):
                    group = patients[offset:offset + threads]
                    offset += threads
                    slot_ids = _free_slots(container, group[0], therapist, slot_count)
                    runs.append(_round(container, group, slot_ids))
                    advance()
                results[label] = _aggregate(runs, threads, slot_count)
        results["double_bookings"] = double_bookings(container)
        container.dispose()
    return results


def _specialty(container: Container, code: str) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM specialty WHERE code = :c"),
                                {"c": code}).scalar_one())


def _aggregate(runs: list[dict], threads: int, slot_count: int) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    for run in runs:
        outcomes.update(run["outcomes"])
        latencies += run["latencies"]
    throughputs = [threads / run["elapsed_s"] for run in runs]
    correct = all(run["outcomes"].get("ok", 0) == slot_count
                  and run["outcomes"].get("slot_taken", 0) == threads - slot_count
                  and all(n == 1 for n in run["live_per_slot"]) for run in runs)
    return {
        "rounds": len(runs), "threads": threads, "slots": slot_count,
        "outcomes": dict(outcomes), "correct": correct,
        "successes_per_round": [run["outcomes"].get("ok", 0) for run in runs],
        "wrong_failures": sum(v for k, v in outcomes.items() if k not in ("ok", "slot_taken")),
        "throughput_attempts_per_s": round(statistics.median(throughputs), 1),
        "burst_seconds": [round(run["elapsed_s"], 3) for run in runs],
        "latency_ms": summary_ms(latencies),
    }


def run(args: argparse.Namespace) -> int:
    failed = False
    for kind in db_kinds(args.db):
        res = _run_backend(kind, args)
        rows = []
        for label in ("one slot", "ten slots"):
            r = res[label]
            lat = r["latency_ms"]
            rows.append([label, r["rounds"], r["threads"],
                         "/".join(str(s) for s in r["successes_per_round"]),
                         r["outcomes"].get("slot_taken", 0), r["wrong_failures"],
                         r["throughput_attempts_per_s"], fmt(lat["p50"]), fmt(lat["p99"]),
                         verdict(r["correct"])])
            failed |= not r["correct"]
        failed |= res["double_bookings"] != 0
        print_table(f"contention — {kind} (double bookings in DB: {res['double_bookings']})",
                    ["scenario", "rounds", "attempts/round", "successes/round", "slot_taken",
                     "other failures", "attempts/s", "p50 ms", "p99 ms", "exactly-one"], rows)
        save_json("contention", kind, {"quick": args.quick, "results": res,
                                       "target": "200 concurrent attempts on one slot -> "
                                                 "exactly one success, on both DBs"})
    return 1 if failed else 0
