"""API schemas (pydantic): what the JSON API accepts and returns, apart from the tables.

Outputs are built from the booking core's read models (``from_attributes``); codes stay codes
and a ``*_text`` twin carries the Russian words where a person reads them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_console import labels


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorDetail(BaseModel):
    id: str = Field(description="Stable error id, e.g. slot_taken, forbidden, csrf_failed")
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not_authenticated"},
    403: {"model": ErrorOut, "description": "forbidden, csrf_failed, booking_blocked, ..."},
    404: {"model": ErrorOut, "description": "not_found"},
    409: {"model": ErrorOut, "description": "slot_taken, limit_reached, not_cancellable, ..."},
    422: {"model": ErrorOut, "description": "invalid_input, referral_required, ..."},
}


# --- the registry desk -----------------------------------------------------------------------


class DeskOut(BaseModel):
    open: bool = Field(description="Within the desk's opening hours now (clinic time)")
    closes_at: datetime | None = Field(None, description="When open: closing time today")
    opens_at: datetime | None = Field(None, description="When closed: the next opening")
    holiday: str | None = Field(None, description="Name of today's public holiday or day off")
    text: str = Field(description="The same, as the console says it in Russian")


# --- session and users -----------------------------------------------------------------------


class LoginIn(BaseModel):
    username: str = Field(max_length=60)
    password: str = Field(max_length=200)


class AgentOut(Out):
    id: int
    username: str
    full_name: str
    role: str
    extension: str
    active: bool
    clinic_id: int | None = Field(None, description="The user's clinic; null: regional")


class SessionOut(BaseModel):
    agent: AgentOut
    csrf_token: str = Field(description="Send it as X-CSRF-Token with unsafe requests")


class AgentIn(BaseModel):
    username: str = Field(max_length=60)
    role: str = Field(description="admin, agent or observer")
    password: str = Field(min_length=8, max_length=200)
    full_name: str = Field("", max_length=160)
    extension: str = Field("", max_length=20)
    clinic_id: int | None = Field(None, description="The user's clinic (sees and books for it "
                                                    "only); null: regional. An administrator "
                                                    "of one clinic creates users of it only")


class AgentPatch(BaseModel):
    role: str | None = None
    active: bool | None = None
    full_name: str | None = Field(None, max_length=160)
    extension: str | None = Field(None, max_length=20)
    password: str | None = Field(None, min_length=8, max_length=200)
    clinic_id: int | None = Field(None, description="Given: the user's new clinic (null: "
                                                    "regional); left out: unchanged")


# --- directory and schedule ------------------------------------------------------------------


class SpecialtyOut(Out):
    id: int
    code: str
    name_ru: str
    booking_mode: str
    age_group: str


class DoctorOut(Out):
    id: int
    full_name: str
    cabinet: str
    specialty_id: int
    district_id: int | None


class SlotOut(Out):
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    cabinet: str


class TakenSlotOut(Out):
    slot_id: int
    starts_at: datetime
    appointment_id: int
    patient_short: str = Field(description="«Петрова А.И.»: whose the slot is")
    own: bool = Field(description="the patient the grid was asked for holds it")


class DoctorDayOut(Out):
    doctor: DoctorOut
    free: list[SlotOut]
    taken_slots: list[TakenSlotOut] = []
    total: int
    taken: int
    absent_reason: str | None


class GridDayOut(Out):
    day: date
    doctors: list[DoctorDayOut]


class ScheduleOut(Out):
    date_from: date
    date_to: date
    specialty: SpecialtyOut | None
    days: list[GridDayOut]
    free: int


# --- patients and appointments ---------------------------------------------------------------


class PatientSearchIn(BaseModel):
    """Any of the criteria; they are combined.  Sent in the body: never in a URL."""

    policy: str = Field("", max_length=32, description="16 digits, or the last 4+ digits")
    name: str = Field("", max_length=160, description="surname [first name [patronymic]]")
    phone: str = Field("", max_length=32)
    birth_date: date | None = None

    @model_validator(mode="after")
    def _one_criterion(self) -> PatientSearchIn:
        if not (self.policy.strip() or self.name.strip() or self.phone.strip()
                or self.birth_date):
            raise ValueError("give at least one search criterion")
        return self


class PatientSummaryOut(Out):
    id: int
    full_name: str
    birth_date: date
    age: int
    policy_masked: str
    phone_masked: str
    attached: bool


class PatientOut(Out):
    id: int
    full_name: str
    birth_date: date
    age: int
    phone: str
    clinic_id: int | None
    district_id: int | None


class AppointmentOut(Out):
    id: int
    patient_id: int
    slot_id: int | None
    starts_at: datetime
    status: str
    channel: str
    confirmation_code: str
    doctor: DoctorOut
    specialty: SpecialtyOut
    cabinet: str
    absence_id: int | None = None
    flag: str | None = None  # "doctor_left" / "schedule_changed"
    cancel_reason: str | None = Field(None, description="rescheduled: moved to another slot")
    status_text: str = Field("", description="the status in Russian («Перенесена», ...)")

    @model_validator(mode="after")
    def _words(self) -> AppointmentOut:
        self.status_text = labels.appointment_status(self.status, self.cancel_reason)
        return self


class BlockOut(Out):
    id: int
    blocked_from: date
    blocked_until: date
    reason: str


class ReferralOut(Out):
    id: int
    specialty_id: int
    specialty_name: str
    issued_by: str
    valid_until: date
    used: bool


class CallSummaryOut(Out):
    call_id: str
    started_at: datetime
    outcome: str
    intent: str | None
    escalation_reason: str | None
    answered_by: str | None
    duration_s: float | None


class CallbackInfoOut(Out):
    id: int
    created_at: datetime
    reason: str
    status: str
    done_by: str | None
    note: str


class PatientCardOut(Out):
    patient: PatientOut
    policy_masked: str
    clinic_name: str
    district_number: int | None
    attached_on: date | None
    upcoming: list[AppointmentOut]
    past: list[AppointmentOut]
    no_shows: int
    block: BlockOut | None
    referrals: list[ReferralOut]
    calls: list[CallSummaryOut]
    callbacks: list[CallbackInfoOut]


class BookIn(BaseModel):
    patient_id: int
    slot_id: int
    referral_id: int | None = None


class RescheduleIn(BaseModel):
    slot_id: int


class CancelIn(BaseModel):
    reason: str = Field("patient", max_length=40)


class OutOfScheduleIn(BaseModel):
    doctor_id: int


# --- calls -----------------------------------------------------------------------------------


class CallStepOut(Out):
    name: str
    input: str | None


class QueuedCallOut(Out):
    call_id: str
    caller_masked: str
    locale: str
    patient_id: int | None
    patient_name: str | None
    patient_age: int | None
    policy_masked: str | None
    intent: str | None
    reason: str | None
    specialty_name: str | None
    steps: list[CallStepOut]
    started_at: datetime
    escalated_at: datetime | None
    waiting_s: int
    answered_by: str | None
    outcome: str
    clinic_id: int | None = Field(None, description="The line's clinic, else the identified "
                                                    "caller's; null: not known yet")
    reason_text: str = ""
    intent_text: str = ""

    @model_validator(mode="after")
    def _texts(self) -> QueuedCallOut:
        self.reason_text = labels.label(labels.REASONS, self.reason)
        self.intent_text = labels.label(labels.INTENTS, self.intent, "не выбрано")
        return self


class QueueOut(BaseModel):
    calls: list[QueuedCallOut]
    asterisk: bool = Field(description="True when AMI is configured (Asterisk mode)")
    asterisk_connected: bool | None = Field(description="AMI session up; null without AMI")
    live: list[dict[str, str]] = Field(description="Callers Asterisk sees (numbers masked)")
    members: list[dict[str, str]] = Field(description="Queue members (agents' phones)")


# --- worklists and administration ------------------------------------------------------------


class CallbackOut(Out):
    id: int
    created_at: datetime
    caller_number: str
    patient_id: int | None
    patient_name: str | None
    call_id: str | None
    reason: str
    status: str
    done_by: str | None
    done_at: datetime | None
    note: str


class CallbackDoneIn(BaseModel):
    note: str = Field("", max_length=500)


class RestrictionIn(BaseModel):
    channel: str = Field(description="ivr, internet, infomat or * (all remote channels)")
    starts_on: date
    ends_on: date
    specialty_id: int | None = None
    doctor_id: int | None = None
    reason: str = Field("", max_length=200)


class RestrictionOut(Out):
    id: int
    channel: str
    specialty_name: str | None
    doctor_name: str | None
    starts_on: date
    ends_on: date
    reason: str
    created_by: str
    in_force: bool


class AbsenceIn(BaseModel):
    doctor_id: int
    starts_on: date
    ends_on: date
    reason: str = Field("", max_length=200)
    substitute_doctor_id: int | None = None


class AbsenceOut(Out):
    id: int
    doctor_id: int
    doctor_name: str
    specialty_name: str
    starts_on: date
    ends_on: date
    reason: str
    substitute_name: str | None
    affected_live: int


class AffectedOut(BaseModel):
    appointment: AppointmentOut
    substitute: SlotOut | None


class AbsenceReportOut(BaseModel):
    absence_id: int
    affected: list[AffectedOut]


class AbsenceCallOut(Out):
    appointment: AppointmentOut
    patient_name: str
    phone: str
    absence_reason: str
    substitute_name: str | None
    flag: str | None = None  # "doctor_left" / "schedule_changed"; None for an absence


class AuditEntryOut(Out):
    id: int
    at: datetime
    actor: str
    actor_kind: str
    channel: str
    source: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor_name: str = Field("", description="the agent's or patient's name")
    action_text: str = Field("", description="the action in Russian")
    subject: str = Field("", description="the patient the entry is about, by name")

    @model_validator(mode="after")
    def _words(self) -> AuditEntryOut:
        self.action_text = labels.AUDIT_ACTIONS.get(self.action, self.action)
        return self


class AuditPageOut(Out):
    entries: list[AuditEntryOut]
    total: int
    page: int
    per_page: int
    pages: int


class DashboardOut(BaseModel):
    date_from: date
    date_to: date
    calls_total: int
    self_served: int
    escalated: int
    self_service_rate: float | None
    calls_per_hour: list[int]
    outcomes: dict[str, int]
    escalation_reasons: dict[str, int]
    bookings_by_channel: dict[str, int]
    open_callbacks: int
    waitlist_served: int = Field(0, description="booked from the waiting list in the period")
    waitlist_median_wait_days: float | None = Field(
        None, description="median days from joining the list to booking, over those served")


# --- telephony: the agent's phone in the queue, click-to-call --------------------------------


class PhoneStatusOut(BaseModel):
    configured: bool = Field(description="AMI is set up for this console")
    connected: bool = Field(description="the AMI session is up")
    interface: str | None = Field(None, description="this user's phone, e.g. PJSIP/agent101")
    in_queue: bool = Field(False, description="the phone is a member of the agents' queue")
    paused: bool = False
    paused_reason: str = ""
    status_text: str = Field("", description="«На линии», «Перерыв», ... in Russian")


class PauseIn(BaseModel):
    paused: bool
    reason: str = Field("", max_length=60)


class ClickToCallIn(BaseModel):
    """Whom to call: a patient (their phone on file) or a callback request (its number).
    The number itself never travels in a URL or a request."""

    patient_id: int | None = None
    callback_id: int | None = None

    @model_validator(mode="after")
    def one_target(self) -> ClickToCallIn:
        if (self.patient_id is None) == (self.callback_id is None):
            raise ValueError("give exactly one of patient_id and callback_id")
        return self


class ClickToCallOut(BaseModel):
    action_id: str = Field(description="the AMI Originate ActionID; its outcome arrives on "
                                       "the live feed as an originate notice")
    interface: str
    number_masked: str


# --- waiting list (rule 19) ------------------------------------------------------------------


class WaitlistIn(BaseModel):
    patient_id: int
    specialty_id: int
    doctor_id: int | None = None
    preference: str = Field("any", description="morning, afternoon or any")


class WaitlistEntryOut(Out):
    id: int
    patient_id: int
    patient_name: str
    specialty_id: int
    doctor_id: int | None
    preference: str
    status: str = Field(description="waiting, offered, booked, declined, left or expired")
    channel: str
    created_at: datetime
    expires_at: datetime
    waited_days: int
    offer_appointment_id: int | None
    offer_starts_at: datetime | None
    offer_held_until: datetime | None
    booked_appointment_id: int | None
