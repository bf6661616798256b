"""The live queue: escalated IVR calls with their context, taking them, the SSE feed, and the
Asterisk LiveBoard merged in when AMI is configured."""

from __future__ import annotations

import json

from agent_console.live import CallerEntry, LiveBoard, MemberEntry
from booking_core import call_queue
from support.world import demo

BLOCKED = demo("3 no-shows")


def test_escalated_call_shows_what_the_ivr_learned(agent, blocked_call):
    waiting = agent.get("/api/calls/waiting").json()
    assert waiting["asterisk"] is False
    (call,) = waiting["calls"]
    assert call["call_id"] == blocked_call
    assert call["patient_name"] == BLOCKED.full_name and call["patient_age"] == 47
    assert call["policy_masked"] == "**** **** **** 9017"
    assert call["intent"] == "book" and call["intent_text"] == "Запись к врачу"
    assert call["reason"] == "booking_blocked"
    assert call["reason_text"] == "Запись заблокирована за неявки"
    assert call["specialty_name"] is None  # the block is told before the specialty menu
    assert call["caller_masked"] == "********8899"
    assert [s["name"] for s in call["steps"]][:4] == ["greeting", "main_menu", "privacy_notice",
                                                      "policy"]
    page = agent.get("/queue").text
    for text in (BLOCKED.full_name, "47 лет", "**** **** **** 9017", "Запись к врачу",
                 "Запись заблокирована за неявки", "Полис: 16 цифр",
                 "Asterisk: не подключён (встроенный режим)"):
        assert text in page, text
    assert BLOCKED.policy_number not in page and "+79857778899" not in page


def test_unidentified_caller_waits_too(agent, ivr_call):
    io = ivr_call([None, "0"])
    (call,) = agent.get("/api/calls/waiting").json()["calls"]
    assert call["call_id"] == io.transcript.variables["REG_CALL_ID"]
    assert call["patient_name"] is None and call["reason_text"] == "Попросил оператора"


def test_take_call_opens_the_card_and_marks_it(agent, make_client, page_token, blocked_call,
                                              console_container):
    token = page_token(agent)
    r = agent.post(f"/calls/{blocked_call}/take", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/patients/")
    card = agent.get(r.headers["location"]).text
    assert "Текущий звонок" in card and "Запись заблокирована за неявки" in card
    assert call_queue.get_call(blocked_call, console_container.uow()).answered_by == "agent1"
    assert agent.get("/api/calls/waiting").json()["calls"] == []
    other = make_client("agent2")
    r = other.post(f"/api/calls/{blocked_call}/take")
    assert r.status_code == 409 and r.json()["error"]["id"] == "call_taken"
    assert agent.post(f"/api/calls/{blocked_call}/take").status_code == 200  # idempotent
    token = page_token(agent)
    agent.post("/calls/current/finish", data={"csrf_token": token})
    assert "Текущий звонок" not in agent.get("/patients").text


def test_unidentified_take_goes_to_search(agent, ivr_call, page_token):
    io = ivr_call([None, "0"])
    token = page_token(agent)
    r = agent.post(f"/calls/{io.transcript.variables['REG_CALL_ID']}/take",
                   data={"csrf_token": token})
    assert r.headers["location"] == "/patients"
    assert "Пациент не опознан" in agent.get("/patients").text


def test_dismiss_and_observer_cannot_take(agent, observer, blocked_call):
    r = observer.post(f"/api/calls/{blocked_call}/take")
    assert r.status_code == 403 and r.json()["error"]["id"] == "forbidden"
    assert 'class="take"' not in observer.get("/queue").text
    assert agent.post(f"/api/calls/{blocked_call}/dismiss").status_code == 204
    assert agent.get("/api/calls/waiting").json()["calls"] == []
    r = agent.post(f"/api/calls/{blocked_call}/dismiss")
    assert r.status_code == 409 and r.json()["error"]["id"] == "call_taken"
    assert agent.post("/api/calls/nope/take").json()["error"]["id"] == "not_found"


def read_event(lines) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    kind, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind:
            return kind, json.loads(data)
    raise AssertionError("stream ended")


def test_sse_streams_the_queue_and_its_changes(observer, ivr_call, identify_keys):
    with observer.stream("GET", "/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        kind, first = read_event(lines)
        assert kind == "queue" and first["count"] == 0 and "Очередь пуста" in first["html"]
        ivr_call([None, "1", *identify_keys("3 no-shows"), "1"])
        kind, update = read_event(lines)
        assert kind == "queue" and update["count"] == 1
        assert BLOCKED.full_name in update["html"] and "Принять" not in update["html"]
        assert update["calls"][0]["reason"] == "booking_blocked"


def test_events_need_a_login(make_client):
    r = make_client().get("/events")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/events"


def test_live_board_is_merged(console_container, agent, blocked_call):
    board = LiveBoard()
    console_container.extras["live_board"] = board
    page = agent.get("/queue").text
    assert "Asterisk: нет связи с AMI" in page
    board.set_connected(True)
    board.member_changed(MemberEntry("PJSIP/agent101", name="Оператор 1", status=1))
    board.caller_joined(CallerEntry("1700000000.1", caller_number="+79857778899",
                                    position=1, call_id=blocked_call,
                                    reason="booking_blocked"))
    board.caller_joined(CallerEntry("1700000000.2", caller_number="+79031112233", position=2))
    waiting = agent.get("/api/calls/waiting").json()
    assert waiting["asterisk"] is True and waiting["asterisk_connected"] is True
    assert {c["caller"] for c in waiting["live"]} == {"********8899", "********2233"}
    page = agent.get("/queue").text
    assert "Asterisk: подключён (AMI)" in page and "Телефоны операторов" in page
    assert "Asterisk: ждёт в очереди" in page  # the IVR call's row, annotated
    assert "без контекста IVR" in page  # a caller who never went through the IVR
    assert "+79031112233" not in page


def test_unconfigured_board_means_embedded_mode(console_container, agent):
    console_container.extras["live_board"] = LiveBoard(configured=False)
    assert "Asterisk: не подключён (встроенный режим)" in agent.get("/queue").text


def test_sse_forwards_live_board_events(console_container, observer):
    board = LiveBoard()
    board.set_connected(True)
    console_container.extras["live_board"] = board
    with observer.stream("GET", "/events") as r:
        lines = r.iter_lines()
        assert read_event(lines)[0] == "queue"
        seen = []
        board.caller_joined(CallerEntry("1700000000.9", caller_number="+79161234567"))
        for _ in range(4):
            kind, data = read_event(lines)
            seen.append(kind)
            if kind == "queue" and data["asterisk"]:
                assert "********4567" in data["live_html"]
                break
        assert "queue" in seen


def test_call_ids_with_long_digit_runs_still_match():
    """A hex REG_CALL_ID may contain 7+ digits in a row: it is an id, not a phone number."""
    from agent_console.feed import _caller

    assert _caller({"call_id": "0123456789abcdef", "state": "waiting"})["call_id"] == (
        "0123456789abcdef")
    assert _caller({"call_id": "<script>", "state": "waiting"})["call_id"] == ""


def test_ages_are_declined_in_russian():
    """41 год, 42 года, 47 лет."""
    from agent_console.templating import make_templates

    years = make_templates("Europe/Moscow").env.filters["years"]
    assert [years(n) for n in (41, 42, 47, 11)] == ["41 год", "42 года", "47 лет", "11 лет"]


def test_call_answered_on_my_phone_pops_its_context(console_container, agent, blocked_call):
    """AgentConnect on this agent's phone: the feed names the call so the page opens it."""
    console_container.settings.ami_agent_interfaces = {"agent1": "PJSIP/agent101"}
    board = LiveBoard()
    board.set_connected(True)
    console_container.extras["live_board"] = board
    board.caller_joined(CallerEntry("1700000000.5", caller_number="+79857778899",
                                    call_id=blocked_call, reason="booking_blocked"))
    with agent.stream("GET", "/events") as r:
        lines = r.iter_lines()
        kind, data = read_event(lines)
        assert kind == "queue" and data["answered"] is None  # still waiting in the queue
        board.caller_connected("1700000000.5", "PJSIP/agent101", "Оператор 1")
        for _ in range(6):
            kind, data = read_event(lines)
            if kind == "queue" and data["answered"]:
                break
        assert data["answered"] == blocked_call
    # Another agent's phone does not pop it.
    console_container.settings.ami_agent_interfaces = {"agent1": "PJSIP/agent102"}
    with agent.stream("GET", "/events") as r:
        kind, data = read_event(lines := r.iter_lines())
        assert data["answered"] is None
