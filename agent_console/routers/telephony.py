"""The agent's phone from the console: pause/ready in the agents' queue (header) and
click-to-call of a patient or a callback request, through the AMI client.

Phone numbers are looked up by id on the server (the patient's phone on file, the callback
request's number); they never travel in a URL.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.deps import ContainerDep, CurrentAgent, Registrar, actor_of
from agent_console.errors import ConsoleError, safe_back
from agent_console.schemas import (
    ERRORS,
    ClickToCallIn,
    ClickToCallOut,
    PauseIn,
    PhoneStatusOut,
)
from agent_console.security import csrf_protect, flash
from booking_core import audit, patients, worklists
from booking_core.agents import AgentView
from booking_core.masking import mask_phone
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/telephony", tags=["telephony"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


class TelephonyUnavailable(ConsoleError):
    code = "telephony_unavailable"
    status = 503


class NoAgentPhone(ConsoleError):
    code = "no_agent_phone"
    status = 409


class NoPhoneNumber(ConsoleError):
    code = "no_phone_number"
    status = 422


class TelephonyFailed(ConsoleError):
    code = "telephony_failed"
    status = 502


def agent_interface(container: Container, agent: AgentView) -> str | None:
    """This user's phone in the queue: the configured map, else an extension written as an
    interface (``PJSIP/agent101``)."""
    telephony = container.extras.get("telephony")
    mapped = telephony.agent_interface(agent.username) if telephony is not None else None
    if mapped:
        return mapped
    return agent.extension if "/" in (agent.extension or "") else None


def phone_status(container: Container, agent: AgentView) -> PhoneStatusOut:
    """What the header shows about this user's phone."""
    telephony = container.extras.get("telephony")
    if telephony is None:
        return PhoneStatusOut(configured=False, connected=False,
                              status_text="Телефония не подключена")
    interface = agent_interface(container, agent)
    connected = telephony.board.connected
    member: dict[str, Any] | None = telephony.board.member(interface) if interface else None
    if not connected:
        text = "Asterisk не отвечает"
    elif interface is None:
        text = "Телефон не назначен"
    elif member is None:
        text = "Не в очереди"
    elif member["paused"]:
        text = "Перерыв" + (f": {member['paused_reason']}" if member["paused_reason"] else "")
    else:
        text = "На линии"
    return PhoneStatusOut(configured=True, connected=connected, interface=interface,
                          in_queue=member is not None,
                          paused=bool(member and member["paused"]),
                          paused_reason=(member or {}).get("paused_reason", ""),
                          status_text=text)


def _ami(container: Container, agent: AgentView) -> tuple[Any, str]:
    telephony = container.extras.get("telephony")
    if telephony is None or not telephony.board.connected:
        raise TelephonyUnavailable("Asterisk is not connected")
    interface = agent_interface(container, agent)
    if interface is None:
        raise NoAgentPhone("no phone is assigned to this user")
    return telephony.ami, interface


def set_paused(container: Container, agent: AgentView, paused: bool, reason: str = "") -> None:
    """QueuePause of this user's phone."""
    from agent_console.ami import AmiError

    ami, interface = _ami(container, agent)
    try:
        ami.queue_pause(interface, paused, reason)
    except AmiError as exc:
        logger.warning("pause of %s failed: %s", interface, exc.code)
        raise TelephonyFailed(exc.message) from exc


def click_to_call(container: Container, agent: AgentView, target: ClickToCallIn,
                  request: Request) -> ClickToCallOut:
    """Ring this user's phone, then dial the patient (Originate into the callback context)."""
    from agent_console.ami import AmiError

    ami, interface = _ami(container, agent)
    if target.callback_id is not None:
        item = worklists.callback_item(target.callback_id, container.uow())
        number, call_id = item.caller_number, item.call_id or f"callback-{item.id}"
    else:
        assert target.patient_id is not None
        number = patients.patient_view(target.patient_id, container.uow()).phone
        call_id = f"patient-{target.patient_id}"
    if not number:
        raise NoPhoneNumber("no phone number on file")
    try:
        handle = ami.originate_callback(interface, number, call_id)
    except AmiError as exc:
        logger.warning("click-to-call from %s failed: %s", interface, exc.code)
        raise TelephonyFailed(exc.message) from exc
    audit.note(container.uow(), actor_of(request, agent), "click_to_call",
                   "callback" if target.callback_id is not None else "patient",
                   target.callback_id or target.patient_id, {"interface": interface})
    return ClickToCallOut(action_id=handle.action_id, interface=interface,
                          number_masked=mask_phone(number))


# --- pages (forms) -----------------------------------------------------------------------


@router.post("/telephony/pause")
def pause_form(request: Request, container: ContainerDep, agent: CurrentAgent,
               paused: Annotated[bool, Form()]) -> Response:
    set_paused(container, agent, paused)
    flash(request, "Перерыв: звонки из очереди не поступают." if paused
          else "Вы на линии: очередь может звонить на ваш телефон.")
    return RedirectResponse(safe_back(request, "/queue"), status_code=303)


@router.post("/telephony/call")
def call_form(request: Request, container: ContainerDep, agent: Registrar,
              patient_id: Annotated[int | None, Form()] = None,
              callback_id: Annotated[int | None, Form()] = None) -> Response:
    placed = click_to_call(container, agent, ClickToCallIn(patient_id=patient_id,
                                                           callback_id=callback_id), request)
    flash(request, f"Звоним: сначала зазвонит ваш телефон, затем номер {placed.number_masked}.")
    return RedirectResponse(safe_back(request, "/callbacks"), status_code=303)


# --- API ---------------------------------------------------------------------------------


@api.get("/me", response_model=PhoneStatusOut, summary="My phone: in the queue, paused?")
def api_status(container: ContainerDep, agent: CurrentAgent) -> PhoneStatusOut:
    return phone_status(container, agent)


@api.post("/pause", response_model=PhoneStatusOut, summary="Pause or resume my phone in the "
          "agents' queue (QueuePause)")
def api_pause(body: PauseIn, container: ContainerDep, agent: CurrentAgent) -> PhoneStatusOut:
    set_paused(container, agent, body.paused, body.reason)
    return phone_status(container, agent)


@api.post("/call", response_model=ClickToCallOut, status_code=202,
          summary="Click-to-call a patient or a callback request from my phone (Originate)")
def api_call(body: ClickToCallIn, request: Request, container: ContainerDep,
             agent: Registrar) -> ClickToCallOut:
    return click_to_call(container, agent, body, request)
