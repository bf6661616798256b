"""The README's FHIR example, as written: examples/fhir/book_and_cancel.py books a demo patient's
appointment, the phone then sees that slot taken, and the script cancels it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from booking_core.commands import FindSlots
from booking_core.slots import find_free_slots
from models.tables import Channel
from registratura.bootstrap import Container
from support.fhir_api import ApiClientCreds
from support.world import patient_id, specialty_id

SCRIPT = Path(__file__).parents[3] / "examples" / "fhir" / "book_and_cancel.py"


def _load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("book_and_cancel", SCRIPT)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # its dataclass looks itself up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _phone_offers(container: Container) -> set[int]:
    offers = find_free_slots(FindSlots(patient_id(container, "adult"),
                                       specialty_id(container, "dentist"), Channel.IVR,
                                       limit=200), container.uow())
    return {o.slot_id for o in offers}


def test_script_books_the_phone_sees_it_taken_then_it_cancels(
        container: Container, fhir_base: str, register: Callable[..., ApiClientCreds]) -> None:
    script = _load_script()
    creds = register("portal")
    client = script.connect(fhir_base, creds.client_id, creds.secret)
    patient = script.find_patient(client, script.DEMO_POLICY, script.DEMO_BIRTHDATE)
    booking = script.book(client, patient, "dentist")
    slot_id = int(booking.slot_reference.split("/")[1])
    assert slot_id not in _phone_offers(container)  # the phone sees the slot taken
    assert script.cancel(client, booking.appointment_id) == "cancelled"
    assert slot_id in _phone_offers(container)  # and free again after the cancellation


def test_script_runs_as_a_command(fhir_base: str,
                                  register: Callable[..., ApiClientCreds]) -> None:
    creds = register("portal")
    env = {**os.environ, "FHIR_CLIENT_SECRET": creds.secret}
    out = subprocess.run([sys.executable, str(SCRIPT), "--base", fhir_base, "--client-id",
                          creds.client_id], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("booked Appointment/") and "talon" in lines[0]
    assert lines[1].endswith("is now busy")
    assert lines[2].endswith("is now cancelled")
