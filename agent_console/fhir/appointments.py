"""Appointment: search and read, ``$find`` / ``$hold`` / ``$book``, cancel and reschedule.

The operations follow IHE ITI Scheduling (Find Potential Appointments, Hold, Book): inputs are a
``Parameters`` resource, the appointment to hold or book is the ``appointment-resource``
parameter.  Cancel is a PUT of the appointment with ``status: cancelled``; reschedule is a PUT
naming another slot.  A retried ``$hold``/``$book`` with the same ``Idempotency-Key`` header
returns the appointment the first request made.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import Response
from fhir.resources.R4B.appointment import Appointment
from pydantic import ValidationError

from agent_console.fhir.auth import AppointmentReader, AppointmentWriter, client_actor
from agent_console.fhir.bundles import date_range, page, reference_id, resource_response, searchset
from agent_console.fhir.deps import clinic_tz, container_of
from agent_console.fhir.outcome import FhirError
from agent_console.fhir.parameters import parameter_values
from agent_console.fhir.resources import appointment, proposed_appointment
from booking_core import booking, directory, exchange, schedule
from booking_core.commands import BookSlot, Cancel, FindSlots, Reschedule
from booking_core.exchange import AppointmentQuery
from booking_core.open_slots import ListOpenSlots, list_open_slots
from booking_core.slots import find_free_slots
from booking_core.views import SlotOffer

router = APIRouter()

IdempotencyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]
FHIR_STATUS_IN = {"pending": "pending", "booked": "booked", "cancelled": "cancelled",
                  "fulfilled": "completed", "noshow": "no_show", "arrived": "walk_in"}


def _record_response(request: Request, record_id: int, status_code: int = 200) -> Response:
    record = exchange.get_record(record_id, container_of(request).uow())
    return resource_response(appointment(record, clinic_tz(request)), status_code,
                             headers={"Cache-Control": "no-store"})


@router.get("/Appointment", summary="A patient's appointments, or all changed since a time")
def search_appointments(
        request: Request, client: AppointmentReader,
        patient: Annotated[str | None, Query(max_length=40)] = None,
        last_updated: Annotated[list[str] | None, Query(alias="_lastUpdated",
                                                        max_length=40)] = None,
        status: Annotated[str | None, Query(max_length=12)] = None,
        count: Annotated[int | None, Query(alias="_count")] = None,
        offset: Annotated[int | None, Query(alias="_offset")] = None) -> Response:
    count, offset = page(count, offset)
    since = _since(last_updated)
    if status is not None and status not in FHIR_STATUS_IN:
        raise FhirError(400, "invalid_request", "unknown appointment status")
    records, more = exchange.find_appointments(AppointmentQuery(
        patient_id=reference_id(patient, "Patient"), updated_after=since,
        status=FHIR_STATUS_IN.get(status or ""), limit=count, offset=offset),
        container_of(request).uow())
    tz = clinic_tz(request)
    response = searchset(request, [appointment(r, tz) for r in records], offset=offset,
                         count=count, has_more=more)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/Appointment/{appointment_id}", summary="One appointment")
def read_appointment(appointment_id: int, request: Request,
                     client: AppointmentReader) -> Response:
    return _record_response(request, appointment_id)


@router.post("/Appointment/$find", summary="Find potential appointments (IHE ITI-115)")
def find(request: Request, client: AppointmentReader,
         body: Annotated[dict[str, Any], Body(media_type="application/fhir+json")]) -> Response:
    p = parameter_values(body)
    uow = container_of(request).uow()
    tz = clinic_tz(request)
    lo, _ = date_range([f"ge{p['start']}"], tz) if "start" in p else (None, None)
    hi = date_range([f"lt{p['end']}"], tz)[1] if "end" in p else None
    doctor_id = reference_id(p.get("practitioner"), "Practitioner")
    patient_id = reference_id(p.get("patient"), "Patient")
    count, _ = page(int(p["_count"]) if "_count" in p else 10, 0)
    code = p.get("specialty") or p.get("service-type")
    specs = {s.id: s for s in schedule.specialties(uow)}
    spec_id = directory.specialty_by_code(code, uow).id if code else (
        directory.get_doctor(doctor_id, uow).specialty.id if doctor_id else None)
    if patient_id is not None and spec_id is not None:
        offers = _patient_offers(patient_id, spec_id, doctor_id, client.channel, lo, hi, count,
                                   request)
    else:
        offers = list_open_slots(ListOpenSlots(client.channel, spec_id, doctor_id, lo, hi,
                                               limit=count), uow).offers
    return searchset(request, [proposed_appointment(o, specs[o.doctor.specialty_id], patient_id,
                                                    tz) for o in offers])


def _patient_offers(patient_id: int, specialty_id: int, doctor_id: int | None, channel: str,
                    start: datetime | None, end: datetime | None, count: int,
                    request: Request) -> list[SlotOffer]:
    """The patient's own search: their eligibility, district doctor first (rules 4-6, 9, 11)."""
    offers = find_free_slots(FindSlots(
        patient_id=patient_id, specialty_id=specialty_id, channel=channel, doctor_id=doctor_id,
        after=start - timedelta(seconds=1) if start else None, limit=count),
        container_of(request).uow())
    return [o for o in offers if end is None or o.starts_at < end]


@router.post("/Appointment/$hold", summary="Hold a slot for a patient (IHE ITI-116)")
def hold(request: Request, client: AppointmentWriter,
         body: Annotated[dict[str, Any], Body(media_type="application/fhir+json")],
         idempotency_key: IdempotencyHeader = None) -> Response:
    slot_id, patient_id, _ = _requested(body)
    view = booking.book(BookSlot(patient_id, slot_id, client_actor(request, client), hold=True,
                                 idempotency_key=_key("hold", idempotency_key)),
                        container_of(request).uow())
    return _record_response(request, view.id, 201)


@router.post("/Appointment/$book", summary="Book a slot, or confirm a hold (IHE ITI-117)")
def book(request: Request, client: AppointmentWriter,
         body: Annotated[dict[str, Any], Body(media_type="application/fhir+json")],
         idempotency_key: IdempotencyHeader = None) -> Response:
    slot_id, patient_id, held_id = _requested(body)
    uow = container_of(request).uow()
    actor = client_actor(request, client)
    if held_id is not None:
        held = booking.get_appointment(held_id, uow)
        if held.patient_id != patient_id or held.slot_id != slot_id:
            raise FhirError(422, "invalid_input", "the held appointment is for another patient "
                            "or slot")
        view = booking.confirm(held_id, actor, uow)
        return _record_response(request, view.id)
    view = booking.book(BookSlot(patient_id, slot_id, actor,
                                 idempotency_key=_key("book", idempotency_key)), uow)
    return _record_response(request, view.id, 201)


@router.put("/Appointment/{appointment_id}", summary="Cancel (status) or reschedule (slot)")
def update(appointment_id: int, request: Request, client: AppointmentWriter,
           body: Annotated[dict[str, Any], Body(media_type="application/fhir+json")]) -> Response:
    wanted = _appointment(body)
    if wanted.id is not None and wanted.id != str(appointment_id):
        raise FhirError(400, "invalid_request", "the resource id differs from the URL's")
    uow = container_of(request).uow()
    actor = client_actor(request, client)
    current = booking.get_appointment(appointment_id, uow)
    slot_ids = [reference_id(s.reference, "Slot") for s in wanted.slot or []]
    if wanted.status == "cancelled":
        if current.status != "cancelled":
            booking.cancel(Cancel(appointment_id, actor), uow)
        return _record_response(request, appointment_id)
    if slot_ids and slot_ids[0] != current.slot_id:
        moved = booking.reschedule(Reschedule(appointment_id, slot_ids[0], actor,  # type: ignore[arg-type]
                                              patient_id=current.patient_id), uow)
        return _record_response(request, moved.id)
    if FHIR_STATUS_IN.get(wanted.status) == current.status:
        return _record_response(request, appointment_id)  # nothing to change: idempotent PUT
    raise FhirError(422, "invalid_input", "only cancelling (status=cancelled) or moving to "
                    "another slot can be changed here")


def _since(values: list[str] | None) -> datetime | None:
    """``_lastUpdated=gt<instant>`` (or ``ge``) as naive UTC, exclusive."""
    if not values:
        return None
    if len(values) != 1 or values[0][:2] not in ("gt", "ge"):
        raise FhirError(400, "invalid_request", "_lastUpdated takes one gt or ge value")
    lo, _ = date_range(values, UTC)  # type: ignore[arg-type]
    assert lo is not None
    return lo - timedelta(microseconds=1) if values[0].startswith("ge") else lo


def _key(operation: str, header: str | None) -> str | None:
    return f"{operation}:{header.strip()}" if header and header.strip() else None


def _appointment(body: dict[str, Any]) -> Appointment:
    try:
        return Appointment.model_validate(body)
    except ValidationError as exc:
        raise FhirError(400, "invalid_request", f"not a valid Appointment: "
                        f"{exc.error_count()} problem(s)") from None


def _requested(body: dict[str, Any]) -> tuple[int, int, int | None]:
    """Slot, patient and (for a held one) appointment id of the ``appointment-resource``."""
    resource = parameter_values(body).get("appointment-resource")
    if resource is None:
        raise FhirError(400, "invalid_request", "the appointment-resource parameter is missing")
    appt = _appointment(resource.model_dump(mode="json", exclude_none=True))
    slots = [reference_id(s.reference, "Slot") for s in appt.slot or []]
    patients = [reference_id(p.actor.reference, "Patient") for p in appt.participant or []
                if p.actor is not None and (p.actor.reference or "").startswith("Patient/")]
    if len(slots) != 1 or len(patients) != 1:
        raise FhirError(400, "invalid_request", "name exactly one slot and one patient")
    held = int(appt.id) if appt.id and appt.id.isdigit() else None
    return slots[0], patients[0], held  # type: ignore[return-value]
