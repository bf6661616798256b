"""The registry desk (admin): register a patient who came with passport and policy, change a
patient's phone, district and attachment.  Policy, SNILS, birth date and phone travel only in
POST bodies; URLs carry the patient's id at most."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.admin_schemas import (
    AttachmentIn,
    CreatedOut,
    PatientRegisterIn,
    PhoneIn,
    PhoneOut,
)
from agent_console.deps import ClinicAdmin, ContainerDep, Scope, actor_of
from agent_console.schemas import ERRORS
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import clinic_admin, patient_admin, patients
from booking_core.masking import mask_phone
from booking_core.patient_admin import NewPatient

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/admin/patients", tags=["administration"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


def _opt_int(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def _clinics(container: ContainerDep, scope: Scope) -> list[clinic_admin.ClinicView]:
    """The clinics a user may register or attach patients to: their own, or (regional) all."""
    return [c for c in clinic_admin.clinics(container.uow()) if scope.allows(c.id)]


@router.get("/admin/patients/new")
def register_page(request: Request, container: ContainerDep, agent: ClinicAdmin,
                  scope: Scope) -> Response:
    return render(request, "admin/patient_new.html", {
        "clinics": _clinics(container, scope)})


@router.post("/admin/patients")
def register_form(request: Request, container: ContainerDep, agent: ClinicAdmin,
                  last_name: Annotated[str, Form(max_length=80)],
                  first_name: Annotated[str, Form(max_length=80)],
                  policy_number: Annotated[str, Form(max_length=32)],
                  birth_date: Annotated[date, Form()], clinic_id: Annotated[int, Form()],
                  middle_name: Annotated[str, Form(max_length=80)] = "",
                  snils: Annotated[str, Form(max_length=20)] = "",
                  phone: Annotated[str, Form(max_length=32)] = "",
                  district_id: Annotated[str, Form()] = "") -> Response:
    patient_id = patient_admin.register_patient(NewPatient(
        last_name, first_name, policy_number, birth_date, clinic_id, middle_name, snils, phone,
        _opt_int(district_id)), actor_of(request, agent), container.uow())
    flash(request, f"Пациент {last_name} {first_name} зарегистрирован и может записываться.")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.get("/admin/patients/{patient_id}")
def edit_page(patient_id: int, request: Request, container: ContainerDep,
              agent: ClinicAdmin, scope: Scope) -> Response:
    card = patients.patient_card(patient_id, container.uow(), scope=scope.access)
    return render(request, "admin/patient_edit.html", {
        "card": card, "phone_masked": mask_phone(card.patient.phone) if card.patient.phone else "",
        "representative_masked": patient_admin.representative_phone_masked(
            patient_id, container.uow(), scope.access),
        "clinics": _clinics(container, scope)})


@router.post("/admin/patients/{patient_id}/phone")
def phone_form(patient_id: int, request: Request, container: ContainerDep, agent: ClinicAdmin,
               phone: Annotated[str, Form(max_length=32)] = "") -> Response:
    reachable = patient_admin.change_phone(patient_id, phone, actor_of(request, agent),
                                           container.uow())
    flash(request, "Телефон сохранён." + ("" if reachable or not phone.strip() else
                                          " Это не мобильный номер: SMS на него не уйдут."))
    return RedirectResponse(f"/admin/patients/{patient_id}", status_code=303)


@router.post("/admin/patients/{patient_id}/representative-phone")
def representative_phone_form(patient_id: int, request: Request, container: ContainerDep,
                              agent: ClinicAdmin,
                              phone: Annotated[str, Form(max_length=32)] = "") -> Response:
    patient_admin.change_representative_phone(patient_id, phone, actor_of(request, agent),
                                              container.uow())
    flash(request, "Телефон представителя сохранён." if phone.strip()
          else "Телефон представителя удалён.")
    return RedirectResponse(f"/admin/patients/{patient_id}", status_code=303)


@router.post("/admin/patients/{patient_id}/attachment")
def attachment_form(patient_id: int, request: Request, container: ContainerDep,
                    agent: ClinicAdmin, clinic_id: Annotated[int, Form()],
                    district_id: Annotated[str, Form()] = "",
                    change_of_residence: Annotated[str, Form()] = "") -> Response:
    patient_admin.change_attachment(patient_id, clinic_id, _opt_int(district_id),
                                    actor_of(request, agent), container.uow(),
                                    change_of_residence=change_of_residence == "on")
    flash(request, "Прикрепление и участок сохранены.")
    return RedirectResponse(f"/admin/patients/{patient_id}", status_code=303)


@api.post("", response_model=CreatedOut, status_code=201,
          summary="Register a patient at the desk (Luhn-checked policy, SNILS, birth date)")
def api_register(body: PatientRegisterIn, request: Request, container: ContainerDep,
                 agent: ClinicAdmin) -> CreatedOut:
    return CreatedOut(id=patient_admin.register_patient(NewPatient(
        body.last_name, body.first_name, body.policy_number, body.birth_date, body.clinic_id,
        body.middle_name, body.snils, body.phone, body.district_id),
        actor_of(request, agent), container.uow()))


@api.put("/{patient_id}/phone", response_model=PhoneOut, summary="Change the patient's phone")
def api_phone(patient_id: int, body: PhoneIn, request: Request, container: ContainerDep,
              agent: ClinicAdmin) -> PhoneOut:
    return PhoneOut(sms_reachable=patient_admin.change_phone(
        patient_id, body.phone, actor_of(request, agent), container.uow()))


@api.put("/{patient_id}/representative-phone", status_code=204,
         summary="Register a child's representative's phone (empty: remove it)")
def api_representative_phone(patient_id: int, body: PhoneIn, request: Request,
                             container: ContainerDep, agent: ClinicAdmin) -> Response:
    patient_admin.change_representative_phone(patient_id, body.phone, actor_of(request, agent),
                                              container.uow())
    return Response(status_code=204)


@api.put("/{patient_id}/attachment", status_code=204,
         summary="Change clinic and district (once a period unless the patient moved)")
def api_attachment(patient_id: int, body: AttachmentIn, request: Request,
                   container: ContainerDep, agent: ClinicAdmin) -> Response:
    patient_admin.change_attachment(patient_id, body.clinic_id, body.district_id,
                                    actor_of(request, agent), container.uow(),
                                    change_of_residence=body.change_of_residence)
    return Response(status_code=204)
