"""Commands: the inputs of the use cases, one frozen dataclass each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from booking_core.actors import Actor


@dataclass(frozen=True)
class Identify:
    policy_number: str
    birth_date: date
    channel: str
    caller_number: str = ""
    operator: str = ""  # a console user identifying on the caller's behalf (browser phone)


@dataclass(frozen=True)
class FindSlots:
    patient_id: int
    specialty_id: int
    channel: str
    on_date: date | None = None
    doctor_id: int | None = None
    after: datetime | None = None
    exclude_doctor_ids: tuple[int, ...] = ()
    limit: int = 5


@dataclass(frozen=True)
class BookSlot:
    patient_id: int
    slot_id: int
    actor: Actor
    referral_id: int | None = None
    hold: bool = False  # True: "pending" until confirmed within the hold time
    # A client's retry with the same key gets the appointment the first request made.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Reschedule:
    appointment_id: int
    new_slot_id: int
    actor: Actor
    patient_id: int | None = None  # when given, the appointment must be this patient's


@dataclass(frozen=True)
class Cancel:
    appointment_id: int
    actor: Actor
    patient_id: int | None = None
    reason: str = "patient"


@dataclass(frozen=True)
class CloseChannel:
    clinic_id: int
    channel: str
    starts_on: date
    ends_on: date
    actor: Actor
    specialty_id: int | None = None
    doctor_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class RegisterAbsence:
    doctor_id: int
    starts_on: date
    ends_on: date
    actor: Actor
    reason: str = ""
    substitute_doctor_id: int | None = None


@dataclass(frozen=True)
class Attach:
    patient_id: int
    clinic_id: int
    district_id: int | None
    actor: Actor
    change_of_residence: bool = False


@dataclass(frozen=True)
class RequestCallback:
    caller_number: str
    reason: str
    actor: Actor
    patient_id: int | None = None
    call_id: str | None = None
    clinic_id: int | None = None


@dataclass(frozen=True)
class JoinWaitlist:
    patient_id: int
    specialty_id: int
    actor: Actor
    doctor_id: int | None = None
    preference: str = "any"  # "morning", "afternoon" or "any"
