"""AgiCallIO over real TCP against the Asterisk simulator: prompts, digits, barge-in, hangups."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ivr.io import CallerHangup, Digits, Prompt, Timeout, TransportFailure
from ivr.transports.agi.call_io import AgiCallIO, PromptAudio
from ivr.transports.agi.server import AgiCommandFailed, AgiRequest
from ivr.transports.terminal import AsteriskCall, CallerAction, ScriptedCaller, Transcript

GREETING = Prompt(
    "greeting", ("Поликлиника номер один.", "Если это экстренный случай, звоните 103.")
)
MENU = Prompt("menu", ("Чтобы записаться, нажмите 1.",))
POLICY = Prompt("policy", ("Введите", "шестнадцать цифр полиса."))
DOB = Prompt("dob", ("Введите дату рождения.",))


def run_flow(
    agi_server: Any,
    audio: PromptAudio,
    sounds_dir: Path,
    flow: Callable[[AgiCallIO], None],
    keys: list[Any],
    **call_kwargs: Any,
) -> tuple[Transcript, dict[str, Any]]:
    """Run ``flow`` as the registry route for one simulated call."""
    outcome: dict[str, Any] = {}

    def route(request: AgiRequest) -> None:
        io = AgiCallIO(request, audio)
        outcome["io"] = io
        try:
            flow(io)
        except Exception as exc:
            outcome["error"] = exc
            raise

    server = agi_server({"registry": route})
    host, port = server.server_address
    call_kwargs.setdefault("idle_timeout", 10.0)
    caller = call_kwargs.pop("caller", None) or ScriptedCaller(keys)
    transcript = AsteriskCall(host, port, sounds_dir=sounds_dir, caller=caller,
                              **call_kwargs).run()
    return transcript, outcome


def test_toy_flow_plays_collects_and_sets(agi_server: Any, audio: Any, sounds_dir: Path) -> None:
    answers: list[Any] = []

    def flow(io: AgiCallIO) -> None:
        io.answer()
        io.answer()  # only once on the wire
        io.play(GREETING)
        answers.append(io.collect(MENU, max_digits=1))
        answers.append(io.collect(POLICY, max_digits=16, timeout=7))
        answers.append(io.collect(DOB, max_digits=8))
        io.set_variable("REG_CALL_ID", "call-42")
        io.set_variable("REG_NOTE", 'he said "hi"')

    transcript, outcome = run_flow(agi_server, audio, sounds_dir, flow,
                                   ["1", "1234567890123456", None])
    assert "error" not in outcome
    assert answers == [Digits("1"), Digits("1234567890123456"), Timeout()]
    assert transcript.commands[:4] == [
        "ANSWER",
        'STREAM FILE test/ru/greeting_0 "0123456789*#"',
        'STREAM FILE test/ru/greeting_1 "0123456789*#"',
        "GET DATA test/ru/menu_0 5000 1",
    ]
    # A two-part question: the first part streams, the last one is GET DATA's prompt.
    assert 'STREAM FILE test/ru/policy_0 "0123456789*#"' in transcript.commands
    assert "GET DATA test/ru/policy_1 7000 16" in transcript.commands
    assert transcript.of("answer") == [("answer",)]
    assert transcript.variables == {"REG_CALL_ID": "call-42", "REG_NOTE": 'he said "hi"'}
    assert transcript.said == [*GREETING.parts, *MENU.parts, *POLICY.parts, *DOB.parts]
    assert transcript.of("get_data")[-1] == ("get_data", ("test/ru/dob_0",), 8, None)
    assert transcript.agistatus == "SUCCESS"


def test_barge_in_digit_is_carried_into_the_next_collect(
    agi_server: Any, audio: Any, sounds_dir: Path
) -> None:
    answers: list[Any] = []

    def flow(io: AgiCallIO) -> None:
        answers.append(io.play(GREETING))  # interrupted during its first part by "1"
        answers.append(io.collect(MENU, max_digits=1))  # answered by the buffered "1"
        answers.append(io.play(GREETING))  # "!23": "2" interrupts, "3" pressed afterwards
        answers.append(io.collect(POLICY, max_digits=2))

    transcript, _ = run_flow(agi_server, audio, sounds_dir, flow, ["!1", "!23"])
    assert answers == ["1", Digits("1"), "2", Digits("23")]
    plays = transcript.of("play")
    assert plays[0] == ("play", ("test/ru/greeting_0",), "1")
    # The menu was never played or asked: the caller had already answered it.
    assert not any("menu" in c for c in transcript.commands)
    # The rest of the policy digits were read without replaying the question.
    assert transcript.commands[-1] == "GET DATA silence/1 5000 1"
    assert transcript.of("get_data") == [("get_data", ("silence/1",), 1, "3")]


def test_barge_in_during_a_multi_part_question(
    agi_server: Any, audio: Any, sounds_dir: Path
) -> None:
    answers: list[Any] = []

    def flow(io: AgiCallIO) -> None:
        answers.append(io.collect(POLICY, max_digits=4))
        answers.append(io.collect(POLICY, max_digits=1))
        answers.append(io.collect(POLICY, max_digits=4))

    transcript, _ = run_flow(agi_server, audio, sounds_dir, flow, ["!12", "!7", "!#"])
    assert answers == [Digits("12"), Digits("7"), Digits("")]
    assert transcript.commands == [
        'STREAM FILE test/ru/policy_0 "0123456789*#"',
        "GET DATA silence/1 5000 3",
        'STREAM FILE test/ru/policy_0 "0123456789*#"',
        'STREAM FILE test/ru/policy_0 "0123456789*#"',
    ]


def test_get_data_outcomes(agi_server: Any, audio: Any, sounds_dir: Path) -> None:
    answers: list[Any] = []

    def flow(io: AgiCallIO) -> None:
        for _ in range(5):
            answers.append(io.collect(DOB, max_digits=8, timeout=2.5))

    transcript, _ = run_flow(agi_server, audio, sounds_dir, flow,
                             [None, "123", "12#", "#", "1234567890"])
    assert answers == [Timeout(), Digits("123"), Digits("12"), Digits(""), Digits("12345678")]
    assert [line for d, line in transcript.lines if d == "<<"] == [
        "200 result= (timeout)",
        "200 result=123 (timeout)",
        "200 result=12",
        "200 result=",
        "200 result=12345678",
    ]


def test_terminator_other_than_hash_is_documented_not_supported(
    agi_server: Any, audio: Any, sounds_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answers: list[Any] = []

    def flow(io: AgiCallIO) -> None:
        answers.append(io.collect(DOB, max_digits=8, terminator="*"))

    run_flow(agi_server, audio, sounds_dir, flow, ["12#"])
    assert answers == [Digits("12")]
    assert "only ends on '#'" in caplog.text


@pytest.mark.parametrize("keys", [["hangup"], ["!hangup"]], ids=["get-data", "stream-file"])
def test_hangup_raises_caller_hangup(
    agi_server: Any, audio: Any, sounds_dir: Path, keys: list[str]
) -> None:
    def flow(io: AgiCallIO) -> None:
        io.play(GREETING)
        io.collect(MENU, max_digits=1)
        io.set_variable("NEVER", "1")

    transcript, outcome = run_flow(agi_server, audio, sounds_dir, flow, keys)
    assert isinstance(outcome["error"], CallerHangup)
    assert "NEVER" not in transcript.variables
    assert "REG_ESCALATE" not in transcript.variables
    assert transcript.agistatus == "HANGUP"
    assert transcript.hangup_by == "caller"


def test_ivr_hangup(agi_server: Any, audio: Any, sounds_dir: Path) -> None:
    def flow(io: AgiCallIO) -> None:
        io.play(MENU)
        io.hangup()

    transcript, outcome = run_flow(agi_server, audio, sounds_dir, flow, [])
    assert "error" not in outcome
    assert transcript.hangup_by == "ivr"
    assert transcript.lines[-2:] == [("<<", "200 result=1"), ("<<", "HANGUP")]
    assert transcript.agistatus == "HANGUP"


def test_missing_sound_file_is_a_transport_failure_and_escalates(
    agi_server: Any, sounds_dir: Path
) -> None:
    class NoFiles:
        def files_for(self, prompt: Prompt) -> list[str]:
            return [f"test/ru/never-rendered-{prompt.key}"]

    def flow(io: AgiCallIO) -> None:
        io.play(MENU)

    transcript, outcome = run_flow(agi_server, NoFiles(), sounds_dir, flow, [],
                                   strict_sounds=True)
    assert isinstance(outcome["error"], AgiCommandFailed)
    assert isinstance(outcome["error"], TransportFailure)
    assert not isinstance(outcome["error"], CallerHangup)
    assert transcript.variables == {"REG_ESCALATE": "1", "REG_REASON": "system_error"}
    assert transcript.of("play") == [("play", ("test/ru/never-rendered-menu",), "missing")]
    assert transcript.agistatus == "FAILURE"


def test_variables_and_info(agi_server: Any, audio: Any, sounds_dir: Path) -> None:
    seen: dict[str, Any] = {}

    def flow(io: AgiCallIO) -> None:
        seen["info"] = io.info
        io.set_variable("REG_ESCALATE", "1")
        seen["get"] = io.get_variable("REG_ESCALATE")
        seen["missing"] = io.get_variable("REG_NOTHING")
        seen["channel"] = io.get_variable("CALLERID(num)")
        io.verbose("flow done")
        with pytest.raises(ValueError):
            io.set_variable("BAD NAME", "x")

    transcript, _ = run_flow(agi_server, audio, sounds_dir, flow, [],
                             caller_number="+79031112233", uniqueid="1700000555.5")
    assert seen["get"] == "1"
    assert seen["missing"] is None
    assert seen["channel"] == "+79031112233"
    assert seen["info"].call_uid == "1700000555.5"
    assert seen["info"].caller_number == "+79031112233"
    assert ("verbose", "flow done") in transcript.events


def test_endpos_is_tracked(agi_server: Any, audio: Any, sounds_dir: Path) -> None:
    import wave

    def flow(io: AgiCallIO) -> None:
        io.play(Prompt("beep", ("короткий сигнал",)))
        seen.append(io.last_endpos)

    seen: list[Any] = []
    wav = sounds_dir / "test/ru/beep_0.wav"
    wav.parent.mkdir(parents=True)
    with wave.open(str(wav), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\x00\x00" * 4000)
    run_flow(agi_server, audio, sounds_dir, flow, [])
    assert seen == [4000]


def test_caller_action_objects(agi_server: Any, audio: Any, sounds_dir: Path) -> None:
    answers: list[Any] = []

    def flow(io: AgiCallIO) -> None:
        answers.append(io.play(MENU))
        answers.append(io.collect(DOB, max_digits=2))

    run_flow(agi_server, audio, sounds_dir, flow,
             [CallerAction.press("9", barge_in=True), CallerAction.press("42")])
    # "9" interrupts the menu; GET DATA then reads one more key ("4"); the "2" is lost.
    assert answers == ["9", Digits("94")]
