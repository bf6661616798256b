"""The registry desk's opening hours as the console shows them: open now, until when, or when
it opens next — the same answer the IVR gives callers and passes to the dialplan."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends

from agent_console import labels
from agent_console.deps import ContainerDep, QueueViewer
from agent_console.schemas import ERRORS, DeskOut
from agent_console.security import csrf_protect

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)  # no page of its own: the queue page shows it
api = APIRouter(prefix="/api/desk", tags=["desk"], dependencies=[Depends(csrf_protect)],
                responses=ERRORS)


@api.get("", response_model=DeskOut, summary="Is the registry desk open now (hours, holidays)")
def api_desk(container: ContainerDep, agent: QueueViewer) -> DeskOut:
    now = container.clock.now_local()
    status = container.hours.status(now)
    return DeskOut(open=status.open, closes_at=status.closes_at, opens_at=status.opens_at,
                   holiday=container.hours.holiday_name(now.date()),
                   text=labels.desk_text(container.hours, now))
