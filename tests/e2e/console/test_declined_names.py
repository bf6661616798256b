"""Names in the console read as Russian: «Записать Петрову Анну Ивановну», «Перенести запись
Петровой Анны Ивановны», «к врачу Кашинцевой Г.В.» (headless Chromium)."""

from __future__ import annotations

import pytest

from support.world import patient_id, specialty_id

pytestmark = pytest.mark.slow


def test_booking_panel_and_flash_decline_names(console_url, sqlite_container, browser_page,
                                               login, tmp_path):
    page, problems = browser_page
    petrova = patient_id(sqlite_container, "elderly")
    therapist = specialty_id(sqlite_container, "therapist")
    login(page, "/patients")
    page.goto(f"{console_url}/schedule?patient={petrova}&specialty={therapist}")
    page.click("button.slot[data-slot]")
    assert page.inner_text("#book-who").startswith("Записать Петрову Анну Ивановну")
    assert "к врачу Кашинцевой Г.В." in page.inner_text("#book-text")
    page.screenshot(path=str(tmp_path / "book-panel.png"), full_page=False)
    page.click("#book-confirm")
    page.wait_for_selector(".flash.ok")
    assert "к врачу Кашинцевой Г.В." in page.inner_text(".flash.ok")

    page.goto(f"{console_url}/patients/{petrova}")
    page.click("#upcoming a:has-text('Перенести')")
    page.click("button.slot[data-slot]")
    assert page.inner_text("#book-who").startswith("Перенести запись Петровой Анны Ивановны")
    assert problems == [], problems
