"""Reading the audit log: filters by actor, action, entity and period, paginated."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, func, literal, or_
from sqlmodel import col, select

from booking_core.errors import InvalidInput
from booking_core.masking import mask_phone
from booking_core.reports import utc_bounds
from booking_core.uow import UnitOfWork
from models.tables import (
    Agent,
    Appointment,
    AuditLog,
    CallbackRequest,
    Doctor,
    Patient,
    Specialty,
)

logger = logging.getLogger(__name__)

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class AuditQuery:
    actor: str = ""  # part of "agent:ivanova", "patient:42", "system:..."
    action: str = ""
    entity: str = ""
    entity_id: str = ""
    date_from: date | None = None  # local days
    date_to: date | None = None
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # UTC
    actor: str
    actor_kind: str
    channel: str
    source: str  # an IP as is, a caller number masked
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor_name: str = ""  # the agent's or patient's name, when the log names one
    subject: str = ""  # whom the entry is about (the appointment's or callback's patient)
    #: names of ids in before/after: ``{"doctor_id": {"1": "Кашинцева Г.В."}}``
    refs: dict[str, dict[str, str]] | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class AuditFacets:
    actions: list[str]
    entities: list[str]


def _source(value: str) -> str:
    """IP addresses stay readable; anything else (a caller number) is masked."""
    if not value or "." in value or ":" in value:
        return value
    return mask_phone(value)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _of_clinic(clinic_id: int) -> ColumnElement[bool]:
    """Entries that concern one clinic: done by its users or its patients, or about its
    patients, their appointments (by the doctor's clinic), its doctors or its users."""

    def ids(column: Any, *where: Any) -> Any:
        return select(cast(column, String)).where(*where)

    def labelled(prefix: str, column: Any, *where: Any) -> Any:
        return select(literal(prefix) + cast(column, String)).where(*where)

    doctors = select(Doctor.id).where(Doctor.clinic_id == clinic_id)
    return or_(
        col(AuditLog.actor).in_(labelled("agent:", Agent.username, Agent.clinic_id == clinic_id)),
        col(AuditLog.actor).in_(labelled("patient:", Patient.id, Patient.clinic_id == clinic_id)),
        and_(AuditLog.entity == "patient",
             col(AuditLog.entity_id).in_(ids(Patient.id, Patient.clinic_id == clinic_id))),
        and_(AuditLog.entity == "appointment",
             col(AuditLog.entity_id).in_(ids(Appointment.id,
                                             col(Appointment.doctor_id).in_(doctors)))),
        and_(AuditLog.entity == "doctor",
             col(AuditLog.entity_id).in_(ids(Doctor.id, Doctor.clinic_id == clinic_id))),
        and_(AuditLog.entity == "agent",
             col(AuditLog.entity_id).in_(ids(Agent.id, Agent.clinic_id == clinic_id))),
    )


def search_audit(q: AuditQuery, uow: UnitOfWork, tz: str,
                 clinic_id: int | None = None) -> AuditPage:
    """One page of audit entries matching the filters, newest first; only those concerning
    one clinic (:func:`_of_clinic`) when ``clinic_id`` is given."""
    if q.page < 1 or not 1 <= q.per_page <= MAX_PER_PAGE:
        raise InvalidInput("page numbers start at 1; at most 200 entries per page")
    conds = [] if clinic_id is None else [_of_clinic(clinic_id)]
    if q.actor.strip():
        conds.append(col(AuditLog.actor).like(f"%{_like_escape(q.actor.strip())}%", escape="\\"))
    if q.action.strip():
        conds.append(AuditLog.action == q.action.strip())
    if q.entity.strip():
        conds.append(AuditLog.entity == q.entity.strip())
    if q.entity_id.strip():
        conds.append(AuditLog.entity_id == q.entity_id.strip())
    if q.date_from or q.date_to:
        lo, hi = utc_bounds(q.date_from or date(1970, 1, 1), q.date_to or date(9998, 12, 30), tz)
        if q.date_from:
            conds.append(AuditLog.at >= lo)
        if q.date_to:
            conds.append(AuditLog.at < hi)
    with uow.reading():
        total = uow.session.exec(select(func.count()).select_from(AuditLog).where(*conds)).one()
        rows = uow.session.exec(
            select(AuditLog).where(*conds)
            .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
            .offset((q.page - 1) * q.per_page).limit(q.per_page)
        ).all()
        actors = _actor_names(uow, rows)
        subjects = _subjects(uow, rows)
        refs = _refs(uow, rows)
        entries = [AuditEntry(
            id=r.id, at=r.at, actor=r.actor, actor_kind=r.actor_kind, channel=r.channel,  # type: ignore[arg-type]
            source=_source(r.source), action=r.action, entity=r.entity, entity_id=r.entity_id,
            before=r.before, after=r.after, actor_name=actors.get(r.actor, ""),
            subject=subjects.get((r.entity, r.entity_id), ""), refs=refs) for r in rows]
        return AuditPage(entries, total, q.page, q.per_page)


def _ids(values: Iterable[str]) -> set[int]:
    return {int(v) for v in values if v.isdigit()}


def _actor_names(uow: UnitOfWork, rows: Sequence[AuditLog]) -> dict[str, str]:
    """``"agent:ivanova"`` → «Иванова Е. А.», ``"patient:42"`` → the patient's name."""
    usernames = {r.actor.partition(":")[2] for r in rows if r.actor.startswith("agent:")}
    patients = _ids(r.actor.partition(":")[2] for r in rows if r.actor.startswith("patient:"))
    names: dict[str, str] = {}
    if usernames:
        for username, full_name in uow.session.exec(
                select(Agent.username, Agent.full_name)
                .where(col(Agent.username).in_(usernames))):
            names[f"agent:{username}"] = full_name or username
    if patients:
        for p in uow.session.exec(select(Patient).where(col(Patient.id).in_(patients))):
            names[f"patient:{p.id}"] = p.full_name
    return names


def _refs(uow: UnitOfWork, rows: Sequence[AuditLog]) -> dict[str, dict[str, str]]:
    """Doctor and specialty names for the ids the entries' before/after mention."""
    wanted: dict[str, set[int]] = {"doctor_id": set(), "specialty_id": set(),
                                   "substitute_doctor_id": set()}
    for r in rows:
        for side in (r.before or {}, r.after or {}):
            for key, ids in wanted.items():
                if isinstance(side.get(key), int):
                    ids.add(side[key])
    doctors = wanted["doctor_id"] | wanted["substitute_doctor_id"]
    out: dict[str, dict[str, str]] = {}
    if doctors:
        names = {str(d.id): d.full_name for d in uow.session.exec(
            select(Doctor).where(col(Doctor.id).in_(doctors)))}
        out["doctor_id"] = out["substitute_doctor_id"] = names
    if wanted["specialty_id"]:
        out["specialty_id"] = {str(s.id): s.name_ru for s in uow.session.exec(
            select(Specialty).where(col(Specialty.id).in_(wanted["specialty_id"])))}
    return out


def _subjects(uow: UnitOfWork, rows: Sequence[AuditLog]) -> dict[tuple[str, str], str]:
    """The patient each appointment / patient / callback entry is about, by name."""
    appts = _ids(r.entity_id for r in rows if r.entity == "appointment")
    pats = _ids(r.entity_id for r in rows if r.entity == "patient")
    cbs = _ids(r.entity_id for r in rows if r.entity == "callback")
    out: dict[tuple[str, str], str] = {}
    if appts:
        for appt_id, p in uow.session.exec(
                select(Appointment.id, Patient)
                .join(Patient, col(Patient.id) == Appointment.patient_id)
                .where(col(Appointment.id).in_(appts))):
            out[("appointment", str(appt_id))] = p.full_name
    if pats:
        for p in uow.session.exec(select(Patient).where(col(Patient.id).in_(pats))):
            out[("patient", str(p.id))] = p.full_name
    if cbs:
        for cb_id, p in uow.session.exec(
                select(CallbackRequest.id, Patient)
                .join(Patient, col(Patient.id) == CallbackRequest.patient_id)
                .where(col(CallbackRequest.id).in_(cbs))):
            out[("callback", str(cb_id))] = p.full_name
    return out


def audit_facets(uow: UnitOfWork) -> AuditFacets:
    """The actions and entities present in the log, for filter drop-downs."""
    with uow.reading():
        actions = uow.session.exec(select(AuditLog.action).distinct()
                                   .order_by(col(AuditLog.action))).all()
        entities = uow.session.exec(select(AuditLog.entity).distinct()
                                    .order_by(col(AuditLog.entity))).all()
        return AuditFacets(list(actions), list(entities))
