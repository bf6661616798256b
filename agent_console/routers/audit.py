"""The audit log viewer: who did what, when, from where, before and after (admin)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from agent_console.deps import Auditor, ContainerDep, Scope
from agent_console.schemas import ERRORS, AuditPageOut
from agent_console.security import csrf_protect
from agent_console.templating import render
from booking_core import audit_query
from booking_core.audit_query import AuditQuery

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/audit", tags=["audit"], dependencies=[Depends(csrf_protect)],
                responses=ERRORS)

Text = Annotated[str, Query(max_length=80)]
Page = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=audit_query.MAX_PER_PAGE)]


def _query(actor: str, action: str, entity: str, entity_id: str, date_from: date | None,
           date_to: date | None, page: int, per_page: int) -> AuditQuery:
    return AuditQuery(actor=actor, action=action, entity=entity, entity_id=entity_id,
                      date_from=date_from, date_to=date_to, page=page, per_page=per_page)


@router.get("/audit")
def audit_page(request: Request, container: ContainerDep, agent: Auditor, scope: Scope,
               actor: Text = "",
               action: Text = "", entity: Text = "", entity_id: Text = "",
               date_from: date | None = None, date_to: date | None = None, page: Page = 1,
               per_page: PerPage = 50) -> Response:
    q = _query(actor, action, entity, entity_id, date_from, date_to, page, per_page)
    result = audit_query.search_audit(q, container.uow(), container.settings.timezone,
                                      clinic_id=scope.own)
    filters = {k: v for k, v in {"actor": actor, "action": action, "entity": entity,
                                 "entity_id": entity_id, "date_from": date_from or "",
                                 "date_to": date_to or "", "per_page": per_page}.items() if v}

    def page_url(n: int) -> str:
        return "/audit?" + urlencode({**filters, "page": n})

    return render(request, "audit.html", {"q": q, "result": result,
                                          "facets": audit_query.audit_facets(container.uow()),
                                          "page_url": page_url})


@api.get("", response_model=AuditPageOut, summary="Audit entries, newest first")
def api_audit(container: ContainerDep, agent: Auditor, scope: Scope, actor: Text = "",
              action: Text = "",
              entity: Text = "", entity_id: Text = "", date_from: date | None = None,
              date_to: date | None = None, page: Page = 1,
              per_page: PerPage = 50) -> AuditPageOut:
    q = _query(actor, action, entity, entity_id, date_from, date_to, page, per_page)
    return AuditPageOut.model_validate(
        audit_query.search_audit(q, container.uow(), container.settings.timezone,
                                 clinic_id=scope.own))
