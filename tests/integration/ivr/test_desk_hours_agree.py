"""The IVR and the dialplan agree on opening hours: the IVR decides, REG_DESK_OPEN carries it.

A real FastAGI session (Asterisk simulator over TCP) with an agent phone still logged in (AMI
presence says yes); the variables the IVR left on the channel are then run through the shipped
``registry-queue`` context.
"""

from __future__ import annotations

from datetime import datetime, time

from booking_core.hours import DeskHours
from ivr.transports.terminal import AsteriskCall, ScriptedCaller
from registratura.bootstrap import hours_from
from support.asterisk_conf import DIALPLANS, Dialplan
from support.fakes import QuietEngine

SUNDAY_NIGHT = datetime(2026, 9, 6, 4, 48)
UNITY_DAY = datetime(2026, 11, 4, 10, 0)  # a Wednesday, a public holiday
MONDAY = datetime(2026, 9, 7, 10, 0)
SATURDAY = datetime(2026, 9, 5, 10, 0)


def _operator_call(container, runtime_factory, now: datetime):
    container.clock.set(now)
    container.extras["agent_presence"] = lambda: True  # a desk phone left logged in
    rt = runtime_factory(container, QuietEngine())
    host, port = rt.server.server_address
    return AsteriskCall(host, port, sounds_dir=rt.cache.sounds_dir,
                        caller=ScriptedCaller([None, "0", None])).run()


def _dialplan_sends_to(variables: dict[str, str], *, backstop_open: bool) -> str:
    ran = Dialplan.read(DIALPLANS / "extensions.conf").walk(
        "registry-queue", "s", dict(variables), in_time=backstop_open, stop_apps=("Queue",))
    return "queue" if ran[-1].app == "Queue" else "closed"


def test_sunday_night_with_a_phone_logged_in_offers_a_callback(container, runtime_factory):
    t = _operator_call(container, runtime_factory, SUNDAY_NIGHT)
    said = " ".join(t.said)
    assert "Соединяю" not in said and t.variables.get("REG_ESCALATE") != "1"
    assert t.variables["REG_DESK_OPEN"] == "0"


def test_a_public_holiday_is_closed_for_both(container, runtime_factory):
    t = _operator_call(container, runtime_factory, UNITY_DAY)
    assert t.variables.get("REG_ESCALATE") != "1" and t.variables["REG_DESK_OPEN"] == "0"
    # Even if the call reached the queue context, the backstop's weekday hours don't count.
    assert _dialplan_sends_to(t.variables, backstop_open=True) == "closed"


def test_open_desk_escalates_and_the_dialplan_queues(container, runtime_factory):
    t = _operator_call(container, runtime_factory, MONDAY)
    assert t.variables["REG_ESCALATE"] == "1" and t.variables["REG_DESK_OPEN"] == "1"
    assert _dialplan_sends_to(t.variables, backstop_open=True) == "queue"


def test_saturday_hours_from_settings_reach_the_dialplan(container, runtime_factory):
    container.settings.desk_hours = {"sat": "09:00-14:00"}
    container.hours = hours_from(container.settings)
    t = _operator_call(container, runtime_factory, SATURDAY)
    assert t.variables["REG_ESCALATE"] == "1" and t.variables["REG_DESK_OPEN"] == "1"
    # The dialplan's own backstop says mon-fri; the IVR's verdict wins.
    assert _dialplan_sends_to(t.variables, backstop_open=False) == "queue"


def test_the_callback_promise_names_the_next_opening(container, dial):
    """Friday night, Saturday opens at nine: the caller is promised nine, not the weekday eight."""
    container.clock.set(datetime(2026, 9, 4, 21, 0))
    hours = DeskHours.build((time(8, 0), time(20, 0)), {"sat": "09:00-14:00"})
    io, _ = dial(container, [None, "0", "1"], hours=hours)
    assert "callback_saved" in io.transcript.keys
    assert "после девяти" in io.transcript.text
