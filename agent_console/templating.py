"""Jinja2 templates: filters for Russian dates and labels, and the common page context."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from agent_console import charts, labels
from agent_console.security import csrf_token, pop_flashes
from booking_core.agents import Permission
from speech.ru_names import Case, full_name_in, short_name_in
from speech.ru_numbers import plural

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"

NAV = (  # (path, label, access key, permission)
    ("/queue", "Очередь", "1", Permission.VIEW_QUEUE),
    ("/patients", "Пациенты", "2", Permission.WORK_PATIENTS),
    ("/schedule", "Расписание", "3", Permission.WORK_PATIENTS),
    ("/callbacks", "Перезвонить", "4", Permission.WORK_PATIENTS),
    ("/absences", "Отсутствия", "5", Permission.WORK_PATIENTS),
    ("/restrictions", "Ограничения", "6", Permission.WORK_PATIENTS),
    ("/waitlist", "Лист ожидания", "w", Permission.WORK_PATIENTS),
    ("/dashboard", "Статистика", "7", Permission.VIEW_STATS),
    ("/audit", "Журнал", "8", Permission.VIEW_AUDIT),
    ("/users", "Пользователи", "9", Permission.MANAGE_USERS),
    ("/admin", "Управление", "0", Permission.MANAGE_CLINIC),
)


def name_in(person: Any, case: str, short: bool = False) -> str:
    """A patient's or doctor's name in a grammatical case: ``{{ patient|name_in('accs') }}`` →
    «Петрову Анну Ивановну»; ``short=True`` → «Беловой И.С.»."""
    parts = (person.last_name, person.first_name, person.middle_name)
    return (short_name_in if short else full_name_in)(Case(case), *parts)


def make_templates(timezone: str) -> Jinja2Templates:
    """Templates for one app, with filters that know the clinic's time zone."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    zone = ZoneInfo(timezone)

    def local(value: datetime | None) -> datetime | None:
        """Naive UTC (bookkeeping times) to the clinic's local time."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)

    def fmt_dt(value: datetime | None) -> str:
        return value.strftime("%d.%m.%Y %H:%M") if value else "—"

    def fmt_date(value: date | None) -> str:
        return value.strftime("%d.%m.%Y") if value else "—"

    def fmt_hm(value: datetime | None) -> str:
        return value.strftime("%H:%M") if value else "—"

    env = templates.env
    env.filters.update(
        local=local, dt=fmt_dt, d=fmt_date, hm=fmt_hm, ru_day=labels.ru_day,
        years=lambda n: f"{n} {plural(int(n), 'год', 'года', 'лет')}",
        duration=labels.duration,
        pretty_json=lambda v: json.dumps(v, ensure_ascii=False, indent=1, default=str),
        role=lambda c: labels.label(labels.ROLES, c),
        status=lambda c: labels.label(labels.STATUSES, c),
        channel=lambda c: labels.label(labels.CHANNELS, c),
        reason=lambda c: labels.label(labels.REASONS, c),
        intent=lambda c: labels.label(labels.INTENTS, c, "не выбрано"),
        outcome=lambda c: labels.label(labels.OUTCOMES, c),
        name_in=name_in,
        appt_status=lambda a: labels.appointment_status(a.status, getattr(a, "cancel_reason",
                                                                          None)),
    )
    env.globals.update(step_text=labels.step_text, quiet_steps=labels.QUIET_STEPS,
                       charts=charts, Permission=Permission, labels=labels)
    return templates


def _clinic_ready(request: Request) -> bool:
    """An empty installation gets a pointer to the setup page on every page."""
    from booking_core.clinic_admin import clinic_ready

    return clinic_ready(request.app.state.container.uow())


def _clinic_names(request: Request) -> dict[int, str]:
    """Short clinic names by id: the header names a per-clinic user's clinic, the queue the
    clinic of each call when several clinics share the console."""
    from booking_core.clinic_admin import clinics

    return {c.id: c.short_name for c in clinics(request.app.state.container.uow())}


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """Render a page with the user, the navigation, the CSRF token and flash messages."""
    agent = getattr(request.state, "agent", None)
    phone = None
    if agent is not None:
        from agent_console.routers.telephony import phone_status

        phone = phone_status(request.app.state.container, agent)
    ctx: dict[str, Any] = {
        "phone": phone,
        "phone_ready": bool(phone and phone.connected and phone.interface),
        "agent": agent,
        "nav": [item for item in NAV if agent is not None and agent.can(item[3])],
        "csrf_token": csrf_token(request),
        "flashes": pop_flashes(request),
        "path": request.url.path,
        "setup_needed": agent is not None and not _clinic_ready(request),
        "clinic_names": _clinic_names(request) if agent is not None else {},
    }
    ctx.update(context or {})
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # pages carry personal data
    return response
