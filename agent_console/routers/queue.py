"""The live call queue: escalated IVR calls with their context, taking a call, the SSE feed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from agent_console import labels
from agent_console.deps import (
    ContainerDep,
    QueueViewer,
    Registrar,
    Scope,
    actor_of,
    clinic_filter_context,
    current_call,
)
from agent_console.feed import QueueFeed, QueueState
from agent_console.schemas import ERRORS, QueuedCallOut, QueueOut
from agent_console.security import csrf_protect, csrf_token, flash
from agent_console.templating import render
from booking_core import call_queue, clinic_admin
from booking_core.agents import AgentView, Permission
from booking_core.scope import ClinicScope

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/calls", tags=["calls"], dependencies=[Depends(csrf_protect)],
                responses=ERRORS)

KEEPALIVE_S = 15.0
ASTERISK_OFF = "Asterisk: не подключён (встроенный режим)"
ASTERISK_ON = "Asterisk: подключён (AMI)"
ASTERISK_LOST = "Asterisk: нет связи с AMI, переподключение…"


def asterisk_text(state: QueueState) -> str:
    if not state.asterisk:
        return ASTERISK_OFF
    return ASTERISK_ON if state.connected else ASTERISK_LOST


def _feed(request: Request) -> QueueFeed:
    return request.app.state.feed


def visible(state: QueueState, scope: ClinicScope) -> QueueState:
    """The queue as this user may see it: calls of their clinic (or a regional user's filter)
    and calls whose clinic is not known yet; Asterisk's rows of the other calls left out."""
    if scope.clinic_id is None:
        return state
    hidden = {c.call_id.partition("/")[0] for c in state.calls
              if not scope.shows_call(c.clinic_id)}
    if not hidden:
        return state
    return replace(state, calls=[c for c in state.calls if scope.shows_call(c.clinic_id)],
                   live=[e for e in state.live if e.get("call_id", "") not in hidden])


def _context(state: QueueState, agent: AgentView, token: str,
             clinic_names: dict[int, str] | None = None) -> dict[str, Any]:
    return {"calls": state.calls, "live": state.live, "members": state.members,
            "live_by_call": state.live_by_call, "asterisk": state.asterisk,
            "asterisk_text": asterisk_text(state), "agent": agent,
            "clinic_names": clinic_names or {},
            "can_take": agent.can(Permission.WORK_PATIENTS), "csrf_token": token}


def _clinic_names(container: Any) -> dict[int, str]:
    return {c.id: c.short_name for c in clinic_admin.clinics(container.uow())}


@router.get("/queue")
def queue_page(request: Request, container: ContainerDep, agent: QueueViewer,
               scope: Scope) -> Response:
    state = visible(_feed(request).snapshot(), scope)
    ctx = _context(state, agent, csrf_token(request), _clinic_names(container))
    ctx.update(clinic_filter_context(container, scope))
    ctx["current_call"] = current_call(request, container)
    now = container.clock.now_local()
    ctx["desk_open"] = container.hours.is_open(now)
    ctx["desk_text"] = labels.desk_text(container.hours, now)
    return render(request, "queue.html", ctx)


@router.post("/calls/{call_id}/take")
def take_call_form(call_id: str, request: Request, container: ContainerDep,
                   agent: Registrar) -> Response:
    call = call_queue.take_call(call_id, actor_of(request, agent), container.uow())
    _feed(request).poke()
    request.session["call_id"] = call.call_id
    if call.patient_id:
        return RedirectResponse(f"/patients/{call.patient_id}", status_code=303)
    flash(request, "Звонок принят. Пациент не опознан: найдите его в картотеке.")
    return RedirectResponse("/patients", status_code=303)


@router.post("/calls/{call_id}/dismiss")
def dismiss_call_form(call_id: str, request: Request, container: ContainerDep,
                      agent: Registrar) -> Response:
    call_queue.dismiss_call(call_id, actor_of(request, agent), container.uow())
    _feed(request).poke()
    flash(request, "Звонок снят с очереди.")
    return RedirectResponse("/queue", status_code=303)


@router.post("/calls/current/finish")
def finish_current_call(request: Request, agent: Registrar) -> Response:
    request.session.pop("call_id", None)
    return RedirectResponse("/queue", status_code=303)


def _same_calls(a: QueueState, b: QueueState) -> bool:
    """The same waiting calls in the same states (answered, Asterisk's view) as last sent."""
    return ([(c.call_id, c.answered_by, c.outcome) for c in a.calls]
            == [(c.call_id, c.answered_by, c.outcome) for c in b.calls]
            and a.live == b.live and a.connected == b.connected)


def _hidden_live(payload: Any, state: QueueState, scope: ClinicScope) -> bool:
    """An Asterisk event about a call of a clinic this user does not see."""
    call_id = str(payload.get("call_id", "")) if isinstance(payload, dict) else ""
    if not call_id or scope.clinic_id is None:
        return False
    return any(c.call_id.partition("/")[0] == call_id and not scope.shows_call(c.clinic_id)
               for c in state.calls)


@router.get("/events")
async def events(request: Request, agent: QueueViewer, scope: Scope) -> StreamingResponse:
    """Server-Sent Events: ``queue`` (the whole waiting list, as data and as rendered rows)
    whenever it changes, ``live`` for each AMI event; comments keep the connection alive.
    The stream ends after a while and the browser reconnects (so a server can shut down)."""
    feed = _feed(request)
    token = csrf_token(request)
    templates = request.app.state.templates
    max_s = request.app.state.sse_max_seconds
    container: Any = request.app.state.container
    # This agent's phone in the Asterisk queue: when it answers an escalated call, the page
    # opens that call's context by itself ("pop" on AgentConnect).
    my_phone = container.settings.ami_agent_interfaces.get(agent.username)
    clinic_names = _clinic_names(container)

    def queue_event(state: QueueState) -> str:
        state = visible(state, scope)
        ctx = _context(state, agent, token, clinic_names)
        html = templates.get_template("_queue_rows.html").render(ctx)
        live_html = templates.get_template("_live_rows.html").render(ctx)
        data = {"count": len(state.calls), "html": html, "live_html": live_html,
                "asterisk": state.asterisk, "asterisk_text": ctx["asterisk_text"],
                "calls": [QueuedCallOut.model_validate(c).model_dump(mode="json")
                          for c in state.calls],
                "answered": state.answered_by(my_phone)}
        return f"event: queue\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    async def stream() -> AsyncIterator[str]:
        sub, state = await feed.subscribe()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        try:
            yield "retry: 2000\n\n"
            last = visible(state, scope)
            yield queue_event(state)
            while (left := deadline - loop.time()) > 0:
                try:
                    kind, payload = await asyncio.wait_for(sub.queue.get(),
                                                           min(KEEPALIVE_S, left))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if kind == "queue":
                    seen = visible(payload, scope)
                    if scope.clinic_id is not None and _same_calls(seen, last):
                        continue  # a change in another clinic's queue: not this user's news
                    last = seen
                    yield queue_event(payload)
                elif not _hidden_live(payload, feed.snapshot(), scope):
                    yield f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
        finally:
            feed.unsubscribe(sub)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@api.get("/waiting", response_model=QueueOut, summary="Escalated calls waiting for an agent")
def api_waiting(request: Request, agent: QueueViewer, scope: Scope) -> QueueOut:
    state = visible(_feed(request).snapshot(), scope)
    return QueueOut(calls=[QueuedCallOut.model_validate(c) for c in state.calls],
                    asterisk=state.asterisk, asterisk_connected=state.connected,
                    live=state.live, members=state.members)


@api.get("/{call_id}", response_model=QueuedCallOut, summary="One call with its IVR context")
def api_call(call_id: str, container: ContainerDep, agent: Registrar,
             scope: Scope) -> QueuedCallOut:
    return QueuedCallOut.model_validate(call_queue.get_call(call_id, container.uow(),
                                                            scope.access))


@api.post("/{call_id}/take", response_model=QueuedCallOut, summary="Take a waiting call")
def api_take(call_id: str, request: Request, container: ContainerDep,
             agent: Registrar) -> QueuedCallOut:
    call = call_queue.take_call(call_id, actor_of(request, agent), container.uow())
    _feed(request).poke()
    return QueuedCallOut.model_validate(call)


@api.post("/{call_id}/dismiss", status_code=204, summary="Drop a call the caller abandoned")
def api_dismiss(call_id: str, request: Request, container: ContainerDep,
                agent: Registrar) -> Response:
    call_queue.dismiss_call(call_id, actor_of(request, agent), container.uow())
    _feed(request).poke()
    return Response(status_code=204)
