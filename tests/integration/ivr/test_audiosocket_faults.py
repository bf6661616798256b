"""Faults of a streamed call, each over real TCP (FastAGI control channel + AudioSocket peer):
the watchdog's keypad path, a stream that never connects, hangups, garbage, the AGI side
going away, strangers on the listener and the stream cap.  After each: no call thread and no
socket of the IVR's ports left behind."""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from dataclasses import replace

import pytest

from booking_core import booking
from ivr.transports.audiosocket.call_io import AudioSocketCallIO
from ivr.transports.audiosocket.listener import GREETING_SPARE, AudioSocketListener
from ivr.transports.terminal import AsteriskCall, ScriptedCaller
from support.audiosocket_peer import AudioSocketPeer, PeerSession
from support.stream_tools import Census, census, settles_to
from support.tone_engine import ToneEngine
from support.world import demo, patient_id

ADULT = demo("adult")


@pytest.fixture
def streaming(container, runtime_factory):
    """``streaming(seconds=0.1, watchdog=5.0)`` -> an IVR runtime with the AudioSocket listener
    on a free port and a 3 s question timeout."""
    def make(seconds: float = 0.1, watchdog: float = 5.0):
        container.settings.audiosocket_port = 0
        container.settings.audiosocket_watchdog_seconds = watchdog
        rt = runtime_factory(container, ToneEngine(seconds))
        rt.deps.timeout = 3.0
        return rt
    return make


def _ports(rt) -> tuple[int, int]:
    return rt.server.server_address[1], rt.streaming.listener.server_address[1]


def _call(rt, peer: AudioSocketPeer, keys: list | None = None) -> AsteriskCall:
    host, port = rt.server.server_address
    return AsteriskCall(host, port, script="registry?audio=stream",
                        sounds_dir=rt.cache.sounds_dir, audiosocket=peer,
                        caller=ScriptedCaller(keys or []))


def _assert_nothing_left(rt, before: Census) -> None:
    after = settles_to(before, _ports(rt))
    assert set(after.threads) <= set(before.threads), after.threads
    assert after.sockets == before.sockets


# -- the watchdog: keypad path ---------------------------------------------------------------


def test_stalled_audio_goes_on_over_the_keypad_from_the_same_question(container, streaming):
    """The caller chose "book" over the stream and was asked for the policy when the audio
    stopped: the IVR closes the stream, AGI resumes, the policy question is asked again over
    AGI (once) and the booking completes with keys; the menu choice is not asked again."""
    rt = streaming(watchdog=0.5)
    before = census(_ports(rt))

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.press("1")
        mark = peer.mark()
        assert peer.wait_quiet(since=mark), "no policy question"
        peer.stop_sending()
        peer.closed.wait(30)

    peer = AudioSocketPeer(scenario)
    keys = [ADULT.policy_number, ADULT.birth_date.strftime("%d%m%Y"), "1", "1", "1"]
    transcript = _call(rt, peer, keys).run()
    assert peer.error is None
    assert peer.session.hangup_frame  # the IVR closed the stream itself
    assert ("audiosocket", 0) in transcript.events
    asked = [e for e in transcript.of("get_data")]
    assert asked and asked[0][3] == ADULT.policy_number  # the policy question came first
    assert sum(1 for s in transcript.said if "полиса ОМС" in s) == 1
    appts = booking.patient_appointments(patient_id(container, "adult"), container.uow())
    assert len(appts) == 1
    assert transcript.variables.get("REG_IVR_DONE") == "1"
    assert "REG_ESCALATE" not in transcript.variables
    _assert_nothing_left(rt, before)


def test_stalled_audio_with_the_channel_gone_escalates(container, streaming):
    """The audio stalls and, once the IVR closed the stream, ``AudioSocket`` returns -1 (the
    channel is gone): there is no keypad path; the call is recorded as escalated with
    ``system_error`` and nothing is left behind."""
    from booking_core import calls

    rt = streaming(watchdog=0.5)
    before = census(_ports(rt))

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.stop_sending()
        peer.closed.wait(30)

    peer = AudioSocketPeer(scenario, channel_gone=True)
    call = _call(rt, peer)
    transcript = call.run()
    assert ("audiosocket", -1) in transcript.events
    assert not transcript.of("get_data")  # nothing was asked over AGI
    _assert_nothing_left(rt, before)

    def escalated() -> list:
        return [c for c in calls.recent_calls(container.uow(), outcome="escalated")
                if c.uniqueid == call.uniqueid]

    deadline = time.monotonic() + 10  # the IVR's side saves the record after Asterisk's ended
    while not escalated() and time.monotonic() < deadline:
        time.sleep(0.05)
    (record,) = escalated()
    assert record.escalation_reason == "system_error"


def test_audio_socket_that_never_connects_but_returns_0_goes_on_over_the_keypad(
        container, streaming):
    """EXEC AudioSocket returns 0 without a connection: the call goes on keypad-only over
    AGI (the caller presses 0 there and is escalated as asked)."""
    rt = streaming()
    rt.streaming.connect_timeout = 0.3
    peer = AudioSocketPeer(lambda p: None, connect=False, result_without_connecting=0)
    transcript = _call(rt, peer, [None, "0"]).run()
    assert ("audiosocket", 0) in transcript.events
    assert transcript.of("get_data")  # the questions went over AGI
    assert not transcript.of("record")  # keys only
    assert transcript.variables["REG_REASON"] == "caller_request"


# -- hangups ---------------------------------------------------------------------------------


@pytest.mark.parametrize("frame", [True, False], ids=["hangup-frame", "tcp-close"])
def test_hangup_mid_answer_leaves_no_thread_socket_or_booking(container, streaming, frame):
    """The caller hangs up while typing the policy (the booking half done): nothing booked,
    nothing left running."""
    rt = streaming()
    before = census(_ports(rt))

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.press("1")
        mark = peer.mark()
        assert peer.wait_quiet(since=mark)
        peer.press(ADULT.policy_number[:5])
        peer.hang_up(frame=frame)

    peer = AudioSocketPeer(scenario)
    transcript = _call(rt, peer).run()
    assert transcript.hangup_by == "caller"
    assert booking.patient_appointments(patient_id(container, "adult"), container.uow()) == []
    _assert_nothing_left(rt, before)


def test_agi_side_closing_ends_the_audio_side_at_once(container, streaming):
    """The AGI connection closes while the stream plays a long prompt: the IVR stops the
    stream within a few frames, sends the hangup frame, and nothing is left behind."""
    rt = streaming(seconds=3.0)
    before = census(_ports(rt))
    heard_at_close: list[int] = []
    call: AsteriskCall

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(10)
        heard_at_close.append(peer.mark())
        assert call._sock is not None
        call._sock.shutdown(socket.SHUT_RDWR)  # Asterisk's AGI side goes away
        peer.closed.wait(30)

    peer = AudioSocketPeer(scenario)
    call = _call(rt, peer)
    call.run()
    assert peer.session.hangup_frame
    assert len(peer.session.heard) - heard_at_close[0] <= 3  # stopped, not played on
    _assert_nothing_left(rt, before)


# -- garbage ---------------------------------------------------------------------------------


def test_error_frame_escalates(container, streaming):
    rt = streaming(seconds=1.0)
    before = census(_ports(rt))

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(5)
        peer.send_frame(0xFF, b"\x01")
        peer.closed.wait(30)

    transcript = _call(rt, AudioSocketPeer(scenario)).run()
    assert transcript.variables["REG_REASON"] == "system_error"
    _assert_nothing_left(rt, before)


def test_odd_sized_audio_frame_is_skipped_and_the_call_goes_on(container, streaming):
    """A frame of 7 audio bytes would shift every later sample by one byte; it is skipped."""
    rt = streaming()

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.send_frame(0x10, b"\x01" * 7)
        peer.press("0")
        peer.closed.wait(30)

    transcript = _call(rt, AudioSocketPeer(scenario)).run()
    assert transcript.variables["REG_REASON"] == "caller_request"


def test_garbage_bytes_end_the_call_cleanly(container, streaming):
    """Bytes that are no frames at all: however they parse (unknown kinds, a huge length),
    the call ends or goes on; nothing is left behind."""
    rt = streaming()
    before = census(_ports(rt))

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.send_raw(bytes(range(7, 250, 3)) * 4)
        peer.closed.wait(10)
        peer.hang_up()

    _call(rt, AudioSocketPeer(scenario)).run()
    _assert_nothing_left(rt, before)


# -- strangers on the listener ---------------------------------------------------------------


def _connect_with_uuid(address: tuple[str, int], call_uuid: uuid.UUID) -> socket.socket:
    sock = socket.create_connection(address, timeout=5.0)
    sock.sendall(struct.pack("!BH", 0x01, 16) + call_uuid.bytes)
    return sock


def _closed_by_ivr(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    finally:
        sock.close()


def test_unknown_uuid_and_a_second_connection_for_a_call_are_closed(container, streaming):
    """A connection naming no call, and a second one naming the call in progress, are closed;
    the call itself goes on (the caller presses 0 afterwards)."""
    rt = streaming()
    before = census(_ports(rt))
    verdicts: dict[str, bool] = {}
    address = rt.streaming.listener.server_address

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        verdicts["stranger"] = _closed_by_ivr(_connect_with_uuid(address, uuid.uuid4()))
        (call_uuid,) = [e[2].split(",")[0] for e in call.transcript.of("exec")] or [None]
        verdicts["twin"] = _closed_by_ivr(_connect_with_uuid(address, uuid.UUID(call_uuid)))
        peer.press("0")
        peer.closed.wait(30)

    call = _call(rt, AudioSocketPeer(scenario))
    transcript = call.run()
    assert verdicts == {"stranger": True, "twin": True}
    assert transcript.variables["REG_REASON"] == "caller_request"
    _assert_nothing_left(rt, before)


def test_connections_without_a_uuid_beyond_the_cap_are_refused_at_once():
    """A flood of connections that never say which call they are: the listener keeps
    ``max_streams`` + spare of them waiting (one greeting thread each) and closes the rest at
    once instead of starting a thread per connection."""
    listener = AudioSocketListener("127.0.0.1", 0, first_frame_timeout=30.0,
                                   max_streams=1).start()
    socks = []
    try:
        for _ in range(1 + GREETING_SPARE):
            socks.append(socket.create_connection(listener.server_address, timeout=5.0))
        extra = socket.create_connection(listener.server_address, timeout=5.0)
        assert _closed_by_ivr(extra)
        assert listener.refused == 1
        greeting = [t for t in threading.enumerate() if t.name == "audiosocket-greet"]
        assert len(greeting) <= 1 + GREETING_SPARE
    finally:
        for sock in socks:
            sock.close()
        listener.shutdown()


def test_calls_beyond_the_stream_cap_stay_on_the_keypad(container, streaming):
    """With one stream allowed, a second call while the first streams runs keypad-only over
    AGI (a clean refusal: the caller is served, just without the stream)."""
    rt = streaming()
    rt.streaming.listener.max_streams = 1
    second: dict[str, object] = {}

    def first_caller(peer: PeerSession) -> None:
        peer.wait_heard(3)
        host, port = rt.server.server_address
        second["t"] = AsteriskCall(host, port, script="registry?audio=stream",
                                   sounds_dir=rt.cache.sounds_dir,
                                   audiosocket=AudioSocketPeer(lambda p: None),
                                   caller=ScriptedCaller([None, "0"])).run()
        peer.press("0")
        peer.closed.wait(30)

    first = _call(rt, AudioSocketPeer(first_caller)).run()
    other = second["t"]
    assert first.variables["REG_REASON"] == "caller_request"
    assert not [e for e in other.events if e[0] == "audiosocket"]  # no stream offered
    assert other.of("get_data") and other.variables["REG_REASON"] == "caller_request"
    assert rt.streaming.listener.refused == 1


# -- the recogniser off the reading thread ---------------------------------------------------


class _StuckStream:
    """A recogniser that cannot keep up: every frame waits for ``gate``."""

    def __init__(self, gate: threading.Event, fed: list[int]) -> None:
        self.gate = gate
        self.fed = fed

    def feed(self, pcm: bytes) -> None:
        self.gate.wait(30)
        self.fed.append(len(pcm))

    def partial(self) -> str:
        return ""

    def finish(self):
        from speech.asr import NOTHING
        return NOTHING


class _StuckRecognizer:
    def __init__(self) -> None:
        self.gate = threading.Event()
        self.fed: list[int] = []

    def stream(self, sample_rate: int, grammar=None) -> _StuckStream:
        return _StuckStream(self.gate, self.fed)

    def recognize_wav(self, path, grammar=None):
        raise NotImplementedError


def _loud_pcm(seconds: float) -> bytes:
    """A voiced-looking signal for the VAD: a 200 Hz square wave with a 2 kHz buzz."""
    samples = []
    for n in range(int(seconds * 8000)):
        low = 8000 if (n // 20) % 2 else -8000
        samples.append(low + (3000 if (n // 2) % 2 else -3000))
    return struct.pack(f"<{len(samples)}h", *samples)


def test_a_key_is_heard_while_the_recogniser_is_stuck_and_its_queue_stays_bounded(
        container, streaming, monkeypatch):
    """The caller talks while the recogniser is stuck on the first frame, then presses 0: the
    key still reaches the flow at once (the reading thread does no decoding), and the audio
    waiting for the recogniser never grows past its bound (the utterance is dropped)."""
    from ivr.transports.audiosocket.recognition import StreamRecognition

    rt = streaming(seconds=0.5)
    stuck = _StuckRecognizer()
    rt.streaming.recognition = StreamRecognition(stuck, lambda g, loc: [])
    rt.streaming.settings = replace(rt.streaming.settings, speech_barge_in=True,
                                    max_queued_audio_seconds=0.5)
    streams: list[AudioSocketCallIO] = []

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.say(_loud_pcm(2.0))
        peer.press("0")
        peer.closed.wait(30)
        stuck.gate.set()

    original = AudioSocketCallIO.__init__

    def keep(self, *args, **kwargs):
        original(self, *args, **kwargs)
        streams.append(self)

    monkeypatch.setattr(AudioSocketCallIO, "__init__", keep)
    try:
        transcript = _call(rt, AudioSocketPeer(scenario)).run()
    finally:
        stuck.gate.set()
    assert transcript.variables["REG_REASON"] == "caller_request"
    assert stuck.fed == []  # nothing was decoded before the key was handled
    decoder = streams[0]._decoder
    assert decoder.max_bytes == 8000  # 0.5 s of 8 kHz 16-bit audio
    assert 0 < decoder.peak_bytes <= decoder.max_bytes  # the speech reached it, bounded


def _complete_or_absent(container, pid: int) -> list:
    """The caller's booking is whole (booked) or not there at all; no hold left pending."""
    from sqlmodel import func, select

    from models.tables import Appointment, AppointmentStatus

    with container.uow().reading() as uow:
        pending = uow.session.exec(select(func.count()).select_from(Appointment).where(
            Appointment.status == AppointmentStatus.PENDING)).one()
    assert pending == 0, "a hold was left behind"
    appts = booking.patient_appointments(pid, container.uow())
    assert len(appts) <= 1
    return appts


@pytest.mark.parametrize("keys_pressed", [1, 2, 3], ids=["at-specialty", "at-offer",
                                                         "at-confirmation"])
def test_tcp_close_around_the_booking_leaves_it_whole_or_absent(container, streaming,
                                                                 keys_pressed):
    """The caller's phone drops (the audio socket closes, no hangup frame) right after a key of
    the booking's last steps: the booking is whole or absent, never a hold."""
    rt = streaming()
    before = census(_ports(rt))
    answers = [ADULT.policy_number, ADULT.birth_date.strftime("%d%m%Y"), "1", "1", "1"]
    answers = answers[:2 + keys_pressed]

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(3)
        peer.press("1")
        for keys in answers:
            mark = peer.mark()
            assert peer.wait_quiet(since=mark), "no question came"
            peer.press(keys)
        peer.hang_up(frame=False)

    peer = AudioSocketPeer(scenario)
    transcript = _call(rt, peer).run()
    assert peer.error is None
    assert transcript.hangup_by == "caller"
    _complete_or_absent(container, patient_id(container, "adult"))
    _assert_nothing_left(rt, before)
