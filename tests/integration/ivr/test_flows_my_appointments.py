"""My appointments: hear, cancel, reschedule."""

from __future__ import annotations

from booking_core import booking, slots
from booking_core.commands import BookSlot, FindSlots
from models.tables import Channel
from support.world import IVR, demo, patient_id, specialty_id

ADULT = demo("adult")
IDENT = [ADULT.policy_number, ADULT.birth_date.strftime("%d%m%Y"), "1"]


def _book_one(container):
    pid = patient_id(container, "adult")
    offer = slots.find_free_slots(FindSlots(pid, specialty_id(container, "therapist"),
                                            Channel.IVR), container.uow())[0]
    return pid, booking.book(BookSlot(pid, offer.slot_id, IVR), container.uow())


def test_no_appointments(container, dial):
    io, _ = dial(container, [None, "2", *IDENT, None])
    assert "no_appointments" in io.transcript.keys
    # Nothing got done, so the caller is asked whether they need anything else.
    assert io.transcript.keys[-2:] == ["anything_else", "goodbye"]


def test_cancel_by_phone(container, dial):
    pid, appt = _book_one(container)
    io, call = dial(container, [None, "2", *IDENT, "1", "1"])
    assert io.transcript.keys[-2:] == ["cancelled", "goodbye"]
    confirm = next(t for _, k, t in io.transcript.events if k == "confirm_cancel")
    assert confirm == "Отменить эту запись? Да — 1, нет — 2."  # the slot was just read
    assert booking.get_appointment(appt.id, container.uow()).status == "cancelled"
    item = next(t for _, k, t in io.transcript.events if k == "appointment")
    assert item.startswith("Терапевт:")
    assert "одна запись" in next(t for _, k, t in io.transcript.events
                                 if k == "appointments_count")


def test_cancel_declined_keeps_the_appointment(container, dial):
    pid, appt = _book_one(container)
    io, _ = dial(container, [None, "2", *IDENT, "1", "2", None])
    assert booking.get_appointment(appt.id, container.uow()).status == "booked"


def test_reschedule_by_phone(container, dial):
    pid, appt = _book_one(container)
    io, _ = dial(container, [None, "2", *IDENT, "2", "1"])
    assert "rescheduled" in io.transcript.keys, io.transcript.keys
    assert "confirm_booking" not in io.transcript.keys  # 1 on the offer moves it
    assert booking.get_appointment(appt.id, container.uow()).status == "cancelled"
    live = booking.patient_appointments(pid, container.uow())
    assert len(live) == 1 and live[0].id != appt.id


def test_book_twice_same_specialty_is_refused_politely(container, dial):
    _book_one(container)
    io, _ = dial(container, [None, "1", *IDENT, "1"])
    # Told on choosing the specialty, before any slot is offered (and offered to move it).
    assert io.transcript.keys[-1] == "held_specialty" and "offer" not in io.transcript.keys


# --- a doctor's absence (rule 14) ----------------------------------------------------------------


def _absent(container, appt):
    from booking_core import admin
    from booking_core.commands import RegisterAbsence
    from support.world import AGENT

    day = appt.starts_at.date()
    (item,) = admin.register_absence(
        RegisterAbsence(appt.doctor.id, day, day, AGENT), container.uow()).affected
    return item


def _said(io, key: str) -> str:
    return next(t for _, k, t in io.transcript.events if k == key)


def test_my_appointments_says_the_doctor_is_absent_and_offers_the_held_time(container, dial):
    pid, appt = _book_one(container)
    item = _absent(container, appt)
    io, _ = dial(container, [None, "2", *IDENT, "1"])
    said = _said(io, "appointment")
    assert said.startswith("Терапевт:")
    assert "Врач в этот день отсутствует, приёма не будет." in said
    assert "Для вас отложено другое время:" in said and "Орлов" in said
    assert "Записаться на это время — 1" in said
    assert io.transcript.keys[-2:] == ["rescheduled", "goodbye"]
    assert booking.get_appointment(appt.id, container.uow()).status == "cancelled"
    (live,) = booking.patient_appointments(pid, container.uow())
    assert live.id == item.hold_id and live.status == "booked"
    assert live.starts_at == item.substitute.starts_at


def test_my_appointments_after_the_hold_ran_out_offers_other_times(container, dial):
    from datetime import timedelta

    pid = patient_id(container, "adult")
    offer = slots.find_free_slots(FindSlots(pid, specialty_id(container, "therapist"),
                                            Channel.IVR, on_date=container.clock.today()
                                            + timedelta(days=3)), container.uow())[0]
    appt = booking.book(BookSlot(pid, offer.slot_id, IVR), container.uow())
    item = _absent(container, appt)
    container.clock.set(item.held_until + timedelta(minutes=1))
    booking.expire_holds(container.uow())
    io, _ = dial(container, [None, "2", *IDENT, "2", "1"])
    said = _said(io, "appointment")
    assert "Врач в этот день отсутствует" in said and "отложено" not in said
    assert "перенести — 2" in said
    assert io.transcript.keys[-2:] == ["rescheduled", "goodbye"]
    assert booking.get_appointment(appt.id, container.uow()).status == "cancelled"
