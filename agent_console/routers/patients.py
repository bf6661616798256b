"""Patients: search (POST only: policy, phone and birth date never travel in a URL) and the
patient card with appointments, no-shows, calls and callback requests."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.deps import (
    ClinicAdmin,
    ContainerDep,
    Registrar,
    Scope,
    actor_of,
    clinic_filter_context,
    current_call,
    filter_from_form,
)
from agent_console.schemas import (
    ERRORS,
    AppointmentOut,
    OutOfScheduleIn,
    PatientCardOut,
    PatientSearchIn,
    PatientSummaryOut,
)
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import blocks, booking, patients, schedule
from booking_core.patients import PatientQuery
from booking_core.rules import arrival_open

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/patients", tags=["patients"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


def parse_date(text: str) -> date | None:
    """A date typed as ДД.ММ.ГГГГ, ДДММГГГГ or ISO (from a date picker); None if invalid."""
    text = text.strip()
    for fmt in ("%d.%m.%Y", "%d%m%Y", "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@router.get("/patients")
def search_page(request: Request, container: ContainerDep, agent: Registrar,
                scope: Scope) -> Response:
    return render(request, "patients.html", {"results": None, "query": PatientQuery(),
                                             "call": current_call(request, container),
                                             **clinic_filter_context(container, scope)})


@router.post("/patients/search")
def search_form(
    request: Request, container: ContainerDep, agent: Registrar, scope: Scope,
    policy: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=160)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    clinic: Annotated[str | None, Form(max_length=12)] = None,
) -> Response:
    scope = filter_from_form(request, scope, clinic)
    born: date | None = None
    error = None
    if birth_date.strip():
        born = parse_date(birth_date)
        if born is None:
            error = "Дата рождения: ДД.ММ.ГГГГ"
    query = PatientQuery(policy=policy, name=name, phone=phone, birth_date=born)
    results = None
    if error is None:
        if query.empty:
            error = "Введите полис, фамилию, телефон или дату рождения."
        else:
            results = patients.search_patients(query, container.uow(), scope=scope)
            if len(results) == 1:
                return RedirectResponse(f"/patients/{results[0].id}", status_code=303)
    return render(request, "patients.html", {"results": results, "query": query,
                                             "error": error,
                                             "call": current_call(request, container),
                                             **clinic_filter_context(container, scope)})


@router.get("/patients/{patient_id}")
def card_page(patient_id: int, request: Request, container: ContainerDep,
              agent: Registrar, scope: Scope) -> Response:
    card = patients.patient_card(patient_id, container.uow(), scope=scope.access)
    now = container.clock.now_local()
    window = container.rules.arrival_window_minutes
    arrival_open_ids = {a.id for a in (*card.upcoming, *card.past)
                        if arrival_open(a.starts_at, now, window)}
    return render(request, "patient.html", {
        "card": card, "now": now, "call": current_call(request, container),
        "arrival_open_ids": arrival_open_ids,
        "choices": schedule.specialty_choices(patient_id, container.uow()),
        "doctors": schedule.doctors(container.uow(), clinic_id=scope.own),
    })


@router.post("/patients/{patient_id}/out-of-schedule")
def out_of_schedule_form(patient_id: int, request: Request, container: ContainerDep,
                         agent: Registrar, doctor_id: Annotated[int, Form()]) -> Response:
    appt = booking.register_out_of_schedule(patient_id, doctor_id, actor_of(request, agent),
                                            container.uow())
    flash(request, f"Принят вне расписания: {appt.doctor.full_name}, "
                   f"талон {appt.confirmation_code}.")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/patients/{patient_id}/blocks/{block_id}/lift")
def lift_block_form(patient_id: int, block_id: int, request: Request, container: ContainerDep,
                    agent: ClinicAdmin) -> Response:
    blocks.lift_block(block_id, actor_of(request, agent), container.uow())
    flash(request, "Блокировка снята: пациент снова может записываться по телефону.")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@api.post("/search", response_model=list[PatientSummaryOut],
          summary="Find patients by policy, name, phone and/or date of birth")
def api_search(body: PatientSearchIn, container: ContainerDep,
               agent: Registrar, scope: Scope) -> list[PatientSummaryOut]:
    query = PatientQuery(policy=body.policy, name=body.name, phone=body.phone,
                         birth_date=body.birth_date)
    return [PatientSummaryOut.model_validate(p)
            for p in patients.search_patients(query, container.uow(), scope=scope)]


@api.get("/{patient_id}", response_model=PatientCardOut, summary="The patient card")
def api_card(patient_id: int, container: ContainerDep, agent: Registrar,
             scope: Scope) -> PatientCardOut:
    return PatientCardOut.model_validate(patients.patient_card(patient_id, container.uow(),
                                                               scope=scope.access))


@api.post("/{patient_id}/out-of-schedule", response_model=AppointmentOut, status_code=201,
          summary="Register an urgent visit without a slot")
def api_out_of_schedule(patient_id: int, body: OutOfScheduleIn, request: Request,
                        container: ContainerDep, agent: Registrar) -> AppointmentOut:
    appt = booking.register_out_of_schedule(patient_id, body.doctor_id,
                                            actor_of(request, agent), container.uow())
    return AppointmentOut.model_validate(appt)


@api.post("/{patient_id}/blocks/{block_id}/lift", status_code=204,
          summary="Lift a no-show block early (admin)")
def api_lift_block(patient_id: int, block_id: int, request: Request, container: ContainerDep,
                   agent: ClinicAdmin) -> Response:
    blocks.lift_block(block_id, actor_of(request, agent), container.uow())
    return Response(status_code=204)
