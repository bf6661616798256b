"""A doctor's weekly template (admin): the editor with a week preview before saving, the save
itself (booked visits no longer covered are flagged, never deleted), and slot generation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from agent_console.admin_schemas import (
    DayOverrideIn,
    DayOverrideOut,
    GeneratedOut,
    PreviewDayOut,
    PreviewIn,
    PreviewSlotOut,
    ScheduleChangeOut,
    TemplateRowIO,
    TemplatesIn,
)
from agent_console.deps import ClinicAdmin, ContainerDep, actor_of
from agent_console.schemas import ERRORS
from agent_console.security import csrf_protect, flash
from agent_console.templating import render
from booking_core import doctor_admin, slots
from booking_core.errors import InvalidInput
from booking_core.schedules import DayOverride, TemplateRow
from booking_core.scope import ClinicScope
from models.tables import Doctor

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(prefix="/api/admin/doctors", tags=["administration"],
                dependencies=[Depends(csrf_protect)], responses=ERRORS)

BLANK_ROWS = 3  # empty lines under the stored ones, for new periods
PARITIES = ("any", "even", "odd")
FIELDS = ("weekday", "start_time", "end_time", "slot_minutes", "cabinet", "break_start",
          "break_end", "date_parity", "week_parity", "valid_from", "valid_to")


@dataclass(frozen=True)
class FormLine:
    """One line of the editor as typed (kept as text so a wrong line is shown back as is)."""

    weekday: str = "0"
    start_time: str = ""
    end_time: str = ""
    slot_minutes: str = "15"
    cabinet: str = ""
    break_start: str = ""
    break_end: str = ""
    date_parity: str = "any"
    week_parity: str = "any"
    valid_from: str = ""
    valid_to: str = ""


class BadLine(ValueError):
    def __init__(self, line: int, what: str) -> None:
        super().__init__(f"Строка {line}: {what}")


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _hm(t: time | None) -> str:
    return t.strftime("%H:%M") if t else ""


def _line_of(row: TemplateRow) -> FormLine:
    return FormLine(str(row.weekday), _hm(row.start_time), _hm(row.end_time),
                    str(row.slot_minutes), row.cabinet, _hm(row.break_start),
                    _hm(row.break_end), row.date_parity, row.week_parity,
                    row.valid_from.isoformat() if row.valid_from else "",
                    row.valid_to.isoformat() if row.valid_to else "")


def _parse_line(n: int, line: FormLine) -> TemplateRow:
    """A typed line as a template row; :class:`BadLine` names the line and what is wrong."""
    def when(text: str, what: str) -> time | None:
        try:
            return time.fromisoformat(text) if text else None
        except ValueError:
            raise BadLine(n, f"время «{what}» в формате ЧЧ:ММ") from None

    def day(text: str, what: str) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError:
            raise BadLine(n, f"дата «{what}»") from None

    start, end = when(line.start_time, "с"), when(line.end_time, "до")
    if start is None or end is None or end <= start:
        raise BadLine(n, "начало и конец приёма, конец позже начала")
    b_start, b_end = when(line.break_start, "перерыв с"), when(line.break_end, "перерыв до")
    if (b_start is None) != (b_end is None) or (b_start and b_end and not
                                                 start <= b_start < b_end <= end):
        raise BadLine(n, "перерыв — оба времени, внутри приёма")
    if not line.slot_minutes.isdigit() or not 5 <= int(line.slot_minutes) <= 240:
        raise BadLine(n, "длительность приёма от 5 до 240 минут")
    if line.date_parity not in PARITIES or line.week_parity not in PARITIES:
        raise BadLine(n, "чётность")
    if not line.weekday.isdigit() or int(line.weekday) > 6:
        raise BadLine(n, "день недели")
    return TemplateRow(weekday=int(line.weekday), start_time=start, end_time=end,
                       slot_minutes=int(line.slot_minutes), cabinet=line.cabinet.strip()[:20],
                       valid_from=day(line.valid_from, "действует с"),
                       valid_to=day(line.valid_to, "действует по"),
                       date_parity=line.date_parity, week_parity=line.week_parity,
                       break_start=b_start, break_end=b_end)


def _lines_from_form(form: dict[str, list[str]]) -> list[FormLine]:
    count = len(form.get("start_time", []))
    lines = []
    for i in range(count):
        values = {f: (form.get(f, []) + [""] * count)[i].strip() for f in FIELDS}
        if values["start_time"] or values["end_time"]:
            lines.append(FormLine(**values))
    return lines


async def _read_form(request: Request) -> tuple[list[FormLine], date | None]:
    form = await request.form()
    multi = {f: [str(v) for v in form.getlist(f)] for f in FIELDS}
    monday_text = str(form.get("monday") or "")
    try:
        monday = date.fromisoformat(monday_text) if monday_text else None
    except ValueError:
        monday = None
    return _lines_from_form(multi), monday


def doctor_in_scope(doctor_id: int, container: ContainerDep, agent: ClinicAdmin) -> Doctor:
    """The doctor, if of the user's clinic (``other_clinic`` otherwise; regional: any)."""
    return doctor_admin.get_doctor(doctor_id, container.uow(), ClinicScope(own=agent.clinic_id))


def _editor(request: Request, container: ContainerDep, doctor_id: int, lines: list[FormLine],
            monday: date, preview: dict | None = None, error: str = "") -> Response:  # type: ignore[type-arg]
    return render(request, "admin/schedule_editor.html", {
        "doctor": doctor_in_scope(doctor_id, container, request.state.agent),
        "lines": lines + [FormLine()] * BLANK_ROWS, "monday": monday, "preview": preview,
        "overrides": doctor_admin.overrides_ahead(doctor_id, container.uow()),
        "today": container.clock.today(), "error": error}, status_code=422 if error else 200)


@router.get("/admin/doctors/{doctor_id}/schedule")
def editor_page(doctor_id: int, request: Request, container: ContainerDep,
                agent: ClinicAdmin) -> Response:
    rows = doctor_admin.templates_of(doctor_id, container.uow())
    return _editor(request, container, doctor_id, [_line_of(r) for r in rows],
                   _next_monday(container.clock.today()))


@router.post("/admin/doctors/{doctor_id}/schedule/preview")
async def preview_form(doctor_id: int, request: Request, container: ContainerDep,
                       agent: ClinicAdmin) -> Response:
    """Show the week the typed template would give, without saving anything."""
    lines, monday = await _read_form(request)
    monday = monday or _next_monday(container.clock.today())
    monday -= timedelta(days=monday.weekday())
    try:
        rows = [_parse_line(n, line) for n, line in enumerate(lines, 1)]
    except BadLine as exc:
        return _editor(request, container, doctor_id, lines, monday, error=str(exc))
    week = doctor_admin.preview(doctor_id, rows, monday, container.uow())
    return _editor(request, container, doctor_id, lines, monday, preview=week)


@router.post("/admin/doctors/{doctor_id}/schedule")
async def save_form(doctor_id: int, request: Request, container: ContainerDep,
                    agent: ClinicAdmin) -> Response:
    lines, monday = await _read_form(request)
    try:
        rows = [_parse_line(n, line) for n, line in enumerate(lines, 1)]
    except BadLine as exc:
        return _editor(request, container, doctor_id, lines,
                       monday or _next_monday(container.clock.today()), error=str(exc))
    change = doctor_admin.change_schedule(doctor_id, rows, actor_of(request, agent),
                                          container.uow())
    if not change.changed:
        flash(request, "Расписание не изменилось.")
    else:
        flash(request, f"Расписание сохранено. Новых талонов: {change.created_slots}, "
                       f"убрано свободных: {change.removed_free_slots}, "
                       f"записей к обзвону: {change.flagged}.")
    return RedirectResponse(f"/admin/doctors/{doctor_id}/schedule", status_code=303)


def _opt_time(text: str) -> time | None:
    try:
        return time.fromisoformat(text) if text.strip() else None
    except ValueError:
        raise InvalidInput("time as HH:MM") from None


@router.post("/admin/doctors/{doctor_id}/overrides")
def override_form(doctor_id: int, request: Request, container: ContainerDep, agent: ClinicAdmin,
                  day: Annotated[date, Form()], kind: Annotated[str, Form()] = "off",
                  start_time: Annotated[str, Form()] = "", end_time: Annotated[str, Form()] = "",
                  slot_minutes: Annotated[str, Form()] = "",
                  cabinet: Annotated[str, Form(max_length=20)] = "",
                  reason: Annotated[str, Form(max_length=200)] = "") -> Response:
    """A day off, an extra working day or a shortened day; that day's slots follow at once."""
    change = doctor_admin.set_override(doctor_id, DayOverride(
        day, kind, _opt_time(start_time), _opt_time(end_time),
        int(slot_minutes) if slot_minutes.isdigit() else None, cabinet.strip(), reason.strip()),
        actor_of(request, agent), container.uow())
    flash(request, f"Изменение дня {day:%d.%m.%Y} сохранено. Записей к обзвону: {change.flagged}.")
    return RedirectResponse(f"/admin/doctors/{doctor_id}/schedule", status_code=303)


@router.post("/admin/doctors/{doctor_id}/overrides/{override_id}/delete")
def override_delete_form(doctor_id: int, override_id: int, request: Request,
                         container: ContainerDep, agent: ClinicAdmin) -> Response:
    doctor_admin.remove_override(doctor_id, override_id, actor_of(request, agent),
                                 container.uow())
    flash(request, "Изменение дня отменено: действует обычное расписание.")
    return RedirectResponse(f"/admin/doctors/{doctor_id}/schedule", status_code=303)


@router.post("/admin/slots/generate")
def generate_form(request: Request, container: ContainerDep, agent: ClinicAdmin,
                  back: Annotated[str, Form(max_length=200)] = "/admin/doctors") -> Response:
    created = slots.generate_slots(container.uow())
    flash(request, f"Талоны сформированы: новых {created}.")
    target = back if back.startswith("/admin/") else "/admin/doctors"
    return RedirectResponse(target, status_code=303)


def _rows_of(body: TemplatesIn) -> list[TemplateRow]:
    """The rows of a JSON body; the first invalid one is refused by number and reason."""
    rows = [TemplateRow(**r.model_dump()) for r in body.rows]
    for n, row in enumerate(rows, 1):
        if row.problems():
            raise InvalidInput(f"template row {n}: {', '.join(row.problems())}")
    return rows


@api.get("/{doctor_id}/templates", response_model=list[TemplateRowIO],
         summary="The doctor's weekly template",
         dependencies=[Depends(doctor_in_scope)])
def api_templates(doctor_id: int, container: ContainerDep,
                  agent: ClinicAdmin) -> list[TemplateRowIO]:
    return [TemplateRowIO.model_validate(r)
            for r in doctor_admin.templates_of(doctor_id, container.uow())]


@api.post("/{doctor_id}/templates/preview", response_model=list[PreviewDayOut],
          summary="The slots a template would give in one week (nothing is saved)",
          dependencies=[Depends(doctor_in_scope)])
def api_preview(doctor_id: int, body: PreviewIn, container: ContainerDep,
                agent: ClinicAdmin) -> list[PreviewDayOut]:
    monday = body.monday or _next_monday(container.clock.today())
    monday -= timedelta(days=monday.weekday())
    rows = _rows_of(body)
    week = doctor_admin.preview(doctor_id, rows, monday, container.uow())
    return [PreviewDayOut(day=d, slots=[PreviewSlotOut.model_validate(s) for s in specs])
            for d, specs in sorted(week.items())]


@api.put("/{doctor_id}/templates", response_model=ScheduleChangeOut,
         summary="Replace the weekly template; uncovered booked visits are flagged")
def api_save(doctor_id: int, body: TemplatesIn, request: Request, container: ContainerDep,
             agent: ClinicAdmin) -> ScheduleChangeOut:
    rows = _rows_of(body)
    return ScheduleChangeOut.model_validate(doctor_admin.change_schedule(
        doctor_id, rows, actor_of(request, agent), container.uow()))


@api.get("/{doctor_id}/overrides", response_model=list[DayOverrideOut],
         summary="The doctor's one-off day changes from today on",
         dependencies=[Depends(doctor_in_scope)])
def api_overrides(doctor_id: int, container: ContainerDep,
                  agent: ClinicAdmin) -> list[DayOverrideOut]:
    return [DayOverrideOut.model_validate(o)
            for o in doctor_admin.overrides_ahead(doctor_id, container.uow())]


@api.post("/{doctor_id}/overrides", response_model=ScheduleChangeOut, status_code=201,
          summary="Add a day off, an extra or a shortened working day")
def api_add_override(doctor_id: int, body: DayOverrideIn, request: Request,
                     container: ContainerDep, agent: ClinicAdmin) -> ScheduleChangeOut:
    return ScheduleChangeOut.model_validate(doctor_admin.set_override(
        doctor_id, DayOverride(**body.model_dump()), actor_of(request, agent), container.uow()))


@api.delete("/{doctor_id}/overrides/{override_id}", response_model=ScheduleChangeOut,
            summary="Remove a day change; the weekly template rules that day again")
def api_remove_override(doctor_id: int, override_id: int, request: Request,
                        container: ContainerDep, agent: ClinicAdmin) -> ScheduleChangeOut:
    return ScheduleChangeOut.model_validate(doctor_admin.remove_override(
        doctor_id, override_id, actor_of(request, agent), container.uow()))


@api.post("/slots/generate", response_model=GeneratedOut,
          summary="Generate slots of every doctor for the rolling window (idempotent)")
def api_generate(container: ContainerDep, agent: ClinicAdmin) -> GeneratedOut:
    return GeneratedOut(created=slots.generate_slots(container.uow()))
