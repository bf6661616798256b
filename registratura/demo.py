"""Demo data: one polyclinic, ten doctors, a handful of patients (``registratura seed --demo``).

The names, cabinets and districts are invented but realistic; policy numbers are valid
(16 digits passing the Luhn check) so they can be typed into the IVR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import select

from booking_core.actors import Actor
from booking_core.agents import DemoLogin, seed_demo_agents
from booking_core.lines import AddLine, add_line, count_lines
from booking_core.rules import block_until, luhn_check_digit
from booking_core.uow import UnitOfWork
from models.tables import (
    AgeGroup,
    Appointment,
    AppointmentStatus,
    BookingMode,
    Clinic,
    District,
    Doctor,
    NoShowBlock,
    Patient,
    Referral,
    ScheduleTemplate,
    Slot,
    Specialty,
)

logger = logging.getLogger(__name__)

DEMO_CLINIC_CODE = "gp3"


def policy(prefix15: str) -> str:
    """A valid 16-digit policy number from its first 15 digits."""
    return prefix15 + luhn_check_digit(prefix15)


# code, ru, en, mode, age group, district-based, IVR order, synonyms a caller may say
SPECIALTIES = [
    ("therapist", "Терапевт", "General practitioner", BookingMode.SELF_REFERRAL, AgeGroup.ADULT,
     True, 1, "терапевт,терапевту,участковый,участковый терапевт,врач общей практики"),
    ("pediatrician", "Педиатр", "Pediatrician", BookingMode.SELF_REFERRAL, AgeGroup.CHILD,
     True, 2, "педиатр,педиатру,детский врач,участковый педиатр"),
    ("gynecologist", "Гинеколог", "Gynecologist", BookingMode.SELF_REFERRAL, AgeGroup.ADULT,
     False, 3, "гинеколог,гинекологу,женский врач"),
    ("dentist", "Стоматолог", "Dentist", BookingMode.SELF_REFERRAL, AgeGroup.ANY,
     False, 4, "стоматолог,стоматологу,зубной,зубной врач,дантист"),
    ("ophthalmologist", "Офтальмолог", "Ophthalmologist", BookingMode.SELF_REFERRAL,
     AgeGroup.ANY, False, 5, "офтальмолог,окулист,глазной,глазной врач"),
    ("surgeon", "Хирург", "Surgeon", BookingMode.SELF_REFERRAL, AgeGroup.ADULT,
     False, 6, "хирург,хирургу"),
    ("neurologist", "Невролог", "Neurologist", BookingMode.REFERRAL_ONLY, AgeGroup.ADULT,
     False, 7, "невролог,неврологу,невропатолог"),
]

# specialty, last, first, middle, district number or None, cabinet, shift
DOCTORS = [
    ("therapist", "Кашинцева", "Галина", "Вячеславовна", 1, "15", "morning"),
    ("therapist", "Орлов", "Андрей", "Николаевич", 2, "16", "evening"),
    ("therapist", "Смирнова", "Елена", "Петровна", 3, "17", "alternate"),
    ("pediatrician", "Белова", "Ирина", "Сергеевна", 1, "21", "morning"),
    ("pediatrician", "Зайцев", "Михаил", "Юрьевич", 2, "22", "evening"),
    ("gynecologist", "Никитина", "Ольга", "Васильевна", None, "31", "alternate"),
    ("dentist", "Григорьев", "Павел", "Александрович", None, "5", "morning"),
    ("ophthalmologist", "Лебедева", "Татьяна", "Игоревна", None, "12", "evening"),
    ("surgeon", "Морозов", "Дмитрий", "Викторович", None, "8", "alternate"),
    ("neurologist", "Ковалёва", "Наталья", "Дмитриевна", None, "19", "morning"),
]

SHIFTS = {
    "morning": (time(8, 0), time(14, 0)),
    "evening": (time(14, 0), time(20, 0)),
}


@dataclass(frozen=True)
class DemoPatient:
    role: str
    full_name: str
    policy_number: str
    birth_date: date
    phone: str
    in_registry: bool = True


DEMO_PATIENTS = [
    DemoPatient("adult", "Иванов Сергей Петрович", policy("770000000000012"), date(1985, 3, 5),
                "+79161234567"),
    DemoPatient("elderly", "Петрова Анна Ивановна", policy("500000000000345"), date(1948, 11, 12),
                "+79031112233"),
    DemoPatient("child", "Соколов Артём Игоревич", policy("770000000000678"), date(2016, 9, 6),
                "+79265554433"),
    DemoPatient("3 no-shows", "Кузнецов Олег Владимирович", policy("770000000000901"),
                date(1979, 6, 20), "+79857778899"),
    DemoPatient("unknown policy", "—", policy("770000000009999"), date(1990, 1, 1),
                "+79990000000", in_registry=False),
]


def seed_demo(uow: UnitOfWork, *, logins: list[DemoLogin] | None = None) -> bool:
    """Create the demo clinic once; returns False if it already exists.

    One console user per role is created with it (random passwords); they are appended to
    ``logins``, if given, so the command line can print them once.
    """
    with uow:
        if uow.session.exec(select(Clinic).where(Clinic.code == DEMO_CLINIC_CODE)).first():
            return False
        clinic = Clinic(code=DEMO_CLINIC_CODE, name="ГБУЗ «Городская поликлиника № 3»",
                        short_name="Городская поликлиника № 3",
                        address="ул. Садовая, д. 12", phone="+74951234567")
        uow.session.add(clinic)
        uow.flush()
        districts = {}
        for n in (1, 2, 3):
            d = District(clinic_id=clinic.id, number=n, name=f"Участок {n}")  # type: ignore[arg-type]
            uow.session.add(d)
            districts[n] = d
        specs = {}
        for code, ru, en, mode, age, district_based, order, syn in SPECIALTIES:
            s = Specialty(code=code, name_ru=ru, name_en=en, booking_mode=mode, age_group=age,
                          district_based=district_based, ivr_order=order, synonyms_ru=syn)
            uow.session.add(s)
            specs[code] = s
        uow.flush()
        doctors = [_add_doctor(uow, clinic, specs, districts, row, i)
                   for i, row in enumerate(DOCTORS)]
        _add_patients(uow, clinic, districts, specs, doctors)
        uow.commit()
        logger.info("demo clinic created: %d doctors, %d patients", len(doctors),
                    sum(p.in_registry for p in DEMO_PATIENTS))
    created = seed_demo_agents(uow)  # admin, registrar, observer (booking_core.agents)
    if logins is not None:
        logins.extend(created)
    return True


def _add_doctor(uow: UnitOfWork, clinic: Clinic, specs: dict, districts: dict,  # type: ignore[type-arg]
                row: tuple, index: int) -> Doctor:  # type: ignore[type-arg]
    spec_code, last, first, middle, district, cabinet, shift = row
    doctor = Doctor(clinic_id=clinic.id, specialty_id=specs[spec_code].id,  # type: ignore[arg-type]
                    district_id=districts[district].id if district else None,
                    last_name=last, first_name=first, middle_name=middle, cabinet=cabinet)
    uow.session.add(doctor)
    uow.flush()
    slot_minutes = 20 if spec_code in ("dentist", "neurologist") else 15
    for weekday in range(5):
        if shift == "alternate":
            start, end = SHIFTS["morning" if weekday % 2 == 0 else "evening"]
        else:
            start, end = SHIFTS[shift]
        uow.session.add(ScheduleTemplate(doctor_id=doctor.id, weekday=weekday, start_time=start,  # type: ignore[arg-type]
                                         end_time=end, slot_minutes=slot_minutes, cabinet=cabinet))
    if index % 3 == 0:  # some doctors also see patients on Saturday morning
        uow.session.add(ScheduleTemplate(doctor_id=doctor.id, weekday=5, start_time=time(9, 0),  # type: ignore[arg-type]
                                         end_time=time(13, 0), slot_minutes=slot_minutes,
                                         cabinet=cabinet))
    return doctor


def _add_patients(uow: UnitOfWork, clinic: Clinic, districts: dict, specs: dict,  # type: ignore[type-arg]
                  doctors: list[Doctor]) -> None:
    today = uow.clock.today()
    for i, p in enumerate(DEMO_PATIENTS):
        if not p.in_registry:
            continue
        last, first, middle = p.full_name.split()
        district = districts[1 if i % 2 == 0 else 2]
        patient = Patient(last_name=last, first_name=first, middle_name=middle,
                          policy_number=p.policy_number, birth_date=p.birth_date, phone=p.phone,
                          clinic_id=clinic.id, district_id=district.id,
                          attached_on=today - timedelta(days=400))
        uow.session.add(patient)
        uow.flush()
        if p.role == "adult":
            uow.session.add(Referral(patient_id=patient.id, specialty_id=specs["neurologist"].id,  # type: ignore[arg-type]
                                     issued_by="Кашинцева Г. В.", issued_on=today,
                                     valid_until=today + timedelta(days=30)))
        if p.role == "3 no-shows":
            _add_no_show_history(uow, patient, doctors[0], today)


def _add_no_show_history(uow: UnitOfWork, patient: Patient, doctor: Doctor, today: date) -> None:
    for weeks in (6, 4, 2):
        at = datetime.combine(today - timedelta(weeks=weeks), time(9, 0))
        slot = Slot(doctor_id=doctor.id, starts_at=at, ends_at=at + timedelta(minutes=15),  # type: ignore[arg-type]
                    cabinet=doctor.cabinet)
        uow.session.add(slot)
        uow.flush()
        uow.session.add(Appointment(
            slot_id=slot.id, patient_id=patient.id, doctor_id=doctor.id,  # type: ignore[arg-type]
            specialty_id=doctor.specialty_id, starts_at=at, status=AppointmentStatus.NO_SHOW,
            channel="ivr", confirmation_code=f"{100000 + weeks}", created_by="patient:ivr"))
    uow.session.add(NoShowBlock(patient_id=patient.id, blocked_from=today - timedelta(weeks=2),  # type: ignore[arg-type]
                                blocked_until=block_until(today - timedelta(weeks=2), 30),
                                reason="3 no-shows"))


# --- a second clinic and the region's lines (``registratura seed --demo --region``) -----------

REGION_CLINIC_CODE = "gp7"
# number -> clinic code (None: the regional line shared by both clinics), label
DEMO_LINES = [
    ("4951230003", DEMO_CLINIC_CODE, "Городская поликлиника № 3"),
    ("4951230007", REGION_CLINIC_CODE, "Городская поликлиника № 7"),
    ("4951230000", None, "Единая регистратура"),
]

REGION_DOCTORS = [
    ("therapist", "Соловьёв", "Артём", "Игоревич", 1, "104", "morning"),
    ("therapist", "Романова", "Людмила", "Олеговна", 2, "105", "evening"),
    ("pediatrician", "Титова", "Вера", "Николаевна", 1, "201", "morning"),
    ("dentist", "Ершов", "Константин", "Павлович", None, "7", "evening"),
    ("ophthalmologist", "Гусева", "Алла", "Викторовна", None, "110", "alternate"),
]

REGION_PATIENTS = [
    DemoPatient("adult (№ 7)", "Волкова Марина Андреевна", policy("770000000070012"),
                date(1990, 4, 14), "+79167001122"),
    DemoPatient("elderly (№ 7)", "Фёдоров Николай Ильич", policy("500000000070345"),
                date(1952, 2, 28), "+79037003344"),
]


def seed_region_demo(uow: UnitOfWork) -> bool:
    """Add a second polyclinic (№ 7: its own doctors, districts and patients) beside the demo
    clinic, and three lines: each clinic's own number and a regional one.  Once; returns
    False if the second clinic exists already.  Needs :func:`seed_demo` first (it shares
    the demo's specialties)."""
    with uow:
        if uow.session.exec(select(Clinic).where(Clinic.code == REGION_CLINIC_CODE)).first():
            return False
        specs = {s.code: s for s in uow.session.exec(select(Specialty)).all()}
        clinic = Clinic(code=REGION_CLINIC_CODE, name="ГБУЗ «Городская поликлиника № 7»",
                        short_name="Городская поликлиника № 7",
                        address="ул. Лесная, д. 5", phone="+74951230007")
        uow.session.add(clinic)
        uow.flush()
        districts = {}
        for n in (1, 2):
            d = District(clinic_id=clinic.id, number=n, name=f"Участок {n}")  # type: ignore[arg-type]
            uow.session.add(d)
            districts[n] = d
        uow.flush()
        for i, row in enumerate(REGION_DOCTORS):
            _add_doctor(uow, clinic, specs, districts, row, i)
        today = uow.clock.today()
        for i, p in enumerate(REGION_PATIENTS):
            last, first, middle = p.full_name.split()
            uow.session.add(Patient(
                last_name=last, first_name=first, middle_name=middle,
                policy_number=p.policy_number, birth_date=p.birth_date, phone=p.phone,
                clinic_id=clinic.id, district_id=districts[1 + i % 2].id,
                attached_on=today - timedelta(days=400)))
        uow.commit()
    if count_lines(uow) == 0:
        for number, code, label in DEMO_LINES:
            add_line(AddLine(number, Actor.system("demo_seed"), clinic_code=code, label=label), uow)
    logger.info("demo region: second clinic and %d lines", len(DEMO_LINES))
    return True
