"""SQLModel tables.  Tables only: behaviour lives in ``booking_core``.

Time conventions: slot and appointment times (``starts_at``/``ends_at``) are the clinic's local
wall-clock time, naive, because that is what patients and doctors say and what the schedule
template means.  Bookkeeping timestamps (``created_at``, audit ``at``) are naive UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Naive UTC now, the convention for bookkeeping timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


class BookingMode(StrEnum):
    SELF_REFERRAL = "self_referral"
    REFERRAL_ONLY = "referral_only"


class AgeGroup(StrEnum):
    ADULT = "adult"
    CHILD = "child"
    ANY = "any"


class AppointmentStatus(StrEnum):
    PENDING = "pending"
    BOOKED = "booked"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    WALK_IN = "walk_in"
    OUT_OF_SCHEDULE = "out_of_schedule"


class AppointmentFlag(StrEnum):
    """Why a booked visit must be rearranged with the patient (the agents' worklist)."""

    DOCTOR_LEFT = "doctor_left"
    SCHEDULE_CHANGED = "schedule_changed"


class Channel(StrEnum):
    IVR = "ivr"
    INTERNET = "internet"
    INFOMAT = "infomat"
    CONSOLE = "console"
    DESK = "desk"
    SMS = "sms"
    SYSTEM = "system"


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    OBSERVER = "observer"


# Every status except "cancelled" occupies its slot; the partial unique index below makes that
# a database fact, so no race in any channel can put two live appointments on one slot.
ACTIVE_SLOT_PREDICATE = "status <> 'cancelled' AND slot_id IS NOT NULL"


class Clinic(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=32)
    name: str = Field(max_length=200)
    short_name: str = Field(max_length=100)
    address: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=32)
    timezone: str = Field(default="Europe/Moscow", max_length=64)


class ClinicLine(SQLModel, table=True):
    """A dialled number (DNID or extension) of the registry line and whose calls it takes.

    ``clinic_id`` set: the clinic's own number, its greeting plays.  ``None``: a regional line
    shared by every clinic; the caller is served by the clinic they are attached to.
    """

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(index=True, unique=True, max_length=32)
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id", index=True)
    label: str = Field(default="", max_length=120)


class District(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("clinic_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    number: int
    name: str = Field(default="", max_length=200)


class DistrictAddress(SQLModel, table=True):
    """A street (and which houses of it) that a district serves: how attachment is decided."""

    __table_args__ = (UniqueConstraint("district_id", "street", name="uq_districtaddress_street"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    street: str = Field(max_length=200)
    # As the MIS writes it: "1-15", "2-40 чёт.", "7к2"; empty means the whole street.
    houses: str = Field(default="", max_length=400)


class Specialty(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=40)
    name_ru: str = Field(max_length=100)
    name_en: str = Field(max_length=100)
    # Words a caller may say for this specialty ("терапевт", "участковый"), comma-separated.
    synonyms_ru: str = Field(default="", max_length=400)
    booking_mode: str = Field(default=BookingMode.SELF_REFERRAL, max_length=20)
    age_group: str = Field(default=AgeGroup.ANY, max_length=10)
    # Therapist / pediatrician: the doctor of the patient's own district is offered first.
    district_based: bool = False
    ivr_order: int = 100


class Doctor(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("clinic_id", "external_id", name="uq_doctor_external"),)
    id: int | None = Field(default=None, primary_key=True)
    # The MIS's id of this doctor: the stable key of imports (None for doctors added by hand).
    external_id: str | None = Field(default=None, max_length=64)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    specialty_id: int = Field(foreign_key="specialty.id", index=True)
    district_id: int | None = Field(default=None, foreign_key="district.id")
    last_name: str = Field(max_length=80)
    first_name: str = Field(max_length=80)
    middle_name: str = Field(default="", max_length=80)
    cabinet: str = Field(default="", max_length=20)
    active: bool = True
    # The doctor's last working day; from the next day on nothing is generated or booked.
    left_on: date | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def short_name(self) -> str:
        initials = "".join(f"{p[0]}." for p in (self.first_name, self.middle_name) if p)
        return f"{self.last_name} {initials}".strip()


class DateParity(StrEnum):
    """Which dates of the month a template row applies to (по чётным / нечётным числам)."""

    ANY = "any"
    EVEN = "even"
    ODD = "odd"


class ScheduleTemplate(SQLModel, table=True):
    """A doctor's working hours: one row per weekday and shift (a period of the day).

    A row applies on its weekday, within ``valid_from``..``valid_to``, on dates of the given
    ``date_parity`` and in weeks of the given ``week_parity`` (ISO week number, for doctors who
    alternate weeks).  ``break_start``..``break_end`` inside the shift yields no slots.
    """

    id: int | None = Field(default=None, primary_key=True)
    doctor_id: int = Field(foreign_key="doctor.id", index=True)
    weekday: int = Field(ge=0, le=6)  # Monday = 0
    start_time: time
    end_time: time
    slot_minutes: int = Field(default=15, ge=5, le=240)
    cabinet: str = Field(default="", max_length=20)
    valid_from: date | None = None
    valid_to: date | None = None
    date_parity: str = Field(default=DateParity.ANY, max_length=4)
    week_parity: str = Field(default=DateParity.ANY, max_length=4)
    break_start: time | None = None
    break_end: time | None = None


class DayOverrideKind(StrEnum):
    OFF = "off"  # a day off: no slots from the templates
    WORK = "work"  # the day's hours replace the templates' (an extra or a shortened day)


class ScheduleOverride(SQLModel, table=True):
    """A one-off change of one doctor's day: a day off, an extra working day, a shortened day."""

    __table_args__ = (
        UniqueConstraint("doctor_id", "day", "start_time", name="uq_scheduleoverride_day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    doctor_id: int = Field(foreign_key="doctor.id", index=True)
    day: date = Field(index=True)
    kind: str = Field(default=DayOverrideKind.OFF, max_length=4)
    start_time: time | None = None
    end_time: time | None = None
    slot_minutes: int | None = Field(default=None, ge=5, le=240)
    cabinet: str = Field(default="", max_length=20)
    reason: str = Field(default="", max_length=200)
    created_by: str = Field(default="", max_length=80)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class Slot(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("doctor_id", "starts_at", name="uq_slot_doctor_start"),
        Index("ix_slot_starts_at_doctor", "starts_at", "doctor_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    doctor_id: int = Field(foreign_key="doctor.id")
    starts_at: NaiveDatetime
    ends_at: NaiveDatetime
    cabinet: str = Field(default="", max_length=20)


_NOT_NAME = re.compile(r"[^\w-]+")


def fold_name(text: str) -> str:
    """A name as search compares it: lower case, ё as е, punctuation and runs of spaces as one
    space.  SQLite's ``lower()`` knows no Cyrillic, so the folding is done here, once."""
    return " ".join(_NOT_NAME.sub(" ", text.lower().replace("ё", "е")).replace("_", " ").split())


def patient_name_key(last_name: str, first_name: str, middle_name: str = "") -> str:
    """The value of ``Patient.name_key``: the folded full name, surname first."""
    return fold_name(f"{last_name} {first_name} {middle_name or ''}")


def _name_key_default(context: Any) -> str:
    """Column default for Core inserts (bulk imports) that do not pass the key."""
    row = context.get_current_parameters()
    return patient_name_key(row.get("last_name", ""), row.get("first_name", ""),
                            row.get("middle_name", ""))


class Patient(SQLModel, table=True):
    __table_args__ = (
        # Prefix search on the folded name; text_pattern_ops lets PostgreSQL use it for LIKE
        # 'x%' whatever the database collation (SQLite ignores the option).
        Index("ix_patient_name_key", "name_key", postgresql_ops={"name_key": "text_pattern_ops"}),
    )
    id: int | None = Field(default=None, primary_key=True)
    last_name: str = Field(max_length=80)
    first_name: str = Field(max_length=80)
    middle_name: str = Field(default="", max_length=80)
    policy_number: str = Field(index=True, unique=True, min_length=16, max_length=16)
    birth_date: date
    snils: str | None = Field(default=None, max_length=11)
    phone: str = Field(default="", max_length=20, index=True)
    # False when the phone on file is not a Russian mobile: kept for calls, never texted.
    sms_reachable: bool = True
    # A parent's or guardian's phone (E.164): a call from it may book for the child without
    # the patient's SMS code (rule 20).
    representative_phone: str = Field(default="", max_length=20)
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id", index=True)
    district_id: int | None = Field(default=None, foreign_key="district.id")
    attached_on: date | None = None
    # The MIS's id of this patient, when it sends one (the policy number stays the key).
    external_id: str | None = Field(default=None, max_length=64, index=True)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    #: ``patient_name_key(...)`` of the name, kept in step on every insert and update.
    name_key: str | None = Field(default=None, max_length=250,
                                 sa_column_kwargs={"default": _name_key_default})

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


@event.listens_for(Patient, "before_insert")
@event.listens_for(Patient, "before_update")
def _keep_name_key(_mapper: Any, _connection: Any, patient: Patient) -> None:
    patient.name_key = patient_name_key(patient.last_name, patient.first_name,
                                        patient.middle_name)


class Referral(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    specialty_id: int = Field(foreign_key="specialty.id")
    issued_by: str = Field(default="", max_length=120)
    issued_on: date
    valid_until: date
    used_by_appointment_id: int | None = None


class Appointment(SQLModel, table=True):
    __table_args__ = (
        Index(
            "uq_appointment_active_slot",
            "slot_id",
            unique=True,
            sqlite_where=text(ACTIVE_SLOT_PREDICATE),
            postgresql_where=text(ACTIVE_SLOT_PREDICATE),
        ),
        Index("ix_appointment_patient_start", "patient_id", "starts_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    slot_id: int | None = Field(default=None, foreign_key="slot.id")
    patient_id: int = Field(foreign_key="patient.id")
    doctor_id: int = Field(foreign_key="doctor.id", index=True)
    specialty_id: int = Field(foreign_key="specialty.id")
    starts_at: NaiveDatetime
    status: str = Field(default=AppointmentStatus.BOOKED, max_length=20, index=True)
    channel: str = Field(default=Channel.CONSOLE, max_length=12)
    confirmation_code: str = Field(max_length=12, index=True)
    created_by: str = Field(max_length=80)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
    hold_expires_at: NaiveDatetime | None = None
    referral_id: int | None = Field(default=None, foreign_key="referral.id")
    rescheduled_from_id: int | None = None
    cancel_reason: str | None = Field(default=None, max_length=40)
    arrived_at: NaiveDatetime | None = None
    # Set when the doctor became absent: the agent worklist and the SMS notice use it.
    absence_id: int | None = Field(default=None, foreign_key="doctorabsence.id", index=True)
    # Why the visit cannot happen as booked, when not an absence: "doctor_left" or
    # "schedule_changed" (set by an import or an admin change; see AppointmentFlag).
    flag: str | None = Field(default=None, max_length=20, index=True)
    flagged_at: NaiveDatetime | None = None
    # On a "pending" hold made by a doctor's absence: the flagged appointment it may replace
    # (rule 14); taking it moves that appointment here, cancelling that one releases it.
    substitute_for_id: int | None = Field(default=None, index=True)


class ChannelRestriction(SQLModel, table=True):
    """The clinic head closed a remote channel for a specialty or a doctor for a period."""

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    channel: str = Field(max_length=12)
    specialty_id: int | None = Field(default=None, foreign_key="specialty.id")
    doctor_id: int | None = Field(default=None, foreign_key="doctor.id")
    starts_on: date
    ends_on: date
    reason: str = Field(default="", max_length=200)
    created_by: str = Field(default="", max_length=80)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class DoctorAbsence(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    doctor_id: int = Field(foreign_key="doctor.id", index=True)
    starts_on: date
    ends_on: date
    reason: str = Field(default="", max_length=200)
    substitute_doctor_id: int | None = Field(default=None, foreign_key="doctor.id")
    created_by: str = Field(default="", max_length=80)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class NoShowBlock(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    blocked_from: date
    blocked_until: date
    reason: str = Field(default="no_shows", max_length=80)
    lifted_at: NaiveDatetime | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class CallbackRequest(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id")
    caller_number: str = Field(default="", max_length=20)
    patient_id: int | None = Field(default=None, foreign_key="patient.id")
    call_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(default="", max_length=200)
    status: str = Field(default="open", max_length=12, index=True)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    done_by: str | None = Field(default=None, max_length=80)
    done_at: NaiveDatetime | None = None
    note: str = Field(default="", max_length=500)


class IdentificationAttempt(SQLModel, table=True):
    """Failed identifications, keyed by hashes so the table holds no policy or phone number."""

    id: int | None = Field(default=None, primary_key=True)
    at: NaiveDatetime = Field(default_factory=utcnow, index=True)
    caller_key: str = Field(default="", max_length=64, index=True)
    policy_key: str = Field(default="", max_length=64, index=True)
    channel: str = Field(default="", max_length=12)


class ConsentCode(SQLModel, table=True):
    """A one-time code sent to a patient's phone before someone else books for them (rule 20).

    Only a keyed hash of the code is kept; ``caller_key`` is the caller number's keyed hash.
    """

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    caller_key: str = Field(default="", max_length=64)
    code_hash: str = Field(max_length=64)
    outbox_key: str = Field(max_length=120)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    expires_at: NaiveDatetime
    used_at: NaiveDatetime | None = None
    failures: int = 0


class AuditLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: NaiveDatetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=80)  # "agent:ivanova", "patient:42", "system"
    actor_kind: str = Field(max_length=12)
    channel: str = Field(max_length=12)
    source: str = Field(default="", max_length=80)  # caller number or IP
    action: str = Field(max_length=40, index=True)
    entity: str = Field(max_length=40)
    entity_id: str = Field(default="", max_length=40, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Agent(SQLModel, table=True):
    """A console user: admin, agent (registrar) or observer."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=60)
    full_name: str = Field(default="", max_length=160)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.AGENT, max_length=12)
    extension: str = Field(default="", max_length=20)
    # None: a regional user who sees every clinic; set: sees and books for that clinic only.
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id", index=True)
    active: bool = True
    # Carried in the session cookie; raising it ends every session of this user at once
    # (logout, password change or reset, disabling) -- signed cookies can't be recalled.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class CallRecord(SQLModel, table=True):
    """One IVR call: what the caller did, how it ended, why it was escalated.

    Inputs are stored masked (digit counts, menu choices), never policy numbers or dates.
    """

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(index=True, unique=True, max_length=32)  # REG_CALL_ID
    uniqueid: str = Field(default="", max_length=64, index=True)  # Asterisk's
    caller_number: str = Field(default="", max_length=20)
    dialled_number: str = Field(default="", max_length=32)  # DNID / extension of the line
    # The line's clinic, then the identified patient's: what a per-clinic console filters on.
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id", index=True)
    channel: str = Field(default="ivr", max_length=12)
    locale: str = Field(default="ru", max_length=5)
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    intent: str | None = Field(default=None, max_length=20)
    outcome: str = Field(default="in_progress", max_length=20, index=True)
    escalation_reason: str | None = Field(default=None, max_length=40)
    appointment_id: int | None = None
    steps: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    started_at: NaiveDatetime = Field(default_factory=utcnow, index=True)
    ended_at: NaiveDatetime | None = None
    duration_s: float | None = None
    escalated_at: NaiveDatetime | None = None
    answered_by: str | None = Field(default=None, max_length=60)


# --- SMS: transactional outbox, inbound replies, reminders (rules 17, 18) --------------------


class OutboxStatus(StrEnum):
    """Life of an outgoing SMS.

    ``pending`` waits for a worker (again, after a retryable failure); ``sending`` is claimed by
    a worker until ``lease_until``; ``sent`` was accepted by the provider; ``delivered`` /
    ``failed`` come from the provider's delivery report; ``dead`` means we gave up (rejected by
    the provider, or too many attempts) and an agent should call instead.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"


class OutboxMessage(SQLModel, table=True):
    """One SMS to send, written in the same transaction as the booking change it announces.

    ``payload`` holds the facts of the event (no phone number); ``body`` is rendered from it
    by the first worker that claims the row and never changes afterwards.
    """

    __table_args__ = (Index("ix_outboxmessage_status_next", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=120, unique=True, index=True)
    kind: str = Field(max_length=20)
    to_phone: str = Field(max_length=20)  # E.164
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    appointment_id: int | None = Field(default=None, index=True)
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    locale: str | None = Field(default=None, max_length=5)
    body: str | None = Field(default=None, max_length=1600)
    encoding: str | None = Field(default=None, max_length=6)
    segments: int | None = None
    status: str = Field(default=OutboxStatus.PENDING, max_length=12)
    attempts: int = 0
    next_attempt_at: NaiveDatetime = Field(default_factory=utcnow)
    lease_until: NaiveDatetime | None = None
    claim_token: str | None = Field(default=None, max_length=32)
    # The outcome of the last attempt is unknown (worker died, or the request timed out):
    # ask the provider before sending again.
    uncertain: bool = False
    provider: str | None = Field(default=None, max_length=12)
    provider_id: str | None = Field(default=None, max_length=64, index=True)
    provider_status: str | None = Field(default=None, max_length=20)
    last_error: str | None = Field(default=None, max_length=300)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
    sent_at: NaiveDatetime | None = None
    delivered_at: NaiveDatetime | None = None


class InboundSms(SQLModel, table=True):
    """A patient's SMS reply, kept by Twilio's MessageSid so a replayed webhook does nothing.

    The sender is stored as a keyed hash (like the identification attempts), the text scrubbed.
    """

    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(max_length=64, unique=True, index=True)
    received_at: NaiveDatetime = Field(default_factory=utcnow)
    from_key: str = Field(default="", max_length=64, index=True)
    body: str = Field(default="", max_length=160)
    patient_id: int | None = Field(default=None, foreign_key="patient.id")
    appointment_id: int | None = None
    action: str = Field(default="", max_length=20)
    answer: str = Field(default="", max_length=500)


class AppointmentReminder(SQLModel, table=True):
    """A reminder (``sms`` the day before, or an outbound ``call``) went out for an appointment;
    the patient's answer, if any, is noted here."""

    __table_args__ = (UniqueConstraint("appointment_id", "kind", name="uq_reminder_appt_kind"),)
    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    kind: str = Field(max_length=8)  # "sms" | "call"
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    answered_at: NaiveDatetime | None = None
    answer: str | None = Field(default=None, max_length=20)  # "confirmed" | "cancelled"


# --- Other channels: API clients of the FHIR scheduling API ----------------------------------


class ApiClient(SQLModel, table=True):
    """A registered program that books through ``/fhir/R4`` (the portal, an infomat, the MIS).

    Its ``channel`` is what the booking core sees (restrictions, remote-booking block); the
    secret is stored as an argon2 hash and shown once, when the client is registered.
    """

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=120)
    channel: str = Field(max_length=12)
    scopes: str = Field(default="", max_length=400)  # space-separated, SMART style
    secret_hash: str = Field(max_length=255)
    requests_per_minute: int = Field(default=120, ge=1)
    active: bool = True
    created_by: str = Field(default="", max_length=80)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A bearer token issued by the client-credentials grant, kept as a SHA-256 digest."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    client_id: int = Field(foreign_key="apiclient.id", index=True)
    expires_at: NaiveDatetime = Field(index=True)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class IdempotencyKey(SQLModel, table=True):
    """A booking request's idempotency key: a retry gets the appointment the first one made."""

    __table_args__ = (UniqueConstraint("actor", "key", name="uq_idempotency_actor_key"),)
    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=80)
    key: str = Field(max_length=100)
    appointment_id: int = Field(foreign_key="appointment.id")
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class WaitlistStatus(StrEnum):
    """Life of a waiting-list entry (rule 19).

    ``waiting`` for free time; ``offered`` while a slot is held for it (a pending appointment,
    ``offer_appointment_id``); then ``booked`` (the offer was taken, or the patient booked the
    specialty some other way), ``declined``, ``left`` (the patient or an agent removed it) or
    ``expired`` (its days ran out).  Only ``waiting`` and ``offered`` are active.
    """

    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    DECLINED = "declined"
    LEFT = "left"
    EXPIRED = "expired"


class TimePreference(StrEnum):
    """When in the day a waiting patient can come."""

    ANY = "any"
    MORNING = "morning"
    AFTERNOON = "afternoon"


WAITLIST_ACTIVE_PREDICATE = "status IN ('waiting', 'offered')"


class WaitlistEntry(SQLModel, table=True):
    """A patient waiting for free time with a specialty (or one doctor of it)."""

    __table_args__ = (
        # One active entry per patient and specialty, under any concurrency.
        Index("uq_waitlistentry_active", "patient_id", "specialty_id", unique=True,
              sqlite_where=text(WAITLIST_ACTIVE_PREDICATE),
              postgresql_where=text(WAITLIST_ACTIVE_PREDICATE)),
        Index("ix_waitlistentry_specialty_status", "specialty_id", "status", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    specialty_id: int = Field(foreign_key="specialty.id")
    doctor_id: int | None = Field(default=None, foreign_key="doctor.id")
    preference: str = Field(default=TimePreference.ANY, max_length=10)
    status: str = Field(default=WaitlistStatus.WAITING, max_length=10)
    channel: str = Field(default=Channel.CONSOLE, max_length=12)
    created_by: str = Field(max_length=80)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    expires_at: NaiveDatetime
    closed_at: NaiveDatetime | None = None
    # The current (or last) offer: a pending appointment held for the entry.
    offer_appointment_id: int | None = Field(default=None, foreign_key="appointment.id",
                                             index=True)
    # The slot last offered: an offer that ran out is not made to the same entry again.
    offered_slot_id: int | None = None
    offers: int = 0
    # Set when served from the list: the appointment the offer became.
    booked_appointment_id: int | None = Field(default=None, foreign_key="appointment.id")


class LoginFailure(SQLModel, table=True):
    """A failed console login, counted by every console process (the login throttle).

    ``key`` is a keyed hash of (client address, user name) or of the address alone, so the table
    holds neither addresses nor whatever was typed as a name.
    """

    # One index on (key, at): a key's recent failures are one range of it.
    __table_args__ = (Index("ix_loginfailure_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    at: NaiveDatetime = Field(default_factory=utcnow, index=True)


class ApiRequestHit(SQLModel, table=True):
    """One request of an API client within the rate window, counted by every console process."""

    # Counting a client's window is one range of (client_id, at), read from the index alone.
    __table_args__ = (Index("ix_apirequesthit_client_id_at", "client_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: int
    at: NaiveDatetime = Field(default_factory=utcnow, index=True)
