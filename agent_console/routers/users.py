"""Console users and roles (admin): create, change role or clinic, disable, reset a password.

A regional administrator manages every user; an administrator of one clinic sees and manages
that clinic's users only (the booking core refuses anything else with ``other_clinic``).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.deps import ContainerDep, UserAdmin, actor_of
from agent_console.errors import Forbidden
from agent_console.schemas import ERRORS, AgentIn, AgentOut, AgentPatch
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import agents, clinic_admin
from booking_core.agents import ROLES, NewAgent

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/agents", tags=["users"], dependencies=[Depends(csrf_protect)],
                responses=ERRORS)


def _not_self_lockout(agent: agents.AgentView, username: str, role: str | None,
                      active: bool | None) -> None:
    """An administrator cannot demote or disable themselves (someone must stay admin)."""
    if agents.normalize_username(username) == agent.username and (
            (role is not None and role != "admin") or active is False):
        raise Forbidden("you cannot demote or disable yourself")


def _clinic_field(agent: agents.AgentView, value: str) -> int | None:
    """The clinic chosen in a form ("" = regional); one clinic's admin has only their own."""
    if agent.clinic_id is not None:
        return agent.clinic_id
    return int(value) if value.strip().isdigit() else None


@router.get("/users")
def users_page(request: Request, container: ContainerDep, agent: UserAdmin) -> Response:
    clinics = [c for c in clinic_admin.clinics(container.uow())
               if agent.clinic_id is None or c.id == agent.clinic_id]
    return render(request, "users.html", {
        "users": agents.list_agents(container.uow(), clinic_id=agent.clinic_id),
        "roles": ROLES, "clinics": clinics,
        "clinic_names": {c.id: c.short_name for c in clinics}})


@router.post("/users")
def create_form(request: Request, container: ContainerDep, agent: UserAdmin,
                username: Annotated[str, Form(max_length=60)],
                role: Annotated[str, Form()], password: Annotated[str, Form(max_length=200)],
                full_name: Annotated[str, Form(max_length=160)] = "",
                extension: Annotated[str, Form(max_length=20)] = "",
                clinic: Annotated[str, Form(max_length=12)] = "") -> Response:
    created = agents.create_agent(NewAgent(username, role, password, actor_of(request, agent),
                                           full_name=full_name, extension=extension,
                                           clinic_id=_clinic_field(agent, clinic)),
                                  container.uow())
    flash(request, f"Пользователь {created.username} создан.")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{username}")
def update_form(username: str, request: Request, container: ContainerDep, agent: UserAdmin,
                role: Annotated[str, Form()], active: Annotated[str, Form()] = "",
                password: Annotated[str, Form(max_length=200)] = "",
                clinic: Annotated[str, Form(max_length=12)] = "") -> Response:
    is_active = active == "on"
    _not_self_lockout(agent, username, role, is_active)
    agents.update_agent(username, actor_of(request, agent), container.uow(), role=role,
                        active=is_active, password=password or None,
                        clinic_id=_clinic_field(agent, clinic))
    flash(request, f"Пользователь {username} изменён.")
    return RedirectResponse("/users", status_code=303)


@api.get("", response_model=list[AgentOut], summary="Console users")
def api_list(container: ContainerDep, agent: UserAdmin) -> list[AgentOut]:
    return [AgentOut.model_validate(a)
            for a in agents.list_agents(container.uow(), clinic_id=agent.clinic_id)]


@api.post("", response_model=AgentOut, status_code=201, summary="Create a console user")
def api_create(body: AgentIn, request: Request, container: ContainerDep,
               agent: UserAdmin) -> AgentOut:
    return AgentOut.model_validate(agents.create_agent(
        NewAgent(body.username, body.role, body.password, actor_of(request, agent),
                 full_name=body.full_name, extension=body.extension,
                 clinic_id=body.clinic_id if "clinic_id" in body.model_fields_set
                 else agent.clinic_id), container.uow()))


@api.patch("/{username}", response_model=AgentOut, summary="Change role, state or password")
def api_update(username: str, body: AgentPatch, request: Request, container: ContainerDep,
               agent: UserAdmin) -> AgentOut:
    _not_self_lockout(agent, username, body.role, body.active)
    return AgentOut.model_validate(agents.update_agent(
        username, actor_of(request, agent), container.uow(), role=body.role, active=body.active,
        full_name=body.full_name, extension=body.extension, password=body.password,
        clinic_id=body.clinic_id if "clinic_id" in body.model_fields_set else ...))
