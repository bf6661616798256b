"""An appointment's life: book, hold/confirm, limits, cancel, reschedule, visit outcome, audit.

Rules 8-12, 15, 17.  The clock stands at Monday 2026-09-07 10:00 and is moved forward where a
rule depends on time passing.  Кашинцева (therapist, district 1) works 08:00-14:00 on weekdays.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from booking_core import blocks, booking, slots
from booking_core.actors import Actor
from booking_core.commands import BookSlot, Cancel, FindSlots, Reschedule
from booking_core.errors import (
    BookingBlocked,
    HoldExpired,
    InvalidTransition,
    LimitReached,
    NotCancellable,
    NotFound,
    SlotTaken,
    SlotUnavailable,
)
from models.tables import Appointment, AuditLog, Channel, NoShowBlock, Referral, Slot
from registratura.bootstrap import bootstrap
from registratura.settings import Settings
from support.world import AGENT, doctor_ids, patient_id, specialty_id

TODAY = date(2026, 9, 7)
CALLER = "+79161234567"


def caller(container, role: str) -> Actor:
    """The patient themself on the phone line."""
    return Actor.patient(patient_id(container, role), Channel.IVR, CALLER)


def slot_at(container, doctor_code: str, at: datetime, nth: int = 0) -> int:
    """The slot of the nth doctor of a specialty starting at ``at``."""
    doctor = doctor_ids(container, doctor_code)[nth]
    with container.uow().reading() as uow:
        slot = uow.session.exec(
            select(Slot).where(Slot.doctor_id == doctor, Slot.starts_at == at)
        ).one()
        assert slot.id is not None
        return slot.id


def kashintseva(container, at: datetime) -> int:
    return slot_at(container, "therapist", at)


def book(container, role: str, slot_id: int, actor: Actor | None = None, **kw):
    actor = actor or caller(container, role)
    return booking.book(BookSlot(patient_id(container, role), slot_id, actor, **kw),
                        container.uow())


def find(container, role: str, code: str, channel: str = Channel.IVR, **kw):
    q = FindSlots(patient_id(container, role), specialty_id(container, code), channel, **kw)
    return slots.find_free_slots(q, container.uow())


def row(container, appointment_id: int) -> Appointment:
    with container.uow().reading() as uow:
        appt = uow.session.get(Appointment, appointment_id)
        assert appt is not None
        return appt


def audit_rows(container, entity_id: object | None = None, action: str | None = None):
    with container.uow().reading() as uow:
        stmt = select(AuditLog).order_by(col(AuditLog.id))
        if entity_id is not None:
            stmt = stmt.where(AuditLog.entity_id == str(entity_id))
        if action is not None:
            stmt = stmt.where(AuditLog.action == action)
        return list(uow.session.exec(stmt).all())


def blocks_of(container, role: str) -> list[NoShowBlock]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(
            select(NoShowBlock).where(NoShowBlock.patient_id == patient_id(container, role))
            .order_by(col(NoShowBlock.blocked_from))
        ).all())


def book_then_no_show(container, clock, role: str, at: datetime) -> None:
    """A registrar books ``at``; the clock moves past it; the patient never came."""
    appt = book(container, role, kashintseva(container, at), AGENT)
    clock.set(at + timedelta(minutes=30))
    booking.mark_no_show(appt.id, AGENT, container.uow())


# --- Rules 8, 17: book -------------------------------------------------------------------------


def test_booking_returns_a_six_digit_confirmation_code(container):
    at = datetime(2026, 9, 8, 8, 0)
    appt = book(container, "adult", kashintseva(container, at))
    assert appt.status == "booked"
    assert re.fullmatch(r"\d{6}", appt.confirmation_code)
    assert appt.starts_at == at and appt.cabinet == "15"
    assert appt.doctor.last_name == "Кашинцева" and appt.specialty.code == "therapist"
    assert appt.channel == Channel.IVR
    mine = booking.patient_appointments(patient_id(container, "adult"), container.uow())
    assert [a.id for a in mine] == [appt.id]
    assert mine[0].confirmation_code == appt.confirmation_code


def test_live_appointments_have_distinct_codes(container):
    offers = find(container, "adult", "dentist", Channel.CONSOLE, limit=6)
    roles = ["adult", "elderly", "child", "3 no-shows"]
    codes = [book(container, r, o.slot_id, AGENT).confirmation_code
             for r, o in zip(roles, offers, strict=False)]
    assert len(set(codes)) == len(codes)


def test_a_drawn_code_a_live_appointment_carries_is_drawn_again(container, monkeypatch):
    first = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    # The next booking draws the first one's code, then (on the clash) a free one.
    draws = iter([first.confirmation_code, "777777"])
    monkeypatch.setattr(booking, "new_confirmation_code", lambda: next(draws))
    second = book(container, "elderly", kashintseva(container, datetime(2026, 9, 8, 9, 0)), AGENT)
    assert second.confirmation_code == "777777"
    assert row(container, first.id).confirmation_code == first.confirmation_code


def test_a_booked_slot_cannot_be_booked_again(container):
    slot = kashintseva(container, datetime(2026, 9, 8, 8, 0))
    book(container, "adult", slot)
    with pytest.raises(SlotTaken):
        book(container, "elderly", slot, AGENT)


# --- Rule 10: hold and confirm -------------------------------------------------------------------


def test_hold_is_pending_until_confirmed(container):
    slot = kashintseva(container, datetime(2026, 9, 8, 8, 0))
    held = book(container, "adult", slot, hold=True)
    assert held.status == "pending"
    assert row(container, held.id).hold_expires_at is not None
    with pytest.raises(SlotTaken):  # a live hold occupies the slot
        book(container, "elderly", slot, AGENT)
    confirmed = booking.confirm(held.id, caller(container, "adult"), container.uow())
    assert confirmed.status == "booked"
    assert row(container, held.id).hold_expires_at is None
    # confirming twice is harmless
    assert booking.confirm(held.id, caller(container, "adult"), container.uow()).status == "booked"


def test_confirm_just_before_the_hold_runs_out(container, clock):
    held = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)), hold=True)
    clock.advance(minutes=container.rules.hold_minutes)
    assert booking.confirm(held.id, caller(container, "adult"), container.uow()).status == "booked"


def test_held_slot_is_hidden_then_free_again_after_the_hold_time(container, clock):
    at = datetime(2026, 9, 8, 8, 0)
    slot = kashintseva(container, at)
    kash = doctor_ids(container, "therapist")[0]
    book(container, "adult", slot, hold=True)
    offered = find(container, "elderly", "therapist", doctor_id=kash, on_date=at.date())
    assert slot not in [o.slot_id for o in offered]
    clock.advance(minutes=container.rules.hold_minutes + 1)
    offered = find(container, "elderly", "therapist", doctor_id=kash, on_date=at.date())
    assert offered[0].slot_id == slot
    assert book(container, "elderly", slot).status == "booked"


def test_confirm_after_the_hold_ran_out_is_hold_expired(container, clock):
    held = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)), hold=True)
    clock.advance(minutes=container.rules.hold_minutes + 1)
    with pytest.raises(HoldExpired):
        booking.confirm(held.id, caller(container, "adult"), container.uow())
    assert row(container, held.id).status == "pending"  # nothing changed


def test_confirm_after_someone_else_took_the_expired_slot_is_hold_expired(container, clock):
    slot = kashintseva(container, datetime(2026, 9, 8, 8, 0))
    held = book(container, "adult", slot, hold=True)
    clock.advance(minutes=container.rules.hold_minutes + 1)
    book(container, "elderly", slot)
    assert row(container, held.id).status == "cancelled"
    assert row(container, held.id).cancel_reason == "hold_expired"
    with pytest.raises(HoldExpired):
        booking.confirm(held.id, caller(container, "adult"), container.uow())


def test_expire_holds_returns_stale_holds_to_the_pool(container, clock):
    fresh_slot = kashintseva(container, datetime(2026, 9, 8, 8, 15))
    stale = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)),
                 hold=True)
    clock.advance(minutes=container.rules.hold_minutes + 1)
    fresh = book(container, "elderly", fresh_slot, hold=True)
    assert booking.expire_holds(container.uow()) == 1
    assert row(container, stale.id).status == "cancelled"
    assert row(container, stale.id).cancel_reason == "hold_expired"
    assert row(container, fresh.id).status == "pending"
    with pytest.raises(HoldExpired):
        booking.confirm(stale.id, caller(container, "adult"), container.uow())


def test_expired_hold_does_not_count_towards_the_limits(container, clock):
    book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)), hold=True)
    clock.advance(minutes=container.rules.hold_minutes + 1)
    again = book(container, "adult", kashintseva(container, datetime(2026, 9, 9, 8, 0)))
    assert again.status == "booked"


# --- Rule 9: limits -----------------------------------------------------------------------


def test_one_future_appointment_per_specialty(container):
    book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    with pytest.raises(LimitReached) as exc:
        book(container, "adult", kashintseva(container, datetime(2026, 9, 10, 8, 0)))
    assert exc.value.details["limit"] == "per_specialty"
    with pytest.raises(LimitReached):  # the registrar is bound by it too
        book(container, "adult", slot_at(container, "therapist", datetime(2026, 9, 8, 14, 0), 1),
             AGENT)


def test_a_pending_hold_counts_as_the_specialty_appointment(container):
    book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)), hold=True)
    with pytest.raises(LimitReached):
        book(container, "adult", kashintseva(container, datetime(2026, 9, 9, 8, 0)))


def test_after_cancelling_the_specialty_can_be_booked_again(container):
    first = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    booking.cancel(Cancel(first.id, caller(container, "adult")), container.uow())
    assert book(container, "adult", kashintseva(container, datetime(2026, 9, 9, 8, 0))).id


def test_after_the_visit_the_specialty_can_be_booked_again(container, clock):
    first = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    clock.set(datetime(2026, 9, 8, 8, 5))
    booking.mark_arrived(first.id, AGENT, container.uow())
    assert book(container, "adult", kashintseva(container, datetime(2026, 9, 10, 8, 0))).id


def test_default_two_appointments_a_day(container):
    day = date(2026, 9, 8)
    book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    book(container, "adult", find(container, "adult", "dentist", on_date=day)[0].slot_id)
    third = find(container, "adult", "ophthalmologist", on_date=day)[0].slot_id
    with pytest.raises(LimitReached) as exc:
        book(container, "adult", third)
    assert exc.value.details["limit"] == "per_day"
    # another day is fine
    other = find(container, "adult", "ophthalmologist", on_date=date(2026, 9, 9))[0].slot_id
    assert book(container, "adult", other).status == "booked"


def test_appointments_per_day_is_a_setting(db_url, clock):
    settings = Settings(database_url=db_url, secret_key="test-secret-key-0123456789",  # type: ignore[arg-type]
                        max_appointments_per_day=1)
    c = bootstrap(settings, clock=clock)
    try:
        assert c.rules.max_appointments_per_day == 1
        day = date(2026, 9, 8)
        book(c, "adult", kashintseva(c, datetime(2026, 9, 8, 8, 0)))
        dentist = find(c, "adult", "dentist", on_date=day)[0].slot_id
        with pytest.raises(LimitReached) as exc:
            book(c, "adult", dentist)
        assert exc.value.details["limit"] == "per_day"
        nextday = find(c, "adult", "dentist", on_date=date(2026, 9, 9))[0].slot_id
        assert book(c, "adult", nextday).status == "booked"
    finally:
        c.dispose()


# --- Rule 12: cancel ---------------------------------------------------------------------------


def test_cancel_returns_the_slot_to_the_pool_at_once(container):
    at = datetime(2026, 9, 8, 8, 0)
    slot = kashintseva(container, at)
    appt = book(container, "adult", slot)
    cancelled = booking.cancel(Cancel(appt.id, caller(container, "adult"),
                                      patient_id=patient_id(container, "adult")),
                               container.uow())
    assert cancelled.status == "cancelled"
    assert row(container, appt.id).cancel_reason == "patient"
    assert find(container, "adult", "therapist")[0].slot_id == slot
    assert book(container, "elderly", slot).status == "booked"
    assert booking.patient_appointments(patient_id(container, "adult"), container.uow()) == []


def test_cancel_until_the_slot_starts(container, clock):
    at = datetime(2026, 9, 8, 8, 0)
    appt = book(container, "adult", kashintseva(container, at))
    clock.set(at - timedelta(minutes=1))
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    assert row(container, appt.id).status == "cancelled"


def test_cancel_after_the_start_is_refused(container, clock):
    at = datetime(2026, 9, 8, 8, 0)
    appt = book(container, "adult", kashintseva(container, at))
    clock.set(at)
    with pytest.raises(NotCancellable):
        booking.cancel(Cancel(appt.id, AGENT), container.uow())
    assert row(container, appt.id).status == "booked"


def test_cancel_twice_is_refused(container):
    appt = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    with pytest.raises(NotCancellable):
        booking.cancel(Cancel(appt.id, AGENT), container.uow())


def test_cancel_someone_elses_appointment_is_not_found(container):
    appt = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    with pytest.raises(NotFound):
        booking.cancel(Cancel(appt.id, caller(container, "elderly"),
                              patient_id=patient_id(container, "elderly")), container.uow())
    assert row(container, appt.id).status == "booked"


# --- Rule 8: reschedule --------------------------------------------------------------------------


def test_reschedule_moves_the_appointment(container):
    old_slot = kashintseva(container, datetime(2026, 9, 8, 8, 0))
    new_slot = kashintseva(container, datetime(2026, 9, 9, 9, 0))
    adult = patient_id(container, "adult")
    old = book(container, "adult", old_slot)
    new = booking.reschedule(Reschedule(old.id, new_slot, caller(container, "adult"),
                                        patient_id=adult), container.uow())
    assert new.id != old.id and new.status == "booked" and new.slot_id == new_slot
    assert new.starts_at == datetime(2026, 9, 9, 9, 0)
    old_row, new_row = row(container, old.id), row(container, new.id)
    assert old_row.status == "cancelled" and old_row.cancel_reason == "rescheduled"
    assert new_row.rescheduled_from_id == old.id
    assert [a.id for a in booking.patient_appointments(adult, container.uow())] == [new.id]
    assert book(container, "elderly", old_slot).status == "booked"  # the old slot is free


def test_reschedule_to_another_doctor_of_the_same_specialty(container):
    old = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    orlov = slot_at(container, "therapist", datetime(2026, 9, 8, 14, 0), 1)
    new = booking.reschedule(Reschedule(old.id, orlov, AGENT), container.uow())
    assert new.doctor.last_name == "Орлов"


def test_reschedule_keeps_the_specialty(container):
    old = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    dentist = find(container, "adult", "dentist")[0].slot_id
    with pytest.raises(SlotUnavailable):
        booking.reschedule(Reschedule(old.id, dentist, AGENT), container.uow())
    assert row(container, old.id).status == "booked"


def test_reschedule_to_a_taken_slot_changes_nothing(container):
    mine = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    taken_slot = kashintseva(container, datetime(2026, 9, 9, 8, 0))
    theirs = book(container, "elderly", taken_slot)
    audit_before = len(audit_rows(container))
    with pytest.raises(SlotTaken):
        booking.reschedule(Reschedule(mine.id, taken_slot, caller(container, "adult")),
                           container.uow())
    assert row(container, mine.id).status == "booked"
    assert row(container, mine.id).cancel_reason is None
    assert row(container, theirs.id).status == "booked"
    assert len(audit_rows(container)) == audit_before
    adult = patient_id(container, "adult")
    assert [a.id for a in booking.patient_appointments(adult, container.uow())] == [mine.id]


def test_reschedule_of_someone_elses_appointment_is_not_found(container):
    appt = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    with pytest.raises(NotFound):
        booking.reschedule(
            Reschedule(appt.id, kashintseva(container, datetime(2026, 9, 9, 8, 0)),
                       caller(container, "elderly"), patient_id=patient_id(container, "elderly")),
            container.uow(),
        )
    assert row(container, appt.id).status == "booked"


def test_reschedule_a_referral_appointment_keeps_the_referral(container):
    offers = find(container, "adult", "neurologist", Channel.CONSOLE, limit=40)
    old = book(container, "adult", offers[0].slot_id, AGENT)
    later = next(o for o in offers if o.starts_at.date() != offers[0].starts_at.date())
    new = booking.reschedule(Reschedule(old.id, later.slot_id, AGENT), container.uow())
    assert new.status == "booked" and new.specialty.code == "neurologist"
    with container.uow().reading() as uow:
        referral = uow.session.exec(
            select(Referral).where(Referral.patient_id == patient_id(container, "adult"))
        ).one()
        assert referral.used_by_appointment_id == new.id
        assert uow.session.get(Appointment, new.id).referral_id == referral.id


def test_cancelled_referral_appointment_frees_the_referral(container):
    offers = find(container, "adult", "neurologist", Channel.CONSOLE, limit=40)
    first = book(container, "adult", offers[0].slot_id, AGENT)
    booking.cancel(Cancel(first.id, AGENT), container.uow())
    again = book(container, "adult", offers[1].slot_id, AGENT)
    assert again.status == "booked"


# --- Rules 10, 11: visit outcome -----------------------------------------------------------------


def test_arrival_on_time_completes_the_appointment(container, clock):
    at = datetime(2026, 9, 8, 8, 0)
    appt = book(container, "adult", kashintseva(container, at))
    clock.set(at - timedelta(minutes=10))
    assert booking.mark_arrived(appt.id, AGENT, container.uow()).status == "completed"
    assert row(container, appt.id).arrived_at == at - timedelta(minutes=10)


def test_arrival_up_to_15_minutes_late_is_still_on_time(container):
    at = datetime(2026, 9, 8, 8, 0)
    appt = book(container, "adult", kashintseva(container, at))
    done = booking.mark_arrived(appt.id, AGENT, container.uow(), at=at + timedelta(minutes=15))
    assert done.status == "completed"


def test_arrival_more_than_15_minutes_late_is_a_walk_in(container, clock):
    at = datetime(2026, 9, 8, 8, 0)
    appt = book(container, "adult", kashintseva(container, at))
    clock.set(at + timedelta(minutes=16))
    assert booking.mark_arrived(appt.id, AGENT, container.uow()).status == "walk_in"


def test_arrival_of_a_cancelled_appointment_is_refused(container):
    appt = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    with pytest.raises(InvalidTransition):
        booking.mark_arrived(appt.id, AGENT, container.uow())


def test_no_show_before_the_start_is_refused(container, clock):
    at = datetime(2026, 9, 8, 8, 0)
    appt = book(container, "adult", kashintseva(container, at))
    clock.set(at - timedelta(minutes=1))
    with pytest.raises(InvalidTransition):
        booking.mark_no_show(appt.id, AGENT, container.uow())
    assert row(container, appt.id).status == "booked"


def test_no_show_after_the_start(container, clock):
    at = datetime(2026, 9, 8, 8, 0)
    appt = book(container, "adult", kashintseva(container, at))
    clock.set(at + timedelta(minutes=20))
    assert booking.mark_no_show(appt.id, AGENT, container.uow()).status == "no_show"
    with pytest.raises(InvalidTransition):  # and it stays one
        booking.mark_arrived(appt.id, AGENT, container.uow())


def test_two_no_shows_do_not_block(container, clock):
    book_then_no_show(container, clock, "adult", datetime(2026, 9, 8, 8, 0))
    book_then_no_show(container, clock, "adult", datetime(2026, 9, 9, 8, 0))
    count, block = blocks.block_status(patient_id(container, "adult"), container.uow())
    assert count == 2 and block is None
    assert find(container, "adult", "therapist")


def test_third_no_show_blocks_remote_booking_for_30_days(container, clock):
    for day in (8, 9, 10):
        book_then_no_show(container, clock, "adult", datetime(2026, 9, day, 8, 0))
    count, block = blocks.block_status(patient_id(container, "adult"), container.uow())
    assert count == 3 and block is not None
    assert block.blocked_from == date(2026, 9, 10)
    assert block.blocked_until == date(2026, 10, 9)  # 30 days: 09-10 is the first, 10-09 the last
    with pytest.raises(BookingBlocked):
        find(container, "adult", "therapist")
    with pytest.raises(BookingBlocked):
        book(container, "adult", kashintseva(container, datetime(2026, 9, 14, 8, 0)))
    # the registrar sees the block and may still book at the desk
    assert book(container, "adult", kashintseva(container, datetime(2026, 9, 14, 8, 0)),
                AGENT).status == "booked"
    assert len(audit_rows(container, action="block")) == 1


def test_lifted_block_allows_remote_booking_again(container):
    (demo_block,) = blocks_of(container, "3 no-shows")
    blocks.lift_block(demo_block.id, AGENT, container.uow())
    assert find(container, "3 no-shows", "therapist")
    _, block = blocks.block_status(patient_id(container, "3 no-shows"), container.uow())
    assert block is None


def test_after_a_block_ends_three_new_no_shows_are_needed(container, clock):
    """The no-shows that caused a block don't count again towards the next one."""
    clock.set(datetime(2026, 9, 24, 10, 0))  # the demo patient's block ended on 09-22
    book_then_no_show(container, clock, "3 no-shows", datetime(2026, 9, 25, 9, 0))
    book_then_no_show(container, clock, "3 no-shows", datetime(2026, 9, 28, 9, 0))
    assert len(blocks_of(container, "3 no-shows")) == 1
    assert find(container, "3 no-shows", "therapist")
    book_then_no_show(container, clock, "3 no-shows", datetime(2026, 9, 29, 9, 0))
    new_block = blocks_of(container, "3 no-shows")[-1]
    assert (new_block.blocked_from, new_block.blocked_until) == (date(2026, 9, 29),
                                                                 date(2026, 10, 28))


def test_out_of_schedule_visit_takes_no_slot(container):
    kash = doctor_ids(container, "therapist")[0]
    before = find(container, "adult", "therapist", Channel.CONSOLE, doctor_id=kash)
    appt = booking.register_out_of_schedule(patient_id(container, "elderly"), kash, AGENT,
                                            container.uow())
    assert appt.status == "out_of_schedule"
    assert appt.slot_id is None
    assert appt.starts_at == datetime(2026, 9, 7, 10, 0)
    assert appt.doctor.id == kash and appt.specialty.code == "therapist"
    assert re.fullmatch(r"\d{6}", appt.confirmation_code)
    assert find(container, "adult", "therapist", Channel.CONSOLE, doctor_id=kash) == before


# --- Rule 15: audit ------------------------------------------------------------------------------


def test_booking_is_audited_with_who_where_and_after(container):
    appt = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    (entry,) = audit_rows(container, appt.id)
    assert entry.action == "book" and entry.entity == "appointment"
    assert entry.actor == f"patient:{patient_id(container, 'adult')}"
    assert entry.actor_kind == "patient"
    assert entry.channel == Channel.IVR and entry.source == CALLER
    assert entry.at == container.clock.now_utc()
    assert entry.before is None
    assert entry.after["status"] == "booked"
    assert entry.after["starts_at"] == "2026-09-08T08:00:00"
    assert entry.after["confirmation_code"] == appt.confirmation_code


def test_cancel_is_audited_with_before_and_after(container):
    appt = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    entry = audit_rows(container, appt.id)[-1]
    assert entry.action == "cancel"
    assert (entry.actor, entry.actor_kind, entry.channel, entry.source) == (
        "agent:registrar1", "agent", Channel.CONSOLE, "127.0.0.1")
    assert entry.before["status"] == "booked" and entry.after["status"] == "cancelled"


def test_hold_and_confirm_are_audited(container):
    held = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)), hold=True)
    booking.confirm(held.id, caller(container, "adult"), container.uow())
    entries = audit_rows(container, held.id)
    assert [e.action for e in entries] == ["hold", "confirm"]
    assert entries[0].after["status"] == "pending"
    assert (entries[1].before["status"], entries[1].after["status"]) == ("pending", "booked")


def test_reschedule_is_audited_on_both_appointments(container):
    old = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)))
    new = booking.reschedule(
        Reschedule(old.id, kashintseva(container, datetime(2026, 9, 9, 8, 0)), AGENT),
        container.uow())
    cancel = audit_rows(container, old.id)[-1]
    assert cancel.action == "cancel" and cancel.after["status"] == "cancelled"
    (moved,) = audit_rows(container, new.id)
    assert moved.action == "reschedule" and moved.actor == "agent:registrar1"
    assert moved.after["slot_id"] == new.slot_id


def test_visit_outcomes_and_blocks_are_audited(container, clock):
    for day in (8, 9, 10):
        book_then_no_show(container, clock, "adult", datetime(2026, 9, day, 8, 0))
    no_shows = audit_rows(container, action="no_show")
    assert len(no_shows) == 3
    assert all(e.before["status"] == "booked" and e.after["status"] == "no_show"
               for e in no_shows)
    (block,) = audit_rows(container, action="block")
    assert block.entity == "patient"
    assert block.entity_id == str(patient_id(container, "adult"))
    assert block.after["blocked_until"] == "2026-10-09"
    arrived = book(container, "adult", kashintseva(container, datetime(2026, 9, 11, 8, 0)), AGENT)
    clock.set(datetime(2026, 9, 11, 8, 30))
    booking.mark_arrived(arrived.id, AGENT, container.uow())
    entry = audit_rows(container, arrived.id)[-1]
    assert entry.action == "arrived" and entry.after["status"] == "walk_in"


def test_out_of_schedule_is_audited(container):
    kash = doctor_ids(container, "therapist")[0]
    appt = booking.register_out_of_schedule(patient_id(container, "adult"), kash, AGENT,
                                            container.uow())
    (entry,) = audit_rows(container, appt.id)
    assert entry.action == "out_of_schedule" and entry.after["status"] == "out_of_schedule"


def test_refused_booking_leaves_no_audit_entry(container):
    slot = kashintseva(container, datetime(2026, 9, 8, 8, 0))
    book(container, "adult", slot)
    before = len(audit_rows(container))
    with pytest.raises(SlotTaken):
        book(container, "elderly", slot)
    assert len(audit_rows(container)) == before


def test_hold_expiry_is_audited(container, clock):
    held = book(container, "adult", kashintseva(container, datetime(2026, 9, 8, 8, 0)), hold=True)
    clock.advance(minutes=container.rules.hold_minutes + 1)
    booking.expire_holds(container.uow())
    assert audit_rows(container, held.id)[-1].after["status"] == "cancelled"
