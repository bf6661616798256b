"""The audit log in Chromium: actions in Russian, actors by name, before/after as a diff."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import select

from booking_core import agents, booking
from booking_core.actors import Actor
from booking_core.commands import BookSlot, Cancel
from models.tables import Slot
from support.world import doctor_ids, patient_id

pytestmark = pytest.mark.slow


def test_audit_log_reads_as_russian(console_url, sqlite_container, browser_page, tmp_path):
    page, problems = browser_page
    agents.create_agent(agents.NewAgent("chief1", "admin", "chief-password-1",
                                        Actor.system("e2e"), full_name="Орлова Т. В."),
                        sqlite_container.uow())
    with sqlite_container.uow().reading() as uow:
        slot = uow.session.exec(select(Slot).where(
            Slot.doctor_id == doctor_ids(sqlite_container, "therapist")[0],
            Slot.starts_at == datetime(2026, 9, 8, 9, 0))).one()
    actor = Actor.agent("registrar7", "127.0.0.1")
    appt = booking.book(BookSlot(patient_id(sqlite_container, "elderly"), slot.id, actor),
                        sqlite_container.uow())
    booking.cancel(Cancel(appt.id, actor), sqlite_container.uow())

    page.goto(f"{console_url}/login?next=/audit")
    page.fill("#username", "chief1")
    page.fill("#password", "chief-password-1")
    page.press("#password", "Enter")
    page.wait_for_url(f"{console_url}/audit")
    page.screenshot(path=str(tmp_path / "audit.png"), full_page=False)
    rows = page.inner_text("#audit")
    for expected in ("Отмена записи", "Запись", "Смирнова Е. А.", "Петрова Анна Ивановна",
                     "Записан", "Отменена", "Кашинцева Галина Вячеславовна"):
        assert expected in rows, expected
    for raw in ("agent:registrar7", '"status"', "cancel\t"):
        assert raw not in rows, raw
    assert problems == [], problems
