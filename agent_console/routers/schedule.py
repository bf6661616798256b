"""The schedule grid (free slots per day and doctor) and the clinic directory."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from agent_console.deps import ContainerDep, Registrar, Scope, clinic_filter_context, current_call
from agent_console.schemas import ERRORS, DoctorOut, ScheduleOut, SpecialtyOut
from agent_console.security import csrf_protect
from agent_console.templating import render
from booking_core import booking, patients, schedule
from booking_core.schedule import MAX_GRID_DAYS, GridQuery

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api", tags=["schedule"], dependencies=[Depends(csrf_protect)],
                responses=ERRORS)

DEFAULT_DAYS = 7
# The grid form's selects send "" for «all doctors of the specialty» and «—».
OptionalId = Annotated[str, Query(max_length=12, pattern=r"^\d*$")]


def _id(value: str) -> int | None:
    return int(value) if value else None


def _grid_clinic(scope: Scope, patient: int | None, doctor: int | None) -> int | None:
    """The grid's clinic: a regional user's filter narrows a specialty's grid; a named patient
    or doctor is checked against the user's own clinic only (the filter does not forbid)."""
    return scope.own if patient is not None or doctor is not None else scope.clinic_id


@router.get("/schedule")
def schedule_page(
    request: Request, container: ContainerDep, agent: Registrar, scope: Scope,
    specialty: OptionalId = "", doctor: OptionalId = "", start: date | None = None,
    days: Annotated[int, Query(ge=1, le=MAX_GRID_DAYS)] = DEFAULT_DAYS,
    patient: int | None = None, reschedule: int | None = None,
) -> Response:
    return _schedule_page(request, container, scope, _id(specialty), _id(doctor), start, days,
                          patient, reschedule)


def _schedule_page(request: Request, container: ContainerDep, scope: Scope,
                   specialty: int | None, doctor: int | None, start: date | None, days: int,
                   patient: int | None, reschedule: int | None) -> Response:
    uow = container.uow
    moving = booking.get_appointment(reschedule, uow(), scope.access) if reschedule else None
    if moving is not None:
        patient = moving.patient_id
        if specialty is None and doctor is None:
            specialty = moving.specialty.id
    person = patients.patient_view(patient, uow(), scope.access) if patient else None
    start = start or container.clock.today()
    grid = None
    if specialty is not None or doctor is not None:
        grid = schedule.schedule_grid(
            GridQuery(start, start + timedelta(days=days - 1), specialty_id=specialty,
                      doctor_id=doctor, patient_id=patient,
                      clinic_id=_grid_clinic(scope, patient, doctor)), uow())
    return render(request, "schedule.html", {
        **clinic_filter_context(container, scope),
        "specialties": schedule.specialties(uow()),
        "doctors": schedule.doctors(uow(), clinic_id=scope.clinic_id),
        "grid": grid, "patient": person, "moving": moving, "specialty_id": specialty,
        "doctor_id": doctor, "start": start, "days": days,
        "prev_start": start - timedelta(days=days), "next_start": start + timedelta(days=days),
        "call": current_call(request, container),
    })


@api.get("/specialties", response_model=list[SpecialtyOut], summary="All specialties")
def api_specialties(container: ContainerDep, agent: Registrar) -> list[SpecialtyOut]:
    return [SpecialtyOut.model_validate(s) for s in schedule.specialties(container.uow())]


@api.get("/doctors", response_model=list[DoctorOut], summary="Active doctors")
def api_doctors(container: ContainerDep, agent: Registrar, scope: Scope,
                specialty_id: int | None = None) -> list[DoctorOut]:
    return [DoctorOut.model_validate(d)
            for d in schedule.doctors(container.uow(), specialty_id=specialty_id,
                                      clinic_id=scope.clinic_id)]


@api.get("/schedule", response_model=ScheduleOut,
         summary="Free slots per day and doctor for a specialty or a doctor")
def api_schedule(
    container: ContainerDep, agent: Registrar, scope: Scope, date_from: date, date_to: date,
    specialty_id: int | None = None, doctor_id: int | None = None,
    patient_id: int | None = None,
) -> ScheduleOut:
    grid = schedule.schedule_grid(GridQuery(date_from, date_to, specialty_id=specialty_id,
                                            doctor_id=doctor_id, patient_id=patient_id,
                                            clinic_id=_grid_clinic(scope, patient_id,
                                                                   doctor_id)),
                                  container.uow())
    return ScheduleOut.model_validate(grid)
