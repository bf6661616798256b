"""The IVR's sound files on a bare Asterisk: its own silence, and no doubly nested paths when
REGISTRATURA_SOUNDS_DIR is the dialplan's REG_SOUNDS."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from sqlmodel import select

from booking_core import reports
from ivr.runtime import IvrRuntime
from ivr.transports.terminal import AsteriskCall, ScriptedCaller
from models.tables import CallRecord
from support.fakes import QuietEngine
from support.world import demo

ADULT = demo("adult")
DOB = ADULT.birth_date.strftime("%d%m%Y")


@pytest.fixture
def ivr_on(tmp_path):
    """An IVR whose sounds setting names the dialplan's REG_SOUNDS directory itself."""
    started: list[IvrRuntime] = []

    def start(container) -> tuple[IvrRuntime, Path]:
        sounds = tmp_path / "asterisk-sounds" / "registratura"
        container.settings.sounds_dir = sounds
        container.settings.record_dir = tmp_path / "recordings"
        rt = IvrRuntime(container, engine=QuietEngine(), host="127.0.0.1", port=0)
        rt.start()
        started.append(rt)
        return rt, sounds

    yield start
    for rt in started:
        rt.shutdown()


def test_a_key_during_a_message_works_without_asterisk_core_sounds(container, ivr_on):
    """The caller starts retyping the policy while "16 digits, you typed 3" plays: the IVR reads
    the rest with GET DATA on a silence file.  Asterisk without core sounds has no silence/1."""
    rt, sounds = ivr_on(container)
    host, port = rt.server.server_address
    t = AsteriskCall(host, port, strict_sounds=True, core_sounds=False,
                     caller=ScriptedCaller([None, "1", "123", "!" + ADULT.policy_number, DOB,
                                            "1", "hangup"])).run()
    assert t.variables.get("REG_REASON") != "system_error"
    missing = [e for e in t.events if e[-1] == "missing"]
    assert not missing, missing
    silence = [e[1][0] for e in t.of("get_data") if "silence" in e[1][0]]
    assert silence and all(Path(f).parent == sounds.resolve() for f in silence)
    with wave.open(silence[0] + ".wav", "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == 8000


def test_prompts_sit_right_in_the_sounds_dir(container, ivr_on):
    """REG_SOUNDS=/var/lib/asterisk/sounds/registratura and the same path in the setting:
    prompts are <dir>/<locale>/<key>.wav, not <dir>/registratura/<locale>/<key>.wav."""
    rt, sounds = ivr_on(container)
    host, port = rt.server.server_address
    t = AsteriskCall(host, port, strict_sounds=True, caller=ScriptedCaller([None, "hangup"])).run()
    played = [f for e in t.of("play") for f in e[1]] + [e[1][0] for e in t.of("get_data")]
    prompts = [Path(f) for f in played if "silence" not in f]
    assert prompts
    assert all(p.parent.parent == sounds.resolve() and p.parent.name in ("ru", "en")
               for p in prompts), prompts


def test_reg_test_calls_are_recorded_apart_and_left_out_of_statistics(container, ivr_on):
    """registry-test sets REG_TEST=1: the IVR reads it; the dashboard counts patients only."""
    rt, _ = ivr_on(container)
    host, port = rt.server.server_address
    AsteriskCall(host, port, caller=ScriptedCaller([None, "hangup"])).run()
    t = AsteriskCall(host, port, variables={"REG_TEST": "1"},
                     caller=ScriptedCaller([None, "hangup"])).run()
    assert any("test call" in " ".join(map(str, e)) for e in t.events if e[0] == "verbose")
    with container.uow().reading() as uow:
        channels = sorted(r.channel for r in uow.session.exec(select(CallRecord)))
    assert channels == ["ivr", "test"]
    today = container.clock.today()
    stats = reports.dashboard(today, today, container.uow(), container.settings.timezone)
    assert stats.calls_total == 1
