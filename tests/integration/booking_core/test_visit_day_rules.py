"""Rule 21: age judged on the visit day; a no-show block of exactly 30 days; a look-back window.

The clock stands at Monday 2026-09-07 10:00; the phone line books 09-08 .. 09-21.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlmodel import col, select

from booking_core import blocks, booking, slots
from booking_core.actors import Actor
from booking_core.commands import BookSlot, FindSlots
from booking_core.errors import AgeMismatch, BookingBlocked
from booking_core.rules import adult_from, age_on
from models.tables import Appointment, AppointmentStatus, Channel, Patient, Slot
from registratura.bootstrap import bootstrap
from registratura.settings import Settings
from support.world import AGENT, doctor_ids, patient_id, specialty_id

BIRTHDAY_18 = date(2026, 9, 10)  # a Thursday inside the phone line's window


def _turns_18_on_the_10th(container) -> int:
    """The demo child, made 17 today and 18 on 2026-09-10."""
    pid = patient_id(container, "child")
    with container.uow() as uow:
        p = uow.session.get(Patient, pid)
        assert p is not None
        p.birth_date = date(2008, 9, 10)
        uow.commit()
    return pid


def _find(container, pid: int, code: str, channel: str = Channel.IVR, **kw):
    q = FindSlots(pid, specialty_id(container, code), channel, limit=200, **kw)
    return slots.find_free_slots(q, container.uow())


def _book(container, pid: int, slot_id: int, actor: Actor | None = None):
    actor = actor or Actor.patient(pid, Channel.IVR, "+79265554433")
    return booking.book(BookSlot(pid, slot_id, actor), container.uow())


# --- age on the visit day ------------------------------------------------------------------------


def test_adulthood_starts_on_the_18th_birthday_also_for_29_february():
    assert adult_from(date(2008, 9, 10)) == date(2026, 9, 10)
    leap = date(2008, 2, 29)
    assert adult_from(leap) == date(2026, 3, 1)
    assert age_on(leap, date(2026, 2, 28)) == 17 and age_on(leap, date(2026, 3, 1)) == 18


def test_a_17_year_old_is_offered_both_specialties_around_her_birthday(container):
    pid = _turns_18_on_the_10th(container)
    codes = [o.specialty.code for o in slots.bookable_specialties(pid, Channel.IVR,
                                                                  container.uow())]
    assert "pediatrician" in codes and "therapist" in codes


def test_pediatrician_slots_end_the_day_before_the_18th_birthday(container):
    pid = _turns_18_on_the_10th(container)
    offers = _find(container, pid, "pediatrician")
    assert offers
    assert max(o.starts_at for o in offers).date() == BIRTHDAY_18 - timedelta(days=1)
    assert not _find(container, pid, "pediatrician", on_date=BIRTHDAY_18)


def test_therapist_slots_start_on_the_18th_birthday(container):
    pid = _turns_18_on_the_10th(container)
    offers = _find(container, pid, "therapist")
    assert offers and offers[0].starts_at.date() == BIRTHDAY_18
    assert min(o.starts_at for o in offers).date() == BIRTHDAY_18


def test_booking_judges_the_age_on_the_visit_day(container):
    pid = _turns_18_on_the_10th(container)
    adult_slot = _find(container, patient_id(container, "adult"), "therapist",
                       on_date=BIRTHDAY_18)[0].slot_id
    before = _find(container, patient_id(container, "adult"), "therapist",
                   on_date=BIRTHDAY_18 - timedelta(days=1))[0].slot_id
    with pytest.raises(AgeMismatch):
        _book(container, pid, before)  # still 17 that day
    with pytest.raises(AgeMismatch):  # at the desk too: the rule is about the visit
        _book(container, pid, before, AGENT)
    assert _book(container, pid, adult_slot).status == "booked"


def test_a_pediatrician_visit_after_the_18th_birthday_is_refused(container):
    pid = _turns_18_on_the_10th(container)
    pediatrician = doctor_ids(container, "pediatrician")[0]
    with container.uow().reading() as uow:
        late = uow.session.exec(
            select(Slot.id).where(Slot.doctor_id == pediatrician,
                                  Slot.starts_at >= datetime.combine(BIRTHDAY_18, time.min))
            .order_by(col(Slot.starts_at))).first()
    assert late is not None
    with pytest.raises(AgeMismatch):
        _book(container, pid, late)


def test_a_child_of_17_far_from_the_birthday_is_not_offered_the_therapist(container):
    with pytest.raises(AgeMismatch):
        _find(container, patient_id(container, "child"), "therapist")
    codes = [o.specialty.code for o in slots.bookable_specialties(
        patient_id(container, "child"), Channel.IVR, container.uow())]
    assert "therapist" not in codes


# --- no-show look-back window ---------------------------------------------------------------------


def _old_no_show(container, pid: int, at: datetime) -> None:
    doctor = doctor_ids(container, "therapist")[0]
    with container.uow() as uow:
        uow.session.add(Appointment(
            patient_id=pid, doctor_id=doctor, specialty_id=specialty_id(container, "therapist"),
            starts_at=at, status=AppointmentStatus.NO_SHOW, channel="ivr",
            confirmation_code="900001", created_by="test"))
        uow.commit()


def _no_show_now(container, clock, pid: int, at: datetime) -> None:
    offers = _find(container, pid, "therapist", Channel.CONSOLE,
                   doctor_id=doctor_ids(container, "therapist")[0], on_date=at.date())
    slot = next(o for o in offers if o.starts_at == at)
    appt = _book(container, pid, slot.slot_id, AGENT)
    clock.set(at + timedelta(minutes=30))
    booking.mark_no_show(appt.id, AGENT, container.uow())


def test_no_shows_older_than_the_look_back_window_do_not_count(container, clock):
    pid = patient_id(container, "adult")
    _old_no_show(container, pid, datetime(2025, 9, 8, 9, 0))  # 12 months and a day before 09-09
    _no_show_now(container, clock, pid, datetime(2026, 9, 8, 8, 0))
    _no_show_now(container, clock, pid, datetime(2026, 9, 9, 8, 0))
    _, block = blocks.block_status(pid, container.uow())
    assert block is None
    assert _find(container, pid, "therapist")


def test_a_no_show_inside_the_look_back_window_counts(container, clock):
    pid = patient_id(container, "adult")
    _old_no_show(container, pid, datetime(2025, 9, 9, 9, 0))  # 12 months before 09-09
    _no_show_now(container, clock, pid, datetime(2026, 9, 8, 8, 0))
    _no_show_now(container, clock, pid, datetime(2026, 9, 9, 8, 0))
    _, block = blocks.block_status(pid, container.uow())
    assert block is not None
    assert (block.blocked_from, block.blocked_until) == (date(2026, 9, 9), date(2026, 10, 8))
    with pytest.raises(BookingBlocked):
        _find(container, pid, "therapist")


def test_the_look_back_window_is_a_setting(db_url, clock):
    c = bootstrap(Settings(database_url=db_url, secret_key="test-secret-key-0123456789",
                           no_show_lookback_months=24), clock=clock)
    try:
        pid = patient_id(c, "adult")
        _old_no_show(c, pid, datetime(2025, 9, 8, 9, 0))
        _no_show_now(c, clock, pid, datetime(2026, 9, 8, 8, 0))
        _no_show_now(c, clock, pid, datetime(2026, 9, 9, 8, 0))
        _, block = blocks.block_status(pid, c.uow())
        assert block is not None
    finally:
        c.dispose()
