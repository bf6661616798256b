"""Slot: free time of a specialty or a doctor, as the calling client's channel may book it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from agent_console.fhir.auth import SlotReader
from agent_console.fhir.bundles import date_range, page, reference_id, resource_response, searchset
from agent_console.fhir.deps import clinic_tz, container_of
from agent_console.fhir.outcome import FhirError
from agent_console.fhir.resources import slot
from booking_core import directory, schedule
from booking_core.open_slots import ListOpenSlots, get_slot, list_open_slots

router = APIRouter()


@router.get("/Slot", summary="Free slots by specialty or doctor and time range")
def search_slots(request: Request, client: SlotReader,
                 service_type: Annotated[str | None, Query(alias="service-type",
                                                           max_length=80)] = None,
                 specialty: Annotated[str | None, Query(max_length=80)] = None,
                 schedule_ref: Annotated[str | None, Query(alias="schedule", max_length=40)]
                 = None,
                 start: Annotated[list[str] | None, Query(max_length=40)] = None,
                 status: Annotated[str, Query(max_length=10)] = "free",
                 count: Annotated[int | None, Query(alias="_count")] = None,
                 offset: Annotated[int | None, Query(alias="_offset")] = None) -> Response:
    if status != "free":
        raise FhirError(400, "invalid_request", "only status=free slots can be searched")
    count, offset = page(count, offset)
    uow = container_of(request).uow()
    code = (service_type or specialty or "").rsplit("|", 1)[-1] or None
    spec = directory.specialty_by_code(code, uow) if code else None
    tz = clinic_tz(request)
    lo, hi = date_range(start or [], tz)
    found = list_open_slots(ListOpenSlots(
        channel=client.channel, specialty_id=spec.id if spec else None,
        doctor_id=reference_id(schedule_ref, "Schedule"), start=lo, end=hi, limit=count,
        offset=offset), uow)
    specs = {spec.id: spec} if spec else {s.id: s for s in schedule.specialties(uow)}
    return searchset(request, [slot(o, specs[o.doctor.specialty_id], True, tz)
                               for o in found.offers],
                     offset=offset, count=count, has_more=found.has_more)


@router.get("/Slot/{slot_id}", summary="One slot, free or busy")
def read_slot(slot_id: int, request: Request, client: SlotReader) -> Response:
    uow = container_of(request).uow()
    offer, free = get_slot(slot_id, uow)
    spec = next(s for s in schedule.specialties(uow) if s.id == offer.doctor.specialty_id)
    return resource_response(slot(offer, spec, free, clinic_tz(request)))
