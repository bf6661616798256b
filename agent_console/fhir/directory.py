"""Practitioner, PractitionerRole, HealthcareService, Location and Schedule: who can be booked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from agent_console.fhir.auth import DirectoryReader, ScheduleReader
from agent_console.fhir.bundles import reference_id, resource_response, searchset
from agent_console.fhir.deps import clinic_tz, container_of
from agent_console.fhir.outcome import FhirError
from agent_console.fhir.resources import (
    cabinet_location,
    clinic_location,
    healthcare_service,
    practitioner,
    practitioner_role,
    schedule,
)
from booking_core import directory
from booking_core import schedule as schedule_reads
from booking_core.directory import DoctorQuery
from booking_core.rules import booking_window
from models.tables import Channel

router = APIRouter()


def _doctors(request: Request, specialty: str | None = None, doctor_id: int | None = None,
             name: str | None = None) -> list[directory.DoctorEntry]:
    code = specialty.rsplit("|", 1)[-1] if specialty else None
    return directory.find_doctors(DoctorQuery(specialty_code=code, doctor_id=doctor_id,
                                              name=name), container_of(request).uow())


@router.get("/Practitioner", summary="Doctors (search by name or specialty)")
def search_practitioners(request: Request, client: DirectoryReader,
                         name: Annotated[str | None, Query(max_length=80)] = None,
                         specialty: Annotated[str | None, Query(max_length=80)] = None,
                         ) -> Response:
    return searchset(request, [practitioner(d) for d in _doctors(request, specialty, None,
                                                                 name)])


@router.get("/Practitioner/{doctor_id}", summary="One doctor")
def read_practitioner(doctor_id: int, request: Request, client: DirectoryReader) -> Response:
    return resource_response(practitioner(directory.get_doctor(doctor_id,
                                                               container_of(request).uow())))


@router.get("/PractitionerRole", summary="Doctors in their specialty and cabinet")
def search_roles(request: Request, client: DirectoryReader,
                 specialty: Annotated[str | None, Query(max_length=80)] = None,
                 practitioner_ref: Annotated[str | None, Query(alias="practitioner",
                                                               max_length=40)] = None,
                 ) -> Response:
    doctor_id = reference_id(practitioner_ref, "Practitioner")
    return searchset(request, [practitioner_role(d)
                               for d in _doctors(request, specialty, doctor_id)])


@router.get("/PractitionerRole/{doctor_id}", summary="One doctor's role")
def read_role(doctor_id: int, request: Request, client: DirectoryReader) -> Response:
    return resource_response(practitioner_role(directory.get_doctor(
        doctor_id, container_of(request).uow())))


@router.get("/HealthcareService", summary="Specialties and how they are booked")
def search_services(request: Request, client: DirectoryReader) -> Response:
    return searchset(request, [healthcare_service(s)
                               for s in schedule_reads.specialties(container_of(request).uow())])


@router.get("/HealthcareService/{specialty_id}", summary="One specialty")
def read_service(specialty_id: int, request: Request, client: DirectoryReader) -> Response:
    for s in schedule_reads.specialties(container_of(request).uow()):
        if s.id == specialty_id:
            return resource_response(healthcare_service(s))
    raise FhirError(404, "not_found", "specialty not found")


def _locations(request: Request) -> list:  # type: ignore[type-arg]
    uow = container_of(request).uow()
    found: list = [clinic_location(c) for c in directory.clinics(uow)]  # type: ignore[type-arg]
    cabinets = sorted({(d.clinic_id, d.cabinet) for d in _doctors(request) if d.cabinet})
    return found + [cabinet_location(clinic_id, cabinet) for clinic_id, cabinet in cabinets]


@router.get("/Location", summary="Clinics and their cabinets")
def search_locations(request: Request, client: DirectoryReader) -> Response:
    return searchset(request, _locations(request))


@router.get("/Location/{location_id}", summary="A clinic or a cabinet")
def read_location(location_id: str, request: Request, client: DirectoryReader) -> Response:
    for loc in _locations(request):
        if loc.id == location_id:
            return resource_response(loc)
    raise FhirError(404, "not_found", "location not found")


@router.get("/Schedule", summary="Doctors' schedules (one per doctor)")
def search_schedules(request: Request, client: ScheduleReader,
                     actor: Annotated[str | None, Query(max_length=40)] = None,
                     service_type: Annotated[str | None, Query(alias="service-type",
                                                               max_length=80)] = None,
                     ) -> Response:
    doctor_id = reference_id(actor, "Practitioner")
    horizon = _horizon(request, client.channel)
    return searchset(request, [schedule(d, horizon, clinic_tz(request))
                               for d in _doctors(request, service_type, doctor_id)])


@router.get("/Schedule/{doctor_id}", summary="One doctor's schedule")
def read_schedule(doctor_id: int, request: Request, client: ScheduleReader) -> Response:
    d = directory.get_doctor(doctor_id, container_of(request).uow())
    return resource_response(schedule(d, _horizon(request, client.channel), clinic_tz(request)))


def _horizon(request: Request, channel: str):  # type: ignore[no-untyped-def]
    c = container_of(request)
    return booking_window(channel or Channel.INTERNET, c.clock.now_local(), c.rules)

