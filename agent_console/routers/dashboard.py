"""The dashboard: calls per hour, self-service rate, escalation reasons, bookings by channel."""

from __future__ import annotations

import logging
from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from agent_console import labels
from agent_console.deps import ContainerDep, Scope, StatsViewer
from agent_console.schemas import ERRORS, DashboardOut
from agent_console.security import csrf_protect
from agent_console.templating import render
from booking_core import call_queue, reports, waiting_list

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/dashboard", tags=["dashboard"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)


@router.get("/dashboard")
def dashboard_page(request: Request, container: ContainerDep, agent: StatsViewer,
                   scope: Scope, date_from: date | None = None,
                   date_to: date | None = None) -> Response:
    today = container.clock.today()
    date_from, date_to = date_from or today, date_to or date_from or today
    stats = reports.dashboard(date_from, date_to, container.uow(), container.settings.timezone,
                              clinic_id=scope.own)
    waiting = sum(scope.access.shows_call(c.clinic_id)
                  for c in call_queue.waiting_calls(container.uow()))
    return render(request, "dashboard.html", {
        "s": stats, "waiting": waiting, "today": today,
        "wl": _waitlist(container, date_from, date_to),
        "reasons": [(labels.label(labels.REASONS, r), n) for r, n in stats.escalation_reasons],
        "channels": [(labels.label(labels.CHANNELS, c), n) for c, n in stats.bookings_by_channel],
        "outcomes": sorted(((labels.label(labels.OUTCOMES, o), n)
                            for o, n in stats.outcomes.items()), key=lambda x: -x[1]),
        "hours": [f"{h:02d}" for h in range(24)],
    })


@api.get("", response_model=DashboardOut, summary="Dashboard numbers for a period")
def api_dashboard(container: ContainerDep, agent: StatsViewer, scope: Scope,
                  date_from: date | None = None, date_to: date | None = None) -> DashboardOut:
    today = container.clock.today()
    date_from, date_to = date_from or today, date_to or date_from or today
    s = reports.dashboard(date_from, date_to, container.uow(), container.settings.timezone,
                          clinic_id=scope.own)
    return DashboardOut(
        date_from=s.date_from, date_to=s.date_to, calls_total=s.calls_total,
        self_served=s.self_served, escalated=s.escalated, self_service_rate=s.self_service_rate,
        calls_per_hour=s.calls_per_hour, outcomes=s.outcomes,
        escalation_reasons=dict(s.escalation_reasons),
        bookings_by_channel=dict(s.bookings_by_channel), open_callbacks=s.open_callbacks,
        waitlist_served=(wl := _waitlist(container, date_from, date_to)).served,
        waitlist_median_wait_days=wl.median_wait_days)


def _waitlist(container: ContainerDep, date_from: date, date_to: date
              ) -> waiting_list.WaitlistStats:
    start, end = reports.utc_bounds(date_from, date_to, container.settings.timezone)
    return waiting_list.served_stats(start, end, container.uow())
