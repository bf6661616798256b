"""The waiting list (rule 19): per specialty, each entry's state and how long it has waited;
agents add a patient and take one off."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.deps import ContainerDep, Registrar, Scope, actor_of
from agent_console.schemas import ERRORS, WaitlistEntryOut, WaitlistIn
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import schedule, waiting_list
from booking_core.commands import JoinWaitlist
from booking_core.waiting_list import WaitlistEntryView

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/waitlist", tags=["waiting list"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)

AllFlag = Annotated[bool, Query(description="include closed entries")]


def _out(entry: WaitlistEntryView) -> WaitlistEntryOut:
    return WaitlistEntryOut.model_validate(entry)


@router.get("/waitlist")
def waitlist_page(request: Request, container: ContainerDep, agent: Registrar, scope: Scope,
                  specialty_id: int | None = None, all: AllFlag = False) -> Response:
    specs = schedule.specialties(container.uow())
    chosen = next((s for s in specs if s.id == specialty_id), specs[0] if specs else None)
    items = (waiting_list.list_for_specialty(chosen.id, container.uow(), active_only=not all,
                                             clinic_id=scope.own)
             if chosen else [])
    return render(request, "waitlist.html", {
        "specialties": specs, "chosen": chosen, "items": items, "show_all": all,
    })


@router.post("/waitlist")
def join_form(request: Request, container: ContainerDep, agent: Registrar,
              patient_id: Annotated[int, Form()], specialty_id: Annotated[int, Form()],
              preference: Annotated[str, Form(max_length=12)] = "any") -> Response:
    """A registrar puts the patient whose card is open on the list (a refusal says why)."""
    waiting_list.join(JoinWaitlist(patient_id, specialty_id, actor_of(request, agent), None,
                                   preference), container.uow())
    flash(request, "Пациент в листе ожидания: когда освободится время, ему придёт SMS.")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/waitlist/{entry_id}/leave")
def leave_form(entry_id: int, request: Request, container: ContainerDep,
               agent: Registrar) -> Response:
    entry = waiting_list.leave(entry_id, actor_of(request, agent), container.uow())
    flash(request, "Пациент убран из листа ожидания.")
    return RedirectResponse(f"/waitlist?specialty_id={entry.specialty_id}", status_code=303)


@api.get("", response_model=list[WaitlistEntryOut],
         summary="The waiting list of a specialty, in the order offers go")
def api_list(container: ContainerDep, agent: Registrar, scope: Scope, specialty_id: int,
             all: AllFlag = False) -> list[WaitlistEntryOut]:
    return [_out(e) for e in waiting_list.list_for_specialty(specialty_id, container.uow(),
                                                             active_only=not all,
                                                             clinic_id=scope.own)]


@api.post("", response_model=WaitlistEntryOut, status_code=201,
          summary="Put a patient on the waiting list of a specialty (or one doctor)")
def api_join(body: WaitlistIn, request: Request, container: ContainerDep,
             agent: Registrar) -> WaitlistEntryOut:
    return _out(waiting_list.join(JoinWaitlist(
        body.patient_id, body.specialty_id, actor_of(request, agent), body.doctor_id,
        body.preference), container.uow()))


@api.delete("/{entry_id}", response_model=WaitlistEntryOut,
            summary="Take an entry off the list; a slot held for it goes to the next entry")
def api_leave(entry_id: int, request: Request, container: ContainerDep,
              agent: Registrar) -> WaitlistEntryOut:
    return _out(waiting_list.leave(entry_id, actor_of(request, agent), container.uow()))
