"""The waiting list (rule 19) on both databases: join, offer on a cancellation, the SMS answer
(1 takes, 2 declines), an offer running out, eligibility at offer time, and the races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import col, select

from booking_core import booking, reminders, slots, waiting_list
from booking_core.actors import Actor
from booking_core.commands import BookSlot, Cancel, FindSlots, JoinWaitlist
from booking_core.errors import AlreadyWaiting, DomainError, InvalidInput
from models.tables import (
    Appointment,
    AppointmentStatus,
    Channel,
    OutboxMessage,
    WaitlistEntry,
    WaitlistStatus,
)
from support.world import AGENT, add_patients, specialty_id


def _patients(container, n: int, prefix: str = "98") -> list[tuple[int, str]]:
    """(id, phone) of ``n`` fresh adults attached to the demo clinic."""
    return [(pid, f"+7{prefix}{i:08d}") for i, (pid, _) in
            enumerate(add_patients(container, n, prefix=prefix))]


def _join(container, pid: int, spec: int, preference: str = "any", doctor_id=None):
    actor = Actor.patient(pid, Channel.IVR)
    return waiting_list.join(JoinWaitlist(pid, spec, actor, doctor_id, preference),
                             container.uow())


def _free(container, pid: int, spec: int, limit: int = 5, channel=Channel.IVR):
    return slots.find_free_slots(FindSlots(pid, spec, channel, limit=limit), container.uow())


def _entry(container, entry_id: int) -> WaitlistEntry:
    with container.uow().reading() as uow:
        entry = uow.session.get(WaitlistEntry, entry_id)
        assert entry is not None
        return entry


def _live(container, pid: int, spec: int) -> list[Appointment]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(select(Appointment).where(
            Appointment.patient_id == pid, Appointment.specialty_id == spec,
            col(Appointment.status).in_((AppointmentStatus.PENDING,
                                         AppointmentStatus.BOOKED)))).all())


def _sms(container, phone: str, kind: str) -> list[OutboxMessage]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.to_phone == phone, OutboxMessage.kind == kind)).all())


def _booked_then_cancelled(container, pid: int, spec: int):
    """Another patient books the nearest slot and cancels it; returns the slot offer."""
    offer = _free(container, pid, spec, limit=1)[0]
    appt = booking.book(BookSlot(pid, offer.slot_id, AGENT), container.uow())
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    return offer


def test_cancellation_offers_the_slot_and_reply_1_books_it(container):
    (waiter, phone), (other, _) = _patients(container, 2)
    therapist = specialty_id(container, "therapist")
    entry = _join(container, waiter, therapist)
    assert entry.status == WaitlistStatus.WAITING

    freed = _booked_then_cancelled(container, other, therapist)

    held = _live(container, waiter, therapist)
    assert [(a.slot_id, a.status) for a in held] == [(freed.slot_id, AppointmentStatus.PENDING)]
    offered = _entry(container, entry.id)
    assert offered.status == WaitlistStatus.OFFERED
    assert offered.offer_appointment_id == held[0].id
    [sms] = _sms(container, phone, "waitlist_offer")
    assert sms.appointment_id == held[0].id

    outcome = reminders.handle_sms_reply(reminders.SmsReply("SM" + "1" * 32, phone, "1"),
                                         container.uow())
    assert outcome.action == "offer_taken"
    [booked] = _live(container, waiter, therapist)
    assert booked.status == AppointmentStatus.BOOKED and booked.slot_id == freed.slot_id
    assert len(_sms(container, phone, "booked")) == 1  # the usual SMS with the talon
    served = _entry(container, entry.id)
    assert served.status == WaitlistStatus.BOOKED
    assert served.booked_appointment_id == booked.id


def test_reply_2_passes_the_slot_to_the_next_entry(container):
    (first, phone1), (second, _), (other, _) = _patients(container, 3)
    therapist = specialty_id(container, "therapist")
    e1, e2 = _join(container, first, therapist), _join(container, second, therapist)
    freed = _booked_then_cancelled(container, other, therapist)
    assert _entry(container, e2.id).status == WaitlistStatus.WAITING

    outcome = reminders.handle_sms_reply(reminders.SmsReply("SM" + "2" * 32, phone1, "2"),
                                         container.uow())
    assert outcome.action == "offer_declined"
    assert "другому пациенту" in outcome.answer
    assert _entry(container, e1.id).status == WaitlistStatus.DECLINED
    assert _live(container, first, therapist) == []
    [held] = _live(container, second, therapist)
    assert held.slot_id == freed.slot_id and held.status == AppointmentStatus.PENDING
    assert _entry(container, e2.id).status == WaitlistStatus.OFFERED


def test_an_offer_nobody_answers_goes_to_the_next_entry(container, clock):
    (first, phone1), (second, _), (other, _) = _patients(container, 3)
    therapist = specialty_id(container, "therapist")
    e1, e2 = _join(container, first, therapist), _join(container, second, therapist)
    freed = _booked_then_cancelled(container, other, therapist)
    assert _entry(container, e2.id).status == WaitlistStatus.WAITING

    clock.advance(minutes=container.settings.waitlist_offer_minutes - 1)
    assert waiting_list.expire(container.uow()) == (0, 0)  # still held
    clock.advance(minutes=2)
    assert waiting_list.expire(container.uow()) == (1, 0)

    assert _live(container, first, therapist) == []
    again = _entry(container, e1.id)
    assert again.status == WaitlistStatus.WAITING  # keeps its place for the next time
    [held] = _live(container, second, therapist)
    assert held.slot_id == freed.slot_id
    # A late "1" is told the time is gone, and books nothing.
    late = reminders.handle_sms_reply(reminders.SmsReply("SM" + "3" * 32, phone1, "1"),
                                      container.uow())
    assert late.action == "offer_expired"
    assert _live(container, first, therapist) == []


def test_preference_and_doctor_choose_which_entry_gets_the_slot(container):
    (morning, _), (anyone, _), (other, _) = _patients(container, 3)
    therapist = specialty_id(container, "therapist")
    freed_offer = _free(container, other, therapist, limit=1)[0]
    afternoon_slot = freed_offer.starts_at.hour >= 13
    pref = "afternoon" if not afternoon_slot else "morning"  # the slot does not suit it
    e_pref = _join(container, morning, therapist, preference=pref)
    e_any = _join(container, anyone, therapist)
    appt = booking.book(BookSlot(other, freed_offer.slot_id, AGENT), container.uow())
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    assert _entry(container, e_pref.id).status == WaitlistStatus.WAITING
    assert _entry(container, e_any.id).status == WaitlistStatus.OFFERED


def test_one_entry_per_patient_and_specialty_and_leaving(container):
    (pid, _), (second, _), (other, _) = _patients(container, 3)
    therapist = specialty_id(container, "therapist")
    entry = _join(container, pid, therapist)
    with pytest.raises(AlreadyWaiting):
        _join(container, pid, therapist, preference="morning")
    with pytest.raises(InvalidInput):
        _join(container, second, therapist, preference="night")
    _join(container, second, therapist)
    freed = _booked_then_cancelled(container, other, therapist)
    # Leaving while offered: the held slot goes to the next entry at once.
    left = waiting_list.leave(entry.id, Actor.patient(pid, Channel.IVR), container.uow(),
                              patient_id=pid)
    assert left.status == WaitlistStatus.LEFT
    assert _live(container, pid, therapist) == []
    [held] = _live(container, second, therapist)
    assert held.slot_id == freed.slot_id
    # Joining again is allowed once the earlier entry is closed.
    assert _join(container, pid, therapist).status == WaitlistStatus.WAITING


def test_booking_by_phone_serves_the_entry_and_rules_apply_at_offer_time(container):
    (pid, _), (other, _) = _patients(container, 2)
    therapist = specialty_id(container, "therapist")
    entry = _join(container, pid, therapist)
    own = _free(container, pid, therapist, limit=1)[0]
    appt = booking.book(BookSlot(pid, own.slot_id, Actor.patient(pid, Channel.IVR)),
                        container.uow())
    served = _entry(container, entry.id)
    assert served.status == WaitlistStatus.BOOKED and served.booked_appointment_id == appt.id
    # An entry (made before the visit was booked, by an agent's hand here) of a patient who
    # holds a therapist visit is skipped at offer time (rule 9 still applies): the freed slot
    # stays in the pool.
    (third, _), = _patients(container, 1, prefix="97")
    third_own = _free(container, third, therapist, limit=3)[2]
    with container.uow() as uow:  # an entry made before the visit was booked
        uow.session.add(WaitlistEntry(patient_id=third, specialty_id=therapist,
                                      created_by="test", channel=Channel.IVR,
                                      expires_at=uow.clock.now_utc().replace(year=2027)))
        uow.commit()
    booking.book(BookSlot(third, third_own.slot_id, AGENT, hold=False), container.uow())
    freed = _booked_then_cancelled(container, other, therapist)
    assert [a.slot_id for a in _live(container, third, therapist)] == [third_own.slot_id]
    assert freed.slot_id in {s.slot_id for s in _free(container, other, therapist, limit=5)}


def test_offer_free_time_reaches_a_waiting_entry_without_a_cancellation(container):
    (pid, phone), = _patients(container, 1)
    dentist = specialty_id(container, "dentist")
    entry = _join(container, pid, dentist)
    assert waiting_list.offer_free_time(container.uow()) == 1
    assert _entry(container, entry.id).status == WaitlistStatus.OFFERED
    assert len(_sms(container, phone, "waitlist_offer")) == 1
    assert waiting_list.offer_free_time(container.uow()) == 0  # offered once, not twice


def test_list_for_agents_shows_state_and_waiting_time(container, clock):
    (a, _), (b, _), (other, _) = _patients(container, 3)
    therapist = specialty_id(container, "therapist")
    _join(container, a, therapist)
    clock.advance(days=3)
    _join(container, b, therapist)
    _booked_then_cancelled(container, other, therapist)
    rows = waiting_list.list_for_specialty(therapist, container.uow())
    assert [(r.patient_id, r.status, r.waited_days) for r in rows] == [
        (a, WaitlistStatus.OFFERED, 3), (b, WaitlistStatus.WAITING, 0)]
    assert rows[0].offer_starts_at is not None


# --- races ------------------------------------------------------------------------------------


def test_two_slots_freed_at_once_never_go_to_one_entry_twice(container):
    (pid, _), *others = _patients(container, 3)
    therapist = specialty_id(container, "therapist")
    entry = _join(container, pid, therapist)
    free = _free(container, others[0][0], therapist, limit=2)
    appts = [booking.book(BookSlot(o, s.slot_id, AGENT), container.uow()).id
             for (o, _), s in zip(others, free, strict=True)]
    barrier = threading.Barrier(2)

    def cancel(appt_id: int) -> str:
        barrier.wait()
        try:
            booking.cancel(Cancel(appt_id, AGENT), container.uow())
            return "ok"
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(cancel, appts)) == ["ok", "ok"]
    assert len(_live(container, pid, therapist)) == 1
    assert _entry(container, entry.id).status == WaitlistStatus.OFFERED


@pytest.mark.parametrize("round_", range(3))
def test_offer_racing_the_patients_own_booking_ends_with_one_appointment(container, round_):
    (pid, _), (other, _) = _patients(container, 2, prefix=f"9{round_}")
    therapist = specialty_id(container, "therapist")
    entry = _join(container, pid, therapist)
    free = _free(container, pid, therapist, limit=2)
    appt = booking.book(BookSlot(other, free[0].slot_id, AGENT), container.uow())
    barrier = threading.Barrier(2)

    def cancel_other() -> str:
        barrier.wait()
        booking.cancel(Cancel(appt.id, AGENT), container.uow())
        return "cancelled"

    def book_own() -> str:
        barrier.wait()
        try:
            booking.book(BookSlot(pid, free[1].slot_id, Actor.patient(pid, Channel.IVR)),
                         container.uow())
            return "booked"
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(2) as pool:
        results = [f.result() for f in (pool.submit(cancel_other), pool.submit(book_own))]
    assert results[0] == "cancelled"
    assert results[1] in ("booked", "limit_reached")
    assert len(_live(container, pid, therapist)) == 1
    final = _entry(container, entry.id)
    assert final.status in (WaitlistStatus.BOOKED, WaitlistStatus.OFFERED)


def test_an_entry_without_a_mobile_is_skipped_for_one_that_can_answer(container):
    from models.tables import Patient

    (landline, _), (mobile, _), (other, _) = _patients(container, 3)
    therapist = specialty_id(container, "therapist")
    e1, e2 = _join(container, landline, therapist), _join(container, mobile, therapist)
    with container.uow() as uow:
        patient = uow.session.get(Patient, landline)
        assert patient is not None
        patient.sms_reachable = False  # an import's landline: an SMS offer cannot reach it
        uow.commit()
    _booked_then_cancelled(container, other, therapist)
    assert _entry(container, e1.id).status == WaitlistStatus.WAITING
    assert _live(container, landline, therapist) == []
    assert _entry(container, e2.id).status == WaitlistStatus.OFFERED


def test_a_patient_holding_a_visit_of_the_specialty_cannot_join(container):
    from booking_core.errors import LimitReached

    (pid, _), = _patients(container, 1)
    therapist = specialty_id(container, "therapist")
    own = _free(container, pid, therapist, limit=1)[0]
    booking.book(BookSlot(pid, own.slot_id, AGENT), container.uow())
    with pytest.raises(LimitReached):
        _join(container, pid, therapist)


def test_joining_is_texted_and_a_reply_0_leaves_the_list(container):
    """Rule 19: the patient can leave the list by SMS; a held offer then goes to the next."""
    (first, phone1), (second, _), (other, _) = _patients(container, 3)
    therapist = specialty_id(container, "therapist")
    e1, e2 = _join(container, first, therapist), _join(container, second, therapist)
    [joined] = _sms(container, phone1, "waitlist_joined")
    assert joined.patient_id == first and joined.payload["until"]
    _booked_then_cancelled(container, other, therapist)
    assert _entry(container, e1.id).status == WaitlistStatus.OFFERED  # time is held for first

    outcome = reminders.handle_sms_reply(reminders.SmsReply("SM" + "0" * 32, phone1, "0"),
                                         container.uow())
    assert outcome.action == "waitlist_left"
    assert outcome.answer.startswith("Вы вышли из листа ожидания")
    assert _entry(container, e1.id).status == WaitlistStatus.LEFT
    assert _live(container, first, therapist) == []  # the hold went back ...
    assert _entry(container, e2.id).status == WaitlistStatus.OFFERED  # ... to the next entry

    again = reminders.handle_sms_reply(reminders.SmsReply("SM" + "9" * 32, phone1, "стоп"),
                                       container.uow())
    assert again.action == "no_waitlist" and "не в листе ожидания" in again.answer


def test_a_reply_0_from_a_number_never_texted_about_the_list_leaves_nothing(container):
    (waiter, _), = _patients(container, 1)
    entry = _join(container, waiter, specialty_id(container, "therapist"))
    outcome = reminders.handle_sms_reply(reminders.SmsReply("SM" + "7" * 32, "+79990001122",
                                                            "0"), container.uow())
    assert outcome.action == "no_waitlist"
    assert _entry(container, entry.id).status == WaitlistStatus.WAITING
