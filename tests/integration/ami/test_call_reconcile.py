"""The queue matches reality: escalated-call records follow Asterisk over AMI (hung up, left
the queue, answered), a callback request closes its call, stale rows age out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent_console.live import LiveBoard
from agent_console.reconcile import CallReconciler
from booking_core import admin, call_queue, calls
from booking_core.actors import Actor
from booking_core.calls import CallData
from booking_core.commands import RequestCallback
from models.tables import Channel


def escalate(container, call_id: str, minutes_ago: float = 0) -> None:  # type: ignore[no-untyped-def]
    at = container.clock.now_utc() - timedelta(minutes=minutes_ago)
    calls.save_call(CallData(call_id=call_id, caller_number="+79161234567", outcome="escalated",
                             escalation_reason="caller_request", started_at=at,
                             escalated_at=at), container.uow())


def record(container, call_id: str) -> CallData:  # type: ignore[no-untyped-def]
    data = calls.get_call(call_id, container.uow())
    assert data is not None
    return data


def waiting(container, board: LiveBoard | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    live = board.live_call_ids() if board is not None else None
    return [c.call_id for c in call_queue.waiting_calls(container.uow(), live_call_ids=live)]


@pytest.fixture
def reconciled(sim, make_client, sqlite_container):  # type: ignore[no-untyped-def]
    board = LiveBoard()
    reconciler = CallReconciler(board, sqlite_container.uow).start()
    client = make_client(board)
    assert client.wait_connected(5)
    yield board, reconciler
    reconciler.stop()


def test_hangup_in_the_queue_closes_the_record(sim, sqlite_container, reconciled, wait_until):
    board, _ = reconciled
    escalate(sqlite_container, "gone")
    uid = sim.caller_join("+79161234567", call_id="gone", reason="caller_request")
    assert wait_until(lambda: "gone" in (board.live_call_ids() or set()))
    assert waiting(sqlite_container, board) == ["gone"]
    sim.caller_abandon(uid)  # QueueCallerAbandon, QueueCallerLeave, Hangup
    assert wait_until(lambda: record(sqlite_container, "gone").outcome == "abandoned")
    assert waiting(sqlite_container, board) == [] and waiting(sqlite_container) == []


def test_answer_in_asterisk_takes_the_call_off_the_list(sim, sqlite_container, reconciled,
                                                        wait_until):
    board, _ = reconciled
    sim.add_member("PJSIP/agent101", "Иванова")
    escalate(sqlite_container, "answered")
    uid = sim.caller_join("+79161234567", call_id="answered")
    assert wait_until(lambda: "answered" in (board.live_call_ids() or set()))
    leg = sim.agent_called(uid, "PJSIP/agent101")
    sim.agent_connect(uid, leg, "PJSIP/agent101")  # QueueCallerLeave + AgentConnect
    # While they talk the call stays listed: the agent who picked up opens its card.
    assert wait_until(lambda: (board.caller(uid) or {}).get("state") == "connected")
    assert waiting(sqlite_container, board) == ["answered"]
    sim.agent_complete(uid, leg, "PJSIP/agent101")  # AgentComplete, both legs hang up
    assert wait_until(lambda: call_queue.get_call("answered", sqlite_container.uow())
                      .answered_by == "Иванова")
    assert record(sqlite_container, "answered").outcome == "escalated"  # answered, not lost
    assert waiting(sqlite_container, board) == [] and waiting(sqlite_container) == []


def test_a_record_asterisk_does_not_have_is_a_ghost(sim, sqlite_container, reconciled,
                                                    wait_until):
    board, _ = reconciled
    escalate(sqlite_container, "ghost", minutes_ago=5)  # the hangup happened while we were away
    escalate(sqlite_container, "joining")  # just escalated: its QueueCallerJoin is on the way
    assert waiting(sqlite_container, board) == ["joining"]
    assert set(waiting(sqlite_container)) == {"ghost", "joining"}  # without AMI: still listed


def test_callback_request_closes_the_escalated_call(sqlite_container):
    escalate(sqlite_container, "cb")
    admin.request_callback(RequestCallback("+79161234567", "no_agent",
                                           Actor.patient(None, Channel.IVR, "+79161234567"),
                                           call_id="cb"), sqlite_container.uow())
    assert record(sqlite_container, "cb").outcome == "callback"
    assert waiting(sqlite_container) == []


def test_stale_rows_age_out(sqlite_container, clock):
    escalate(sqlite_container, "old")
    clock.advance(minutes=10)
    escalate(sqlite_container, "new")
    clock.advance(minutes=call_queue.DEFAULT_MAX_WAIT_MINUTES - 5)
    assert call_queue.expire_stale_calls(sqlite_container.uow()) == 1
    assert record(sqlite_container, "old").outcome == "abandoned"
    assert record(sqlite_container, "new").outcome == "escalated"


def test_a_requeued_callers_record_follows_the_original_call_id(sim, sqlite_container,
                                                                 reconciled, wait_until):
    """After the queue timed out, the IVR's callback flow escalates again under its own record
    ``<id>/callback`` while the channel keeps REG_CALL_ID=<id>."""
    board, _ = reconciled
    escalate(sqlite_container, "orig/callback", minutes_ago=2)
    uid = sim.caller_join("+79161234567", call_id="orig")
    assert wait_until(lambda: "orig" in (board.live_call_ids() or set()))
    assert waiting(sqlite_container, board) == ["orig/callback"]
    sim.caller_abandon(uid)
    assert wait_until(lambda: record(sqlite_container, "orig/callback").outcome == "abandoned")


def test_age_counts_from_the_escalation_not_the_start_of_the_call(sqlite_container, clock):
    start = sqlite_container.clock.now_utc()
    clock.advance(minutes=10)  # ten minutes in the IVR menus, then escalated
    calls.save_call(CallData(call_id="long-ivr", outcome="escalated", started_at=start,
                             escalated_at=sqlite_container.clock.now_utc()),
                    sqlite_container.uow())
    clock.advance(minutes=call_queue.DEFAULT_MAX_WAIT_MINUTES - 5)
    assert call_queue.expire_stale_calls(sqlite_container.uow()) == 0
    assert waiting(sqlite_container) == ["long-ivr"]
