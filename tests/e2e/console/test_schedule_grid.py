"""The grid in Chromium: taken slots with whose, the patient's own slot while rescheduling,
an absent doctor's day, «Перенесена» on the card, and the card's specialties with reasons."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import select

from booking_core import admin, booking
from booking_core.commands import BookSlot, RegisterAbsence
from models.tables import Slot
from support.world import AGENT, doctor_ids, patient_id

pytestmark = pytest.mark.slow


def book(container, role: str, at: datetime, nth: int = 0) -> int:  # type: ignore[no-untyped-def]
    with container.uow().reading() as uow:
        slot = uow.session.exec(select(Slot).where(
            Slot.doctor_id == doctor_ids(container, "therapist")[nth],
            Slot.starts_at == at)).one()
    return booking.book(BookSlot(patient_id(container, role), slot.id, AGENT),
                        container.uow()).id


def test_grid_and_card(console_url, sqlite_container, browser_page, login, tmp_path):
    page, problems = browser_page
    c = sqlite_container
    book(c, "elderly", datetime(2026, 9, 8, 8, 0))
    mine = book(c, "adult", datetime(2026, 9, 8, 8, 30))
    admin.register_absence(RegisterAbsence(doctor_ids(c, "therapist")[2], date(2026, 9, 8),
                                           date(2026, 9, 8), AGENT, reason="больничный"),
                           c.uow())
    login(page, "/patients")
    page.goto(f"{console_url}/schedule?reschedule={mine}&days=3")
    own = page.wait_for_selector("span.slot.own")
    assert "сейчас" in own.inner_text()
    assert "Петрова А.И." in page.inner_text("#grid")
    absent = page.inner_text("#grid")
    assert "Врач отсутствует: больничный" in absent
    assert "занято 24 из 24" not in absent
    page.screenshot(path=str(tmp_path / "grid.png"), full_page=False)

    # Move the visit: the old row reads «Перенесена».
    page.click("button.slot[data-slot]")
    page.click("#book-confirm")
    page.wait_for_selector(".flash.ok")
    assert "Перенесена" in page.inner_text("#past")

    page.goto(f"{console_url}/patients/{patient_id(c, 'child')}")
    options = page.eval_on_selector_all("#book-specialty option", "os => os.map(o => o.text)")
    assert "Педиатр" in options and "Терапевт" not in options
    page.click("#closed-specialties summary")
    closed = page.inner_text("#closed-specialties")
    assert "Терапевт — только для взрослых" in closed
    page.screenshot(path=str(tmp_path / "card.png"), full_page=False)
    assert problems == [], problems
