"""«Пришёл» on the patient card: only for today's visit around its time, asked before it is
recorded, and undone by «Отменить отметку» (headless Chromium; the clock stands at Monday
2026-09-07 10:00)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import select

from booking_core import booking
from booking_core.commands import BookSlot
from models.tables import Slot
from support.world import AGENT, doctor_ids, patient_id

pytestmark = pytest.mark.slow


def book(container, role: str, code: str, at: datetime) -> int:  # type: ignore[no-untyped-def]
    with container.uow().reading() as uow:
        slot = uow.session.exec(select(Slot).where(
            Slot.doctor_id == doctor_ids(container, code)[0], Slot.starts_at == at)).one()
    return booking.book(BookSlot(patient_id(container, role), slot.id, AGENT),
                        container.uow()).id


def test_arrival_only_near_the_visit_with_confirmation_and_undo(console_url, sqlite_container,
                                                                browser_page, login, tmp_path):
    page, problems = browser_page
    today = book(sqlite_container, "adult", "therapist", datetime(2026, 9, 7, 11, 0))
    later = book(sqlite_container, "adult", "neurologist", datetime(2026, 9, 11, 9, 0))
    asked: list[str] = []
    page.on("dialog", lambda d: asked.append(d.message))
    login(page, f"/patients/{patient_id(sqlite_container, 'adult')}")

    row_today = f'tr[data-appointment="{today}"]'
    assert page.query_selector(f'{row_today} button.arrived') is not None
    assert page.query_selector(f'tr[data-appointment="{later}"] button.arrived') is None
    page.screenshot(path=str(tmp_path / "card-before.png"), full_page=True)

    page.click(f'{row_today} button.arrived')
    page.wait_for_selector(".flash.ok")
    assert asked and "пришёл на приём" in asked[-1] and "11:00" in asked[-1]
    assert "Принят" in page.inner_text(row_today)
    page.screenshot(path=str(tmp_path / "card-arrived.png"), full_page=True)

    page.click(f'{row_today} button.undo-arrival')
    page.wait_for_selector(".flash.ok:has-text('Отметка о приходе снята')")
    assert "Снять отметку" in asked[-1]
    assert "Записан" in page.inner_text(row_today)
    assert page.query_selector(f'{row_today} button.arrived') is not None
    assert problems == [], problems
