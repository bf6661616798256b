"""Exports (admin): appointments for a date range as XLSX or CSV, and the per-doctor day list
printed for the cabinet (an A4 page).  Only dates and ids travel in requests."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from agent_console import export_files
from agent_console.admin_schemas import DayListOut, ExportRowOut
from agent_console.deps import ClinicAdmin, ContainerDep, Scope, actor_of
from agent_console.schemas import ERRORS
from agent_console.security import csrf_protect
from agent_console.templating import render
from booking_core import doctor_admin, exports, schedule
from booking_core.agents import AgentView
from booking_core.errors import InvalidInput

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/admin/exports", tags=["administration"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)

MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "text/csv; charset=utf-8"}


def _file(rows: list[exports.ExportRow], fmt: str, first: date, last: date, request: Request,
          container: ContainerDep, agent: AgentView) -> Response:
    """The rows as a download; the export itself is audited (who, which range, how many)."""
    if fmt not in MEDIA:
        raise InvalidInput("format is xlsx or csv")
    exports.note_export(actor_of(request, agent), f"appointments_{fmt}", first, last, len(rows),
                        container.uow())
    body = export_files.to_xlsx(rows) if fmt == "xlsx" else export_files.to_csv(rows)
    name = f"appointments_{first:%Y%m%d}_{last:%Y%m%d}.{fmt}"
    return Response(body, media_type=MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/admin/exports")
def exports_page(request: Request, container: ContainerDep, agent: ClinicAdmin,
                 scope: Scope) -> Response:
    own = {d.id for d in schedule.doctors(container.uow(), clinic_id=scope.own)}
    return render(request, "admin/exports.html", {
        "today": container.clock.today(),
        "doctors": [d for d in doctor_admin.doctor_rows(container.uow())
                    if d.active and d.id in own]})


@router.post("/admin/exports/appointments")
def appointments_form(request: Request, container: ContainerDep, agent: ClinicAdmin,
                      scope: Scope, date_from: Annotated[date, Form()],
                      date_to: Annotated[date, Form()],
                      fmt: Annotated[str, Form(alias="format")] = "xlsx") -> Response:
    rows = exports.appointments_between(date_from, date_to, container.uow(), scope.access)
    return _file(rows, fmt, date_from, date_to, request, container, agent)


@router.get("/admin/exports/day-list")
def day_list_page(request: Request, container: ContainerDep, agent: ClinicAdmin,
                  scope: Scope, doctor_id: int, day: date) -> Response:
    """The printable A4 day list (ids and a date in the URL, nothing personal)."""
    return render(request, "admin/day_list.html", {
        "day_list": exports.day_list(doctor_id, day, container.uow(), scope.access),
        "flags": export_files.FLAGS})


@api.get("/appointments", summary="Appointments of a date range as an XLSX or CSV file",
         response_class=Response)
def api_appointments(request: Request, container: ContainerDep, agent: ClinicAdmin,
                     scope: Scope,
                     date_from: Annotated[date, Query(alias="from")],
                     date_to: Annotated[date, Query(alias="to")],
                     fmt: Annotated[str, Query(alias="format")] = "xlsx") -> Response:
    return _file(exports.appointments_between(date_from, date_to, container.uow(),
                                              scope.access), fmt,
                 date_from, date_to, request, container, agent)


@api.get("/day-list", response_model=DayListOut, summary="One doctor's visits of one day")
def api_day_list(container: ContainerDep, agent: ClinicAdmin, scope: Scope, doctor_id: int,
                 day: date) -> DayListOut:
    found = exports.day_list(doctor_id, day, container.uow(), scope.access)
    return DayListOut(day=found.day, doctor=found.doctor, specialty=found.specialty,
                      cabinet=found.cabinet,
                      rows=[ExportRowOut.model_validate(r) for r in found.rows])
