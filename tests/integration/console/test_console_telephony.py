"""Click-to-call and pause/ready from the console, against the AMI simulator over real TCP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from agent_console.ami import AmiClient, AmiConfig
from agent_console.live import LiveBoard
from booking_core import admin
from booking_core.actors import Actor
from booking_core.commands import RequestCallback
from models.tables import Channel
from registratura.telephony import Telephony
from support.ami_sim import AmiSimulator

AGENT_PHONE = "PJSIP/agent101"


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


@pytest.fixture
def sim() -> Iterator[AmiSimulator]:
    server = AmiSimulator({"registratura": "s3cret"}, originate_delay=0.01).start()
    yield server
    server.stop()


@pytest.fixture
def telephony(sim, console_container) -> Iterator[Telephony]:  # type: ignore[no-untyped-def]
    sim.add_member(AGENT_PHONE, "Тест agent1", emit=False)
    board = LiveBoard()
    client = AmiClient(AmiConfig(host=sim.host, port=sim.port, username="registratura",
                                 secret="s3cret", ping_interval=0.2, action_timeout=1.0,
                                 connect_timeout=1.0, reconnect_initial_delay=0.05,
                                 reconnect_max_delay=0.4), board).start()
    assert client.wait_connected(5)
    handle = Telephony(board, client, {"agent1": AGENT_PHONE})
    console_container.extras.update(telephony=handle, live_board=board, ami=client)
    yield handle
    client.stop(timeout=2.0)


def test_pause_and_ready_from_the_api_and_the_header(agent, sim, telephony, page_token):
    me = agent.get("/api/telephony/me").json()
    assert me["interface"] == AGENT_PHONE and me["in_queue"] and not me["paused"]
    assert me["status_text"] == "На линии"
    paused = agent.post("/api/telephony/pause", json={"paused": True, "reason": "обед"})
    assert paused.status_code == 200, paused.text
    (action,) = sim.received("QueuePause")
    assert (action.get("Interface"), action.get("Paused")) == (AGENT_PHONE, "true")
    assert wait_until(lambda: agent.get("/api/telephony/me").json()["paused"])
    page = agent.get("/queue").text
    assert "Перерыв: обед" in page and 'id="pause-toggle"' in page and "На линию" in page
    # the header's form puts the phone back on the line
    r = agent.post("/telephony/pause", data={"csrf_token": page_token(agent), "paused": "false"})
    assert r.status_code == 303
    assert sim.received("QueuePause")[-1].get("Paused") == "false"
    assert wait_until(lambda: not agent.get("/api/telephony/me").json()["paused"])


def test_click_to_call_a_callback_request_and_a_patient(agent, sim, telephony,
                                                         console_container, page_token):
    callback_id = admin.request_callback(
        RequestCallback("+79035550011", "no_agent",
                        Actor.patient(None, Channel.IVR, "+79035550011"), call_id="ivr-77"),
        console_container.uow())
    page = agent.get("/callbacks").text
    assert 'class="small call-back"' in page
    placed = agent.post("/api/telephony/call", json={"callback_id": callback_id})
    assert placed.status_code == 202, placed.text
    assert placed.json()["interface"] == AGENT_PHONE
    assert "+79035550011" not in placed.text  # masked in answers
    (originate,) = sim.received("Originate")
    assert originate.get("Channel") == AGENT_PHONE and originate.get("Exten") == "79035550011"
    assert originate.get("Context") == "registry-agent-callback"

    pid = agent.post("/api/patients/search", json={"name": "Иванов"}).json()[0]["id"]
    assert 'id="call-patient"' in agent.get(f"/patients/{pid}").text
    r = agent.post("/telephony/call", data={"csrf_token": page_token(agent, f"/patients/{pid}"),
                                            "patient_id": str(pid)})
    assert r.status_code == 303
    assert sim.received("Originate")[-1].get("Exten") == "79161234567"
    bad = agent.post("/api/telephony/call", json={"patient_id": pid, "callback_id": 1})
    assert bad.status_code == 422


def test_without_asterisk_the_routes_say_so_and_no_buttons(agent, page_token):
    r = agent.post("/api/telephony/pause", json={"paused": True})
    assert r.status_code == 503 and r.json()["error"]["id"] == "telephony_unavailable"
    assert agent.get("/api/telephony/me").json()["configured"] is False
    assert "call-back" not in agent.get("/callbacks").text
    assert 'id="pause-toggle"' not in agent.get("/queue").text


def test_a_user_without_a_phone_is_told(make_client, telephony):
    other = make_client("agent2")
    r = other.post("/api/telephony/call", json={"patient_id": 1})
    assert r.status_code == 409 and r.json()["error"]["id"] == "no_agent_phone"
    assert other.get("/api/telephony/me").json()["status_text"] == "Телефон не назначен"
