"""API schemas of the administration routes (clinic structure, doctors, templates, desk
registration, exports, import), apart from the tables and from the registrars' schemas."""

from __future__ import annotations

from datetime import date, datetime, time

from pydantic import BaseModel, Field

from agent_console.schemas import Out

# --- clinics, districts, specialties ---------------------------------------------------------


class ClinicIn(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    short_name: str = Field("", max_length=100)
    address: str = Field("", max_length=300)
    phone: str = Field("", max_length=32)
    timezone: str = Field("Europe/Moscow", max_length=64)


class StreetIO(Out):
    street: str = Field(min_length=1, max_length=200)
    houses: str = Field("", max_length=400, description='as the MIS writes it: "1-15", "2-40 чёт."')


class DistrictIn(BaseModel):
    clinic_id: int
    number: int = Field(gt=0)
    name: str = Field("", max_length=200)


class DistrictOut(Out):
    id: int
    clinic_id: int
    number: int
    name: str
    streets: list[StreetIO]


class ClinicOut(Out):
    id: int
    code: str
    name: str
    short_name: str
    address: str
    phone: str
    timezone: str
    districts: list[DistrictOut]


class SpecialtyIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    name_ru: str = Field(min_length=1, max_length=100)
    name_en: str = Field("", max_length=100)
    synonyms_ru: str = Field("", max_length=400, description="words callers say, comma-separated")
    booking_mode: str = Field("self_referral", description="self_referral or referral_only")
    age_group: str = Field("any", description="adult, child or any")
    district_based: bool = False
    ivr_order: int = Field(100, ge=0, le=10_000)


class SpecialtyAdminOut(Out):
    id: int
    code: str
    name_ru: str
    name_en: str
    synonyms_ru: str
    booking_mode: str
    age_group: str
    district_based: bool
    ivr_order: int


class CreatedOut(BaseModel):
    id: int


# --- doctors and their templates -------------------------------------------------------------


class DoctorIn(BaseModel):
    clinic_id: int
    specialty_id: int
    last_name: str = Field(min_length=1, max_length=80)
    first_name: str = Field(min_length=1, max_length=80)
    middle_name: str = Field("", max_length=80)
    cabinet: str = Field("", max_length=20)
    district_id: int | None = None
    external_id: str | None = Field(None, max_length=64)


class DoctorAdminOut(Out):
    id: int
    full_name: str
    specialty_name: str
    clinic_name: str
    cabinet: str
    district_number: int | None
    external_id: str | None
    active: bool
    left_on: date | None
    templates: int


class CabinetIn(BaseModel):
    cabinet: str = Field(min_length=1, max_length=20)


class LeaveIn(BaseModel):
    last_day: date = Field(description="the doctor's last working day")


class LeaveOut(BaseModel):
    flagged: int = Field(description="future booked visits flagged for the agents to call")


class TemplateRowIO(Out):
    weekday: int = Field(ge=0, le=6, description="Monday = 0")
    start_time: time
    end_time: time
    slot_minutes: int = Field(15, ge=5, le=240)
    cabinet: str = Field("", max_length=20)
    valid_from: date | None = None
    valid_to: date | None = None
    date_parity: str = Field("any", description="any, even or odd (day of the month)")
    week_parity: str = Field("any", description="any, even or odd (ISO week number)")
    break_start: time | None = None
    break_end: time | None = None


class TemplatesIn(BaseModel):
    rows: list[TemplateRowIO] = Field(max_length=200)


class PreviewIn(TemplatesIn):
    monday: date | None = Field(None, description="the week to preview (default: next week)")


class PreviewSlotOut(Out):
    starts_at: datetime
    ends_at: datetime
    cabinet: str


class PreviewDayOut(BaseModel):
    day: date
    slots: list[PreviewSlotOut]


class DayOverrideIn(BaseModel):
    day: date
    kind: str = Field("off", description="off (no work, or no work in these hours) or work")
    start_time: time | None = None
    end_time: time | None = None
    slot_minutes: int | None = Field(None, ge=5, le=240)
    cabinet: str = Field("", max_length=20)
    reason: str = Field("", max_length=200)


class DayOverrideOut(Out):
    id: int
    day: date
    kind: str
    start_time: time | None
    end_time: time | None
    slot_minutes: int | None
    cabinet: str
    reason: str


class ScheduleChangeOut(Out):
    changed: bool
    flagged: int
    removed_free_slots: int
    created_slots: int


class GeneratedOut(BaseModel):
    created: int


# --- the registry desk -----------------------------------------------------------------------


class PatientRegisterIn(BaseModel):
    last_name: str = Field(min_length=1, max_length=80)
    first_name: str = Field(min_length=1, max_length=80)
    middle_name: str = Field("", max_length=80)
    policy_number: str = Field(max_length=32)
    birth_date: date
    snils: str = Field("", max_length=20)
    phone: str = Field("", max_length=32)
    clinic_id: int
    district_id: int | None = None


class PhoneIn(BaseModel):
    phone: str = Field(max_length=32)


class PhoneOut(BaseModel):
    sms_reachable: bool


class AttachmentIn(BaseModel):
    clinic_id: int
    district_id: int | None = None
    change_of_residence: bool = False


# --- exports ---------------------------------------------------------------------------------


class ExportRowOut(Out):
    starts_at: datetime
    doctor: str
    specialty: str
    cabinet: str
    patient: str
    birth_year: int
    policy_tail: str
    status: str
    channel: str
    talon: str
    flag: str


class DayListOut(Out):
    day: date
    doctor: str
    specialty: str
    cabinet: str
    rows: list[ExportRowOut]
