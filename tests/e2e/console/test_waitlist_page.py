"""The waiting-list page in Chromium: the order, each entry's state and waiting time, and
taking a patient off the list hands the held time to the next one."""

from __future__ import annotations

import os

import pytest

from booking_core import booking, slots, waiting_list
from booking_core.actors import Actor
from booking_core.commands import BookSlot, Cancel, FindSlots, JoinWaitlist
from models.tables import Channel
from support.world import AGENT, patient_id, specialty_id

pytestmark = pytest.mark.slow


def test_waitlist_page_shows_state_and_leave_passes_the_offer_on(
        console_url, sqlite_container, browser_page, login, clock, tmp_path):
    page, problems = browser_page
    c = sqlite_container
    eye = specialty_id(c, "ophthalmologist")
    adult, elderly = patient_id(c, "adult"), patient_id(c, "elderly")
    waiting_list.join(JoinWaitlist(adult, eye, Actor.patient(adult, Channel.IVR),
                                   preference="afternoon"), c.uow())
    clock.advance(days=5)
    waiting_list.join(JoinWaitlist(elderly, eye, AGENT), c.uow())
    offer = slots.find_free_slots(FindSlots(adult, eye, Channel.IVR), c.uow())[0]
    appt = booking.book(BookSlot(patient_id(c, "3 no-shows"), offer.slot_id, AGENT), c.uow())
    booking.cancel(Cancel(appt.id, AGENT), c.uow())

    login(page, f"/waitlist?specialty_id={eye}")
    shot = os.environ.get("WAITLIST_SCREENSHOT") or str(tmp_path / "waitlist.png")
    page.screenshot(path=shot, full_page=False)
    rows = page.locator("#waitlist tbody tr")
    assert rows.count() == 2
    first, second = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "Иванов Сергей Петрович" in first and "Предложено время" in first
    assert "5 дней" in first and "после обеда" in first and "Телефон" in first
    assert "Петрова Анна Ивановна" in second and "Ждёт" in second

    rows.nth(0).get_by_role("button", name="Убрать").click()
    page.wait_for_selector("text=Пациент убран из листа ожидания.")
    rows = page.locator("#waitlist tbody tr")
    assert rows.count() == 1
    assert "Петрова Анна Ивановна" in rows.nth(0).inner_text()
    assert "Предложено время" in rows.nth(0).inner_text()
    assert problems == []
