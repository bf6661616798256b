"""Channel restrictions (rule 13): the clinic head closes IVR/internet booking for a
specialty or a doctor for a period; registrars see what is closed."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console import labels
from agent_console.deps import ClinicAdmin, ContainerDep, Registrar, Scope, actor_of
from agent_console.schemas import ERRORS, RestrictionIn, RestrictionOut
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import admin, doctor_admin, schedule, worklists
from booking_core.agents import Permission
from booking_core.commands import CloseChannel
from booking_core.errors import InvalidInput
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/restrictions", tags=["restrictions"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


def _close(container: Container, body: RestrictionIn, request: Request, agent) -> int:  # type: ignore[no-untyped-def]
    if body.channel not in labels.RESTRICTABLE_CHANNELS:
        raise InvalidInput("channel: ivr, internet, infomat or *", field="channel")
    # The doctor's clinic, else the user's own, else a single clinic's installation's one.
    clinic_id = (doctor_admin.get_doctor(body.doctor_id, container.uow()).clinic_id
                 if body.doctor_id is not None else agent.clinic_id) \
        or admin.first_clinic_id(container.uow())
    if clinic_id is None:
        raise InvalidInput("no clinic configured")
    return admin.close_channel(CloseChannel(
        clinic_id, body.channel, body.starts_on, body.ends_on, actor_of(request, agent),
        specialty_id=body.specialty_id, doctor_id=body.doctor_id, reason=body.reason),
        container.uow())


@router.get("/restrictions")
def restrictions_page(request: Request, container: ContainerDep, agent: Registrar,
                      scope: Scope) -> Response:
    uow = container.uow
    return render(request, "restrictions.html", {
        "items": worklists.restrictions(uow(), clinic_id=scope.own),
        "specialties": schedule.specialties(uow()),
        "doctors": schedule.doctors(uow(), clinic_id=scope.own),
        "channels": labels.RESTRICTABLE_CHANNELS,
        "can_manage": agent.can(Permission.MANAGE_CLINIC), "today": container.clock.today(),
    })


@router.post("/restrictions")
def restriction_form(
    request: Request, container: ContainerDep, agent: ClinicAdmin,
    channel: Annotated[str, Form()], starts_on: Annotated[date, Form()],
    ends_on: Annotated[date, Form()], specialty_id: Annotated[str, Form()] = "",
    doctor_id: Annotated[str, Form()] = "", reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    body = RestrictionIn(channel=channel, starts_on=starts_on, ends_on=ends_on,
                         specialty_id=int(specialty_id) if specialty_id.isdigit() else None,
                         doctor_id=int(doctor_id) if doctor_id.isdigit() else None, reason=reason)
    _close(container, body, request, agent)
    flash(request, "Ограничение введено.")
    return RedirectResponse("/restrictions", status_code=303)


@router.post("/restrictions/{restriction_id}/lift")
def lift_form(restriction_id: int, request: Request, container: ContainerDep,
              agent: ClinicAdmin) -> Response:
    admin.lift_restriction(restriction_id, actor_of(request, agent), container.uow())
    flash(request, "Ограничение снято.")
    return RedirectResponse("/restrictions", status_code=303)


@api.get("", response_model=list[RestrictionOut], summary="Current and future restrictions")
def api_list(container: ContainerDep, agent: Registrar, scope: Scope) -> list[RestrictionOut]:
    return [RestrictionOut.model_validate(r)
            for r in worklists.restrictions(container.uow(), clinic_id=scope.own)]


@api.post("", response_model=RestrictionOut, status_code=201,
          summary="Close a remote channel for a specialty or doctor (admin)")
def api_create(body: RestrictionIn, request: Request, container: ContainerDep,
               agent: ClinicAdmin) -> RestrictionOut:
    new_id = _close(container, body, request, agent)
    item = next(r for r in worklists.restrictions(container.uow(), include_past=True)
                if r.id == new_id)
    return RestrictionOut.model_validate(item)


@api.delete("/{restriction_id}", status_code=204, summary="Lift a restriction (admin)")
def api_lift(restriction_id: int, request: Request, container: ContainerDep,
             agent: ClinicAdmin) -> Response:
    admin.lift_restriction(restriction_id, actor_of(request, agent), container.uow())
    return Response(status_code=204)
