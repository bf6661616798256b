"""A second polyclinic beside the demo one, built with the booking core's admin use cases
(clinic, doctor, weekly template, patient, slots), and per-clinic / regional console users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlmodel import col, select

from booking_core import agents
from booking_core.actors import Actor
from booking_core.clinic_admin import ClinicData, save_clinic
from booking_core.doctor_admin import DoctorData, change_schedule, hire_doctor
from booking_core.patient_admin import NewPatient, register_patient
from booking_core.rules import luhn_check_digit
from booking_core.schedules import TemplateRow
from booking_core.slots import generate_slots
from models.tables import Clinic, Slot
from registratura.bootstrap import Container
from support.world import specialty_id

SETUP = Actor.system("test_setup")
POLICY_B_15 = "770000000000123"
POLICY_B = POLICY_B_15 + luhn_check_digit(POLICY_B_15)
BORN_B = date(1979, 4, 12)
NAME_B = ("Зимина", "Ольга", "Петровна")
PHONE_B = "+79031112233"


@dataclass(frozen=True)
class SecondClinic:
    demo_clinic_id: int
    clinic_id: int
    doctor_id: int
    patient_id: int
    slot_id: int  # a free slot of the second clinic's therapist, tomorrow


def add_second_clinic(c: Container) -> SecondClinic:
    """Поликлиника № 5 with a therapist working weekdays 08-12 and one attached patient."""
    with c.uow().reading() as uow:
        demo_clinic = uow.session.exec(select(Clinic.id).order_by(col(Clinic.id))).first()
    assert demo_clinic is not None
    clinic = save_clinic(ClinicData(code="GP5", name="Городская поликлиника № 5",
                                    short_name="Поликлиника № 5"), SETUP, c.uow())
    doctor = hire_doctor(DoctorData(clinic, specialty_id(c, "therapist"), "Лебедева", "Анна",
                                    "Сергеевна", cabinet="21"), SETUP, c.uow())
    change_schedule(doctor, [TemplateRow(d, time(8), time(12), 20, cabinet="21")
                             for d in range(5)], SETUP, c.uow())
    generate_slots(c.uow())
    patient = register_patient(NewPatient(NAME_B[0], NAME_B[1], POLICY_B, BORN_B, clinic,
                                          middle_name=NAME_B[2], phone=PHONE_B),
                               SETUP, c.uow())
    tomorrow = c.clock.today().toordinal() + 1
    with c.uow().reading() as uow:
        slots = uow.session.exec(select(Slot).where(Slot.doctor_id == doctor)
                                 .order_by(col(Slot.starts_at))).all()
        slot = next(s for s in slots if s.starts_at.date().toordinal() == tomorrow)
    assert slot.id is not None
    return SecondClinic(demo_clinic, clinic, doctor, patient, slot.id)


def add_user(c: Container, username: str, role: str, password: str,
             clinic_id: int | None) -> None:
    agents.create_agent(agents.NewAgent(username, role, password, SETUP,
                                        full_name=f"Тест {username}", clinic_id=clinic_id),
                        c.uow())
