"""API clients of the FHIR API (admin): register a portal, an infomat or the MIS, see them,
disable and enable them.  A new client's secret is shown once, on the page that created it."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from agent_console.deps import ContainerDep, UserAdmin, actor_of, regional_only
from agent_console.schemas import ERRORS
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import api_clients
from booking_core.api_clients import CLIENT_CHANNELS, KNOWN_SCOPES, NewClient

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False,
                   dependencies=[Depends(csrf_protect), Depends(regional_only)])
api = APIRouter(prefix="/api/api-clients", tags=["api clients"],
                dependencies=[Depends(csrf_protect), Depends(regional_only)], responses=ERRORS)


class ApiClientIn(BaseModel):
    client_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=120)
    channel: str = Field(max_length=12)
    scopes: list[str] = Field(default_factory=list, max_length=20)
    requests_per_minute: int = Field(default=120, ge=1, le=100_000)


class ApiClientOut(BaseModel):
    client_id: str
    name: str
    channel: str
    scopes: list[str]
    requests_per_minute: int
    active: bool


class ApiClientCreated(ApiClientOut):
    client_secret: str = Field(description="Shown only in this answer; stored as a hash.")


def _out(c: api_clients.ClientView) -> ApiClientOut:
    return ApiClientOut(client_id=c.client_id, name=c.name, channel=c.channel,
                        scopes=sorted(c.scopes), requests_per_minute=c.requests_per_minute,
                        active=c.active)


@router.get("/api-clients")
def clients_page(request: Request, container: ContainerDep, agent: UserAdmin) -> Response:
    created = request.session.pop("new_api_secret", None)
    return render(request, "api_clients.html", {
        "clients": api_clients.list_clients(container.uow()), "channels": CLIENT_CHANNELS,
        "scopes": KNOWN_SCOPES, "created": created})


@router.post("/api-clients")
def register_form(request: Request, container: ContainerDep, agent: UserAdmin,
                  client_id: Annotated[str, Form(max_length=64)],
                  channel: Annotated[str, Form(max_length=12)],
                  name: Annotated[str, Form(max_length=120)] = "",
                  scopes: Annotated[list[str] | None, Form()] = None,
                  requests_per_minute: Annotated[int, Form(ge=1, le=100_000)] = 120) -> Response:
    client, secret = api_clients.register_client(NewClient(
        client_id, name, channel, tuple(scopes or ()), actor_of(request, agent),
        requests_per_minute), container.uow())
    # The secret crosses to the next page in the signed session, never in a URL, and only once.
    request.session["new_api_secret"] = {"client_id": client.client_id, "secret": secret}
    return RedirectResponse("/api-clients", status_code=303)


@router.post("/api-clients/{client_id}/active")
def active_form(client_id: str, request: Request, container: ContainerDep, agent: UserAdmin,
                active: Annotated[str, Form()] = "") -> Response:
    api_clients.set_client_active(client_id, active == "on", actor_of(request, agent),
                                  container.uow())
    flash(request, f"Клиент {client_id} {'включён' if active == 'on' else 'отключён'}.")
    return RedirectResponse("/api-clients", status_code=303)


@api.get("", response_model=list[ApiClientOut], summary="Registered API clients")
def api_list(container: ContainerDep, agent: UserAdmin) -> list[ApiClientOut]:
    return [_out(c) for c in api_clients.list_clients(container.uow())]


@api.post("", response_model=ApiClientCreated, status_code=201,
          summary="Register an API client (the secret is in this answer only)")
def api_register(body: ApiClientIn, request: Request, container: ContainerDep,
                 agent: UserAdmin) -> ApiClientCreated:
    client, secret = api_clients.register_client(NewClient(
        body.client_id, body.name, body.channel, tuple(body.scopes), actor_of(request, agent),
        body.requests_per_minute), container.uow())
    return ApiClientCreated(**_out(client).model_dump(), client_secret=secret)


@api.post("/{client_id}/disable", status_code=204, summary="Disable a client (its tokens end)")
def api_disable(client_id: str, request: Request, container: ContainerDep,
                agent: UserAdmin) -> Response:
    api_clients.set_client_active(client_id, False, actor_of(request, agent), container.uow())
    return Response(status_code=204)
