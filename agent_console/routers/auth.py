"""Logging in and out: the login page and the JSON session resource."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.deps import ContainerDep, CurrentAgent, actor_of, session_agent
from agent_console.errors import NotAuthenticated, is_api
from agent_console.schemas import ERRORS, AgentOut, LoginIn, SessionOut
from agent_console.security import (
    client_ip,
    csrf_protect,
    csrf_token,
    end_session,
    session_user,
    start_session,
)
from agent_console.templating import render
from booking_core import agents, clinic_admin
from booking_core.agents import AgentView, InvalidCredentials
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api", tags=["session"], dependencies=[Depends(csrf_protect)],
                responses=ERRORS)


def _login(request: Request, container: Container, username: str, password: str) -> AgentView:
    throttle = request.app.state.login_throttle
    ip = client_ip(request)
    throttle.check(ip, username)
    try:
        agent = agents.authenticate(username, password, container.uow(), source=ip)
    except InvalidCredentials:
        throttle.failed(ip, username)
        raise
    throttle.succeeded(ip, username)
    start_session(request, agent.username, agent.session_version)
    logger.info("console login: %s (%s)", agent.username, agent.role)
    return agent


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login")
def login_page(request: Request, container: ContainerDep, next: str = "/") -> Response:
    if session_user(request):
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next),
                                          "no_users": agents.count_agents(container.uow()) == 0})


@router.post("/login")
def login_form(
    request: Request, container: ContainerDep,
    username: Annotated[str, Form(max_length=60)], password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        _login(request, container, username, password)
    except InvalidCredentials as exc:
        return render(request, "login.html", {"next": _safe_next(next), "username": username,
                                              "error_id": exc.code, "no_users": False},
                      status_code=401)
    return RedirectResponse(_safe_next(next), status_code=303)


def _logout(request: Request, container: Container) -> None:
    """End this user's sessions everywhere (a copied cookie dies too), then this one."""
    try:
        agent = session_agent(request)
    except NotAuthenticated:
        agent = None  # already invalid: nothing to revoke
    if agent is not None:
        agents.end_sessions(agent.username, actor_of(request, agent), container.uow())
        logger.info("console logout: %s", agent.username)
    end_session(request)


@router.post("/logout")
def logout(request: Request, container: ContainerDep) -> Response:
    _logout(request, container)
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request, container: ContainerDep) -> Response:
    if not session_user(request) and not is_api(request):
        return RedirectResponse("/login", status_code=303)
    if not clinic_admin.clinic_ready(container.uow()):
        return RedirectResponse("/setup", status_code=303)  # nothing to work on yet
    return RedirectResponse("/queue", status_code=303)


@api.post("/session", response_model=SessionOut, summary="Log in (sets the session cookie)")
def api_login(body: LoginIn, request: Request, container: ContainerDep) -> SessionOut:
    agent = _login(request, container, body.username, body.password)
    return SessionOut(agent=AgentOut.model_validate(agent), csrf_token=csrf_token(request))


@api.get("/session", response_model=SessionOut, summary="Who am I, and my CSRF token")
def api_session(request: Request, agent: CurrentAgent) -> SessionOut:
    return SessionOut(agent=AgentOut.model_validate(agent), csrf_token=csrf_token(request))


@api.delete("/session", status_code=204, summary="Log out")
def api_logout(request: Request, agent: CurrentAgent, container: ContainerDep) -> Response:
    _logout(request, container)
    return Response(status_code=204)
