"""Rule 14: a doctor's absence holds a different reachable substitute slot for each patient.

The clock stands at Monday 2026-09-07 10:00.  Кашинцева (therapist) works 08:00-14:00 on
weekdays; the phone line books from tomorrow up to the 14-day horizon.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from booking_core import admin, booking, slots
from booking_core.actors import Actor
from booking_core.commands import BookSlot, Cancel, FindSlots, RegisterAbsence
from booking_core.errors import HoldExpired
from booking_core.rules import booking_window
from models.tables import Appointment, Channel, OutboxMessage, Slot
from registratura.bootstrap import bootstrap
from registratura.settings import Settings
from support.world import AGENT, add_patients, doctor_ids, patient_id, specialty_id

ADMIN = Actor.agent("head", "10.0.0.1")
TUESDAY = date(2026, 9, 8)


def _slot(container, doctor_id: int, at: datetime) -> int:
    with container.uow().reading() as uow:
        slot = uow.session.exec(
            select(Slot).where(Slot.doctor_id == doctor_id, Slot.starts_at == at)).one()
        return slot.id


def _book_kashintseva(container, pids: list[int], day: date = TUESDAY, hour: int = 8):
    kashintseva = doctor_ids(container, "therapist")[0]
    booked = []
    for i, pid in enumerate(pids):
        at = datetime(day.year, day.month, day.day, hour) + timedelta(minutes=15 * i)
        booked.append(booking.book(BookSlot(pid, _slot(container, kashintseva, at), AGENT),
                                   container.uow()))
    return kashintseva, booked


def _absent(container, doctor_id: int, first: date = TUESDAY, last: date | None = None):
    return admin.register_absence(RegisterAbsence(doctor_id, first, last or first, ADMIN),
                                  container.uow())


def _row(container, appointment_id: int) -> Appointment:
    with container.uow().reading() as uow:
        return uow.session.get(Appointment, appointment_id)


def test_each_patient_gets_a_different_reachable_slot_held_for_them(container):
    pids = [patient_id(container, "adult"), patient_id(container, "elderly")]
    pids += [pid for pid, _ in add_patients(container, 3)]
    kashintseva, booked = _book_kashintseva(container, pids)
    report = _absent(container, kashintseva)
    assert [a.appointment.id for a in report.affected] == [b.id for b in booked]
    offers = [a.substitute for a in report.affected]
    assert all(o is not None for o in offers)
    assert len({o.slot_id for o in offers}) == len(offers)  # not the same slot for everyone
    start, end = booking_window(Channel.IVR, container.clock.now_local(), container.rules)
    now = container.clock.now_local()
    for item in report.affected:
        offer = item.substitute
        assert offer.doctor.id != kashintseva
        assert start <= offer.starts_at < end  # tomorrow on, within the horizon
        assert offer.starts_at >= now + timedelta(minutes=container.rules.lead_time_minutes)
        hold = _row(container, item.hold_id)
        assert hold.status == "pending" and hold.slot_id == offer.slot_id
        assert hold.patient_id == item.appointment.patient_id
        assert hold.substitute_for_id == item.appointment.id
        assert hold.hold_expires_at == container.clock.now_utc() + timedelta(hours=24)
        assert item.held_until == now + timedelta(hours=24)
    # the held slots are not offered to anyone else
    free = slots.find_free_slots(
        FindSlots(patient_id(container, "adult"), specialty_id(container, "therapist"),
                  Channel.IVR, limit=100), container.uow())
    assert not {o.slot_id for o in offers} & {o.slot_id for o in free}


def test_the_hold_time_is_a_setting(db_url, clock):
    c = bootstrap(Settings(database_url=db_url, secret_key="test-secret-key-0123456789",
                           substitute_hold_minutes=90), clock=clock)
    try:
        kashintseva, _ = _book_kashintseva(c, [patient_id(c, "adult")])
        (item,) = _absent(c, kashintseva).affected
        assert _row(c, item.hold_id).hold_expires_at == clock.now_utc() + timedelta(minutes=90)
    finally:
        c.dispose()


def test_an_unclaimed_hold_is_released_and_the_slot_offered_again(container, clock):
    kashintseva, _ = _book_kashintseva(container, [patient_id(container, "adult")])
    (item,) = _absent(container, kashintseva).affected
    clock.advance(hours=24, minutes=1)
    assert booking.expire_holds(container.uow()) == 1
    hold = _row(container, item.hold_id)
    assert (hold.status, hold.cancel_reason) == ("cancelled", "hold_expired")
    free = slots.find_free_slots(
        FindSlots(patient_id(container, "elderly"), specialty_id(container, "therapist"),
                  Channel.CONSOLE, limit=500), container.uow())
    assert item.substitute.slot_id in {o.slot_id for o in free}
    with pytest.raises(HoldExpired):
        booking.take_substitute(item.appointment.id, AGENT, container.uow())


def test_taking_the_substitute_moves_the_visit_there(container):
    pid = patient_id(container, "adult")
    kashintseva, (appt,) = _book_kashintseva(container, [pid])
    (item,) = _absent(container, kashintseva).affected
    caller = Actor.patient(pid, Channel.IVR, "+79161234567")
    moved = booking.take_substitute(appt.id, caller, container.uow(), patient_id=pid)
    assert moved.id == item.hold_id and moved.status == "booked"
    assert moved.slot_id == item.substitute.slot_id
    assert _row(container, appt.id).status == "cancelled"
    assert _row(container, moved.id).rescheduled_from_id == appt.id
    mine = booking.patient_appointments(pid, container.uow())
    assert [a.id for a in mine] == [moved.id]
    with container.uow().reading() as uow:
        keys = uow.session.exec(select(OutboxMessage.idempotency_key)).all()
    assert f"rescheduled:{moved.id}" in keys


def test_cancelling_the_flagged_visit_releases_its_substitute(container):
    pid = patient_id(container, "adult")
    kashintseva, (appt,) = _book_kashintseva(container, [pid])
    (item,) = _absent(container, kashintseva).affected
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    hold = _row(container, item.hold_id)
    assert (hold.status, hold.cancel_reason) == ("cancelled", "substitute_released")


def test_my_appointments_list_the_flagged_visit_not_its_hold(container):
    pid = patient_id(container, "adult")
    kashintseva, (appt,) = _book_kashintseva(container, [pid])
    (item,) = _absent(container, kashintseva).affected
    (listed,) = booking.patient_appointments(pid, container.uow())
    assert listed.id == appt.id and listed.absence_id is not None
    held = booking.substitute_hold(appt.id, container.uow())
    assert held is not None and held.id == item.hold_id


def test_a_visit_already_past_when_the_absence_is_registered_is_left_alone(container, clock):
    kashintseva = doctor_ids(container, "therapist")[0]
    today = clock.today()
    morning = booking.book(BookSlot(patient_id(container, "adult"),
                                    _slot(container, kashintseva, datetime(2026, 9, 7, 10, 30)),
                                    AGENT), container.uow())
    later = booking.book(BookSlot(patient_id(container, "elderly"),
                                  _slot(container, kashintseva, datetime(2026, 9, 7, 13, 0)),
                                  AGENT), container.uow())
    clock.set(datetime(2026, 9, 7, 12, 0))  # the doctor is reported ill at noon
    report = _absent(container, kashintseva, today)
    assert [a.appointment.id for a in report.affected] == [later.id]
    assert _row(container, morning.id).absence_id is None
    with container.uow().reading() as uow:
        notices = uow.session.exec(select(OutboxMessage.appointment_id).where(
            OutboxMessage.kind == "absence")).all()
    assert notices == [later.id]


def test_the_named_substitute_is_held_first_each_patient_another_of_his_slots(container):
    kashintseva, orlov, _ = doctor_ids(container, "therapist")
    pids = [patient_id(container, "adult"), patient_id(container, "elderly")]
    _, booked = _book_kashintseva(container, pids)
    report = admin.register_absence(
        RegisterAbsence(kashintseva, TUESDAY, TUESDAY, ADMIN, substitute_doctor_id=orlov),
        container.uow())
    held = [a.substitute for a in report.affected]
    assert [o.doctor.id for o in held] == [orlov, orlov]
    assert held[0].starts_at < held[1].starts_at
    with container.uow().reading() as uow:
        holds = uow.session.exec(select(Appointment).where(
            col(Appointment.substitute_for_id).in_([b.id for b in booked]))).all()
    assert len(holds) == 2
