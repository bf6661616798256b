"""Callback requests: the worklist of patients to call back, marking them done."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.deps import ContainerDep, Registrar, Scope, actor_of
from agent_console.schemas import ERRORS, CallbackDoneIn, CallbackOut
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import admin, worklists

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/callbacks", tags=["callbacks"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)

StatusFilter = Annotated[str, Query(pattern="^(open|done|all)$")]


@router.get("/callbacks")
def callbacks_page(request: Request, container: ContainerDep, agent: Registrar, scope: Scope,
                   status: StatusFilter = "open") -> Response:
    items = worklists.callbacks(container.uow(), status=None if status == "all" else status,
                                scope=scope.access)
    return render(request, "callbacks.html", {"items": items, "status": status})


@router.post("/callbacks/{callback_id}/done")
def done_form(callback_id: int, request: Request, container: ContainerDep, agent: Registrar,
              note: Annotated[str, Form(max_length=500)] = "") -> Response:
    admin.complete_callback(callback_id, actor_of(request, agent), container.uow(), note=note)
    flash(request, "Отмечено: перезвонили.")
    return RedirectResponse("/callbacks", status_code=303)


@api.get("", response_model=list[CallbackOut], summary="Callback requests")
def api_list(container: ContainerDep, agent: Registrar, scope: Scope,
             status: StatusFilter = "open") -> list[CallbackOut]:
    items = worklists.callbacks(container.uow(), status=None if status == "all" else status,
                                scope=scope.access)
    return [CallbackOut.model_validate(i) for i in items]


@api.post("/{callback_id}/done", status_code=204, summary="Mark a callback request done")
def api_done(callback_id: int, request: Request, container: ContainerDep, agent: Registrar,
             body: CallbackDoneIn | None = None) -> Response:
    admin.complete_callback(callback_id, actor_of(request, agent), container.uow(),
                            note=body.note if body else "")
    return Response(status_code=204)
