"""``fhir``: the FHIR API's cost over the booking core it calls.

On the demo clinic plus 600 patients, a client process calls the API served by another process
(``bench.fhir_server``) over loopback HTTP with keep-alive, and the same use cases are called
directly in this process on the same database, alternating, so machine noise hits both alike:

* ``Slot`` search (free time of a specialty from a day, 10 per page) vs ``list_open_slots``;
* ``$find`` for an identified patient vs ``find_free_slots``;
* ``$book`` vs ``booking.book``: sequential bookings per second, each into a free slot by a
  patient with no booking of that specialty yet.

The ratio API/direct is the API's overhead: HTTP, token check, JSON and FHIR validation.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.common import (
    BENCH_NOW,
    DbHost,
    add_patients,
    clinic_ids,
    console,
    db_kinds,
    fmt,
    make_container,
    prepare_demo,
    print_table,
    progress_bar,
    save_json,
    summary_ms,
)
from booking_core import api_clients, booking
from booking_core.actors import Actor
from booking_core.commands import BookSlot, FindSlots
from booking_core.open_slots import ListOpenSlots, list_open_slots
from booking_core.slots import find_free_slots, generate_slots
from models.tables import Channel
from registratura.bootstrap import Container

DEFAULT_DB = "both"
SPECIALTIES = ("therapist", "dentist", "ophthalmologist", "surgeon", "gynecologist")
FHIR_JSON = {"Content-Type": "application/fhir+json"}
DIRECT_ACTOR = Actor("client", "bench-direct", Channel.INTERNET)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queries", type=int, default=0, help="searches per kind (default 400)")
    parser.add_argument("--books", type=int, default=0, help="bookings per side (default 150)")


def _params(**values: object) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [
        {"name": k.replace("_", "-") if not k.startswith("_") else k, "resource": v}
        if isinstance(v, dict) else {"name": k, "valueString": str(v)}
        for k, v in values.items()]}


def _start_server(url: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.fhir_server", "--db-url", url,
                             "--now", BENCH_NOW.isoformat()], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise RuntimeError("the FHIR server did not start")
    return proc, f"http://127.0.0.1:{line.split()[1]}/fhir/R4"


def _token(base: str, container: Container) -> str:
    _, secret = api_clients.register_client(api_clients.NewClient(
        "bench-portal", "bench", Channel.INTERNET,
        ("system/*.read", "system/Appointment.write", "system/Patient.search"),
        Actor.system("bench"), requests_per_minute=1_000_000), container.uow())
    r = httpx.post(f"{base}/auth/token", data={"grant_type": "client_credentials"},
                   auth=("bench-portal", secret))
    r.raise_for_status()
    return r.json()["access_token"]  # type: ignore[no-any-return]


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _searches(container: Container, api: httpx.Client, patients: list[Any], specs: dict[str, int],
              n: int) -> dict[str, dict[str, list[float]]]:
    rnd = random.Random(5)
    out: dict[str, dict[str, list[float]]] = {"Slot search": {"api": [], "direct": []},
                                              "$find": {"api": [], "direct": []}}
    with progress_bar("searches", n) as advance:
        for _ in range(n):
            code = rnd.choice(SPECIALTIES)
            day = BENCH_NOW.date().toordinal() + rnd.randrange(1, 12)
            start = f"ge{BENCH_NOW.date().fromordinal(day).isoformat()}"
            p = rnd.choice(patients)

            def slot_api(code: str = code, start: str = start) -> None:
                r = api.get("/Slot", params={"service-type": code, "start": start, "_count": 10})
                r.raise_for_status()

            def slot_direct(code: str = code, day: int = day) -> None:
                from datetime import datetime

                list_open_slots(ListOpenSlots(
                    Channel.INTERNET, specs[code], None,
                    datetime.fromordinal(day), None, limit=10), container.uow())

            def find_api(code: str = code, p: Any = p) -> None:
                r = api.post("/Appointment/$find", headers=FHIR_JSON, json=_params(
                    specialty=code, patient=f"Patient/{p.id}", _count=5))
                r.raise_for_status()

            def find_direct(code: str = code, p: Any = p) -> None:
                find_free_slots(FindSlots(p.id, specs[code], Channel.INTERNET, limit=5),
                                container.uow())

            out["Slot search"]["api"].append(_timed(slot_api))
            out["Slot search"]["direct"].append(_timed(slot_direct))
            out["$find"]["api"].append(_timed(find_api))
            out["$find"]["direct"].append(_timed(find_direct))
            advance()
    return out


def _books(container: Container, api: httpx.Client, patients: list[Any], specs: dict[str, int],
           n: int) -> dict[str, float]:
    """Alternate API and direct bookings; each patient books one specialty once."""
    api_s, direct_s, api_ok, direct_ok = 0.0, 0.0, 0, 0
    with progress_bar("bookings", 2 * n) as advance:
        for i in range(n):
            for side, p in (("api", patients[2 * i]), ("direct", patients[2 * i + 1])):
                code = SPECIALTIES[i % len(SPECIALTIES)]
                offers = find_free_slots(FindSlots(p.id, specs[code], Channel.INTERNET, limit=1),
                                         container.uow())
                if not offers:
                    continue
                slot_id = offers[0].slot_id
                if side == "api":
                    body = _params(appointment_resource={
                        "resourceType": "Appointment", "status": "proposed",
                        "slot": [{"reference": f"Slot/{slot_id}"}],
                        "participant": [{"actor": {"reference": f"Patient/{p.id}"},
                                         "status": "needs-action"}]})
                    t = _timed(lambda body=body: api.post(
                        "/Appointment/$book", headers=FHIR_JSON, json=body).raise_for_status())
                    api_s, api_ok = api_s + t, api_ok + 1
                else:
                    t = _timed(lambda p=p, slot_id=slot_id: booking.book(
                        BookSlot(p.id, slot_id, DIRECT_ACTOR), container.uow()))
                    direct_s, direct_ok = direct_s + t, direct_ok + 1
                advance()
    return {"api_per_s": api_ok / api_s if api_s else float("nan"),
            "direct_per_s": direct_ok / direct_s if direct_s else float("nan"),
            "api_books": api_ok, "direct_books": direct_ok}


def _run_backend(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    queries = args.queries or (80 if args.quick else 400)
    books = args.books or (40 if args.quick else 150)
    with DbHost(kind, args.pg_url) as host:
        url = host.create("bench_fhir")
        container = make_container(url)
        prepare_demo(container)
        generate_slots(container.uow())
        patients = add_patients(container, max(600, 2 * books), prefix="62")
        _, specs = clinic_ids(container)
        proc, base = _start_server(url)
        try:
            api = httpx.Client(base_url=base, timeout=30)
            api.headers["Authorization"] = f"Bearer {_token(base, container)}"
            searches = _searches(container, api, patients, specs, queries)
            bookings = _books(container, api, patients, specs, books)
        finally:
            if proc.stdin:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
            proc.wait(20)
        container.dispose()
    rows = []
    result: dict[str, Any] = {"queries": queries}
    for name, sides in searches.items():
        a, d = summary_ms(sides["api"]), summary_ms(sides["direct"])
        result[name] = {"api": a, "direct": d}
        rows.append([name, fmt(a["p50"], 2), fmt(a["p95"], 2), fmt(d["p50"], 2), fmt(d["p95"], 2),
                     fmt(a["p95"] / d["p95"], 2)])
    print_table(f"FHIR API vs the same use case called directly ({kind}), ms",
                ["operation", "API p50", "API p95", "direct p50", "direct p95", "p95 ratio"],
                rows)
    result["book"] = bookings
    print_table(f"$book vs booking.book ({kind}), sequential", [
        "side", "bookings", "per second"], [
        ["API $book", bookings["api_books"], fmt(bookings["api_per_s"], 1)],
        ["direct", bookings["direct_books"], fmt(bookings["direct_per_s"], 1)],
        ["ratio direct/API", "", fmt(bookings["direct_per_s"] / bookings["api_per_s"], 2)]])
    save_json("fhir", kind, result)
    return result


def run(args: argparse.Namespace) -> int:
    for kind in db_kinds(args.db):
        _run_backend(kind, args)
    console.print("[dim]API side: another process over loopback HTTP (keep-alive); direct: "
                  "the use case in this process; alternated call by call.[/dim]")
    return 0
