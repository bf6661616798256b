"""Specialties (admin): booking mode, age group, the words callers say for them."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.admin_schemas import CreatedOut, SpecialtyAdminOut, SpecialtyIn
from agent_console.deps import ClinicAdmin, ContainerDep, actor_of
from agent_console.schemas import ERRORS
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import clinic_admin
from booking_core.clinic_admin import SpecialtyData
from models.tables import AgeGroup, BookingMode

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/admin/specialties", tags=["administration"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


@router.get("/admin/specialties")
def specialties_page(request: Request, container: ContainerDep, agent: ClinicAdmin) -> Response:
    return render(request, "admin/specialties.html", {
        "specialties": clinic_admin.specialty_list(container.uow()),
        "modes": list(BookingMode), "ages": list(AgeGroup)})


@router.post("/admin/specialties")
def specialty_form(request: Request, container: ContainerDep, agent: ClinicAdmin,
                   code: Annotated[str, Form(max_length=40)],
                   name_ru: Annotated[str, Form(max_length=100)],
                   name_en: Annotated[str, Form(max_length=100)] = "",
                   synonyms_ru: Annotated[str, Form(max_length=400)] = "",
                   booking_mode: Annotated[str, Form()] = BookingMode.SELF_REFERRAL,
                   age_group: Annotated[str, Form()] = AgeGroup.ANY,
                   district_based: Annotated[str, Form()] = "",
                   ivr_order: Annotated[int, Form(ge=0, le=10_000)] = 100,
                   specialty_id: Annotated[str, Form()] = "") -> Response:
    data = SpecialtyData(code, name_ru, name_en, synonyms_ru, booking_mode, age_group,
                         district_based == "on", ivr_order)
    clinic_admin.save_specialty(data, actor_of(request, agent), container.uow(),
                                int(specialty_id) if specialty_id.isdigit() else None)
    flash(request, f"Специальность «{name_ru}» сохранена.")
    return RedirectResponse("/admin/specialties", status_code=303)


@api.get("", response_model=list[SpecialtyAdminOut], summary="Specialties with their settings")
def api_list(container: ContainerDep, agent: ClinicAdmin) -> list[SpecialtyAdminOut]:
    return [SpecialtyAdminOut.model_validate(s)
            for s in clinic_admin.specialty_list(container.uow())]


@api.post("", response_model=CreatedOut, status_code=201, summary="Create a specialty")
def api_create(body: SpecialtyIn, request: Request, container: ContainerDep,
               agent: ClinicAdmin) -> CreatedOut:
    return CreatedOut(id=clinic_admin.save_specialty(SpecialtyData(**body.model_dump()),
                                                     actor_of(request, agent), container.uow()))


@api.put("/{specialty_id}", response_model=CreatedOut, summary="Change a specialty")
def api_update(specialty_id: int, body: SpecialtyIn, request: Request, container: ContainerDep,
               agent: ClinicAdmin) -> CreatedOut:
    return CreatedOut(id=clinic_admin.save_specialty(SpecialtyData(**body.model_dump()),
                                                     actor_of(request, agent), container.uow(),
                                                     specialty_id))
