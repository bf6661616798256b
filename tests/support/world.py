"""Look-ups into the demo clinic for tests: patients by role, specialties by code."""

from __future__ import annotations

from sqlmodel import select

from booking_core.actors import Actor
from models.tables import Channel, Doctor, Patient, Specialty
from registratura.bootstrap import Container
from registratura.demo import DEMO_PATIENTS


def demo(role: str):  # type: ignore[no-untyped-def]
    """The DemoPatient record for a role ("adult", "child", "elderly", "3 no-shows", ...)."""
    return next(p for p in DEMO_PATIENTS if p.role == role)


def patient_id(c: Container, role: str) -> int:
    with c.uow().reading() as uow:
        p = uow.session.exec(
            select(Patient).where(Patient.policy_number == demo(role).policy_number)
        ).one()
        assert p.id is not None
        return p.id


def specialty_id(c: Container, code: str) -> int:
    with c.uow().reading() as uow:
        s = uow.session.exec(select(Specialty).where(Specialty.code == code)).one()
        assert s.id is not None
        return s.id


def doctor_ids(c: Container, code: str) -> list[int]:
    with c.uow().reading() as uow:
        rows = uow.session.exec(
            select(Doctor.id).join(Specialty, Specialty.id == Doctor.specialty_id)  # type: ignore[arg-type]
            .where(Specialty.code == code).order_by(Doctor.id)  # type: ignore[arg-type]
        ).all()
        return [r for r in rows if r is not None]


IVR = Actor.patient(None, Channel.IVR, "+79161234567")
AGENT = Actor.agent("registrar1", "127.0.0.1")


def add_patients(c: Container, n: int, prefix: str = "99") -> list[tuple[int, str]]:
    """``n`` extra adults attached like the demo adult; returns (id, policy) pairs.

    Policies are valid (Luhn); phone numbers are distinct per prefix.
    """
    from booking_core.rules import luhn_check_digit

    base = patient_id(c, "adult")
    added = []
    with c.uow() as uow:
        template = uow.session.get(Patient, base)
        assert template is not None
        for i in range(n):
            first15 = f"{prefix}{i:0{15 - len(prefix)}d}"
            policy = first15 + luhn_check_digit(first15)
            p = Patient(last_name="Тестов", first_name=f"Пациент{i}", middle_name="",
                        policy_number=policy, birth_date=template.birth_date,
                        phone=f"+7{prefix}{i:08d}", clinic_id=template.clinic_id,
                        district_id=template.district_id, attached_on=template.attached_on)
            uow.session.add(p)
            uow.flush()
            assert p.id is not None
            added.append((p.id, policy))
        uow.commit()
    return added


def own_phone(script: list) -> str:
    """The phone on file of the demo patient whose policy the script types (the adult's if
    none): a test calls from the patient's own phone unless it says otherwise, so no consent
    code (rule 20) is asked."""
    by_policy = {p.policy_number: p.phone for p in DEMO_PATIENTS}
    typed = (step.rstrip("#") for step in script if isinstance(step, str))
    return next((by_policy[s] for s in typed if s in by_policy), "+79161234567")
def fill_specialty(c: Container, code: str, keep: int = 0) -> list[int]:
    """Fill every free slot of a specialty with a booked visit of an extra patient (test
    set-up: a fully booked specialty), except the first ``keep``; returns the kept slot ids.

    The visits are written directly: they stand for bookings made long ago, and rule 9 (one
    per specialty) would otherwise need hundreds of patients.
    """
    from sqlmodel import col

    from booking_core.slots import slot_is_taken
    from models.tables import Appointment, AppointmentStatus, Slot

    (filler, _), = add_patients(c, 1, prefix="96")
    spec = specialty_id(c, code)
    with c.uow() as uow:
        now = uow.clock.now_utc()
        free = uow.session.exec(
            select(Slot).join(Doctor, col(Doctor.id) == Slot.doctor_id)
            .where(Doctor.specialty_id == spec, Slot.starts_at > uow.clock.now_local(),
                   ~slot_is_taken(now)).order_by(col(Slot.starts_at))).all()
        # kept: the first ones the phone may book (from tomorrow, rule 7)
        kept = [s.id for s in free if s.starts_at.date() > uow.clock.today()][:keep]
        doctors = {d.id: d for d in uow.session.exec(select(Doctor)).all()}
        for i, slot in enumerate(s for s in free if s.id not in kept):
            uow.session.add(Appointment(
                slot_id=slot.id, patient_id=filler, doctor_id=slot.doctor_id,
                specialty_id=doctors[slot.doctor_id].specialty_id, starts_at=slot.starts_at,
                status=AppointmentStatus.BOOKED, channel=Channel.CONSOLE,
                confirmation_code=f"{900000 + i}", created_by="test", created_at=now,
                updated_at=now))
        uow.commit()
    return [k for k in kept if k is not None]
