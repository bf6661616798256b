"""Doctors (admin): hire, change details, move cabinet, leave.  The weekly template has its
own router (:mod:`agent_console.routers.doctor_schedules`)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.admin_schemas import (
    CabinetIn,
    CreatedOut,
    DoctorAdminOut,
    DoctorIn,
    LeaveIn,
    LeaveOut,
)
from agent_console.deps import ClinicAdmin, ContainerDep, Scope, actor_of
from agent_console.schemas import ERRORS
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import clinic_admin, doctor_admin
from booking_core.doctor_admin import DoctorData

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/admin/doctors", tags=["administration"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


def _opt_int(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def _directory(container: ContainerDep, scope: Scope) -> dict[str, object]:
    return {"clinics": [c for c in clinic_admin.clinics(container.uow()) if scope.allows(c.id)],
            "specialties": clinic_admin.specialty_list(container.uow())}


@router.get("/admin/doctors")
def doctors_page(request: Request, container: ContainerDep, agent: ClinicAdmin,
                 scope: Scope) -> Response:
    return render(request, "admin/doctors.html", {
        "doctors": doctor_admin.doctor_rows(container.uow(), clinic_id=scope.own),
        **_directory(container, scope)})


@router.post("/admin/doctors")
def hire_form(request: Request, container: ContainerDep, agent: ClinicAdmin,
              clinic_id: Annotated[int, Form()], specialty_id: Annotated[int, Form()],
              last_name: Annotated[str, Form(max_length=80)],
              first_name: Annotated[str, Form(max_length=80)],
              middle_name: Annotated[str, Form(max_length=80)] = "",
              cabinet: Annotated[str, Form(max_length=20)] = "",
              district_id: Annotated[str, Form()] = "",
              external_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    doctor_id = doctor_admin.hire_doctor(
        DoctorData(clinic_id, specialty_id, last_name, first_name, middle_name, cabinet,
                   _opt_int(district_id), external_id or None),
        actor_of(request, agent), container.uow())
    flash(request, f"Врач {last_name} {first_name} принят. Задайте расписание.")
    return RedirectResponse(f"/admin/doctors/{doctor_id}", status_code=303)


@router.get("/admin/doctors/{doctor_id}")
def doctor_page(doctor_id: int, request: Request, container: ContainerDep,
                agent: ClinicAdmin, scope: Scope) -> Response:
    return render(request, "admin/doctor.html", {
        "doctor": doctor_admin.get_doctor(doctor_id, container.uow(), scope.access),
        "today": container.clock.today(), **_directory(container, scope)})


@router.post("/admin/doctors/{doctor_id}")
def update_form(doctor_id: int, request: Request, container: ContainerDep, agent: ClinicAdmin,
                clinic_id: Annotated[int, Form()], specialty_id: Annotated[int, Form()],
                last_name: Annotated[str, Form(max_length=80)],
                first_name: Annotated[str, Form(max_length=80)],
                middle_name: Annotated[str, Form(max_length=80)] = "",
                cabinet: Annotated[str, Form(max_length=20)] = "",
                district_id: Annotated[str, Form()] = "",
                external_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    doctor_admin.update_doctor(doctor_id, DoctorData(
        clinic_id, specialty_id, last_name, first_name, middle_name, cabinet,
        _opt_int(district_id), external_id or None), actor_of(request, agent), container.uow())
    flash(request, "Данные врача сохранены.")
    return RedirectResponse(f"/admin/doctors/{doctor_id}", status_code=303)


@router.post("/admin/doctors/{doctor_id}/cabinet")
def cabinet_form(doctor_id: int, request: Request, container: ContainerDep, agent: ClinicAdmin,
                 cabinet: Annotated[str, Form(max_length=20)]) -> Response:
    doctor_admin.move_cabinet(doctor_id, cabinet, actor_of(request, agent), container.uow())
    flash(request, f"Врач переведён в кабинет {cabinet}.")
    return RedirectResponse(f"/admin/doctors/{doctor_id}", status_code=303)


@router.post("/admin/doctors/{doctor_id}/leave")
def leave_form(doctor_id: int, request: Request, container: ContainerDep, agent: ClinicAdmin,
               last_day: Annotated[date, Form()]) -> Response:
    flagged = doctor_admin.leave(doctor_id, last_day, actor_of(request, agent), container.uow())
    flash(request, f"Последний рабочий день: {last_day:%d.%m.%Y}. Записей к обзвону: {flagged}.")
    return RedirectResponse(f"/admin/doctors/{doctor_id}", status_code=303)


@api.get("", response_model=list[DoctorAdminOut], summary="Every doctor, working ones first")
def api_list(container: ContainerDep, agent: ClinicAdmin, scope: Scope) -> list[DoctorAdminOut]:
    return [DoctorAdminOut.model_validate(d)
            for d in doctor_admin.doctor_rows(container.uow(), clinic_id=scope.own)]


@api.post("", response_model=CreatedOut, status_code=201, summary="Hire a doctor")
def api_hire(body: DoctorIn, request: Request, container: ContainerDep,
             agent: ClinicAdmin) -> CreatedOut:
    return CreatedOut(id=doctor_admin.hire_doctor(DoctorData(**body.model_dump()),
                                                  actor_of(request, agent), container.uow()))


@api.put("/{doctor_id}", status_code=204, summary="Change a doctor's details")
def api_update(doctor_id: int, body: DoctorIn, request: Request, container: ContainerDep,
               agent: ClinicAdmin) -> Response:
    doctor_admin.update_doctor(doctor_id, DoctorData(**body.model_dump()),
                               actor_of(request, agent), container.uow())
    return Response(status_code=204)


@api.post("/{doctor_id}/cabinet", status_code=204, summary="Move the doctor to another cabinet")
def api_cabinet(doctor_id: int, body: CabinetIn, request: Request, container: ContainerDep,
                agent: ClinicAdmin) -> Response:
    doctor_admin.move_cabinet(doctor_id, body.cabinet, actor_of(request, agent), container.uow())
    return Response(status_code=204)


@api.post("/{doctor_id}/leave", response_model=LeaveOut,
          summary="The doctor leaves; future visits after the last day are flagged")
def api_leave(doctor_id: int, body: LeaveIn, request: Request, container: ContainerDep,
              agent: ClinicAdmin) -> LeaveOut:
    return LeaveOut(flagged=doctor_admin.leave(doctor_id, body.last_day,
                                               actor_of(request, agent), container.uow()))
