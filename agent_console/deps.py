"""FastAPI dependencies and their ``Annotated`` aliases: the container, the user, roles."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, WebSocketException, status
from starlette.requests import HTTPConnection

from agent_console.errors import Forbidden, NotAuthenticated
from agent_console.security import (
    client_ip,
    end_session,
    same_origin,
    session_generation,
    session_user,
)
from booking_core import agents, call_queue
from booking_core.actors import Actor
from booking_core.agents import AgentView, Permission
from booking_core.errors import DomainError, OtherClinic
from booking_core.scope import ClinicScope
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def session_agent(conn: HTTPConnection) -> AgentView:
    """The logged-in, still active console user of a request or websocket, re-read each time
    (a disabled account or a changed role takes effect at once).  A session issued before the
    user's last logout, password change or disabling no longer counts."""
    username = session_user(conn)
    if not username:
        raise NotAuthenticated()
    container: Container = conn.app.state.container
    agent = agents.get_agent(username, container.uow())
    if agent is None or not agent.active or session_generation(conn) != agent.session_version:
        end_session(conn)
        raise NotAuthenticated()
    conn.state.agent = agent
    return agent


def current_agent(request: Request) -> AgentView:
    """The logged-in console user of this request (:func:`session_agent`)."""
    return session_agent(request)


CurrentAgent = Annotated[AgentView, Depends(current_agent)]


def phone_user(conn: HTTPConnection) -> AgentView:
    """The browser phone's user, for its page and its websocket alike.

    The phone books and cancels, so it takes the registrar's permission (not the observer's);
    what is done there is recorded as done by this user.  The websocket handshake must come
    from our own pages (a foreign ``Origin`` would let another site drive the phone with the
    user's cookie).
    """
    websocket = conn.scope["type"] == "websocket"
    try:
        if websocket and not same_origin(conn):
            logger.info("browser phone: websocket from a foreign origin refused")
            raise Forbidden()
        agent = session_agent(conn)
        if not agent.can(Permission.WORK_PATIENTS):
            logger.info("user %s refused the browser phone", agent.username)
            raise Forbidden()
    except (NotAuthenticated, Forbidden) as exc:
        if websocket:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION,
                                     reason=exc.code) from None
        raise
    return agent


def require(permission: Permission) -> Callable[[AgentView], AgentView]:
    """A dependency that lets through only users whose role grants ``permission``."""

    def check(agent: CurrentAgent) -> AgentView:
        if not agent.can(permission):
            logger.info("user %s refused %s", agent.username, permission.value)
            raise Forbidden()
        return agent

    check.__name__ = f"require_{permission.value}"
    return check


QueueViewer = Annotated[AgentView, Depends(require(Permission.VIEW_QUEUE))]
StatsViewer = Annotated[AgentView, Depends(require(Permission.VIEW_STATS))]
Registrar = Annotated[AgentView, Depends(require(Permission.WORK_PATIENTS))]
ClinicAdmin = Annotated[AgentView, Depends(require(Permission.MANAGE_CLINIC))]
UserAdmin = Annotated[AgentView, Depends(require(Permission.MANAGE_USERS))]
Auditor = Annotated[AgentView, Depends(require(Permission.VIEW_AUDIT))]


FILTER_KEY = "clinic_filter"


def _remember_filter(request: Request, raw: str) -> int | None:
    """Keep a regional user's clinic filter ("all" or "" = all clinics) in the session."""
    chosen = int(raw) if raw.strip().isdigit() else None
    if chosen is None:
        request.session.pop(FILTER_KEY, None)
    else:
        request.session[FILTER_KEY] = chosen
    return chosen


def _chosen_clinic(request: Request) -> int | None:
    """A regional user's clinic filter: ``?clinic=ID`` (empty: all clinics) is remembered in
    the session, so the queue, the schedule, the search and the live feed agree."""
    raw = request.query_params.get("clinic")
    if raw is not None:
        return _remember_filter(request, raw)
    kept = request.session.get(FILTER_KEY)
    return kept if isinstance(kept, int) else None


def clinic_scope(request: Request, agent: CurrentAgent) -> ClinicScope:
    """What this user may see: their own clinic, or (regional) every clinic narrowed by the
    filter they chose.  The one place the console decides a reader's clinic scope; writes are
    checked again by the booking core against the actor's clinic."""
    if agent.clinic_id is not None:
        return ClinicScope(own=agent.clinic_id)
    return ClinicScope(chosen=_chosen_clinic(request))


def filter_from_form(request: Request, scope: ClinicScope, raw: str | None) -> ClinicScope:
    """The scope with a clinic chosen in a POSTed form (the patient search); a per-clinic
    user's scope does not move."""
    if raw is None or not scope.regional:
        return scope
    return ClinicScope(chosen=_remember_filter(request, raw))


Scope = Annotated[ClinicScope, Depends(clinic_scope)]


def regional_only(agent: CurrentAgent) -> AgentView:
    """For what belongs to the whole region (imports of clinic files, FHIR API clients):
    one clinic's user is refused with ``other_clinic``."""
    if agent.clinic_id is not None:
        logger.info("user %s of one clinic refused a regional page", agent.username)
        raise OtherClinic("this is managed for the whole region")
    return agent


def clinic_filter_context(container: Container, scope: ClinicScope) -> dict[str, object]:
    """What a page needs to draw the regional user's clinic select (none for one clinic)."""
    from booking_core.clinic_admin import clinics

    choices = clinics(container.uow()) if scope.regional else []
    return {"scope": scope, "filter_clinics": choices if len(choices) > 1 else []}


def actor_of(request: Request, agent: AgentView) -> Actor:
    """The audit identity of ``agent`` acting through this request."""
    return agent.actor(client_ip(request))


def current_call(request: Request, container: ContainerDep) -> call_queue.QueuedCall | None:
    """The call this agent took and is still talking on (shown above the card)."""
    call_id = request.session.get("call_id")
    if not call_id:
        return None
    try:
        return call_queue.get_call(call_id, container.uow())
    except DomainError:
        request.session.pop("call_id", None)
        return None
