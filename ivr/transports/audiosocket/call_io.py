"""The dialogue port (:class:`ivr.io.CallIO`) over an Asterisk AudioSocket stream.

Asterisk's ``AudioSocket(uuid,host:port)`` application (``apps/app_audiosocket.c``,
``res/res_audiosocket.c``) connects to us and exchanges frames of a 3-byte header -- one kind
byte, a 16-bit big-endian payload length -- and the payload:

=======  =================================================================================
kind     meaning
=======  =================================================================================
0x00     hangup (either side; length 0): Asterisk's application returns 0
0x01     the call's uuid, 16 bytes, the first frame Asterisk sends
0x03     a key the caller pressed, 1 byte (its ASCII character)
0x10     signed linear 16-bit 8 kHz mono audio; 320 bytes = 20 ms
0xff     an error (Asterisk's side)
=======  =================================================================================

Asterisk writes every audio frame it receives to the channel at once, so the IVR paces its
playback itself, one 20 ms frame at a time, and checks the caller's input between frames: a key
or confirmed speech (:mod:`speech.vad`) stops the prompt within one frame.  A reader thread per
connection reads the caller's frames, runs the voice activity detector on them (microseconds per
frame, never on an event loop) and queues events for the flow thread.  Keys pressed while no
question is open are kept for the next one.  Channel variables a flow sets are kept and applied
over AGI when the audio socket has closed (:mod:`ivr.transports.audiosocket.stream_call`).

Faults: end of stream or a hangup frame -> :class:`ivr.io.CallerHangup`; an error frame, a
payload longer than :data:`MAX_PAYLOAD` or no frame for ``watchdog_seconds`` ->
:class:`AudioSocketFailure` (a :class:`ivr.io.TransportFailure`: the flow escalates).  Frames of
an unknown kind are skipped with one warning per call.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import socket
import struct
import threading
import time
import uuid
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ivr.io import (
    DTMF_KEYS,
    BufferedCallIO,
    CallerHangup,
    CallerInput,
    CallInfo,
    Digits,
    Grammar,
    Prompt,
    Speech,
    Timeout,
    TransportFailure,
)
from speech.asr import AsrError, RecognitionStream, Recognizer
from speech.vad import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, TurnDetector, VadEvent, VadSettings

logger = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
#: The largest payload accepted: 20 ms of 192 kHz audio is 7,680 bytes; anything longer is a
#: broken or hostile peer and the stream cannot be trusted to resynchronise.
MAX_PAYLOAD = 8192
FRAME_SECONDS = FRAME_MS / 1000
#: Audio kept from before the confirmed onset, so the first syllable reaches the recogniser.
PREROLL_FRAMES = 15


class AudioSocketFailure(TransportFailure):
    """The audio stream broke (error frame, oversized frame, stalled peer)."""


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket frame: kind, big-endian length, payload."""
    if len(payload) > 0xFFFF:
        raise ValueError("an AudioSocket payload holds at most 65535 bytes")
    return struct.pack("!BH", kind, len(payload)) + payload


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """The next frame, or ``None`` at the end of the stream.

    Raises :class:`AudioSocketFailure` for a payload over :data:`MAX_PAYLOAD` and lets
    ``TimeoutError``/``OSError`` of the socket through.
    """
    header = _read_exact(sock, 3)
    if header is None:
        return None
    kind, length = struct.unpack("!BH", header)
    if length > MAX_PAYLOAD:
        raise AudioSocketFailure(f"frame of kind 0x{kind:02x} announces {length} bytes")
    payload = _read_exact(sock, length) if length else b""
    if payload is None:
        return None
    return kind, payload


class PromptAudio(Protocol):
    """Where a prompt's audio is: one WAV path without the extension per part."""

    def files_for(self, prompt: Prompt) -> list[str]: ...


@functools.lru_cache(maxsize=1024)
def _pcm_of(path: str) -> bytes:
    """The 8 kHz 16-bit mono samples of a prompt WAV (the prompt cache writes only those)."""
    with wave.open(path, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (8000, 1, 2):
            raise ValueError(f"prompt audio is not 8 kHz 16-bit mono: {path}")
        return w.readframes(w.getnframes())


@dataclass(frozen=True)
class StreamSettings:
    """Tunables of one streaming call."""

    vad: VadSettings = field(default_factory=VadSettings)
    watchdog_seconds: float = 5.0  # no frame from Asterisk this long: the stream is dead
    max_utterance_seconds: float = 10.0
    speech_barge_in: bool = True  # confirmed speech stops a prompt (keys always do)


@dataclass(frozen=True)
class _Event:
    kind: str  # "dtmf" | "onset" | "end" | "hangup" | "failure"
    value: str = ""  # the key, the failure, or the recognised words of an utterance
    confidence: float = 0.0
    at: float = 0.0


Question = Callable[[], "tuple[Grammar, str] | None"]


class _TurnAudio:
    """The voice activity detector plus the recogniser of the utterance it is hearing.

    At the onset a recogniser is started for the question open at that moment (if any) and
    fed the pre-roll; every further frame is decoded as it arrives, in the connection's reader
    thread, so the words are ready when the turn ends.
    """

    def __init__(self, detector: TurnDetector, max_seconds: float,
                 recognition: StreamRecognition | None, question: Question) -> None:
        self.detector = detector
        self.recognition = recognition
        self.question = question
        self.preroll: deque[bytes] = deque(maxlen=PREROLL_FRAMES)
        self.stream: RecognitionStream | None = None
        self.frames = 0
        self.max_frames = int(max_seconds * 1000 / FRAME_MS)

    def feed(self, chunk: bytes) -> _Event | None:
        """One 20 ms frame; an ``onset`` or ``end`` event (with the words) or ``None``."""
        was_speaking = self.detector.speaking
        event = self.detector.feed(chunk)
        if event is VadEvent.ONSET:
            self._start(b"".join(self.preroll) + chunk)
            self.preroll.clear()
            return _Event("onset")
        if not was_speaking:
            self.preroll.append(chunk)
            return None
        self.frames += 1
        self._decode(chunk)
        if event is VadEvent.END or self.frames >= self.max_frames:
            self.detector.reset()
            return self._finish()
        return None

    def _start(self, audio: bytes) -> None:
        self.frames = 0
        self.stream = None
        question = self.question()
        if self.recognition is None or question is None:
            return
        try:
            self.stream = self.recognition.start(*question)
        except (AsrError, ValueError) as exc:
            logger.warning("audiosocket: cannot start recognition: %s", exc)
            return
        self._decode(audio)

    def _decode(self, pcm: bytes) -> None:
        if self.stream is None:
            return
        try:
            self.stream.feed(pcm)
        except AsrError as exc:
            logger.warning("audiosocket: recognition failed: %s", exc)
            self.stream = None

    def _finish(self) -> _Event:
        stream, self.stream = self.stream, None
        if stream is None:
            return _Event("end")
        try:
            heard = stream.finish()
        except AsrError as exc:
            logger.warning("audiosocket: recognition failed: %s", exc)
            return _Event("end")
        return _Event("end", heard.text, heard.confidence)


class StreamRecognition:
    """Starts a streaming recogniser for an utterance of the open question.

    ``phrases(grammar, locale)`` gives the question's phrase list (the AGI path's
    :meth:`ivr.transports.agi.speech.SpeechInput.phrases`); the recogniser decodes the caller's
    frames as they arrive (Vosk's ``AcceptWaveform`` per frame), so the answer is ready when the
    turn ends.
    """

    def __init__(self, recognizer: Recognizer,
                 phrases: Callable[[Grammar, str], list[str]]) -> None:
        self.recognizer = recognizer
        self.phrases = phrases

    def start(self, grammar: Grammar, locale: str) -> RecognitionStream:
        return self.recognizer.stream(SAMPLE_RATE, self.phrases(grammar, locale))


class AudioSocketCallIO(BufferedCallIO):
    """:class:`ivr.io.CallIO` over one accepted AudioSocket connection.

    ``recognition`` decodes utterances while they are spoken; without it speech is still
    detected (and stops prompts if ``settings.speech_barge_in``) but an utterance is answered
    as :class:`ivr.io.Timeout`, so the flow re-prompts and the caller uses the keys.
    """

    def __init__(self, sock: socket.socket, info: CallInfo, audio: PromptAudio, *,
                 settings: StreamSettings | None = None,
                 recognition: StreamRecognition | None = None) -> None:
        super().__init__(info)
        self.sock = sock
        self.audio = audio
        self.settings = settings or StreamSettings()
        self.recognition = recognition
        self._question: tuple[Grammar, str] | None = None  # read by the reader thread
        self.variables: dict[str, str] = {}
        self.hung_up_by_ivr = False
        self.frames_sent = 0
        self._events: queue.Queue[_Event] = queue.Queue()
        self._fatal: BaseException | None = None
        self._closed = threading.Event()
        self._in_utterance = False
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"audiosocket-{info.call_uid}")
        self._reader.start()

    # -- the reader thread -------------------------------------------------------------------

    def _read_loop(self) -> None:
        turn = _TurnAudio(TurnDetector(self.settings.vad), self.settings.max_utterance_seconds,
                          self.recognition, lambda: self._question)
        pending = b""
        warned_kinds: set[int] = set()
        self.sock.settimeout(self.settings.watchdog_seconds)
        try:
            while not self._closed.is_set():
                frame = read_frame(self.sock)
                if frame is None or frame[0] == KIND_HANGUP:
                    self._post(_Event("hangup"))
                    return
                kind, payload = frame
                if kind == KIND_DTMF:
                    key = payload[:1].decode("ascii", "replace")
                    if key in DTMF_KEYS:
                        self._post(_Event("dtmf", key))
                elif kind == KIND_AUDIO:
                    pending += payload
                    while len(pending) >= FRAME_BYTES:
                        chunk, pending = pending[:FRAME_BYTES], pending[FRAME_BYTES:]
                        event = turn.feed(chunk)
                        if event is not None:
                            self._post(event)
                elif kind == KIND_ERROR:
                    raise AudioSocketFailure("Asterisk sent an error frame")
                elif kind not in warned_kinds:
                    warned_kinds.add(kind)
                    logger.warning("audiosocket %s: skipping frames of unknown kind 0x%02x",
                                   self.info.call_uid, kind)
        except TimeoutError:
            self._post(_Event("failure", f"no audio for {self.settings.watchdog_seconds} s"))
        except AudioSocketFailure as exc:
            self._post(_Event("failure", str(exc)))
        except OSError as exc:
            if not self._closed.is_set():
                logger.info("audiosocket %s: connection lost: %s", self.info.call_uid, exc)
            self._post(_Event("hangup"))

    def _post(self, event: _Event) -> None:
        self._events.put(_Event(event.kind, event.value, event.confidence, time.monotonic()))

    # -- events in the flow thread -----------------------------------------------------------

    def _next_event(self, timeout: float) -> _Event | None:
        """The caller's next event within ``timeout`` seconds; raises on a dead stream."""
        if self._fatal is not None:
            raise self._fatal
        try:
            event = self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if event.kind == "hangup":
            self._fatal = CallerHangup("the caller hung up (audio socket closed)")
        elif event.kind == "failure":
            logger.warning("audiosocket %s: %s", self.info.call_uid, event.value)
            self._fatal = AudioSocketFailure(event.value)
        if self._fatal is not None:
            raise self._fatal
        if event.kind == "onset":
            self._in_utterance = True
        elif event.kind == "end":
            self._in_utterance = False
        return event

    # -- playback ----------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        try:
            with self._send_lock:
                self.sock.sendall(data)
        except OSError as exc:
            self._fatal = CallerHangup(f"audio socket closed while sending: {exc}")
            raise self._fatal from exc

    def _pcm(self, prompt: Prompt) -> bytes:
        return b"".join(_pcm_of(f"{name}.wav") for name in self.audio.files_for(prompt) if name)

    def _play_pcm(self, pcm: bytes) -> _Event | None:
        """Send ``pcm`` at real time; stop at the first key or confirmed speech (returned)."""
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
            frame = pcm[offset:offset + FRAME_BYTES].ljust(FRAME_BYTES, b"\x00")
            self._send(encode_frame(KIND_AUDIO, frame))
            self.frames_sent += 1
            deadline = start + (index + 1) * FRAME_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                event = self._next_event(left)
                if event is None:
                    break
                if event.kind == "dtmf" or (event.kind == "onset"
                                            and self.settings.speech_barge_in):
                    return event
        return None

    def _stream(self, prompt: Prompt) -> str:
        waiting = self._take_queued_key()
        if waiting:
            return waiting
        if self._in_utterance:
            return ""  # the caller is talking: don't talk over them
        event = self._play_pcm(self._pcm(prompt))
        if event is not None and event.kind == "dtmf":
            logger.debug("audiosocket %s: prompt %s cut by a key", self.info.call_uid, prompt.key)
            return event.value
        return ""

    def _take_queued_key(self) -> str:
        """A key pressed while nothing was asked (type-ahead), without waiting."""
        while True:
            event = self._next_event(0)
            if event is None:
                return ""
            if event.kind == "dtmf":
                return event.value

    # -- collecting answers ------------------------------------------------------------------

    def _get_data(self, prompt: Prompt | None, max_digits: int, timeout: float,
                  terminator: str, grammar: Grammar | None) -> CallerInput:
        if max_digits < 1:
            raise ValueError("max_digits must be at least 1")
        locale = prompt.locale if prompt is not None else "ru"
        self._question = (grammar, locale) if grammar is not None else None
        try:
            return self._answer(prompt, max_digits, timeout, terminator, grammar is not None)
        finally:
            self._question = None

    def _answer(self, prompt: Prompt | None, max_digits: int, timeout: float,
                terminator: str, spoken: bool) -> CallerInput:
        digits = self._stream(prompt) if prompt is not None else ""
        deadline = time.monotonic() + timeout
        while True:
            if digits and (len(digits) >= max_digits or (terminator and terminator in digits)):
                return Digits(digits.split(terminator, 1)[0] if terminator else digits)
            if self._in_utterance:
                deadline = max(deadline, time.monotonic() + self.settings.max_utterance_seconds)
            event = self._next_event(deadline - time.monotonic())
            if event is None:
                return Digits(digits) if digits else Timeout()
            if event.kind == "dtmf":
                digits += event.value
                deadline = time.monotonic() + timeout
            elif event.kind == "end" and not digits:
                if spoken and event.value:
                    return Speech(event.value, event.confidence)
                return Timeout()

    # -- call control ------------------------------------------------------------------------

    def set_variable(self, name: str, value: str) -> None:
        """Kept and applied over AGI once the audio socket is closed."""
        self.variables[name] = value

    def hangup(self) -> None:
        """The IVR ends the call: the audio socket closes and AGI hangs the channel up."""
        self.hung_up_by_ivr = True
        self.close()

    def close(self) -> None:
        """Send the hangup frame, close the socket and wait for the reader thread."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError), self._send_lock:
            self.sock.sendall(encode_frame(KIND_HANGUP))
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._reader.join(timeout=2.0)
        if self._reader.is_alive():
            logger.warning("audiosocket %s: reader thread did not stop", self.info.call_uid)
        if self._fatal is None:
            self._fatal = CallerHangup("the IVR closed the audio socket")


class AudioSocketListener:
    """Accepts Asterisk's AudioSocket connections and hands each to the AGI session that asked
    for it, matched by the uuid in the first frame.  Unknown uuids are closed at once."""

    def __init__(self, host: str, port: int, *, first_frame_timeout: float = 2.0) -> None:
        self._server = socket.create_server((host, port), reuse_port=False)
        self._server.settimeout(0.2)
        self.first_frame_timeout = first_frame_timeout
        self._waiting: dict[str, queue.Queue[socket.socket]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name="audiosocket-listener")

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return host, port

    def start(self) -> AudioSocketListener:
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._server.close()

    def expect(self) -> str:
        """A fresh uuid to pass to ``AudioSocket()``; :meth:`wait` then returns its socket."""
        call_uuid = str(uuid.uuid4())
        with self._lock:
            self._waiting[call_uuid] = queue.Queue(maxsize=1)
        return call_uuid

    def wait(self, call_uuid: str, timeout: float) -> socket.socket | None:
        """The connection that announced ``call_uuid``, or ``None`` after ``timeout``."""
        with self._lock:
            slot = self._waiting.get(call_uuid)
        if slot is None:
            return None
        try:
            return slot.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            with self._lock:
                self._waiting.pop(call_uuid, None)
            # A connection that arrived just after the timeout is not left open.
            with contextlib.suppress(queue.Empty):
                slot.get_nowait().close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._greet, args=(conn,), daemon=True,
                             name="audiosocket-greet").start()

    def _greet(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(self.first_frame_timeout)
            frame = read_frame(conn)
        except (OSError, AudioSocketFailure):
            frame = None
        if frame is None or frame[0] != KIND_UUID or len(frame[1]) != 16:
            logger.warning("audiosocket: a connection without a uuid frame; closed")
            conn.close()
            return
        call_uuid = str(uuid.UUID(bytes=frame[1]))
        with self._lock:
            slot = self._waiting.get(call_uuid)
            if slot is not None and slot.empty():
                conn.settimeout(None)
                slot.put_nowait(conn)
                return
        logger.warning("audiosocket: a connection for a call nobody expects; closed")
        conn.close()
