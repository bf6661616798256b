"""bookable_specialties says what would refuse a booking before any slot is offered."""

from __future__ import annotations

from datetime import date

from booking_core import booking, slots
from booking_core.actors import Actor
from booking_core.commands import BookSlot, FindSlots
from models.tables import Channel
from support.world import patient_id, specialty_id


def _options(container, role: str) -> dict:
    found = slots.bookable_specialties(patient_id(container, role), Channel.IVR,
                                       container.uow())
    return {o.specialty.code: o for o in found}


def test_a_no_show_block_is_reported_on_every_specialty(container):
    found = _options(container, "3 no-shows")
    assert found and all(o.refusal == "booking_blocked" for o in found.values())
    assert all(isinstance(o.blocked_until, date) for o in found.values())
    assert all(o.refusal is None for o in _options(container, "adult").values())


def test_a_held_appointment_is_reported_on_its_specialty_only(container):
    pid = patient_id(container, "adult")
    offer = slots.find_free_slots(
        FindSlots(pid, specialty_id(container, "therapist"), Channel.IVR, limit=1),
        container.uow())[0]
    appt = booking.book(BookSlot(pid, offer.slot_id, Actor.patient(pid, Channel.IVR, "")),
                        container.uow())
    found = _options(container, "adult")
    assert found["therapist"].held_appointment_id == appt.id
    assert found["therapist"].refusal == "limit_reached"
    assert found["dentist"].refusal is None


def test_booking_days_follow_the_horizon_setting(container):
    first, last, days = slots.booking_days(Channel.IVR, container.uow())
    assert days == container.settings.booking_horizon_days == 14
    assert (last - first).days == days - 1
