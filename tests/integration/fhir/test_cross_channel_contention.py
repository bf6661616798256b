"""One free slot, three channels at once: callers over FastAGI, registrars through the console
API and the portal through the FHIR API all try to take it.  Exactly one appointment results,
on SQLite and PostgreSQL; every other attempt is refused cleanly (no error, no double booking)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import col, select

from booking_core import agents
from booking_core.actors import Actor
from ivr.transports.terminal import AsteriskCall, ScriptedCaller
from models.tables import Appointment, AppointmentStatus
from registratura.bootstrap import Container
from support.fakes import QuietEngine
from support.fhir_api import ApiClientCreds, get_token, requested
from support.world import add_patients, demo

PER_CHANNEL = 6
ADULT = demo("adult")


def test_phone_console_and_fhir_race_for_one_slot(
        container: Container, runtime_factory: Callable[..., object], fhir_base: str,
        register: Callable[..., ApiClientCreds]) -> None:
    from tests.integration.ivr.test_agi_end_to_end import _keep_only_slots

    callers = add_patients(container, PER_CHANNEL, prefix="55")
    desk = add_patients(container, PER_CHANNEL, prefix="56")
    portal_patients = add_patients(container, PER_CHANNEL, prefix="57")
    (slot_id,) = _keep_only_slots(container, 1)
    rt = runtime_factory(container, QuietEngine())
    host, port = rt.server.server_address  # type: ignore[attr-defined]
    console_base = fhir_base.removesuffix("/fhir/R4")
    agents.create_agent(agents.NewAgent("registrar9", "agent", "race-password-1",
                                        Actor.system("test")), container.uow())
    session = httpx.Client(base_url=console_base)
    csrf = session.post("/api/session", json={"username": "registrar9",
                                              "password": "race-password-1"}).json()["csrf_token"]
    token = get_token(fhir_base, register("portal"))
    start = threading.Barrier(3 * PER_CHANNEL)

    def phone(i: int) -> str:
        start.wait()
        script = [None, "1", callers[i][1], ADULT.birth_date.strftime("%d%m%Y"), "1", "1",
                  *["1"] * 6]
        # From the patient's own phone (add_patients' numbering): no SMS consent code.
        t = AsteriskCall(host, port, caller_number=f"+755{i:08d}",
                         sounds_dir=rt.cache.sounds_dir,  # type: ignore[attr-defined]
                         caller=ScriptedCaller(script)).run()
        return "booked" if any("Вы записаны" in s for s in t.said) else \
            t.variables.get("REG_REASON", "?")

    def console(i: int) -> str:
        start.wait()
        r = session.post("/api/appointments", headers={"X-CSRF-Token": csrf},
                         json={"patient_id": desk[i][0], "slot_id": slot_id})
        return "booked" if r.status_code == 201 else r.json()["error"]["id"]

    def fhir(i: int) -> str:
        start.wait()
        r = httpx.post(f"{fhir_base}/Appointment/$book",
                       headers={"Authorization": f"Bearer {token}",
                                "Content-Type": "application/fhir+json"},
                       json=requested(f"Slot/{slot_id}", f"Patient/{portal_patients[i][0]}"))
        return "booked" if r.status_code == 201 else \
            r.json()["issue"][0]["details"]["coding"][0]["code"]

    with ThreadPoolExecutor(3 * PER_CHANNEL) as pool:
        futures = [pool.submit(f, i) for f in (phone, console, fhir) for i in range(PER_CHANNEL)]
        outcomes = [f.result(timeout=120) for f in futures]
    with container.uow().reading() as uow:
        live = uow.session.exec(select(Appointment).where(
            Appointment.slot_id == slot_id,
            col(Appointment.status) != AppointmentStatus.CANCELLED)).all()
    assert len(live) == 1, outcomes
    assert outcomes.count("booked") == 1, outcomes
    # Phone losers were told the time was gone and queued; the APIs answered slot_taken.
    assert set(outcomes) <= {"booked", "slot_taken", "no_slots"}, outcomes
