"""Doctor absences: the administrator registers one, registrars call the affected patients."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.deps import ClinicAdmin, ContainerDep, Registrar, Scope, actor_of
from agent_console.schemas import (
    ERRORS,
    AbsenceCallOut,
    AbsenceIn,
    AbsenceOut,
    AbsenceReportOut,
    AffectedOut,
    AppointmentOut,
    SlotOut,
)
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import admin, schedule, worklists
from booking_core.agents import Permission
from booking_core.commands import RegisterAbsence

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/absences", tags=["absences"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


@router.get("/absences")
def absences_page(request: Request, container: ContainerDep, agent: Registrar,
                  scope: Scope) -> Response:
    uow = container.uow
    return render(request, "absences.html", {
        "absences": worklists.absences(uow(), clinic_id=scope.own),
        "calls": worklists.absence_calls(uow(), clinic_id=scope.own),
        "doctors": schedule.doctors(uow(), clinic_id=scope.own),
        "specialties": schedule.specialties(uow()),
        "can_manage": agent.can(Permission.MANAGE_CLINIC), "today": container.clock.today(),
    })


@router.post("/absences")
def absence_form(
    request: Request, container: ContainerDep, agent: ClinicAdmin,
    doctor_id: Annotated[int, Form()], starts_on: Annotated[date, Form()],
    ends_on: Annotated[date, Form()], reason: Annotated[str, Form(max_length=200)] = "",
    substitute_doctor_id: Annotated[str, Form()] = "",
) -> Response:
    report = admin.register_absence(RegisterAbsence(
        doctor_id, starts_on, ends_on, actor_of(request, agent), reason=reason,
        substitute_doctor_id=int(substitute_doctor_id) if substitute_doctor_id.isdigit() else None),
        container.uow())
    flash(request, f"Отсутствие записано. Затронуто записей: {len(report.affected)} — "
                   "пациенты в списке «Кому позвонить».")
    return RedirectResponse("/absences", status_code=303)


@api.get("", response_model=list[AbsenceOut], summary="Current and future absences")
def api_list(container: ContainerDep, agent: Registrar, scope: Scope) -> list[AbsenceOut]:
    return [AbsenceOut.model_validate(a)
            for a in worklists.absences(container.uow(), clinic_id=scope.own)]


@api.post("", response_model=AbsenceReportOut, status_code=201,
          summary="Register an absence; returns the affected appointments (admin)")
def api_register(body: AbsenceIn, request: Request, container: ContainerDep,
                 agent: ClinicAdmin) -> AbsenceReportOut:
    report = admin.register_absence(RegisterAbsence(
        body.doctor_id, body.starts_on, body.ends_on, actor_of(request, agent),
        reason=body.reason, substitute_doctor_id=body.substitute_doctor_id), container.uow())
    return AbsenceReportOut(absence_id=report.absence_id, affected=[
        AffectedOut(appointment=AppointmentOut.model_validate(a.appointment),
                    substitute=SlotOut.model_validate(a.substitute) if a.substitute else None)
        for a in report.affected])


@api.get("/worklist", response_model=list[AbsenceCallOut],
         summary="Patients to call: their doctor is away, has left, or the schedule changed")
def api_worklist(container: ContainerDep, agent: Registrar,
                 scope: Scope) -> list[AbsenceCallOut]:
    return [AbsenceCallOut.model_validate(c)
            for c in worklists.absence_calls(container.uow(), clinic_id=scope.own)]
