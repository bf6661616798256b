"""Patient search and the patient card for registrars (read models only).

Search takes any of policy, name, phone and date of birth; the criteria given are combined.
Names are matched by prefix, surname first ("иванов с п", "Соколов А.И."), on the folded
``Patient.name_key`` column (case, ё/е and spaces folded in Python, so SQLite, whose ``lower()``
knows no Cyrillic, and PostgreSQL agree); Latin letters typed on the wrong keyboard layout are
tried as the Cyrillic keys they sit on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select

from booking_core.booking import LIVE_FUTURE, _view
from booking_core.eligibility import active_block
from booking_core.errors import InvalidInput
from booking_core.masking import mask_digits, mask_phone
from booking_core.name_search import key_matches, like_prefix, prefix_range, typed_variants
from booking_core.rules import age_on, only_digits
from booking_core.scope import EVERYWHERE, ClinicScope, check_patient
from booking_core.uow import UnitOfWork
from booking_core.views import AppointmentView, PatientView
from models.tables import (
    Appointment,
    AppointmentStatus,
    CallbackRequest,
    CallRecord,
    Clinic,
    District,
    Patient,
    Referral,
    Specialty,
)

logger = logging.getLogger(__name__)

MAX_RESULTS = 50
#: Name search reads this many times the limit, then keeps the rows whose words line up.
NAME_OVERFETCH = 4


@dataclass(frozen=True)
class PatientQuery:
    """Search criteria; empty ones are ignored, at least one must be given."""

    policy: str = ""
    name: str = ""
    phone: str = ""
    birth_date: date | None = None

    @property
    def empty(self) -> bool:
        return not (self.policy.strip() or self.name.strip() or self.phone.strip()
                    or self.birth_date)


@dataclass(frozen=True)
class PatientSummary:
    """One search hit: enough to tell namesakes apart, nothing more."""

    id: int
    full_name: str
    birth_date: date
    age: int
    policy_masked: str
    phone_masked: str
    attached: bool


@dataclass(frozen=True)
class BlockInfo:
    id: int
    blocked_from: date
    blocked_until: date
    reason: str


@dataclass(frozen=True)
class ReferralInfo:
    id: int
    specialty_id: int
    specialty_name: str
    issued_by: str
    valid_until: date
    used: bool


@dataclass(frozen=True)
class CallSummary:
    call_id: str
    started_at: datetime  # UTC
    outcome: str
    intent: str | None
    escalation_reason: str | None
    answered_by: str | None
    duration_s: float | None


@dataclass(frozen=True)
class CallbackInfo:
    id: int
    created_at: datetime  # UTC
    reason: str
    status: str
    done_by: str | None
    note: str


@dataclass(frozen=True)
class PatientCard:
    """Everything a registrar needs about one patient on one screen."""

    patient: PatientView
    policy_masked: str
    clinic_name: str
    district_number: int | None
    attached_on: date | None
    upcoming: list[AppointmentView]
    past: list[AppointmentView]
    no_shows: int
    block: BlockInfo | None
    referrals: list[ReferralInfo] = field(default_factory=list)
    calls: list[CallSummary] = field(default_factory=list)
    callbacks: list[CallbackInfo] = field(default_factory=list)


def _name_condition(words: list[str], uow: UnitOfWork) -> ColumnElement[bool]:
    """The SQL side of a name match.  PostgreSQL runs the LIKE prefix on its
    ``text_pattern_ops`` index; SQLite's LIKE cannot use an index, so a key range in code point
    order (its BINARY collation) narrows the rows first."""
    key = col(Patient.name_key)
    like = key.like(like_prefix(words))
    if uow.is_postgres:
        return like
    lo, hi = prefix_range(words)
    return and_(key >= lo, key < hi, like)


#: Wildcard characters: no name on file holds them (nor does a name typed on the wrong keyboard
#: layout, whose punctuation keys stand for letters: "Cjrjkjd Fhn`v").
_NOT_IN_A_NAME = re.compile(r"[%_*?\\]")


def search_patients(q: PatientQuery, uow: UnitOfWork, limit: int = MAX_RESULTS,
                    scope: ClinicScope = EVERYWHERE) -> list[PatientSummary]:
    """Patients matching every given criterion, by name; within ``scope`` (another clinic's
    patients are not listed to a per-clinic user, nor outside a regional user's filter)."""
    if q.empty:
        raise InvalidInput("give a policy number, a name, a phone number or a date of birth")
    stmt = scope.narrow(select(Patient), Patient.clinic_id)
    policy = only_digits(q.policy)
    if q.policy.strip():
        if len(policy) < 4:
            raise InvalidInput("policy: at least four digits", field="policy")
        # A whole policy matches exactly; a shorter run matches the end (the visible digits).
        stmt = stmt.where(Patient.policy_number == policy if len(policy) == 16
                          else col(Patient.policy_number).like(f"%{policy}"))
    variants = typed_variants(q.name)
    if q.name.strip() and (not variants or _NOT_IN_A_NAME.search(q.name)):
        # "%", "_" or "*" can be in no stored name: they match nobody (never everybody).
        logger.info("patient search: a name no patient can have")
        return []
    if variants:
        stmt = stmt.where(or_(*(_name_condition(w, uow) for w in variants)))
    if q.phone.strip():
        phone = only_digits(q.phone)
        if len(phone) < 4:
            raise InvalidInput("phone: at least four digits", field="phone")
        stmt = stmt.where(col(Patient.phone).like(f"%{phone[-10:]}"))
    if q.birth_date is not None:
        stmt = stmt.where(Patient.birth_date == q.birth_date)
    stmt = stmt.order_by(col(Patient.last_name), col(Patient.first_name),
                         col(Patient.birth_date))
    stmt = stmt.limit(limit * NAME_OVERFETCH if variants else limit)
    with uow.reading():
        today = uow.clock.today()
        rows = [p for p in uow.session.exec(stmt).all()
                if not variants or any(key_matches(p.name_key or "", w) for w in variants)]
        rows = rows[:limit]
        logger.info("patient search: %d found", len(rows))
        return [
            PatientSummary(id=p.id, full_name=p.full_name, birth_date=p.birth_date,  # type: ignore[arg-type]
                           age=age_on(p.birth_date, today),
                           policy_masked=mask_digits(p.policy_number),
                           phone_masked=mask_phone(p.phone), attached=p.clinic_id is not None)
            for p in rows
        ]


def patient_view(patient_id: int, uow: UnitOfWork,
                 scope: ClinicScope = EVERYWHERE) -> PatientView:
    """One patient's basic data (``other_clinic`` outside the reader's scope)."""
    with uow.reading():
        p = check_patient(uow, scope, patient_id)
        return PatientView.of(p, uow.clock.today())


def patient_card(patient_id: int, uow: UnitOfWork, *, history: int = 30,
                 scope: ClinicScope = EVERYWHERE) -> PatientCard:
    """The card: attachment, appointments, no-shows and block, referrals, calls, callbacks
    (``other_clinic`` outside the reader's scope)."""
    with uow.reading():
        p = check_patient(uow, scope, patient_id)
        today, now = uow.clock.today(), uow.clock.now_local()
        clinic = uow.session.get(Clinic, p.clinic_id) if p.clinic_id else None
        district = uow.session.get(District, p.district_id) if p.district_id else None
        appts = uow.session.exec(
            select(Appointment).where(Appointment.patient_id == patient_id)
            .order_by(col(Appointment.starts_at).desc()).limit(history + 20)
        ).all()
        upcoming = sorted((a for a in appts if a.status in LIVE_FUTURE and a.starts_at > now),
                          key=lambda a: a.starts_at)
        past = [a for a in appts if not (a.status in LIVE_FUTURE and a.starts_at > now)][:history]
        no_shows = sum(a.status == AppointmentStatus.NO_SHOW for a in appts)
        block = active_block(uow, patient_id, today)
        refs = uow.session.exec(
            select(Referral, Specialty).join(Specialty, col(Specialty.id) == Referral.specialty_id)
            .where(Referral.patient_id == patient_id, Referral.valid_until >= today)
        ).all()

        def used(r: Referral) -> bool:
            if r.used_by_appointment_id is None:
                return False
            a = uow.session.get(Appointment, r.used_by_appointment_id)
            return a is not None and a.status != AppointmentStatus.CANCELLED

        calls = uow.session.exec(
            select(CallRecord).where(CallRecord.patient_id == patient_id)
            .order_by(col(CallRecord.started_at).desc()).limit(20)
        ).all()
        callbacks = uow.session.exec(
            select(CallbackRequest).where(CallbackRequest.patient_id == patient_id)
            .order_by(col(CallbackRequest.created_at).desc()).limit(20)
        ).all()
        return PatientCard(
            patient=PatientView.of(p, today),
            policy_masked=mask_digits(p.policy_number),
            clinic_name=clinic.short_name if clinic else "",
            district_number=district.number if district else None,
            attached_on=p.attached_on,
            upcoming=[_view(uow, a) for a in upcoming],
            past=[_view(uow, a) for a in past],
            no_shows=no_shows,
            block=BlockInfo(block.id, block.blocked_from, block.blocked_until, block.reason)  # type: ignore[arg-type]
            if block else None,
            referrals=[ReferralInfo(r.id, s.id, s.name_ru, r.issued_by, r.valid_until,  # type: ignore[arg-type]
                                    used(r)) for r, s in refs],
            calls=[CallSummary(c.call_id, c.started_at, c.outcome, c.intent, c.escalation_reason,
                               c.answered_by, c.duration_s) for c in calls],
            callbacks=[CallbackInfo(c.id, c.created_at, c.reason, c.status, c.done_by, c.note)  # type: ignore[arg-type]
                       for c in callbacks],
        )
