"""Streaming calls: FastAGI as the control channel, the dialogue over a real AudioSocket TCP
stream, with the test peer playing Asterisk's side (20 ms frames both ways, DTMF frames)."""

from __future__ import annotations

import random
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from booking_core import booking
from ivr.transports.terminal import AsteriskCall
from support.audiosocket_peer import AudioSocketPeer, PeerSession
from support.tone_engine import ToneEngine
from support.world import demo, patient_id

ADULT = demo("adult")


@pytest.fixture
def streaming(container, runtime_factory):
    """``streaming(seconds=0.1, watchdog=5.0)`` -> an IVR runtime with the AudioSocket
    listener on a free port and short question timeouts."""
    def make(seconds: float = 0.1, watchdog: float = 5.0):
        container.settings.audiosocket_port = 0
        container.settings.audiosocket_watchdog_seconds = watchdog
        rt = runtime_factory(container, ToneEngine(seconds))
        rt.deps.timeout = 1.5
        return rt
    return make


def _call(rt, peer: AudioSocketPeer, *, audio: str = "stream"):
    host, port = rt.server.server_address
    return AsteriskCall(host, port, script=f"registry?audio={audio}",
                        sounds_dir=rt.cache.sounds_dir, audiosocket=peer).run()


def _no_stream_threads_left() -> bool:
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if t.name.startswith("audiosocket-")
                and t.name != "audiosocket-listener"]:
            return True
        time.sleep(0.05)
    return False


def test_keypad_booking_over_audiosocket(container, streaming):
    """Keys pressed over the audio stream book the nearest slot; the variables the flow set
    reach the dialplan over AGI after the audio socket closed."""
    rt = streaming()
    # 1 = book, pressed during the greeting (a menu key is carried to the main menu).
    peer = AudioSocketPeer(_keys_during_greeting("1", ADULT.policy_number,
                                                 ADULT.birth_date.strftime("%d%m%Y"),
                                                 "1", "1", "1"))
    transcript = _call(rt, peer)
    assert peer.error is None
    appts = booking.patient_appointments(patient_id(container, "adult"), container.uow())
    assert len(appts) == 1 and appts[0].specialty.code == "therapist"
    assert transcript.variables.get("REG_IVR_DONE") == "1"
    assert "REG_ESCALATE" not in transcript.variables
    assert ("audiosocket", 0) in transcript.events
    assert transcript.of("play") == []  # no prompt went over AGI
    assert _no_stream_threads_left()


def _keys_during_greeting(first: str, *answers: str):
    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.press(first)
        for keys in answers:
            mark = peer.mark()
            assert peer.wait_quiet(since=mark), "no question came"
            peer.press(keys)
        peer.closed.wait(30)
    return scenario


def test_key_cuts_the_prompt_within_a_frame(container, streaming):
    """0 in the middle of a two-second greeting: the greeting stops at once (frames of it after
    the key: at most the one already in flight) and the call is escalated over AGI."""
    rt = streaming(seconds=2.0)

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(10)
        peer.press("0")
        peer.closed.wait(30)

    peer = AudioSocketPeer(scenario)
    transcript = _call(rt, peer)
    session = peer.session
    pressed_at = session.sent_keys[0][0]
    before = [h for h in session.heard if h.at < pressed_at]
    after = [h for h in session.heard if h.at >= pressed_at]
    greeting_level = before[-1].level
    cut_short = [h for h in after if h.level == greeting_level]
    assert len(before) < 2.0 / 0.02 / 2  # pressed in the first half of the part
    assert len(cut_short) <= 2
    assert transcript.variables["REG_ESCALATE"] == "1"
    assert transcript.variables["REG_REASON"] == "caller_request"


def _speech_pcm(tmp_path: Path, text: str = "запишите меня к терапевту пожалуйста") -> bytes:
    wav = tmp_path / "utterance.wav"
    subprocess.run(["espeak-ng", "-v", "ru", "-w", str(wav), text], check=True,
                   capture_output=True)
    raw = tmp_path / "utterance.raw"
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed",
                    "-t", "raw", str(raw)], check=True, capture_output=True)
    return raw.read_bytes()


def test_speech_cuts_the_prompt_once_onset_is_confirmed(container, streaming, tmp_path):
    """The caller starts talking over a long greeting: the greeting stops once the VAD has
    confirmed speech (200 ms of voice), not at the end of the prompt."""
    rt = streaming(seconds=3.0)
    assert rt.streaming.settings.speech_barge_in is False  # no model: only keys cut prompts
    # as with a model configured (the answer itself is then not understood: a re-prompt)
    rt.streaming.settings = replace(rt.streaming.settings, speech_barge_in=True)
    speech = _speech_pcm(tmp_path)

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(10)
        peer.say(speech)
        peer.hang_up()

    peer = AudioSocketPeer(scenario)
    _call(rt, peer)
    session = peer.session
    spoke_at = session.said[0]
    before = [h for h in session.heard if h.at < spoke_at]
    greeting_level = before[-1].level
    after = [h for h in session.heard if h.at >= spoke_at and h.level == greeting_level]
    assert len(before) < 50
    # onset needs 8 voiced frames; a few more for espeak's leading silence and one in flight
    assert len(after) <= 20, len(after)
    assert len(before) + len(after) < 3.0 / 0.02  # the 3 s part was not played to its end


def test_a_short_noise_burst_does_not_cut_the_prompt(container, streaming):
    """100 ms of loud noise (a click, a bump) while a one-second part plays: it plays on."""
    rt = streaming(seconds=1.0)
    rng = random.Random(3)
    noise = bytes(rng.getrandbits(8) for _ in range(5 * 320))

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(10)
        peer.say(noise)
        peer.wait_heard(60)
        peer.hang_up()

    peer = AudioSocketPeer(scenario)
    _call(rt, peer)
    first = peer.session.heard[0].level
    assert sum(1 for h in peer.session.heard if h.level == first) == 1.0 / 0.02


def test_silence_reprompts_then_keys_still_work(container, streaming):
    """Nothing said at the language offer: after the timeout the menu is asked; silence at it
    re-prompts it (audio after a quiet gap longer than the question timeout)."""
    rt = streaming()

    def scenario(peer: PeerSession) -> None:
        peer.wait_quiet(gap=1.2, since=0, timeout=30)  # the language offer timed out
        mark = peer.mark()
        peer.wait_quiet(gap=1.2, since=mark, timeout=30)  # the main menu timed out
        mark = peer.mark()
        assert peer.wait_heard(1, since=mark, timeout=10), "no re-prompt"
        peer.press("0")
        peer.closed.wait(30)

    peer = AudioSocketPeer(scenario)
    transcript = _call(rt, peer)
    assert peer.error is None
    assert transcript.variables["REG_REASON"] == "caller_request"


@pytest.mark.parametrize("frame", [True, False], ids=["hangup-frame", "socket-closed"])
def test_hangup_mid_prompt_leaves_nothing_behind(container, streaming, frame):
    rt = streaming(seconds=2.0)

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(5)
        peer.hang_up(frame=frame)

    peer = AudioSocketPeer(scenario)
    transcript = _call(rt, peer)
    assert transcript.hangup_by == "caller"
    assert "REG_ESCALATE" not in transcript.variables
    assert _no_stream_threads_left()
    assert len(peer.session.heard) < 2.0 / 0.02


def test_oversized_frame_escalates(container, streaming):
    rt = streaming(seconds=2.0)

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(5)
        peer.send_raw(b"\x10\xff\xff" + b"\x01" * 100)
        peer.closed.wait(30)

    peer = AudioSocketPeer(scenario)
    transcript = _call(rt, peer)
    assert transcript.variables["REG_ESCALATE"] == "1"
    assert transcript.variables["REG_REASON"] == "system_error"
    assert _no_stream_threads_left()


def test_unknown_kind_is_skipped_and_the_call_goes_on(container, streaming):
    rt = streaming()

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.send_frame(0x42, b"garbage")
        peer.press("0")
        peer.closed.wait(30)

    peer = AudioSocketPeer(scenario)
    transcript = _call(rt, peer)
    assert transcript.variables["REG_REASON"] == "caller_request"


def test_audio_socket_that_never_connects_leaves_the_call_on_agi_keypad(container, streaming):
    """Asterisk's AudioSocket cannot connect: EXEC replies -1 and the AGI session goes on
    (res_agi's handle_exec), so the call continues keypad-only over AGI: the prompts go out
    as AGI commands and a silent caller is escalated as on any keypad call."""
    rt = streaming()
    rt.streaming.connect_timeout = 0.5
    transcript = _call(rt, AudioSocketPeer(lambda peer: None, connect=False))
    assert ("audiosocket", -1) in transcript.events
    assert transcript.agistatus == "SUCCESS"
    assert transcript.of("get_data")  # the questions went over AGI
    assert transcript.variables["REG_ESCALATE"] == "1"


def test_keypad_agi_stays_the_default(container, streaming):
    """Without ?audio=stream the call runs over AGI as before, even with the listener on."""
    rt = streaming()
    transcript = _call(rt, AudioSocketPeer(lambda peer: None), audio="keypad")
    assert not [e for e in transcript.events if e[0] == "audiosocket"]
    assert transcript.of("play")  # the prompts went over AGI
