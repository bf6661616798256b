"""Registrars' worklists and the administrator's lists: callbacks to make, patients to warn
about a doctor's absence or a schedule change, channel restrictions and absences in force
(read models only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_
from sqlmodel import col, select

from booking_core.booking import LIVE_FUTURE, _view
from booking_core.errors import NotFound
from booking_core.masking import mask_phone
from booking_core.scope import EVERYWHERE, ClinicScope
from booking_core.uow import UnitOfWork
from booking_core.views import AppointmentView
from models.tables import (
    Appointment,
    AppointmentFlag,
    CallbackRequest,
    ChannelRestriction,
    Doctor,
    DoctorAbsence,
    OutboxMessage,
    Patient,
    Specialty,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallbackItem:
    id: int
    created_at: datetime  # UTC
    caller_number: str  # the agent dials it; shown in the console, never logged
    caller_masked: str
    patient_id: int | None
    patient_name: str | None
    call_id: str | None
    reason: str
    status: str
    done_by: str | None
    done_at: datetime | None
    note: str


@dataclass(frozen=True)
class AbsenceCall:
    """A patient whose visit cannot happen as booked (a doctor's absence, the doctor left, the
    schedule changed): call them."""

    appointment: AppointmentView
    patient_name: str
    phone: str
    absence_reason: str  # the reason shown to the agent, in Russian
    substitute_name: str | None
    flag: str | None = None  # "doctor_left" / "schedule_changed"; None for an absence


#: What the agents read for a flagged visit (the console is in Russian).
FLAG_REASONS_RU = {
    AppointmentFlag.DOCTOR_LEFT: "Врач больше не работает в поликлинике",
    AppointmentFlag.SCHEDULE_CHANGED: "Изменилось расписание врача: приём в это время не ведётся",
}


def flag_reason_ru(flag: str, left_on: date | None = None) -> str:
    """The Russian reason of an appointment flag (with the doctor's last day, if known)."""
    reason = FLAG_REASONS_RU.get(flag, flag)  # type: ignore[call-overload]
    if flag == AppointmentFlag.DOCTOR_LEFT and left_on is not None:
        reason += f" (последний рабочий день — {left_on:%d.%m.%Y})"
    return reason


@dataclass(frozen=True)
class RestrictionItem:
    id: int
    channel: str
    specialty_name: str | None
    doctor_name: str | None
    starts_on: date
    ends_on: date
    reason: str
    created_by: str
    in_force: bool


@dataclass(frozen=True)
class AbsenceItem:
    id: int
    doctor_id: int
    doctor_name: str
    specialty_name: str
    starts_on: date
    ends_on: date
    reason: str
    substitute_name: str | None
    affected_live: int


def callback_item(callback_id: int, uow: UnitOfWork) -> CallbackItem:
    """One callback request (the number to dial for click-to-call)."""
    items = callbacks(uow, status=None, callback_id=callback_id)
    if not items:
        raise NotFound("callback request not found")
    return items[0]


def callbacks(uow: UnitOfWork, status: str | None = "open", limit: int = 200, *,
              callback_id: int | None = None,
              scope: ClinicScope = EVERYWHERE) -> list[CallbackItem]:
    """Callback requests (open ones first by age); ``status=None`` lists every state.

    Within ``scope``: a request is its patient's clinic's (else the line's); one from a caller
    nobody identified, on a line of no clinic, is everybody's, as a waiting call is."""
    with uow.reading():
        stmt = select(CallbackRequest)
        if scope.clinic_id is not None:
            clinic = func.coalesce(Patient.clinic_id, CallbackRequest.clinic_id)
            stmt = stmt.outerjoin(Patient, col(Patient.id) == CallbackRequest.patient_id).where(
                or_(clinic == scope.clinic_id, clinic.is_(None)))
        if callback_id is not None:
            stmt = stmt.where(CallbackRequest.id == callback_id)
        if status:
            stmt = stmt.where(CallbackRequest.status == status)
            stmt = stmt.order_by(col(CallbackRequest.created_at))
        else:
            stmt = stmt.order_by(col(CallbackRequest.created_at).desc())
        rows = uow.session.exec(stmt.limit(limit)).all()
        ids = {r.patient_id for r in rows if r.patient_id}
        names = {p.id: p.full_name for p in uow.session.exec(
            select(Patient).where(col(Patient.id).in_(ids)))} if ids else {}
        return [CallbackItem(
            id=r.id, created_at=r.created_at, caller_number=r.caller_number,  # type: ignore[arg-type]
            caller_masked=mask_phone(r.caller_number), patient_id=r.patient_id,
            patient_name=names.get(r.patient_id), call_id=r.call_id, reason=r.reason,
            status=r.status, done_by=r.done_by, done_at=r.done_at, note=r.note,
        ) for r in rows]


def absence_calls(uow: UnitOfWork, clinic_id: int | None = None) -> list[AbsenceCall]:
    """Live future appointments to rearrange with the patient, nearest first, with phones:
    those in a doctor's absence (rule 14) and those flagged because the doctor left or the
    schedule changed (of one clinic's doctors when ``clinic_id`` is given)."""
    with uow.reading():
        stmt = select(Appointment, Patient, DoctorAbsence)
        if clinic_id is not None:
            stmt = stmt.join(Doctor, col(Doctor.id) == Appointment.doctor_id).where(
                Doctor.clinic_id == clinic_id)
        rows = uow.session.exec(
            stmt
            .join(Patient, col(Patient.id) == Appointment.patient_id)
            .outerjoin(DoctorAbsence, col(DoctorAbsence.id) == Appointment.absence_id)
            .where(or_(col(Appointment.absence_id).is_not(None),
                       col(Appointment.flag).is_not(None)),
                   col(Appointment.status).in_(LIVE_FUTURE),
                   Appointment.starts_at > uow.clock.now_local())
            .order_by(col(Appointment.starts_at))
        ).all()
        offered = _offered_substitutes(uow, [a for a, _, absence in rows if absence is None])
        out = []
        for appt, patient, absence in rows:
            if absence is not None:
                reason = absence.reason or "Врач отсутствует"
                sub = (uow.session.get(Doctor, absence.substitute_doctor_id)
                       if absence.substitute_doctor_id else None)
            else:
                doctor = uow.session.get(Doctor, appt.doctor_id)
                reason = flag_reason_ru(appt.flag, doctor.left_on if doctor else None)  # type: ignore[arg-type]
                sub = None
            out.append(AbsenceCall(_view(uow, appt), patient.full_name, patient.phone,
                                   reason, sub.full_name if sub else offered.get(appt.id),  # type: ignore[arg-type]
                                   appt.flag))
        return out


def _offered_substitutes(uow: UnitOfWork, flagged: list[Appointment]) -> dict[int, str]:
    """The colleague's slot the SMS about each flagged visit offered ("Орлов А.Н., ср 09.09 в
    14:15"), so the agent can offer the same; none when no SMS went (no mobile, no free slot).
    """
    if not flagged:
        return {}
    from booking_core.notifications import format_when

    keys = {f"{a.flag}:{a.id}": a.id for a in flagged}
    out: dict[int, str] = {}
    for key, payload in uow.session.exec(
            select(OutboxMessage.idempotency_key, OutboxMessage.payload)
            .where(col(OutboxMessage.idempotency_key).in_(list(keys)))).all():
        sub = (payload or {}).get("substitute")
        if sub:
            when = format_when(datetime.fromisoformat(sub["starts_at"]))
            out[keys[key]] = f"{sub['doctor']}, {when}"
    return out


def restrictions(uow: UnitOfWork, *, include_past: bool = False,
                 clinic_id: int | None = None) -> list[RestrictionItem]:
    """Channel restrictions, current and future (or all), by start date; of one clinic when
    ``clinic_id`` is given."""
    with uow.reading():
        today = uow.clock.today()
        stmt = select(ChannelRestriction).order_by(col(ChannelRestriction.starts_on))
        if clinic_id is not None:
            stmt = stmt.where(ChannelRestriction.clinic_id == clinic_id)
        if not include_past:
            stmt = stmt.where(ChannelRestriction.ends_on >= today)
        rows = uow.session.exec(stmt).all()
        specs = {s.id: s.name_ru for s in uow.session.exec(select(Specialty))}
        docs = {d.id: d.full_name for d in uow.session.exec(select(Doctor))}
        return [RestrictionItem(
            id=r.id, channel=r.channel, specialty_name=specs.get(r.specialty_id),  # type: ignore[arg-type]
            doctor_name=docs.get(r.doctor_id), starts_on=r.starts_on, ends_on=r.ends_on,
            reason=r.reason, created_by=r.created_by,
            in_force=r.starts_on <= today <= r.ends_on,
        ) for r in rows]


def absences(uow: UnitOfWork, *, include_past: bool = False,
             clinic_id: int | None = None) -> list[AbsenceItem]:
    """Doctor absences, current and future (or all), with how many live bookings they hit;
    of one clinic's doctors when ``clinic_id`` is given."""
    with uow.reading():
        today = uow.clock.today()
        stmt = (select(DoctorAbsence, Doctor, Specialty)
                .join(Doctor, col(Doctor.id) == DoctorAbsence.doctor_id)
                .join(Specialty, col(Specialty.id) == Doctor.specialty_id)
                .order_by(col(DoctorAbsence.starts_on)))
        if clinic_id is not None:
            stmt = stmt.where(Doctor.clinic_id == clinic_id)
        if not include_past:
            stmt = stmt.where(DoctorAbsence.ends_on >= today)
        rows = uow.session.exec(stmt).all()
        out = []
        for a, d, s in rows:
            sub = (uow.session.get(Doctor, a.substitute_doctor_id)
                   if a.substitute_doctor_id else None)
            live = len(uow.session.exec(
                select(Appointment.id).where(Appointment.absence_id == a.id,
                                             col(Appointment.status).in_(LIVE_FUTURE))
            ).all())
            out.append(AbsenceItem(a.id, d.id, d.full_name, s.name_ru, a.starts_on, a.ends_on,  # type: ignore[arg-type]
                                   a.reason, sub.full_name if sub else None, live))
        return out
