"""The console in a real browser (Debian's headless Chromium driven by Playwright).

uvicorn serves the console over a copy of the demo database on a free loopback port; a
scripted IVR call escalates while the registrar watches the queue; the registrar takes the
call, books a free slot from the grid, reschedules and cancels.  Any JavaScript error, CSP
violation or failed page script fails the test.  Screenshots of the queue and the grid are
saved in the test's tmp directory.
"""

from __future__ import annotations

from datetime import time as clock_time

import pytest

from booking_core.actors import Actor
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from registratura.bootstrap import Container
from support.world import demo

PASSWORD = "e2e-password-1"
BLOCKED = demo("3 no-shows")

pytestmark = pytest.mark.slow


def escalate_blocked_patient(container: Container) -> str:
    """The blocked patient tries to book a therapist by phone; the IVR hands them over."""
    io = ScriptedCallIO([None, "1", BLOCKED.policy_number,
                         BLOCKED.birth_date.strftime("%d%m%Y"), "1", "1"])
    io.info.caller_number = "+79857778899"
    run_registry_call(io, IvrDeps(uow=container.uow, clinic_name="Городская поликлиника № 3",
                                  opening_time=clock_time(8, 0), closing_time=clock_time(20, 0),
                                  now_local=container.clock.now_local))
    assert io.transcript.escalated
    return io.transcript.variables["REG_CALL_ID"]


def test_registrar_takes_a_call_and_books(console_url, sqlite_container, browser_page,
                                          registrar_password, tmp_path):
    page, problems = browser_page
    page.goto(f"{console_url}/queue")
    assert page.url.endswith("/login?next=/queue")
    page.fill("#username", "registrar7")
    page.fill("#password", registrar_password)
    page.press("#password", "Enter")
    page.wait_for_url(f"{console_url}/queue")
    page.wait_for_selector("#feed-state.on")  # the live feed is connected
    assert "Очередь пуста" in page.inner_text("#queue-rows")
    assert "Asterisk: не подключён (встроенный режим)" in page.inner_text("#asterisk-state")

    # An escalation arrives while the page is open: it appears without a reload.
    call_id = escalate_blocked_patient(sqlite_container)
    row = page.wait_for_selector(f'tr[data-call="{call_id}"]')
    text = row.inner_text()
    for expected in (BLOCKED.full_name, "47 лет", "Запись к врачу",
                     "Запись заблокирована за неявки", "Полис: 16 цифр"):
        assert expected in text, expected
    assert BLOCKED.policy_number not in page.content()
    assert page.inner_text("#queue-count") == "1"
    page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)

    # Take it: the patient's card opens with the call's context.
    row.query_selector("button.take").click()
    page.wait_for_selector("#patient-name")
    assert page.inner_text("#patient-name") == BLOCKED.full_name
    assert "Текущий звонок" in page.inner_text(".call-banner")
    assert "заблокирована" in page.content()

    # Book the first free therapist slot from the grid; it leaves the grid.
    page.select_option("#book-specialty", label="Терапевт")
    page.click("#open-grid")
    first = page.wait_for_selector("button.slot[data-slot]")
    slot_id = first.get_attribute("data-slot")
    free_before = int(page.inner_text("#free-total"))
    first.click()
    assert page.is_visible("#book-panel")
    page.keyboard.press("Enter")  # the confirm button has the focus
    page.wait_for_selector(".flash.ok")
    assert "Записан:" in page.inner_text(".flash.ok")
    assert page.query_selector(f'button.slot[data-slot="{slot_id}"]') is None
    assert int(page.inner_text("#free-total")) == free_before - 1
    page.screenshot(path=str(tmp_path / "grid.png"), full_page=False)

    # Reschedule from the card to another slot.
    page.click("#patient-context a")
    page.wait_for_selector("#upcoming tr[data-appointment]")
    page.click("#upcoming a:has-text('Перенести')")
    page.wait_for_selector("#patient-context")
    assert "Перенос записи" in page.inner_text("#patient-context")
    other = page.query_selector_all("button.slot[data-slot]")[3]
    other_id = other.get_attribute("data-slot")
    other.click()
    page.click("#book-confirm")
    page.wait_for_selector(".flash.ok")
    assert "Запись перенесена" in page.inner_text(".flash.ok")
    rows = page.query_selector_all("#upcoming tr[data-appointment]")
    assert len(rows) == 1

    # Cancel it (the confirmation dialog is accepted).
    rows[0].query_selector("button.danger").click()
    page.wait_for_selector(".flash.ok")
    assert "Запись отменена" in page.inner_text(".flash.ok")
    assert "Нет предстоящих записей" in page.inner_text("#upcoming")
    assert other_id

    # Back on the queue the taken call is gone.
    page.click("a[href='/queue']")
    page.wait_for_selector("#feed-state.on")
    assert page.query_selector(f'tr[data-call="{call_id}"]') is None
    assert problems == [], problems


def test_registrar_sees_visits_flagged_by_a_doctor_leaving(console_url, sqlite_container,
                                                           browser_page, tmp_path):
    from datetime import date, datetime

    from sqlmodel import select

    from booking_core import booking, schedules
    from booking_core.commands import BookSlot
    from models.tables import Channel, Slot
    from support.world import doctor_ids, patient_id

    doctor = doctor_ids(sqlite_container, "therapist")[0]
    elderly = patient_id(sqlite_container, "elderly")
    with sqlite_container.uow().reading() as uow:
        slot = uow.session.exec(select(Slot).where(
            Slot.doctor_id == doctor, Slot.starts_at == datetime(2026, 9, 21, 9, 0))).one()
    appt = booking.book(BookSlot(elderly, slot.id, Actor.patient(elderly, Channel.IVR)),
                        sqlite_container.uow())
    with sqlite_container.uow() as uow:
        schedules.doctor_leaves(uow, doctor, date(2026, 9, 18), Actor.system("e2e"))
        uow.commit()

    page, problems = browser_page
    page.goto(f"{console_url}/login?next=/absences")
    page.fill("#username", "registrar7")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{console_url}/absences")
    row = page.wait_for_selector("#absence-calls tbody tr")
    text = row.inner_text()
    for expected in ("Петрова Анна Ивановна", "+79031112233",
                     "Врач больше не работает в поликлинике",
                     "последний рабочий день — 18.09.2026", "замена: "):
        assert expected in text, expected
    page.screenshot(path=str(tmp_path / "worklist.png"), full_page=True)
    row.query_selector("a:has-text('Перенести')").click()
    page.wait_for_url(f"{console_url}/schedule?reschedule={appt.id}")
    assert "Перенос записи" in page.inner_text("body")
    assert problems == [], problems


def test_registrar_calls_from_the_browser_phone(console_url, sqlite_container, runtime_factory,
                                                browser_page, login, tmp_path):
    """The phone page over a real WebSocket: the caller number goes in the first message
    (never in the URL) and the call runs on the console user's behalf."""
    import time

    from sqlmodel import select

    from models.tables import CallRecord
    from support.fakes import QuietEngine

    sqlite_container.extras["ivr_runtime"] = runtime_factory(sqlite_container, QuietEngine())
    page, problems = browser_page
    urls: list[str] = []
    page.on("websocket", lambda ws: urls.append(ws.url))
    favicon: list[str] = []  # the phone page has no icon of its own: the browser asks
    page.on("console", lambda m: favicon.append(m.text)
            if m.type == "error" and "favicon" in m.location.get("url", "") else None)
    login(page, "/phone")
    page.fill("#caller", "+79161234567")
    page.click("#call")
    page.wait_for_function(
        "document.querySelector('#transcript').innerText.includes('Здравствуйте')")
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    page.click("#call")  # hang up
    deadline = time.monotonic() + 15
    records: list[CallRecord] = []
    while time.monotonic() < deadline and (not records or records[0].outcome == "in_progress"):
        with sqlite_container.uow().reading() as uow:
            records = list(uow.session.exec(select(CallRecord).where(
                CallRecord.channel == "browser")))
        time.sleep(0.1)
    assert urls and all("?" not in u and "7916" not in u for u in urls), urls
    assert records and records[0].caller_number == "+79161234567"
    assert len(problems) == len(favicon), problems
