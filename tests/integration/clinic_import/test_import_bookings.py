"""An import that touches bookings: a doctor leaves, a template stops covering a booked slot.
The appointments stay, flagged, in the agents' worklist, with an SMS; a re-import is a no-op."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from booking_core import booking, worklists
from booking_core.actors import Actor
from booking_core.commands import BookSlot
from models.tables import Appointment, Doctor, OutboxMessage, Patient, Slot
from support.import_files import EXAMPLES, do_import, write_csv

AGENT = Actor.agent("registrar1", "127.0.0.1")


def _book(c, policy: str, external_id: str, at: datetime) -> int:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        patient = uow.session.exec(select(Patient).where(Patient.policy_number == policy)).one()
        slot = uow.session.exec(select(Slot).join(Doctor, col(Doctor.id) == Slot.doctor_id).where(
            Doctor.external_id == external_id, Slot.starts_at == at)).one()
    return booking.book(BookSlot(patient.id, slot.id, AGENT), c.uow()).id  # type: ignore[arg-type]


def _appt(c, appt_id: int) -> Appointment:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        appt = uow.session.get(Appointment, appt_id)
        assert appt is not None
        return appt


def _sms_kinds(c, appt_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        return sorted(m.kind for m in uow.session.exec(
            select(OutboxMessage).where(OutboxMessage.appointment_id == appt_id)).all())


def test_doctor_leaving_by_import_flags_later_visits_and_keeps_them(empty, tmp_path):
    do_import(empty, EXAMPLES / "clinic.xlsx")
    adult, elderly = "5077000000000106", "5077000000000007"
    assert _luhn_ok(adult) and _luhn_ok(elderly)
    kept = _book(empty, elderly, "D-701", datetime(2026, 9, 8, 9, 0))  # Tuesday: still works
    moved = _book(empty, adult, "D-701", datetime(2026, 9, 10, 9, 0))  # Thursday: gone
    doctors = write_csv(tmp_path / "doctors.csv", [
        ["Код врача", "Специальность", "Фамилия", "Имя", "Дата увольнения"],
        ["D-701", "therapist", "Воронцова", "Марина", "08.09.2026"],
    ])
    report = do_import(empty, doctors)
    assert report.applied
    counts = report.entities["doctors"]
    assert (counts.updated, counts.flagged) == (1, 1)
    assert _appt(empty, kept).flag is None
    left = _appt(empty, moved)
    assert (left.status, left.flag) == ("booked", "doctor_left")
    assert _sms_kinds(empty, moved) == ["booked", "doctor_left"]
    calls = worklists.absence_calls(empty.uow())
    assert [c.appointment.id for c in calls] == [moved]

    again = do_import(empty, doctors)  # tomorrow night's export says the same
    assert again.changes == 0 and again.entities["doctors"].flagged == 0
    assert _sms_kinds(empty, moved) == ["booked", "doctor_left"]


def test_a_doctor_back_in_the_file_returns_with_the_window_s_slots(empty, tmp_path):
    do_import(empty, EXAMPLES / "clinic.xlsx")
    head = ["Код врача", "Специальность", "Фамилия", "Имя", "Дата увольнения"]
    gone = write_csv(tmp_path / "doctors.csv", [head, ["D-703", "pediatrician", "Фёдорова",
                                                       "Анна", "08.09.2026"]])
    assert do_import(empty, gone).applied
    later = datetime(2026, 9, 10)
    assert _slots_after(empty, "D-703", later) == 0
    back = write_csv(tmp_path / "doctors.csv", [head, ["D-703", "pediatrician", "Фёдорова",
                                                       "Анна", ""]])
    report = do_import(empty, back)
    assert report.entities["doctors"].updated == 1 and report.slots_created > 0
    assert _slots_after(empty, "D-703", later) > 0
    with empty.uow().reading() as uow:
        assert uow.session.exec(select(Doctor).where(
            Doctor.external_id == "D-703")).one().left_on is None
    assert do_import(empty, back).changes == 0


def _slots_after(c, external_id: str, at: datetime) -> int:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        return len(uow.session.exec(select(Slot.id).join(Doctor, col(Doctor.id) == Slot.doctor_id)
                                    .where(Doctor.external_id == external_id,
                                           Slot.starts_at >= at)).all())


def test_active_no_means_the_doctor_leaves_today(empty, tmp_path):
    do_import(empty, EXAMPLES / "clinic.xlsx")
    appt = _book(empty, "5077000000000015", "D-706", datetime(2026, 9, 9, 9, 0))
    doctors = write_csv(tmp_path / "doctors.csv", [
        ["doctor id", "specialty", "last name", "first name", "active"],
        ["D-706", "gynecologist", "Егорова", "Светлана", "no"],
    ], sep=",")
    report = do_import(empty, doctors)
    assert report.entities["doctors"].flagged == 1
    assert _appt(empty, appt).flag == "doctor_left"
    with empty.uow().reading() as uow:
        doctor = uow.session.exec(select(Doctor).where(Doctor.external_id == "D-706")).one()
        assert doctor.left_on == empty.clock.today()
    assert do_import(empty, doctors).changes == 0


def test_changed_template_flags_the_booking_it_no_longer_covers(empty, tmp_path):
    do_import(empty, EXAMPLES / "clinic.xlsx")
    covered = _book(empty, "5077000000000106", "D-702", datetime(2026, 9, 8, 15, 0))
    lost = _book(empty, "5077000000000007", "D-702", datetime(2026, 9, 10, 15, 0))
    templates = write_csv(tmp_path / "templates.csv", [
        ["Код врача", "День недели", "Часы приёма", "Перерыв", "Длительность приёма, мин"],
        *[["D-702", day, "14:00-20:00", "17:00-17:30", "15"] for day in ("пн", "вт", "ср")],
    ])
    report = do_import(empty, templates)
    assert report.applied
    counts = report.entities["templates"]
    assert (counts.updated, counts.flagged) == (3, 1)
    assert _appt(empty, covered).flag is None
    gone = _appt(empty, lost)
    assert (gone.status, gone.flag) == ("booked", "schedule_changed")
    assert "schedule_changed" in _sms_kinds(empty, lost)
    with empty.uow().reading() as uow:  # no free Thursday slots left, the booked one stays
        thursday = uow.session.exec(select(Slot).join(Doctor, col(Doctor.id) == Slot.doctor_id)
                                    .where(Doctor.external_id == "D-702",
                                           Slot.starts_at >= datetime(2026, 9, 10),
                                           Slot.starts_at < datetime(2026, 9, 11))).all()
        assert [s.starts_at for s in thursday] == [datetime(2026, 9, 10, 15, 0)]
    again = do_import(empty, templates)
    assert again.changes == 0 and again.entities["templates"].unchanged == 3


def _luhn_ok(policy: str) -> bool:
    from booking_core.rules import policy_valid

    return policy_valid(policy)


def test_time_an_import_brings_is_offered_to_the_waiting_list_at_once(empty):
    """Rule 19: new time goes to whoever waits when it appears, not at the next upkeep."""
    from booking_core import waiting_list
    from booking_core.actors import Actor
    from booking_core.commands import JoinWaitlist
    from models.tables import Channel, Patient, Specialty, WaitlistStatus

    assert do_import(empty, EXAMPLES / "clinic.xlsx").applied
    with empty.uow().reading() as uow:
        patient = uow.session.exec(
            select(Patient).where(Patient.policy_number == "5077000000000007")).one()
        surgeon = uow.session.exec(select(Specialty).where(Specialty.code == "surgeon")).one()
    entry = waiting_list.join(JoinWaitlist(patient.id, surgeon.id,
                                           Actor.patient(patient.id, Channel.IVR)), empty.uow())
    assert entry.status == WaitlistStatus.WAITING
    report = do_import(empty, EXAMPLES / "fhir" / "bundle.json")  # a new surgeon and hours
    assert report.applied and report.waitlist_offers == 1
    [offered] = waiting_list.list_for_specialty(surgeon.id, empty.uow())
    assert offered.status == WaitlistStatus.OFFERED
