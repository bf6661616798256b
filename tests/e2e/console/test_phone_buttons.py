"""The agent's phone in the header (pause/ready) and «Позвонить» on the card and the callbacks
worklist, in headless Chromium against the AMI simulator."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agent_console.ami import AmiClient, AmiConfig
from agent_console.live import LiveBoard
from booking_core import admin
from booking_core.actors import Actor
from booking_core.commands import RequestCallback
from models.tables import Channel
from registratura.telephony import Telephony
from support.ami_sim import AmiSimulator
from support.world import patient_id

pytestmark = pytest.mark.slow
PHONE = "PJSIP/agent101"


@pytest.fixture
def sim_telephony(sqlite_container) -> Iterator[AmiSimulator]:  # type: ignore[no-untyped-def]
    sim = AmiSimulator({"registratura": "s3cret"}, originate_delay=0.01).start()
    sim.add_member(PHONE, "Смирнова Е. А.", emit=False)
    board = LiveBoard()
    client = AmiClient(AmiConfig(host=sim.host, port=sim.port, username="registratura",
                                 secret="s3cret", ping_interval=0.5, action_timeout=2.0,
                                 connect_timeout=2.0), board).start()
    assert client.wait_connected(5)
    sqlite_container.extras.update(telephony=Telephony(board, client, {"registrar7": PHONE}),
                                   live_board=board, ami=client)
    yield sim
    client.stop(timeout=2.0)
    sim.stop()


def _wait(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)
    return bool(predicate())


def test_pause_ready_and_click_to_call(console_url, sqlite_container, sim_telephony,
                                      browser_page, login, tmp_path):
    page, problems = browser_page
    sim = sim_telephony
    login(page, "/queue")
    assert page.inner_text("#phone-state").startswith("На линии")
    page.click("#pause-toggle")
    page.wait_for_selector(".flash.ok:has-text('Перерыв')")
    assert _wait(lambda: sim.received("QueuePause"))
    assert sim.received("QueuePause")[-1].get("Paused") == "true"
    page.reload()
    assert "Перерыв" in page.inner_text("#phone-state")
    page.screenshot(path=str(tmp_path / "header-paused.png"))
    page.click("#pause-toggle")  # «На линию»
    page.wait_for_selector(".flash.ok:has-text('на линии')")
    assert sim.received("QueuePause")[-1].get("Paused") == "false"

    admin.request_callback(RequestCallback("+79035550011", "no_agent",
                                           Actor.patient(None, Channel.IVR, "+79035550011")),
                           sqlite_container.uow())
    page.goto(f"{console_url}/callbacks")
    page.click("button.call-back")
    page.wait_for_selector(".flash.ok:has-text('Звоним')")
    page.screenshot(path=str(tmp_path / "callbacks.png"))
    assert _wait(lambda: sim.received("Originate"))
    assert sim.received("Originate")[-1].get("Exten") == "79035550011"

    page.goto(f"{console_url}/patients/{patient_id(sqlite_container, 'adult')}")
    page.click("#call-patient")
    page.wait_for_selector(".flash.ok:has-text('Звоним')")
    assert _wait(lambda: len(sim.received("Originate")) == 2)
    assert sim.received("Originate")[-1].get("Channel") == PHONE
    assert problems == [], problems
