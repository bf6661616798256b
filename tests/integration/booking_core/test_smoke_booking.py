"""A first end-to-end pass through booking_core on both databases."""

from __future__ import annotations

from datetime import date

import pytest

from booking_core import booking, identification, slots
from booking_core.commands import BookSlot, Cancel, FindSlots, Identify
from booking_core.errors import NotIdentified, SlotTaken
from models.tables import Channel
from support.world import AGENT, IVR, demo, patient_id, specialty_id


def test_identify_find_book_cancel(container):
    adult = demo("adult")
    p = identification.identify(
        Identify(adult.policy_number, adult.birth_date, Channel.IVR, "+79161234567"),
        container.uow(),
    )
    therapist = specialty_id(container, "therapist")
    offers = slots.find_free_slots(FindSlots(p.id, therapist, Channel.IVR), container.uow())
    assert offers and offers[0].district_doctor
    appt = booking.book(BookSlot(p.id, offers[0].slot_id, IVR), container.uow())
    assert appt.status == "booked" and len(appt.confirmation_code) == 6
    with pytest.raises(SlotTaken):
        booking.book(BookSlot(patient_id(container, "elderly"), offers[0].slot_id, AGENT),
                     container.uow())
    booking.cancel(Cancel(appt.id, IVR, patient_id=p.id), container.uow())
    again = slots.find_free_slots(FindSlots(p.id, therapist, Channel.IVR), container.uow())
    assert again[0].slot_id == offers[0].slot_id


def test_wrong_birth_date_is_not_identified(container):
    with pytest.raises(NotIdentified):
        identification.identify(
            Identify(demo("adult").policy_number, date(1985, 3, 6), Channel.IVR, "+7000"),
            container.uow(),
        )
