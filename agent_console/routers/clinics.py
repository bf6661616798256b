"""Clinics and their districts (with the streets they serve), the administration hub and the
"clinic not set up yet" page an empty installation shows (admin role, CSRF, audited)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.admin_schemas import ClinicIn, ClinicOut, CreatedOut, DistrictIn, StreetIO
from agent_console.deps import ClinicAdmin, ContainerDep, CurrentAgent, actor_of
from agent_console.schemas import ERRORS
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import clinic_admin
from booking_core.agents import Permission
from booking_core.clinic_admin import ClinicData, StreetView

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/admin", tags=["administration"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


@router.get("/setup")
def setup_page(request: Request, container: ContainerDep, agent: CurrentAgent) -> Response:
    """What an empty installation shows instead of empty menus: import, or add by hand."""
    return render(request, "admin/setup.html", {
        "ready": clinic_admin.clinic_ready(container.uow()),
        "is_admin": agent.can(Permission.MANAGE_CLINIC)})


@router.get("/admin")
def hub_page(request: Request, container: ContainerDep, agent: ClinicAdmin) -> Response:
    return render(request, "admin/hub.html", {
        "ready": clinic_admin.clinic_ready(container.uow()),
        "clinics": clinic_admin.clinics(container.uow())})


@router.get("/admin/clinics")
def clinics_page(request: Request, container: ContainerDep, agent: ClinicAdmin) -> Response:
    return render(request, "admin/clinics.html",
                  {"clinics": clinic_admin.clinics(container.uow())})


@router.post("/admin/clinics")
def clinic_form(request: Request, container: ContainerDep, agent: ClinicAdmin,
                code: Annotated[str, Form(max_length=32)],
                name: Annotated[str, Form(max_length=200)],
                short_name: Annotated[str, Form(max_length=100)] = "",
                address: Annotated[str, Form(max_length=300)] = "",
                phone: Annotated[str, Form(max_length=32)] = "",
                clinic_id: Annotated[str, Form()] = "") -> Response:
    data = ClinicData(code, name, short_name, address, phone)
    clinic_admin.save_clinic(data, actor_of(request, agent), container.uow(),
                             int(clinic_id) if clinic_id.isdigit() else None)
    flash(request, f"Поликлиника «{short_name or name}» сохранена.")
    return RedirectResponse("/admin/clinics", status_code=303)


@router.post("/admin/districts")
def district_form(request: Request, container: ContainerDep, agent: ClinicAdmin,
                  clinic_id: Annotated[int, Form()], number: Annotated[int, Form(gt=0)],
                  name: Annotated[str, Form(max_length=200)] = "",
                  streets: Annotated[str, Form(max_length=20_000)] = "",
                  district_id: Annotated[str, Form()] = "") -> Response:
    actor = actor_of(request, agent)
    saved = clinic_admin.save_district(clinic_id, number, name, actor, container.uow(),
                                       int(district_id) if district_id.isdigit() else None)
    clinic_admin.set_district_streets(saved, clinic_admin.parse_streets(streets), actor,
                                      container.uow())
    flash(request, f"Участок № {number} сохранён.")
    return RedirectResponse("/admin/clinics", status_code=303)


@api.get("/clinics", response_model=list[ClinicOut], summary="Clinics with districts and streets")
def api_clinics(container: ContainerDep, agent: ClinicAdmin) -> list[ClinicOut]:
    return [ClinicOut.model_validate(c) for c in clinic_admin.clinics(container.uow())]


@api.post("/clinics", response_model=CreatedOut, status_code=201, summary="Create a clinic")
def api_create_clinic(body: ClinicIn, request: Request, container: ContainerDep,
                      agent: ClinicAdmin) -> CreatedOut:
    return CreatedOut(id=clinic_admin.save_clinic(ClinicData(**body.model_dump()),
                                                  actor_of(request, agent), container.uow()))


@api.put("/clinics/{clinic_id}", response_model=CreatedOut, summary="Change a clinic")
def api_update_clinic(clinic_id: int, body: ClinicIn, request: Request, container: ContainerDep,
                      agent: ClinicAdmin) -> CreatedOut:
    return CreatedOut(id=clinic_admin.save_clinic(ClinicData(**body.model_dump()),
                                                  actor_of(request, agent), container.uow(),
                                                  clinic_id))


@api.post("/districts", response_model=CreatedOut, status_code=201, summary="Create a district")
def api_create_district(body: DistrictIn, request: Request, container: ContainerDep,
                        agent: ClinicAdmin) -> CreatedOut:
    return CreatedOut(id=clinic_admin.save_district(body.clinic_id, body.number, body.name,
                                                    actor_of(request, agent), container.uow()))


@api.put("/districts/{district_id}", response_model=CreatedOut, summary="Change a district")
def api_update_district(district_id: int, body: DistrictIn, request: Request,
                        container: ContainerDep, agent: ClinicAdmin) -> CreatedOut:
    return CreatedOut(id=clinic_admin.save_district(body.clinic_id, body.number, body.name,
                                                    actor_of(request, agent), container.uow(),
                                                    district_id))


@api.put("/districts/{district_id}/streets", status_code=204,
         summary="Replace the streets (and houses) a district serves")
def api_streets(district_id: int, body: list[StreetIO], request: Request,
                container: ContainerDep, agent: ClinicAdmin) -> Response:
    clinic_admin.set_district_streets(district_id, [StreetView(s.street, s.houses) for s in body],
                                      actor_of(request, agent), container.uow())
    return Response(status_code=204)
