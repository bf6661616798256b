"""The FHIR scheduling API driven by a real FHIR client (fhirpy): find, hold, book, cancel,
reschedule, on SQLite and PostgreSQL; every resource read back validates with fhir.resources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.slot import Slot
from fhirpy import SyncFHIRClient
from sqlmodel import select

from booking_core.commands import FindSlots
from booking_core.slots import find_free_slots
from models.tables import Appointment as AppointmentRow
from models.tables import AuditLog, Channel
from registratura.bootstrap import Container
from support.fhir_api import POLICY_SYSTEM, parameters, requested
from support.world import demo, patient_id, specialty_id

ADULT = demo("adult")


def identify(client: SyncFHIRClient) -> str:
    found = client.execute("Patient/_search", data=parameters(
        identifier=f"{POLICY_SYSTEM}|{ADULT.policy_number}",
        birthdate=ADULT.birth_date.isoformat()))
    bundle = Bundle.model_validate(found)
    assert bundle.total == 1
    Patient.model_validate(found["entry"][0]["resource"])
    return found["entry"][0]["resource"]["id"]  # type: ignore[no-any-return]


def test_metadata_is_a_valid_capability_statement(fhir_base: str) -> None:
    import httpx

    r = httpx.get(f"{fhir_base}/metadata")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate(r.json())
    types = {res.type for res in statement.rest[0].resource}
    assert {"Slot", "Appointment", "Patient", "Practitioner", "Schedule"} <= types


def test_portal_finds_holds_books_and_cancels(
        container: Container, fhir_client: Callable[..., SyncFHIRClient]) -> None:
    portal = fhir_client("portal")
    pid = identify(portal)
    assert pid == str(patient_id(container, "adult"))

    found = portal.execute("Appointment/$find", data=parameters(
        specialty="therapist", patient=f"Patient/{pid}", _count=3))
    Bundle.model_validate(found)  # the whole Bundle, entries included, is valid FHIR
    proposals = [Appointment.model_validate(e["resource"]) for e in found["entry"]]
    assert proposals and all(p.status == "proposed" for p in proposals)
    slot_ref = proposals[0].slot[0].reference

    held = portal.execute("Appointment/$hold", data=requested(slot_ref, f"Patient/{pid}"))
    held_appt = Appointment.model_validate(held)
    assert held_appt.status == "pending"
    assert any(x.url.endswith("hold-expires") for x in held_appt.extension)

    booked = portal.execute("Appointment/$book",
                            data=requested(slot_ref, f"Patient/{pid}", held["id"]))
    assert booked["id"] == held["id"] and booked["status"] == "booked"

    # The phone no longer offers that slot to anybody.
    phone_offers = find_free_slots(FindSlots(patient_id(container, "elderly"),
                                             specialty_id(container, "therapist"), Channel.IVR,
                                             limit=50), container.uow())
    slot_id = int(slot_ref.split("/")[1])
    assert slot_id not in {o.slot_id for o in phone_offers}
    slot = portal.reference("Slot", str(slot_id)).to_resource().serialize()
    assert Slot.model_validate(slot).status == "busy"

    # Cancel as the FHIR way: PUT the appointment with status "cancelled".
    appt = portal.reference("Appointment", booked["id"]).to_resource()
    Appointment.model_validate(appt.serialize())
    appt["status"] = "cancelled"
    appt.save()
    again = portal.reference("Appointment", booked["id"]).to_resource()
    assert again["status"] == "cancelled"
    assert portal.reference("Slot", str(slot_id)).to_resource()["status"] == "free"

    with container.uow().reading() as uow:
        actors = set(uow.session.exec(select(AuditLog.actor).where(
            AuditLog.entity_id == booked["id"])).all())
    assert actors == {"client:portal"}  # the audit names the client, for hold, book and cancel


def test_reschedule_moves_the_booking_in_one_step(
        container: Container, fhir_client: Callable[..., SyncFHIRClient]) -> None:
    portal = fhir_client("portal")
    pid = identify(portal)
    found = portal.execute("Appointment/$find", data=parameters(
        specialty="therapist", patient=f"Patient/{pid}", _count=2))
    first, second = (e["resource"]["slot"][0]["reference"] for e in found["entry"][:2])
    booked = portal.execute("Appointment/$book", data=requested(first, f"Patient/{pid}"))
    appt = portal.reference("Appointment", booked["id"]).to_resource()
    appt["slot"] = [{"reference": second}]
    appt.save()
    with container.uow().reading() as uow:
        live = uow.session.exec(select(AppointmentRow).where(
            AppointmentRow.patient_id == int(pid), AppointmentRow.status == "booked")).all()
    assert [f"Slot/{a.slot_id}" for a in live] == [second]


def test_slots_search_pages_with_bundle_links(
        container: Container, fhir_client: Callable[..., SyncFHIRClient]) -> None:
    portal = fhir_client("portal")
    tomorrow = (container.clock.today() + timedelta(days=1)).isoformat()
    bundle = portal.execute("Slot", method="get", params={
        "service-type": "therapist", "start": [f"ge{tomorrow}"], "_count": 5})
    Bundle.model_validate(bundle)
    assert len(bundle["entry"]) == 5
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert "_offset=5" in links["next"]
    starts = [e["resource"]["start"] for e in bundle["entry"]]
    assert starts == sorted(starts) and all(s.startswith(tomorrow) for s in starts[:1])
    # fhirpy follows the next link itself
    fetched = portal.resources("Slot").search(**{"service-type": "therapist"}).limit(5)
    assert len(fetched.fetch()) == 5


def test_directory_resources_validate(fhir_client: Callable[..., SyncFHIRClient]) -> None:
    from fhir.resources.R4B.healthcareservice import HealthcareService
    from fhir.resources.R4B.location import Location
    from fhir.resources.R4B.practitioner import Practitioner
    from fhir.resources.R4B.practitionerrole import PractitionerRole
    from fhir.resources.R4B.schedule import Schedule

    client = fhir_client("mis", channel="desk")
    for name, model in (("Practitioner", Practitioner), ("PractitionerRole", PractitionerRole),
                        ("HealthcareService", HealthcareService), ("Location", Location),
                        ("Schedule", Schedule)):
        found = client.resources(name).fetch_all()
        assert found, name
        for r in found:
            model.model_validate(r.serialize())
    roles = client.resources("PractitionerRole").search(specialty="therapist").fetch_all()
    assert len(roles) == 3


def test_mis_reads_appointments_changed_since(
        container: Container, fhir_client: Callable[..., SyncFHIRClient]) -> None:
    portal = fhir_client("portal")
    mis = fhir_client("mis", channel="desk")
    pid = identify(portal)
    since = (container.clock.now_utc() - timedelta(seconds=1)).isoformat() + "Z"
    found = portal.execute("Appointment/$find", data=parameters(
        specialty="dentist", patient=f"Patient/{pid}", _count=1))
    slot_ref = found["entry"][0]["resource"]["slot"][0]["reference"]
    booked = portal.execute("Appointment/$book", data=requested(slot_ref, f"Patient/{pid}"))
    changed = mis.execute("Appointment", method="get", params={"_lastUpdated": f"gt{since}"})
    ids = [e["resource"]["id"] for e in changed.get("entry", [])]
    assert booked["id"] in ids
    for e in changed["entry"]:
        Appointment.model_validate(e["resource"])
