"""Every way a call reaches a human (or a callback), and what the dialplan is told."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy.exc import OperationalError
from sqlmodel import select

from booking_core import admin, booking, calls
from booking_core.commands import CloseChannel
from models.tables import CallbackRequest
from support.world import AGENT, demo, specialty_id

ADULT = demo("adult")


def ident(role: str = "adult") -> list:
    p = demo(role)
    return [p.policy_number, p.birth_date.strftime("%d%m%Y"), "1"]


def assert_escalated(io, reason: str) -> None:
    v = io.transcript.variables
    assert v["REG_ESCALATE"] == "1" and v["REG_REASON"] == reason and v["REG_CALL_ID"]


def test_zero_in_main_menu_escalates_with_context(container, dial):
    io, call = dial(container, [None, "0"])
    assert_escalated(io, "caller_request")
    assert io.transcript.keys[-1] == "to_agent"
    record = calls.get_call(io.transcript.variables["REG_CALL_ID"], container.uow())
    assert record.outcome == "escalated" and record.escalation_reason == "caller_request"


def test_zero_during_identification_escalates(container, dial):
    io, _ = dial(container, [None, "1", "0"])
    assert_escalated(io, "caller_request")


def test_silence_reprompts_once_then_escalates(container, dial):
    io, _ = dial(container, [None, None, None])
    assert io.transcript.keys.count("main_menu") == 2
    assert "no_input" in io.transcript.keys
    assert_escalated(io, "no_input")


def test_invalid_key_reprompts_once_then_escalates(container, dial):
    io, _ = dial(container, [None, "7", "8"])
    assert "not_understood" in io.transcript.keys
    assert_escalated(io, "invalid_input")


def test_unknown_patient_hears_registry_desk_and_is_escalated(container, dial):
    script = [None, "1", *ident("unknown policy"), "1", *ident("unknown policy"), "1",
              *ident("unknown policy")]
    io, call = dial(container, script)
    assert io.transcript.keys.count("not_identified") == 3
    assert "not_identified_final" in io.transcript.keys
    assert_escalated(io, "not_identified")


def test_wrong_birth_date_sounds_exactly_like_unknown_policy(container, dial):
    wrong_dob = [ADULT.policy_number, "06031985", "1"]
    io_a, _ = dial(container, [None, "1", *wrong_dob, "hangup"])
    io_b, _ = dial(container, [None, "1", *ident("unknown policy"), "hangup"], caller="+7901")
    said_a = [t for _, k, t in io_a.transcript.events if k.startswith("not_identified")]
    said_b = [t for _, k, t in io_b.transcript.events if k.startswith("not_identified")]
    assert said_a == said_b and said_a


def test_blocked_patient_is_told_and_escalated(container, dial):
    io, _ = dial(container, [None, "1", *ident("3 no-shows"), "1"])
    said = next(t for _, k, t in io.transcript.events if k == "booking_blocked")
    assert "три неявки" in said and "до " in said
    assert_escalated(io, "booking_blocked")


def test_closed_channel_is_said_plainly(container, dial):
    admin.close_channel(CloseChannel(1, "ivr", date(2026, 9, 1), date(2026, 12, 31), AGENT,
                                     specialty_id=specialty_id(container, "therapist"),
                                     reason="Идёт эпидемия гриппа."), container.uow())
    io, _ = dial(container, [None, "1", *ident(), "1"])
    said = next(t for _, k, t in io.transcript.events if k == "channel_closed")
    assert "Терапевт" in said and "гриппа" in said
    assert_escalated(io, "channel_closed")


def test_caller_hangup_mid_flow_is_recorded_and_books_nothing(container, dial):
    io, call = dial(container, [None, "1", *ident(), "1", "hangup"])
    record = calls.get_call(call.state.call_id, container.uow())
    assert record.outcome == "hangup"
    assert booking.patient_appointments(record.patient_id, container.uow()) == []
    assert not io.transcript.escalated


def test_database_failure_escalates_with_reason(container, dial, monkeypatch):
    from booking_core import identification

    def broken(*_a, **_k):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(identification, "identify", broken)
    io, _ = dial(container, [None, "1", *ident()])
    assert "system_error" in io.transcript.keys
    assert_escalated(io, "system_error")


def test_after_hours_offers_a_callback_instead(container, dial):
    container.clock.set(container.clock.now_local().replace(hour=22))
    io, call = dial(container, [None, "0", "1"])
    assert "after_hours" in io.transcript.keys and "callback_saved" in io.transcript.keys
    assert not io.transcript.escalated and io.transcript.hung_up_by_ivr
    with container.uow().reading() as uow:
        req = uow.session.exec(select(CallbackRequest)).one()
    assert req.caller_number == "+79161234567" and req.call_id == call.state.call_id


def test_no_agent_logged_in_counts_as_after_hours(container, dial):
    io, _ = dial(container, [None, "0", None], agents=False)
    assert "after_hours" in io.transcript.keys and not io.transcript.escalated


def test_home_visit_goes_to_an_agent(container, dial):
    io, _ = dial(container, [None, "3", *ident()])
    assert_escalated(io, "home_visit")


def test_english_locale(container, dial):
    io, _ = dial(container, ["9", "0"])
    assert "operator" in io.transcript.text and io.transcript.keys[-1] == "to_agent"


def test_opening_hours_boundary(container, dial):
    container.clock.set(container.clock.now_local().replace(hour=7, minute=59))
    io, _ = dial(container, [None, "0", None], opening_time=time(8, 0))
    assert "after_hours" in io.transcript.keys
