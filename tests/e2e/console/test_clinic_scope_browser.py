"""Two clinics in Chromium: a regional registrar narrows the queue, the schedule and the
patient search with the clinic select; a registrar of one clinic opening another clinic's
patient card gets the 403 page that says why."""

from __future__ import annotations

from datetime import time

import pytest

from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from support import live_console
from support.two_clinics import BORN_B, PHONE_B, POLICY_B, add_second_clinic, add_user
from support.world import specialty_id

pytestmark = pytest.mark.slow

PASSWORD = "e2e-password-2"


def escalate_patient_b(c) -> str:  # type: ignore[no-untyped-def]
    io = ScriptedCallIO([None, "1", POLICY_B, BORN_B.strftime("%d%m%Y"), "1", "0"])
    io.info.caller_number = PHONE_B
    run_registry_call(io, IvrDeps(uow=c.uow, clinic_name="Регистратура",
                                  opening_time=time(8), closing_time=time(20),
                                  now_local=c.clock.now_local, agents_available=lambda: True))
    assert io.transcript.escalated
    return io.transcript.variables["REG_CALL_ID"]


def test_clinic_filter_and_other_clinic_page(sqlite_container, browser_page, tmp_path):
    page, problems = browser_page
    c = sqlite_container
    world = add_second_clinic(c)
    add_user(c, "region1", "agent", PASSWORD, None)
    add_user(c, "gp3reg", "agent", PASSWORD, world.demo_clinic_id)
    call_id = escalate_patient_b(c)
    therapist = specialty_id(c, "therapist")
    with live_console.serving(c, poll_interval=0.2, sse_max_seconds=10) as url:
        def sign_in(username: str, path: str) -> None:
            page.context.clear_cookies()
            page.goto(f"{url}/login?next={path}")
            page.fill("#username", username)
            page.fill("#password", PASSWORD)
            page.press("#password", "Enter")
            page.wait_for_url(f"{url}{path}")

        # The regional registrar: the queue with every clinic, then the first clinic only.
        sign_in("region1", "/queue")
        row = page.wait_for_selector(f'tr[data-call="{call_id}"]')
        assert "Поликлиника № 5" in row.inner_text()  # whose call, when all clinics are shown
        page.screenshot(path=str(tmp_path / "queue_all.png"))
        page.select_option("#clinic-filter", label="Поликлиника № 5")
        page.wait_for_url(f"{url}/queue?clinic={world.clinic_id}")
        page.wait_for_selector(f'tr[data-call="{call_id}"]')
        page.screenshot(path=str(tmp_path / "queue_gp5.png"))
        page.select_option("#clinic-filter", value=str(world.demo_clinic_id))
        page.wait_for_selector("#queue-rows td.empty")
        assert "Зимина" not in page.inner_text("#queue-rows")

        # The schedule: the chosen clinic's therapists only.
        page.goto(f"{url}/schedule?specialty={therapist}&days=1")
        grid = page.inner_text("#grid")
        assert "Лебедева" not in grid and "Кашинцева" in grid
        page.select_option("#clinic-filter", value=str(world.clinic_id))
        page.wait_for_url(f"**/schedule?**clinic={world.clinic_id}**")
        grid = page.inner_text("#grid")
        assert "Лебедева" in grid and "Кашинцева" not in grid
        page.screenshot(path=str(tmp_path / "schedule_gp5.png"))

        # The search: the second clinic's patient is found in it, not in the first clinic.
        page.goto(f"{url}/patients")
        page.fill("#q-name", "Зимина")
        page.select_option("#clinic-filter", value=str(world.demo_clinic_id))
        page.click("form[action='/patients/search'] button[type=submit]")
        page.wait_for_selector("text=Найдено: 0")
        page.screenshot(path=str(tmp_path / "search_gp3.png"))
        page.select_option("#clinic-filter", value="all")
        page.click("form[action='/patients/search'] button[type=submit]")
        page.wait_for_url(f"{url}/patients/{world.patient_id}")

        # A registrar of the first clinic: no select, and the other clinic's card is a 403.
        sign_in("gp3reg", "/patients")
        assert page.query_selector("#clinic-filter") is None
        assert "Поиск среди пациентов вашей поликлиники" in page.inner_text("main")
        assert "Городская поликлиника № 3" in page.inner_text("header")
        response = page.goto(f"{url}/patients/{world.patient_id}")
        assert response is not None and response.status == 403
        body = page.inner_text("body")
        assert "другой поликлиники" in body and "other_clinic" in body
        assert "Зимина" not in body
        page.screenshot(path=str(tmp_path / "other_clinic_403.png"))
        page.goto(f"{url}/queue")
        assert "Зимина" not in page.inner_text("#queue-rows")
    # The one refusal the browser logs is the 403 card asked for on purpose.
    assert [p for p in problems if "status of 403" not in p] == [], problems
    assert len(problems) == 1
