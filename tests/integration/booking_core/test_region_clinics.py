"""Two polyclinics in one installation (rule 4): each patient is offered and booked by the
schedule of the clinic they are attached to, whichever number they dialled.  The refusal is
``wrong_clinic`` on every remote channel (phone, internet/FHIR); the registry desk may still
book elsewhere.  On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from booking_core import booking, lines, slots, waiting_list
from booking_core.actors import Actor
from booking_core.commands import BookSlot, FindSlots, JoinWaitlist, Reschedule
from booking_core.errors import Duplicate, NotFound, WrongClinic
from booking_core.slots import generate_slots
from models.tables import AuditLog, Channel, Clinic, Doctor, Patient, Slot
from registratura.demo import DEMO_PATIENTS, REGION_PATIENTS, seed_region_demo
from support.world import specialty_id

IVANOV = next(p for p in DEMO_PATIENTS if p.role == "adult")  # № 3
VOLKOVA = REGION_PATIENTS[0]  # № 7


@pytest.fixture
def region(container):  # type: ignore[no-untyped-def]
    assert seed_region_demo(container.uow())
    assert not seed_region_demo(container.uow())  # once
    generate_slots(container.uow())
    return container


def pid(c, patient) -> int:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        return uow.session.exec(select(Patient.id).where(
            Patient.policy_number == patient.policy_number)).one()


def clinic_id(c, code: str) -> int:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        return uow.session.exec(select(Clinic.id).where(Clinic.code == code)).one()


def a_slot_of(c, code: str, specialty: str) -> int:  # type: ignore[no-untyped-def]
    """A free slot two days ahead of a doctor of clinic ``code``."""
    with c.uow().reading() as uow:
        return uow.session.exec(
            select(Slot.id).join(Doctor, col(Doctor.id) == Slot.doctor_id)
            .join(Clinic, col(Clinic.id) == Doctor.clinic_id)
            .where(Clinic.code == code, Doctor.specialty_id == specialty_id(c, specialty),
                   Slot.starts_at >= c.clock.now_local().replace(hour=23))
            .order_by(col(Slot.starts_at))).first()


def test_each_patient_is_offered_only_their_own_clinics_doctors(region):
    for patient, code in ((IVANOV, "gp3"), (VOLKOVA, "gp7")):
        offers = slots.find_free_slots(
            FindSlots(pid(region, patient), specialty_id(region, "therapist"), Channel.IVR,
                      limit=200), region.uow())
        assert offers and {o.doctor.clinic_id for o in offers} == {clinic_id(region, code)}
    # № 7 has no gynecologist: not on Volkova's menu, though № 3 has one.
    menu = [o.specialty.code for o in
            slots.bookable_specialties(pid(region, VOLKOVA), Channel.IVR, region.uow())]
    assert menu == ["therapist", "dentist", "ophthalmologist"]


@pytest.mark.parametrize("channel", [Channel.IVR, Channel.INTERNET])
def test_remote_booking_into_another_clinic_is_wrong_clinic(region, channel):
    other = a_slot_of(region, "gp7", "therapist")
    actor = Actor.patient(pid(region, IVANOV), channel)
    with pytest.raises(WrongClinic) as refused:
        booking.book(BookSlot(pid(region, IVANOV), other, actor), region.uow())
    assert refused.value.code == "wrong_clinic"
    own = booking.book(BookSlot(pid(region, IVANOV), a_slot_of(region, "gp3", "therapist"),
                                actor), region.uow())
    with pytest.raises(WrongClinic):  # moving it across clinics is refused the same way
        booking.reschedule(Reschedule(own.id, other, actor, patient_id=pid(region, IVANOV)),
                           region.uow())
    # The registry desk may still book a patient at another clinic (rule 4: remote only).
    desk = booking.book(BookSlot(pid(region, VOLKOVA), a_slot_of(region, "gp3", "dentist"),
                                 Actor.agent("registrar")), region.uow())
    assert desk.status == "booked"


def test_waiting_list_for_another_clinics_doctor_is_refused(region):
    """Freed time is offered by the attached clinic's doctors only: such an entry would wait
    in vain, so it is refused whoever asks."""
    with region.uow().reading() as uow:
        solovyov = uow.session.exec(select(Doctor.id).where(Doctor.last_name == "Соловьёв")).one()
    for actor in (Actor.patient(pid(region, IVANOV), Channel.IVR), Actor.agent("registrar")):
        with pytest.raises(WrongClinic):
            waiting_list.join(JoinWaitlist(pid(region, IVANOV), specialty_id(region, "therapist"),
                                           actor, doctor_id=solovyov), region.uow())


def test_lines_resolve_and_are_audited(region):
    listed = {line.number: line.clinic_code for line in lines.list_lines(region.uow())}
    assert listed == {"4951230000": "", "4951230003": "gp3", "4951230007": "gp7"}
    answer = lines.resolve_line("+7 (495) 123-00-07", region.uow())
    assert (answer.clinic_id, answer.regional) == (clinic_id(region, "gp7"), False)
    assert answer.clinic_name == "Городская поликлиника № 7" and answer.several_clinics
    assert lines.resolve_line("84951230000", region.uow()).regional
    assert lines.resolve_line("", region.uow()).regional  # unknown, a regional line exists
    with pytest.raises(Duplicate):
        lines.add_line(lines.AddLine("+74951230003", Actor.system("t"), "gp7"), region.uow())
    with pytest.raises(NotFound):
        lines.add_line(lines.AddLine("122", Actor.system("t"), "nope"), region.uow())
    lines.add_line(lines.AddLine("122", Actor.system("t"), "gp3", "внутренний"), region.uow())
    assert lines.resolve_line("122", region.uow()).clinic_id == clinic_id(region, "gp3")
    lines.remove_line("122", Actor.system("t"), region.uow())
    with region.uow().reading() as uow:
        actions = uow.session.exec(select(AuditLog.action).where(
            AuditLog.entity == "clinic_line")).all()
    assert sorted(actions) == ["line_add"] * 4 + ["line_remove"]  # the demo's three, "122" and back
