"""The AMI client against the simulator over real TCP: login, keep-alive, events -> live board,
actions, presence, and what happens when the link breaks."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from agent_console.ami import (
    ACTION_FAILED,
    AUTH_FAILED,
    CONNECT_FAILED,
    INVALID_ARGUMENT,
    NOT_CONNECTED,
    AmiClient,
    AmiConfig,
    AmiError,
)
from agent_console.live import LiveBoard


class RecordingBoard(LiveBoard):
    """A board that remembers every connection state it was told."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[bool] = []

    def set_connected(self, connected: bool) -> None:
        self.history.append(connected)
        super().set_connected(connected)


# ------------------------------------------------------------------------ connection


def test_login_and_state_reload(sim, make_client, credentials):
    """On connect the client logs in and loads members and waiting callers (with the IVR's
    REG_CALL_ID/REG_REASON fetched by Getvar, since QueueEntry carries no channel vars)."""
    sim.add_member("PJSIP/agent101", "Иванова", emit=False)
    uid = sim.caller_join("+79161234567", call_id="ivr-c1", reason="not_identified")
    board = LiveBoard()
    client = make_client(board)
    assert client.wait_connected(5)
    login = sim.received("Login")[0]
    assert (login.get("Username"), login.get("Secret")) == credentials
    snap = board.snapshot()
    assert snap["connected"] is True and snap["agents_available"] is True
    assert [m["interface"] for m in snap["members"]] == ["PJSIP/agent101"]
    [caller] = snap["callers"]
    assert caller["uniqueid"] == uid and caller["call_id"] == "ivr-c1"
    assert caller["reason"] == "not_identified" and caller["state"] == "waiting"
    assert {a.get("Variable") for a in sim.received("Getvar")} == {"REG_CALL_ID", "REG_REASON"}


def test_wrong_credentials_give_a_clear_error_and_no_tight_loop(sim, make_client, wait_until):
    board = LiveBoard()
    client = make_client(board, secret="wrong", reconnect_initial_delay=0.01,
                         reconnect_max_delay=30.0)
    assert wait_until(lambda: client.last_error is not None)
    error = client.last_error
    assert error.code == AUTH_FAILED
    assert "registratura" in error.message and "Authentication failed" in error.message
    assert not client.connected and board.agents_available() is None
    time.sleep(0.3)  # a tight loop (or the 0.01 s backoff) would log in again and again
    assert sim.count("Login") == 1


def test_unreachable_port_is_retried_with_backoff(make_client, wait_until):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens here once the socket closes
    client = make_client(port=port)
    assert wait_until(lambda: client.connect_attempts >= 3)
    assert client.last_error.code == CONNECT_FAILED
    assert not client.connected


def test_client_pings_to_keep_the_link_alive(sim, make_client, wait_until):
    client = make_client(ping_interval=0.05)
    assert client.wait_connected(5)
    assert wait_until(lambda: sim.count("Ping") >= 3)
    assert len(sim.sessions) == 1 and client.connected


def test_idle_link_outlives_the_libraries_3_second_timeout(sim, make_client, wait_until):
    """asterisk-ami's default socket timeout (3 s) would kill its reader on a quiet line."""
    board = LiveBoard()
    client = make_client(board, ping_interval=30.0)
    assert client.wait_connected(5)
    time.sleep(3.5)  # no traffic at all: no pings, no events
    uid = sim.caller_join("+79161234567", call_id="late")
    assert wait_until(lambda: board.caller(uid) is not None)
    assert len(sim.sessions) == 1 and sim.count("Login") == 1


def test_dropped_connection_reconnects_and_reloads(sim, make_client, wait_until):
    sim.add_member("PJSIP/agent101", emit=False)
    board = RecordingBoard()
    client = make_client(board)
    assert client.wait_connected(5)
    assert board.agents_available() is True
    accepted = sim.connections_accepted
    sim.refuse_connections(True)  # Asterisk restarting: connections are reset at once
    assert sim.drop_connections() == 1
    assert wait_until(lambda: not board.connected)
    assert board.agents_available() is None  # unknown while disconnected
    assert wait_until(lambda: sim.connections_accepted >= accepted + 2)  # retried, with backoff
    assert not client.connected
    with pytest.raises(AmiError) as excinfo:
        client.ping()
    assert excinfo.value.code == NOT_CONNECTED
    # Meanwhile a second agent logged in; no event reached the console.
    sim.add_member("PJSIP/agent102", paused=True, reason="lunch")
    sim.refuse_connections(False)
    assert wait_until(lambda: client.connected)
    assert board.history[:2] == [True, False] and board.history[-1] is True
    assert sim.count("QueueStatus") == 2
    member = board.member("PJSIP/agent102")
    assert member is not None and member["paused"] and member["paused_reason"] == "lunch"


def test_silent_server_is_detected_by_ping_timeout(sim, make_client, wait_until, caplog):
    board = RecordingBoard()
    client = make_client(board, ping_interval=0.1, action_timeout=0.3)
    assert client.wait_connected(5)
    first = sim.sessions[0]
    with caplog.at_level(logging.WARNING, logger="agent_console.ami"):
        sim.go_silent()
        assert wait_until(lambda: client.sessions_opened >= 2 and client.connected)
    assert "keep-alive ping failed (timeout)" in caplog.text
    assert wait_until(lambda: first.closed)  # the client threw the hung connection away
    assert False in board.history
    assert client.ping().headers.get("Ping") == "Pong"


def test_actions_without_a_connection_raise_not_connected():
    client = AmiClient(AmiConfig(host="127.0.0.1", port=9))
    with pytest.raises(AmiError) as excinfo:
        client.queue_pause("PJSIP/agent101", True)
    assert excinfo.value.code == NOT_CONNECTED
    assert client.agents_available() is None


# ------------------------------------------------------------------------ events -> board


def test_queue_events_drive_the_board(sim, client, wait_until):
    board = client.board
    sim.add_member("PJSIP/agent101", "Иванова")
    assert wait_until(lambda: board.member("PJSIP/agent101") is not None)
    first = sim.caller_join("+79161234567", call_id="ivr-a", reason="caller_request")
    second = sim.caller_join("+79031112233", call_id="ivr-b", reason="too_many_attempts")
    assert wait_until(lambda: board.caller(second) is not None)
    a = board.caller(first)
    assert (a["call_id"], a["reason"], a["position"], a["state"]) == (
        "ivr-a", "caller_request", 1, "waiting")
    assert a["caller_number"] == "+79161234567" and a["joined_at"].endswith("Z")
    assert board.caller(second)["position"] == 2

    agent_leg = sim.agent_called(first, "PJSIP/agent101")
    assert wait_until(lambda: board.caller(first)["state"] == "ringing")
    assert board.caller(first)["agent_interface"] == "PJSIP/agent101"

    sim.agent_connect(first, agent_leg, "PJSIP/agent101")  # QueueCallerLeave + AgentConnect
    assert wait_until(lambda: board.caller(first)["state"] == "connected")
    assert board.caller(first)["agent_name"] == "Иванова"
    assert board.caller(second)["position"] == 1  # the queue closed up
    assert wait_until(lambda: board.member("PJSIP/agent101")["in_call"])

    sim.caller_abandon(second)
    assert wait_until(lambda: board.caller(second) is None)

    sim.agent_complete(first, agent_leg, "PJSIP/agent101")
    assert wait_until(lambda: board.caller(first) is None)
    assert wait_until(lambda: not board.member("PJSIP/agent101")["in_call"])
    assert board.snapshot()["callers"] == []


def test_member_events_and_removal(sim, client, wait_until):
    board = client.board
    sim.add_member("PJSIP/agent101")
    assert wait_until(lambda: board.agents_available() is True)
    sim.set_member_status("PJSIP/agent101", 5)  # phone unregistered: unusable
    assert wait_until(lambda: board.agents_available() is False)
    sim.set_member_status("PJSIP/agent101", 1)
    sim.set_paused("PJSIP/agent101", True, "Auto-Pause")
    assert wait_until(lambda: board.member("PJSIP/agent101")["paused_reason"] == "Auto-Pause")
    assert board.agents_available() is False
    sim.remove_member("PJSIP/agent101")
    assert wait_until(lambda: board.member("PJSIP/agent101") is None)


def test_callback_request_user_event(sim, client, wait_until):
    uid = sim.caller_join("+79161234567", call_id="ivr-cb", reason="ivr_unavailable")
    sim.caller_leave(uid, queue_result="JOINEMPTY")
    sim.callback_request(uid, via="voicemail")
    sim.callback_request(uid, via="record", file="/var/spool/x.wav")  # supersedes the first
    board = client.board
    assert wait_until(lambda: any(r["via"] == "record"
                                  for r in board.snapshot()["callback_requests"]))
    [request] = board.snapshot()["callback_requests"]
    assert request["call_id"] == "ivr-cb" and request["queue_result"] == "JOINEMPTY"
    assert request["caller_number"] == "+79161234567" and request["file"].endswith(".wav")


def test_subscribers_get_a_snapshot_then_changes(sim, client):
    board = client.board

    async def follow() -> list[dict]:
        seen: list[dict] = []
        stream = board.subscribe()
        seen.append(await anext(stream))
        await asyncio.to_thread(sim.caller_join, "+79161234567", call_id="ivr-s",
                                reason="caller_request")
        while True:
            event = await asyncio.wait_for(anext(stream), 5)
            seen.append(event)
            if event["type"] == "caller_joined":
                await stream.aclose()
                return seen

    events = asyncio.run(follow())
    assert events[0]["type"] == "snapshot" and events[0]["data"]["connected"] is True
    assert events[-1]["caller"]["call_id"] == "ivr-s"
    assert events[-1]["seq"] > events[0]["seq"]
    assert board.subscriber_count == 0


# ------------------------------------------------------------------------ actions


def test_queue_pause_and_presence(sim, client, wait_until):
    sim.add_member("PJSIP/agent101")
    board = client.board
    assert wait_until(lambda: board.agents_available() is True)
    result = client.queue_pause("PJSIP/agent101", True, "lunch")
    assert result.message == "Interface paused successfully"
    sent = sim.received("QueuePause")[-1]
    assert (sent.get("Interface"), sent.get("Paused"), sent.get("Reason"), sent.get("Queue")) == (
        "PJSIP/agent101", "true", "lunch", "registry-agents")
    assert sent.get("ActionID") == result.action_id
    assert wait_until(lambda: board.agents_available() is False)  # QueueMemberPause event
    client.queue_pause("PJSIP/agent101", False)
    assert wait_until(lambda: board.agents_available() is True)
    with pytest.raises(AmiError) as excinfo:
        client.queue_pause("PJSIP/agent999", True)
    assert excinfo.value.code == ACTION_FAILED and excinfo.value.message == "Interface not found"


def test_queue_status_gives_presence(sim, client):
    status = client.queue_status()
    assert status.members == () and status.agents_available() is False
    assert client.agents_available() is False
    sim.add_member("PJSIP/agent101", "Иванова", paused=True, reason="phone", emit=False)
    status = client.queue_status()
    [member] = status.members
    assert (member.interface, member.name, member.paused, member.paused_reason) == (
        "PJSIP/agent101", "Иванова", True, "phone")
    assert status.agents_available() is False and client.agents_available() is False
    sim.add_member("PJSIP/agent102", emit=False)
    assert client.queue_status().agents_available() is True
    assert client.agents_available() is True  # the board was refreshed from the dump


def test_queue_add_and_remove(sim, client, wait_until):
    client.queue_add("PJSIP/agent103", "Петрова")
    add = sim.received("QueueAdd")[-1]
    assert (add.get("Queue"), add.get("Interface"), add.get("MemberName")) == (
        "registry-agents", "PJSIP/agent103", "Петрова")
    assert wait_until(lambda: client.board.member("PJSIP/agent103") is not None)
    client.queue_remove("PJSIP/agent103")
    assert wait_until(lambda: client.board.member("PJSIP/agent103") is None)
    with pytest.raises(AmiError) as excinfo:
        client.queue_remove("PJSIP/agent103")
    assert "Not there" in excinfo.value.message


def test_click_to_call_originate(sim, client):
    handle = client.originate_callback("PJSIP/agent101", "8 (916) 123-45-67", "ivr-c7")
    sent = sim.received("Originate")[-1]
    assert sent.get("Channel") == "PJSIP/agent101"
    assert sent.get("Context") == "registry-agent-callback"
    assert sent.get("Exten") == "79161234567"
    assert sent.get("Priority") == "1" and sent.get("Async") == "true"
    assert sent.variables == {"REG_CALL_ID": "ivr-c7"}
    assert sent.get("ActionID") == handle.action_id
    outcome = handle.wait(5)
    assert outcome.success and outcome.reason == 4 and outcome.reason_text == "answered"
    assert handle.done


def test_reminder_originate_and_its_failure(sim, client):
    sim.set_originate_result("Failure", 5)
    handle = client.originate_reminder("+7 903 111-22-33", 12345)
    sent = sim.received("Originate")[-1]
    assert sent.get("Channel") == "Local/79031112233@registry-outbound"
    assert sent.get("Context") == "registry-reminder" and sent.get("Exten") == "s"
    assert sent.get("Priority") == "1" and sent.get("Async") == "true"
    assert sent.get("Timeout") == "45000"
    assert sent.variables == {"REG_APPOINTMENT_ID": "12345"}
    outcome = handle.wait(5)
    assert not outcome.success and outcome.reason_text == "busy"


@pytest.mark.parametrize("kwargs", [
    {"agent_interface": "PJSIP/agent101", "patient_number": "+1 212 555 0100",
     "call_id": "x"},  # not a Russian number: toll-fraud guard
    {"agent_interface": "SIP/agent101", "patient_number": "+79161234567", "call_id": "x"},
    {"agent_interface": "PJSIP/agent101", "patient_number": "+79161234567",
     "call_id": "x\r\nAction: Hangup"},  # header injection
])
def test_originate_refuses_bad_input(sim, client, kwargs):
    with pytest.raises(AmiError) as excinfo:
        client.originate_callback(**kwargs)
    assert excinfo.value.code == INVALID_ARGUMENT
    assert sim.count("Originate") == 0


def test_unknown_action_is_a_clear_error(client):
    with pytest.raises(AmiError) as excinfo:
        client.action("FooBar")
    assert excinfo.value.code == ACTION_FAILED
    assert excinfo.value.message.startswith("Invalid/unknown command: FooBar")
    with pytest.raises(AmiError) as excinfo:
        client.action("Ping", {"X": "a\nb"})
    assert excinfo.value.code == INVALID_ARGUMENT


def test_stop_logs_off(sim, make_client, wait_until):
    client = make_client()
    assert client.wait_connected(5)
    client.stop()
    assert sim.count("Logoff") == 1
    assert wait_until(lambda: not sim.active_sessions())
    assert client.board.agents_available() is None
