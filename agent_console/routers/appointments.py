"""Appointments: book a slot for a patient, cancel, reschedule, record arrival or no-show.

All of it goes through :mod:`booking_core.booking` on the console channel, so the same rules
and the same "one slot, one live appointment" constraint hold as for the IVR.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console import labels
from agent_console.deps import ContainerDep, Registrar, Scope, actor_of
from agent_console.errors import safe_back
from agent_console.schemas import ERRORS, AppointmentOut, BookIn, CancelIn, RescheduleIn
from agent_console.security import csrf_protect, flash
from booking_core import booking
from booking_core.commands import BookSlot, Cancel, Reschedule
from booking_core.views import AppointmentView
from speech.ru_names import Case, short_name_in

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/appointments", tags=["appointments"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


def _said(appt: AppointmentView) -> str:
    doctor = appt.doctor
    to_doctor = short_name_in(Case.DATIVE, doctor.last_name, doctor.first_name,
                              doctor.middle_name)
    return (f"{labels.ru_day(appt.starts_at)} {appt.starts_at:%H:%M}, к врачу {to_doctor}, "
            f"каб. {appt.cabinet}, талон {appt.confirmation_code}")


@router.post("/appointments")
def book_form(request: Request, container: ContainerDep, agent: Registrar,
              patient_id: Annotated[int, Form()], slot_id: Annotated[int, Form()],
              referral_id: Annotated[int | None, Form()] = None) -> Response:
    appt = booking.book(BookSlot(patient_id, slot_id, actor_of(request, agent),
                                 referral_id=referral_id), container.uow())
    flash(request, f"Записан: {_said(appt)}.")
    return RedirectResponse(safe_back(request, f"/patients/{patient_id}"), status_code=303)


@router.post("/appointments/{appointment_id}/cancel")
def cancel_form(appointment_id: int, request: Request, container: ContainerDep,
                agent: Registrar) -> Response:
    appt = booking.cancel(Cancel(appointment_id, actor_of(request, agent)), container.uow())
    flash(request, f"Запись отменена: {_said(appt)}. Время вернулось в расписание.")
    return RedirectResponse(safe_back(request, f"/patients/{appt.patient_id}"), status_code=303)


@router.post("/appointments/{appointment_id}/reschedule")
def reschedule_form(appointment_id: int, request: Request, container: ContainerDep,
                    agent: Registrar, slot_id: Annotated[int, Form()]) -> Response:
    appt = booking.reschedule(Reschedule(appointment_id, slot_id, actor_of(request, agent)),
                              container.uow())
    flash(request, f"Запись перенесена: {_said(appt)}.")
    return RedirectResponse(f"/patients/{appt.patient_id}", status_code=303)


@router.post("/appointments/{appointment_id}/arrived")
def arrived_form(appointment_id: int, request: Request, container: ContainerDep,
                 agent: Registrar) -> Response:
    appt = booking.mark_arrived(appointment_id, actor_of(request, agent), container.uow())
    flash(request, f"Отмечено: {labels.label(labels.STATUSES, appt.status)} "
                   f"({appt.starts_at:%H:%M}). Если по ошибке — «Отменить отметку».")
    return RedirectResponse(safe_back(request, f"/patients/{appt.patient_id}"), status_code=303)


@router.post("/appointments/{appointment_id}/arrived/undo")
def undo_arrival_form(appointment_id: int, request: Request, container: ContainerDep,
                      agent: Registrar) -> Response:
    appt = booking.undo_arrival(appointment_id, actor_of(request, agent), container.uow())
    flash(request, f"Отметка о приходе снята: запись {_said(appt)} снова ждёт пациента.")
    return RedirectResponse(safe_back(request, f"/patients/{appt.patient_id}"), status_code=303)


@router.post("/appointments/{appointment_id}/no-show")
def no_show_form(appointment_id: int, request: Request, container: ContainerDep,
                 agent: Registrar) -> Response:
    appt = booking.mark_no_show(appointment_id, actor_of(request, agent), container.uow())
    flash(request, "Отмечена неявка.")
    return RedirectResponse(safe_back(request, f"/patients/{appt.patient_id}"), status_code=303)


@api.post("", response_model=AppointmentOut, status_code=201, summary="Book a slot")
def api_book(body: BookIn, request: Request, container: ContainerDep,
             agent: Registrar) -> AppointmentOut:
    appt = booking.book(BookSlot(body.patient_id, body.slot_id, actor_of(request, agent),
                                 referral_id=body.referral_id), container.uow())
    return AppointmentOut.model_validate(appt)


@api.get("/{appointment_id}", response_model=AppointmentOut, summary="One appointment")
def api_get(appointment_id: int, container: ContainerDep, agent: Registrar,
            scope: Scope) -> AppointmentOut:
    return AppointmentOut.model_validate(booking.get_appointment(appointment_id,
                                                                 container.uow(), scope.access))


@api.post("/{appointment_id}/cancel", response_model=AppointmentOut, summary="Cancel")
def api_cancel(appointment_id: int, request: Request, container: ContainerDep,
               agent: Registrar, body: CancelIn | None = None) -> AppointmentOut:
    reason = body.reason if body else "patient"
    appt = booking.cancel(Cancel(appointment_id, actor_of(request, agent), reason=reason),
                          container.uow())
    return AppointmentOut.model_validate(appt)


@api.post("/{appointment_id}/reschedule", response_model=AppointmentOut,
          summary="Move to another slot (one transaction)")
def api_reschedule(appointment_id: int, body: RescheduleIn, request: Request,
                   container: ContainerDep, agent: Registrar) -> AppointmentOut:
    appt = booking.reschedule(Reschedule(appointment_id, body.slot_id, actor_of(request, agent)),
                              container.uow())
    return AppointmentOut.model_validate(appt)


@api.post("/{appointment_id}/arrived", response_model=AppointmentOut,
          summary="The patient came (completed, or walk_in when late); only around the visit "
                  "time, else arrival_outside_window")
def api_arrived(appointment_id: int, request: Request, container: ContainerDep,
                agent: Registrar) -> AppointmentOut:
    return AppointmentOut.model_validate(
        booking.mark_arrived(appointment_id, actor_of(request, agent), container.uow()))


@api.post("/{appointment_id}/arrived/undo", response_model=AppointmentOut,
          summary="Take back an arrival recorded by mistake (booked again, audited)")
def api_undo_arrival(appointment_id: int, request: Request, container: ContainerDep,
                     agent: Registrar) -> AppointmentOut:
    return AppointmentOut.model_validate(
        booking.undo_arrival(appointment_id, actor_of(request, agent), container.uow()))


@api.post("/{appointment_id}/no-show", response_model=AppointmentOut,
          summary="The patient did not come")
def api_no_show(appointment_id: int, request: Request, container: ContainerDep,
                agent: Registrar) -> AppointmentOut:
    return AppointmentOut.model_validate(
        booking.mark_no_show(appointment_id, actor_of(request, agent), container.uow()))
