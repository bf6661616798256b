"""The Asterisk simulator seen from a raw FastAGI peer: env, exact replies, callers."""

from __future__ import annotations

import io
import socket
import wave
from pathlib import Path
from typing import Any

import pytest

from booking_core.masking import mask_digits, mask_phone, scrub
from ivr.transports.terminal import (
    AgiUnreachable,
    AsteriskCall,
    CallerAction,
    KeyboardCaller,
    ScriptedCaller,
    SimulatorError,
    parse_args,
)

USAGE_HEAD = "520-Invalid command syntax.  Proper usage follows:"
USAGE_TAIL = "520 End of proper usage."
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"


def _run(raw_ivr: Any, script: Any, **kwargs: Any) -> tuple[Any, Any]:
    peer = raw_ivr(script)
    kwargs.setdefault("idle_timeout", 10.0)
    transcript = AsteriskCall("127.0.0.1", peer.port, **kwargs).run()
    peer.join()
    return peer, transcript


def test_environment_is_sent_like_asterisk(raw_ivr: Any) -> None:
    peer, transcript = _run(raw_ivr, lambda ivr: None, uniqueid="1700000000.1",
                            channel="PJSIP/trunk-00000001", agi_args=["x"],
                            extra_env={"agi_language": "en"})
    port = peer.port
    assert peer.env_lines == [
        "agi_network: yes\n",
        "agi_network_script: registry\n",
        f"agi_request: agi://127.0.0.1:{port}/registry\n",
        "agi_channel: PJSIP/trunk-00000001\n",
        "agi_language: en\n",
        "agi_type: PJSIP\n",
        "agi_uniqueid: 1700000000.1\n",
        "agi_version: 20.5.0\n",
        "agi_callerid: +79161234567\n",
        "agi_calleridname: unknown\n",
        "agi_callingpres: 0\n",
        "agi_callingani2: 0\n",
        "agi_callington: 0\n",
        "agi_callingtns: 0\n",
        "agi_dnid: unknown\n",
        "agi_rdnis: unknown\n",
        "agi_context: registry-incoming\n",
        "agi_extension: s\n",
        "agi_priority: 2\n",
        "agi_enhanced: 0.0\n",
        "agi_accountcode: \n",
        peer.env_lines[21],
        "agi_arg_1: x\n",
        "\n",
    ]
    assert peer.env_lines[21].startswith("agi_threadid: ")
    assert transcript.agistatus == "SUCCESS"
    assert transcript.events == []


def test_default_uniqueids_differ() -> None:
    first = AsteriskCall("127.0.0.1", 1)
    second = AsteriskCall("127.0.0.1", 1)
    assert first.uniqueid != second.uniqueid
    assert first.channel != second.channel


def test_replies_are_exact(raw_ivr: Any, sounds_dir: Path) -> None:
    (sounds_dir / "p").mkdir()
    (sounds_dir / "p/hello.txt").write_text("Здравствуйте", encoding="utf-8")
    replies: list[list[str]] = []

    def script(ivr: Any) -> None:
        for command in [
            "ANSWER",
            "CHANNEL STATUS",
            'STREAM FILE p/hello "0123456789*#"',
            'STREAM FILE p/hello "12"',
            'STREAM FILE p/hello "0123456789*#"',
            "GET DATA p/hello 3000 4",
            "GET DATA p/hello 3000 4",
            "GET DATA p/hello 3000 4",
            "GET DATA p/hello 3000 4",
            "GET DATA p/hello",
            'SET VARIABLE REG_REASON "no answer"',
            "GET VARIABLE REG_REASON",
            "GET VARIABLE NOT_SET",
            'GET FULL VARIABLE "${REG_REASON}/${CALLERID(num)}"',
            'VERBOSE "hello" 1',
            "NOOP",
            "EXEC Set REG_X=1",
            "EXEC NoSuchApp",
            "WAIT FOR DIGIT 1000",
            "SAY DIGITS 123 \"\"",
            "DATABASE PUT fam key value",
            "DATABASE GET fam key",
            "FROBNICATE",
            "",
            "STREAM FILE",
            "SET VARIABLE ONLY_NAME",
            "RECORD FILE /tmp/x wav",
        ]:
            replies.append(ivr.send(command))

    caller = ScriptedCaller(["!5", "!9", "1234", "12", "#", None, "7", "3"])
    _, transcript = _run(raw_ivr, script, caller=caller, sounds_dir=sounds_dir,
                         caller_number="+79160000001")
    usage = replies[-3]
    assert replies[:-3] == [
        ["200 result=0"],
        ["200 result=6"],
        ["200 result=53 endpos=3840"],  # half of the 12-character text's 7680 samples
        ["200 result=0 endpos=7680"],  # "!9" is not an escape digit here: ignored
        ["200 result=0 endpos=7680"],  # a plain entry is not a barge-in
        ["200 result=1234"],
        ["200 result=12 (timeout)"],
        ["200 result="],
        ["200 result= (timeout)"],
        ["200 result=7 (timeout)"],
        ["200 result=1"],
        ["200 result=1 (no answer)"],
        ["200 result=0"],
        ["200 result=1 (no answer/+79160000001)"],
        ["200 result=1"],
        ["200 result=0"],
        ["200 result=0"],
        ["200 result=-2"],
        [f"200 result={ord('3')}"],
        ["200 result=0"],
        ["200 result=1"],
        ["200 result=1 (value)"],
        ["510 Invalid or unknown command"],
        ["510 Invalid or unknown command"],
    ]
    assert usage[0] == USAGE_HEAD and usage[-1] == USAGE_TAIL and len(usage) >= 3
    assert "STREAM FILE" in usage[1]
    assert replies[-2][0] == USAGE_HEAD and replies[-1][0] == USAGE_HEAD
    assert transcript.variables == {"REG_REASON": "no answer", "REG_X": "1"}
    assert transcript.said[0] == "Здравствуйте"
    assert transcript.of("error") == [
        ("error", 510, "FROBNICATE"), ("error", 510, ""), ("error", 520, "STREAM FILE"),
        ("error", 520, "SET VARIABLE ONLY_NAME"), ("error", 520, "RECORD FILE /tmp/x wav")]


def test_hangup_during_a_command_then_dead_channel(raw_ivr: Any) -> None:
    replies: list[list[str]] = []

    def script(ivr: Any) -> None:
        replies.append(ivr.send('STREAM FILE x "#"'))
        replies.append([ivr.line().rstrip("\n")])  # the asynchronous HANGUP line
        for command in ["GET DATA x 100 1", "ANSWER", 'SET VARIABLE A "1"', "GET VARIABLE A",
                        'VERBOSE "x" 1', "NOOP", "HANGUP"]:
            replies.append(ivr.send(command))

    _, transcript = _run(raw_ivr, script, caller=ScriptedCaller(["!hangup"]))
    assert replies == [
        ["200 result=-1 endpos=8000"],
        ["HANGUP"],
        [DEAD], [DEAD], ["200 result=1"], ["200 result=1 (1)"], ["200 result=1"],
        ["200 result=0"], [DEAD],
    ]
    assert transcript.agistatus == "HANGUP"
    assert transcript.hangup_by == "caller"


def test_hangup_while_the_ivr_is_busy(raw_ivr: Any) -> None:
    replies: list[list[str]] = []

    def script(ivr: Any) -> None:
        replies.append(ivr.send("ANSWER"))
        replies.append(ivr.send("GET DATA x 100 1"))  # HANGUP arrives first, then 511
        replies.append([ivr.line().rstrip("\n")])

    _run(raw_ivr, script, caller=ScriptedCaller(["5"], hangup_before="GET DATA"))
    assert replies == [["200 result=0"], ["HANGUP"], [DEAD]]


def test_ivr_hangup_command(raw_ivr: Any) -> None:
    replies: list[list[str]] = []

    def script(ivr: Any) -> None:
        replies.append(ivr.send("HANGUP"))
        replies.append([ivr.line().rstrip("\n")])
        replies.append(ivr.send("STREAM FILE x \"\""))

    _, transcript = _run(raw_ivr, script)
    assert replies == [["200 result=1"], ["HANGUP"], [DEAD]]
    assert transcript.hangup_by == "ivr"
    assert ("hangup", "ivr") in transcript.events


def test_record_file_copies_the_callers_wav(raw_ivr: Any, tmp_path: Path) -> None:
    speech = tmp_path / "speech.wav"
    with wave.open(str(speech), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\x01\x00" * 16000)  # one second
    target = tmp_path / "rec" / "utt1"
    replies: list[list[str]] = []

    def script(ivr: Any) -> None:
        replies.append(ivr.send(f'RECORD FILE {target} wav "#" 10000 s=2'))
        replies.append(ivr.send(f'RECORD FILE {target}-2 wav "#" 10000 s=2'))
        replies.append(ivr.send(f'RECORD FILE {target}-3 wav "#" -1'))
        replies.append(ivr.send(f'RECORD FILE {target}-4 wav "#" 10000'))

    _, transcript = _run(raw_ivr, script, caller=ScriptedCaller(
        [CallerAction.speak(speech), "#", None, "hangup"]))
    assert replies == [
        ["200 result=0 (timeout) endpos=8000"],
        [f"200 result={ord('#')} (dtmf) endpos=0"],
        ["200 result=0 (timeout) endpos=0"],
        ["200 result=-1 (hangup) endpos=0"],
    ]
    assert (tmp_path / "rec" / "utt1.wav").read_bytes() == speech.read_bytes()
    assert transcript.of("record")[0] == ("record", str(target), "wav", "wav")


def test_keyboard_caller(raw_ivr: Any, sounds_dir: Path) -> None:
    (sounds_dir / "p").mkdir()
    (sounds_dir / "p/menu.txt").write_text("Нажмите 1, чтобы записаться.", encoding="utf-8")
    (sounds_dir / "p/bye.txt").write_text("До свидания.", encoding="utf-8")
    replies: list[list[str]] = []

    def script(ivr: Any) -> None:
        replies.append(ivr.send("GET DATA p/menu 5000 1"))
        replies.append(ivr.send("GET DATA p/menu 5000 1"))
        replies.append(ivr.send('SET VARIABLE REG_ESCALATE "1"'))
        replies.append(ivr.send('STREAM FILE p/bye "#"'))
        replies.append(ivr.send("GET DATA p/unrendered 5000 1"))

    out = io.StringIO()
    caller = KeyboardCaller(io.StringIO("1x\n\nq\n"), out)
    _, transcript = _run(raw_ivr, script, caller=caller, sounds_dir=sounds_dir)
    assert replies == [["200 result=1"], ["200 result= (timeout)"], ["200 result=1"],
                       ["200 result=0 endpos=7680"], ["200 result=-1"]]
    text = out.getvalue()
    assert text.count("IVR: Нажмите 1, чтобы записаться.") == 2
    # Prompts played back to back are printed as one line, with the question that follows.
    assert "IVR: До свидания. [p/unrendered]" in text
    assert "AGISTATUS=HANGUP" in text and "REG_ESCALATE" in text
    assert transcript.hangup_by == "caller"


def test_unreachable_server_is_agistatus_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    call = AsteriskCall("127.0.0.1", port)
    with pytest.raises(AgiUnreachable, match="AGISTATUS=FAILURE"):
        call.run()
    assert call.transcript.agistatus == "FAILURE"


def test_silent_ivr_raises_simulator_error(raw_ivr: Any) -> None:
    import time

    def script(ivr: Any) -> None:
        time.sleep(1.0)

    peer = raw_ivr(script)
    with pytest.raises(SimulatorError):
        AsteriskCall("127.0.0.1", peer.port, idle_timeout=0.3).run()
    peer.join()


def test_strict_sounds(raw_ivr: Any, sounds_dir: Path) -> None:
    (sounds_dir / "p").mkdir()
    (sounds_dir / "p/there.wav").write_bytes(b"")
    replies: list[list[str]] = []

    def script(ivr: Any) -> None:
        replies.append(ivr.send('STREAM FILE p/missing "#"'))
        replies.append(ivr.send("GET DATA p/missing 100 1"))
        replies.append(ivr.send('STREAM FILE p/there "#"'))
        replies.append(ivr.send("GET DATA silence/1 100 1"))

    _, transcript = _run(raw_ivr, script, sounds_dir=sounds_dir, strict_sounds=True)
    assert replies == [["200 result=-1 endpos=0"], ["200 result=-1"],
                       ["200 result=0 endpos=16000"], ["200 result= (timeout)"]]
    assert transcript.agistatus == "FAILURE"


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        ('STREAM FILE x "0123456789*#"', ["STREAM", "FILE", "x", "0123456789*#"]),
        ('SET VARIABLE A "two words"', ["SET", "VARIABLE", "A", "two words"]),
        ('SET VARIABLE A "say \\"hi\\" \\\\ ok"', ["SET", "VARIABLE", "A", 'say "hi" \\ ok']),
        ('SAY DIGITS 1 ""', ["SAY", "DIGITS", "1", ""]),
        ("NOOP   extra\targs", ["NOOP", "extra", "args"]),
        ('a"b c"d', ["ab cd"]),
        ("", []),
    ],
)
def test_parse_args_like_asterisk(line: str, argv: list[str]) -> None:
    assert parse_args(line) == argv


def test_masking_helpers() -> None:
    assert mask_phone("+79161234567") == "********4567"
    assert mask_phone("+7 (916) 123-45-67") == "********4567"
    assert mask_phone("unknown") == "unknown"
    assert mask_phone("") == ""
    assert mask_phone("101") == "***"
    assert mask_digits("1234567890123456") == "**** **** **** 3456"
    assert mask_digits("1234 5678 9012 3456") == "**** **** **** 3456"
    assert mask_digits("12345678901", keep=4) == "*** **** 8901"
    assert mask_digits("1234567890123456", keep=0) == "**** **** **** ****"
    assert mask_digits("") == ""
    assert scrub("GET DATA x 5000 16 -> 200 result=1234567890123456") == (
        "GET DATA x 5000 16 -> 200 result=************3456")
    assert scrub('STREAM FILE x "0123456789*#" endpos=123456') == (
        'STREAM FILE x "0123456789*#" endpos=123456')
    assert scrub("bin\x00\x1b") == "bin\\x00\\x1b"
    assert scrub("x" * 500).endswith("...")


def _read_to_eof(ivr: Any) -> list[str]:
    lines = []
    while True:
        try:
            line = ivr.line()
        except ConnectionResetError:
            break
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return lines


def test_exit_on_hangup_during_a_command(raw_ivr: Any) -> None:
    seen: list[list[str]] = []

    def script(ivr: Any) -> None:
        seen.append(ivr.send('STREAM FILE x "#"'))
        seen.append(_read_to_eof(ivr))

    _, transcript = _run(raw_ivr, script, caller=ScriptedCaller(["!hangup"]),
                         exit_on_hangup=True)
    assert seen == [["200 result=-1 endpos=8000"], ["HANGUP", "HANGUP"]]
    assert transcript.agistatus == "HANGUP"


def test_exit_on_hangup_while_the_ivr_is_busy(raw_ivr: Any) -> None:
    seen: list[list[str]] = []

    def script(ivr: Any) -> None:
        seen.append(ivr.send("ANSWER"))
        seen.append(ivr.send('SET VARIABLE A "1"'))  # never executed: Asterisk left the AGI
        seen.append(_read_to_eof(ivr))

    _, transcript = _run(raw_ivr, script, exit_on_hangup=True,
                         caller=ScriptedCaller([], hangup_before=2))
    assert seen == [["200 result=0"], ["HANGUP"], ["HANGUP"]]
    assert transcript.variables == {}


def test_preset_variables_are_visible(raw_ivr: Any) -> None:
    seen: list[list[str]] = []

    def script(ivr: Any) -> None:
        seen.append(ivr.send("GET VARIABLE REG_APPOINTMENT_ID"))
        seen.append(ivr.send('GET FULL VARIABLE "${REG_SOUNDS}/x"'))

    _, transcript = _run(raw_ivr, script, variables={
        "REG_APPOINTMENT_ID": "42", "REG_SOUNDS": "/var/lib/asterisk/sounds/registratura"})
    assert seen == [["200 result=1 (42)"],
                    ["200 result=1 (/var/lib/asterisk/sounds/registratura/x)"]]
    assert transcript.variables == {}
