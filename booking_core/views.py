"""Read models handed to channels: plain frozen dataclasses, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from booking_core.rules import ADULT_AGE, age_on
from models.tables import Appointment, Doctor, Patient, Slot, Specialty


@dataclass(frozen=True)
class PatientView:
    id: int
    last_name: str
    first_name: str
    middle_name: str
    birth_date: date
    phone: str
    clinic_id: int | None
    district_id: int | None
    age: int
    #: A child's registered representative's phone ("" when none): their calls need no code.
    representative_phone: str = field(default="", repr=False)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def is_child(self) -> bool:
        return self.age < ADULT_AGE

    @classmethod
    def of(cls, p: Patient, today: date) -> PatientView:
        assert p.id is not None
        return cls(
            id=p.id, last_name=p.last_name, first_name=p.first_name, middle_name=p.middle_name,
            birth_date=p.birth_date, phone=p.phone, clinic_id=p.clinic_id,
            district_id=p.district_id, age=age_on(p.birth_date, today),
            representative_phone=p.representative_phone,
        )


@dataclass(frozen=True)
class SpecialtyView:
    id: int
    code: str
    name_ru: str
    name_en: str
    booking_mode: str
    age_group: str
    district_based: bool
    synonyms_ru: tuple[str, ...] = ()

    def name(self, locale: str) -> str:
        return self.name_ru if locale == "ru" else self.name_en

    @classmethod
    def of(cls, s: Specialty) -> SpecialtyView:
        assert s.id is not None
        synonyms = tuple(w.strip() for w in s.synonyms_ru.split(",") if w.strip())
        return cls(
            id=s.id, code=s.code, name_ru=s.name_ru, name_en=s.name_en,
            booking_mode=s.booking_mode, age_group=s.age_group,
            district_based=s.district_based, synonyms_ru=synonyms,
        )


@dataclass(frozen=True)
class SpecialtyOption:
    """A specialty on the patient's menu, with whatever stops them booking it now.

    ``closed_reason``: the channel is closed for the whole window (rule 13).
    ``blocked_until``: remote booking is blocked after no-shows (rule 11), for every specialty.
    ``held_appointment_id``: the patient's future appointment with this specialty, which the
    one-per-specialty limit (rule 9) lets them move but not duplicate.
    """

    specialty: SpecialtyView
    closed_reason: str | None = None
    blocked_until: date | None = None
    held_appointment_id: int | None = None

    @property
    def open(self) -> bool:
        return self.closed_reason is None

    @property
    def refusal(self) -> str | None:
        """Why a new booking here would be refused, as a domain error code; None if it would
        not.  The order is the booking's: the block, then the channel, then the limit."""
        if self.blocked_until is not None:
            return "booking_blocked"
        if self.closed_reason is not None:
            return "channel_closed"
        if self.held_appointment_id is not None:
            return "limit_reached"
        return None


@dataclass(frozen=True)
class DoctorView:
    id: int
    last_name: str
    first_name: str
    middle_name: str
    cabinet: str
    specialty_id: int
    district_id: int | None
    clinic_id: int | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @classmethod
    def of(cls, d: Doctor) -> DoctorView:
        assert d.id is not None
        return cls(
            id=d.id, last_name=d.last_name, first_name=d.first_name, middle_name=d.middle_name,
            cabinet=d.cabinet, specialty_id=d.specialty_id, district_id=d.district_id,
            clinic_id=d.clinic_id,
        )


@dataclass(frozen=True)
class SlotOffer:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    cabinet: str
    doctor: DoctorView
    district_doctor: bool = False

    @classmethod
    def of(cls, slot: Slot, doctor: Doctor, district_id: int | None) -> SlotOffer:
        assert slot.id is not None
        return cls(
            slot_id=slot.id, starts_at=slot.starts_at, ends_at=slot.ends_at,
            cabinet=slot.cabinet or doctor.cabinet, doctor=DoctorView.of(doctor),
            district_doctor=district_id is not None and doctor.district_id == district_id,
        )


@dataclass(frozen=True)
class AppointmentView:
    id: int
    patient_id: int
    slot_id: int | None
    starts_at: datetime
    status: str
    channel: str
    confirmation_code: str
    doctor: DoctorView
    specialty: SpecialtyView
    cabinet: str
    absence_id: int | None = None
    flag: str | None = None  # "doctor_left" / "schedule_changed": rearrange with the patient
    cancel_reason: str | None = None  # "rescheduled" when the visit moved to another slot

    @classmethod
    def of(
        cls, a: Appointment, doctor: Doctor, specialty: Specialty, cabinet: str = ""
    ) -> AppointmentView:
        assert a.id is not None
        return cls(
            id=a.id, patient_id=a.patient_id, slot_id=a.slot_id, starts_at=a.starts_at,
            status=a.status, channel=a.channel, confirmation_code=a.confirmation_code,
            doctor=DoctorView.of(doctor), specialty=SpecialtyView.of(specialty),
            cabinet=cabinet or doctor.cabinet, absence_id=a.absence_id, flag=a.flag,
            cancel_reason=a.cancel_reason,
        )
