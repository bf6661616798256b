"""FastAPI dependencies and their ``Annotated`` aliases: the container, the user, roles."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, WebSocketException, status
from starlette.requests import HTTPConnection

from agent_console.errors import Forbidden, NotAuthenticated
from agent_console.security import client_ip, end_session, session_user
from booking_core import agents, call_queue
from booking_core.actors import Actor
from booking_core.agents import AgentView, Permission
from booking_core.errors import DomainError
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def current_agent(request: Request, container: ContainerDep) -> AgentView:
    """The logged-in, still active console user (re-read each request: a disabled account or
    a changed role takes effect at once)."""
    username = session_user(request)
    if not username:
        raise NotAuthenticated()
    agent = agents.get_agent(username, container.uow())
    if agent is None or not agent.active:
        end_session(request)
        raise NotAuthenticated()
    request.state.agent = agent
    return agent


CurrentAgent = Annotated[AgentView, Depends(current_agent)]


def logged_in(conn: HTTPConnection) -> str:
    """Any console user, for pages and websockets alike (the browser phone).

    The phone lets its user pick the caller number, so it stays behind the login: otherwise
    it would sidestep the identification limits that are counted per caller number.
    """
    username = conn.session.get("agent")
    if username:
        return username
    if conn.scope["type"] == "websocket":
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="log in first")
    raise NotAuthenticated()


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
