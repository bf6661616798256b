"""Book and cancel a demo patient's appointment through Registratura's FHIR API, with fhirpy.

    pip install fhirpy httpx
    registratura api-client add portal --channel internet      # prints the client secret
    FHIR_CLIENT_SECRET=... python examples/fhir/book_and_cancel.py

The patient's policy and date of birth are read from the environment (``FHIR_PATIENT_POLICY``,
``FHIR_PATIENT_BIRTHDATE``; by default the demo clinic's Петрова Анна Ивановна), never from the
command line, and travel only in request bodies.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import httpx
from fhirpy import SyncFHIRClient

POLICY_SYSTEM = "http://fhir.ru/ig/RuSEMD/systems/OMS"
DEMO_POLICY, DEMO_BIRTHDATE = "5000000000003458", "1948-11-12"


@dataclass
class Booking:
    appointment_id: str
    slot_reference: str
    talon: str
    start: str


def connect(base: str, client_id: str, secret: str) -> SyncFHIRClient:
    """A token by the client-credentials grant, then an authorised fhirpy client."""
    r = httpx.post(f"{base}/auth/token", data={"grant_type": "client_credentials"},
                   auth=(client_id, secret), timeout=10)
    r.raise_for_status()
    return SyncFHIRClient(base, authorization=f"Bearer {r.json()['access_token']}")


def _params(**values: object) -> dict:  # type: ignore[type-arg]
    return {"resourceType": "Parameters", "parameter": [
        {"name": k.replace("_", "-") if not k.startswith("_") else k, "resource": v}
        if isinstance(v, dict) else {"name": k, "valueString": str(v)}
        for k, v in values.items()]}


def find_patient(client: SyncFHIRClient, policy: str, birthdate: str) -> str:
    found = client.execute("Patient/_search", data=_params(
        identifier=f"{POLICY_SYSTEM}|{policy}", birthdate=birthdate))
    if not found.get("total"):
        sys.exit("no patient with this policy and date of birth")
    return found["entry"][0]["resource"]["id"]  # type: ignore[no-any-return]


def book(client: SyncFHIRClient, patient_id: str, specialty: str) -> Booking:
    """The nearest free time of a specialty: $find, $hold it, then $book the hold."""
    found = client.execute("Appointment/$find", data=_params(
        specialty=specialty, patient=f"Patient/{patient_id}", _count=1))
    if not found.get("entry"):
        sys.exit(f"no free time for {specialty}")
    proposal = found["entry"][0]["resource"]
    wanted = {"resourceType": "Appointment", "status": "proposed", "slot": proposal["slot"],
              "participant": [{"actor": {"reference": f"Patient/{patient_id}"},
                               "status": "needs-action"}]}
    held = client.execute("Appointment/$hold", data=_params(appointment_resource=wanted))
    booked = client.execute("Appointment/$book",
                            data=_params(appointment_resource={**wanted, "id": held["id"]}))
    return Booking(booked["id"], proposal["slot"][0]["reference"],
                   booked["identifier"][0]["value"], booked["start"])


def cancel(client: SyncFHIRClient, appointment_id: str) -> str:
    """Cancel the FHIR way: update the appointment's status."""
    appointment = client.reference("Appointment", appointment_id).to_resource()
    appointment["status"] = "cancelled"
    appointment.save()
    return str(client.reference("Appointment", appointment_id).to_resource()["status"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000/fhir/R4")
    parser.add_argument("--client-id", default="portal")
    parser.add_argument("--specialty", default="dentist")
    args = parser.parse_args()
    secret = os.environ.get("FHIR_CLIENT_SECRET") or sys.exit("set FHIR_CLIENT_SECRET")
    client = connect(args.base, args.client_id, secret)
    patient_id = find_patient(client, os.environ.get("FHIR_PATIENT_POLICY", DEMO_POLICY),
                              os.environ.get("FHIR_PATIENT_BIRTHDATE", DEMO_BIRTHDATE))
    booking = book(client, patient_id, args.specialty)
    print(f"booked Appointment/{booking.appointment_id} at {booking.start}, "
          f"{booking.slot_reference}, talon {booking.talon}")
    slot = client.reference(*booking.slot_reference.split("/")).to_resource()
    print(f"{booking.slot_reference} is now {slot['status']}")
    print(f"Appointment/{booking.appointment_id} is now {cancel(client, booking.appointment_id)}")


if __name__ == "__main__":
    main()
