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
stops the prompt within one frame; a speech onset (:mod:`speech.vad`) pauses it, and it carries
on if the sound was a short one (a cough, "угу") or stops if it was speech.  A reader thread per
connection reads the caller's frames, runs the voice activity detector on them (microseconds per
frame, never on an event loop) and queues events for the flow thread; the recogniser works in a
thread of its own (:mod:`ivr.transports.audiosocket.recognition`).  Keys pressed while no
question is open are kept for the next one.  Channel variables a flow sets are kept and applied
over AGI when the audio socket has closed (:mod:`ivr.transports.audiosocket.stream_call`).

Faults: end of stream, a hangup frame or the end of the AGI control connection ->
:class:`ivr.io.CallerHangup`; an error frame or a payload longer than
:data:`~ivr.transports.audiosocket.frames.MAX_PAYLOAD` -> :class:`AudioSocketFailure` (a
:class:`ivr.io.TransportFailure`: the flow escalates); no frame for ``watchdog_seconds`` ->
:class:`AudioSocketStalled`, and the question is asked again over the keypad path when there is
one (:mod:`ivr.transports.audiosocket.stream_call`).  Frames of an unknown kind and audio frames
of an odd length are skipped with one warning per call.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import selectors
import socket
import threading
import time
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
    CallIO,
    Digits,
    Grammar,
    Prompt,
    Speech,
    Timeout,
)
from ivr.transports.audiosocket.frames import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_ERROR,
    KIND_HANGUP,
    AudioSocketFailure,
    AudioSocketStalled,
    encode_frame,
    read_frame,
)

# The listener and the recogniser's hand-over live in their own modules; importing them from
# here keeps working (the redundant aliases mark the re-export).
from ivr.transports.audiosocket.listener import AudioSocketListener as AudioSocketListener
from ivr.transports.audiosocket.recognition import Decoder
from ivr.transports.audiosocket.recognition import StreamRecognition as StreamRecognition
from speech.vad import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, TurnDetector, VadEvent, VadSettings

logger = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_MS / 1000
#: Audio kept from before the confirmed onset, so the first syllable reaches the recogniser.
PREROLL_FRAMES = 15




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
    max_utterance_seconds: float = 10.0  # a longer utterance ends the turn (bounded memory)
    speech_barge_in: bool = True  # confirmed speech stops a prompt (keys always do)
    #: Audio waiting for the decoder thread at most; beyond it the utterance is dropped.
    max_queued_audio_seconds: float = 2.0


@dataclass(frozen=True)
class _Event:
    kind: str  # "dtmf" | "onset" | "short" | "confirmed" | "end" | "hangup" | "failure" | "stalled"
    value: str = ""  # the key, the failure, or the recognised words of an utterance
    confidence: float = 0.0
    at: float = 0.0


#: Events waiting for the flow thread at most (keys a flooding peer sends beyond it are
#: dropped); the end of the stream is always delivered.
MAX_EVENTS = 256
_TERMINAL = frozenset({"hangup", "failure", "stalled"})

QuestionOf = Callable[[], "tuple[Grammar, str] | None"]


class _TurnAudio:
    """The voice activity detector of one connection, in its reader thread.

    At the onset the utterance's frames (the pre-roll first) go to the connection's
    :class:`~ivr.transports.audiosocket.recognition.Decoder`, which posts the words when the
    utterance ends; without a recogniser the end is posted here, without words.
    """

    def __init__(self, detector: TurnDetector, max_seconds: float,
                 decoder: Decoder | None, question: QuestionOf,
                 playing: Callable[[], bool] = lambda: False) -> None:
        self.detector = detector
        self.decoder = decoder
        self.question = question
        self.playing = playing
        self.preroll: deque[bytes] = deque(maxlen=PREROLL_FRAMES)
        self.number = 0
        self.frames = 0
        self.complete = True
        self.max_frames = int(max_seconds * 1000 / FRAME_MS)

    def feed(self, chunk: bytes) -> _Event | None:
        """One 20 ms frame; an ``onset`` or ``end`` event or ``None``."""
        was_speaking = self.detector.speaking
        event = self.detector.feed(chunk)
        if not was_speaking:
            if event is VadEvent.ONSET:
                self._start(b"".join(self.preroll) + chunk)
                self.preroll.clear()
                return _Event("onset")
            self.preroll.append(chunk)
            return None
        self.frames += 1
        self._queue(chunk)
        if event is VadEvent.END or self.frames >= self.max_frames:
            self.detector.reset()
            if self.decoder is None:
                return _Event("end")
            self.decoder.end(self.number, self.complete)
            return None
        if event is VadEvent.SHORT and self.decoder is not None and self.playing():
            # Over a prompt a short sound is judged by its words at once ("да" answers, "угу"
            # does not): its utterance ends here and the prompt stays paused for the verdict.
            self.detector.reset()
            self.decoder.end(self.number, self.complete)
            return _Event("short", "decoding")
        # ONSET again after a short sound, SHORT, CONFIRMED: the same utterance goes on
        return None if event is None else _Event(event.value)

    def _start(self, audio: bytes) -> None:
        self.number += 1
        self.frames = 0
        self.complete = True
        if self.decoder is not None:
            self.decoder.begin(self.number, self.question())
            self._queue(audio)

    def _queue(self, pcm: bytes) -> None:
        if self.decoder is None or not self.complete:
            return
        if not self.decoder.audio(self.number, pcm):
            self.complete = False


#: Asks for the keypad path after the audio stalled: the AGI side as a :class:`ivr.io.CallIO`
#: when the control channel is still alive, else ``None``.
KeypadFallback = Callable[["AudioSocketCallIO"], "CallIO | None"]


class AudioSocketCallIO(BufferedCallIO):
    """:class:`ivr.io.CallIO` over one accepted AudioSocket connection.

    ``recognition`` decodes utterances while they are spoken; without it speech is still
    detected (and stops prompts if ``settings.speech_barge_in``) but an utterance is answered
    as :class:`ivr.io.Timeout`, so the flow re-prompts and the caller uses the keys.

    ``control`` is the AGI session's socket: the reader watches it too, and the end of the
    control channel ends the audio side at once (the call is gone).  ``fallback`` is asked for
    the keypad path when the audio stalls (no frame for ``settings.watchdog_seconds``): the
    question being asked is then asked again over it, and the rest of the call runs there.
    """

    def __init__(self, sock: socket.socket, info: CallInfo, audio: PromptAudio, *,
                 settings: StreamSettings | None = None,
                 recognition: StreamRecognition | None = None,
                 control: socket.socket | None = None,
                 fallback: KeypadFallback | None = None) -> None:
        super().__init__(info)
        self.sock = sock
        self.audio = audio
        self.settings = settings or StreamSettings()
        self.recognition = recognition
        self.control = control
        self.fallback = fallback
        self.keypad: CallIO | None = None  # the AGI side, once the audio stalled
        self._question: tuple[Grammar, str] | None = None  # read by the reader thread
        self.variables: dict[str, str] = {}
        self.hung_up_by_ivr = False
        self.frames_sent = 0
        self._events: queue.Queue[_Event] = queue.Queue(MAX_EVENTS)
        self._dropped_events = 0
        self._fatal: BaseException | None = None
        self._closed = threading.Event()
        self._in_utterance = False
        self._short_sound = False  # the utterance in progress was judged a short sound
        self._early_end: _Event | None = None  # words heard while a prompt played
        self._playing = False  # a prompt is being sent (read by the reader thread)
        self._send_lock = threading.Lock()
        self._decoder = None if recognition is None else Decoder(
            recognition, self._post_end, name=f"audiosocket-asr-{info.call_uid}",
            max_bytes=int(self.settings.max_queued_audio_seconds * SAMPLE_RATE * 2))
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"audiosocket-{info.call_uid}")
        self._reader.start()

    # -- the reader thread -------------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            self._read_frames()
        except TimeoutError:
            self._post(_Event("stalled", f"no audio for {self.settings.watchdog_seconds} s"))
        except AudioSocketFailure as exc:
            self._post(_Event("failure", str(exc)))
        except OSError as exc:
            if not self._closed.is_set():
                logger.info("audiosocket %s: connection lost: %s", self.info.call_uid, exc)
            self._post(_Event("hangup"))

    def _read_frames(self) -> None:
        turn = _TurnAudio(TurnDetector(self.settings.vad), self.settings.max_utterance_seconds,
                          self._decoder, lambda: self._question, lambda: self._playing)
        self.sock.settimeout(self.settings.watchdog_seconds)
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ, "audio")
            if self.control is not None:
                selector.register(self.control, selectors.EVENT_READ, "control")
            while not self._closed.is_set():
                ready = {key.data for key, _ in selector.select(self.settings.watchdog_seconds)}
                if not ready:
                    raise TimeoutError
                if "control" in ready:
                    # The control channel spoke or closed while the stream is open: Asterisk
                    # ended the call (a HANGUP line, or the AGI connection died).  The data
                    # stays unread for the AGI session.
                    logger.info("audiosocket %s: the AGI side ended the call", self.info.call_uid)
                    self._post(_Event("hangup"))
                    return
                if not self._read_one(turn):
                    return

    def _read_one(self, turn: _TurnAudio) -> bool:
        """Read and handle one frame; False at the end of the stream."""
        frame = read_frame(self.sock)
        if frame is None or frame[0] == KIND_HANGUP:
            self._post(_Event("hangup"))
            return False
        kind, payload = frame
        if kind == KIND_DTMF:
            key = payload[:1].decode("ascii", "replace")
            if key in DTMF_KEYS:
                self._post(_Event("dtmf", key))
        elif kind == KIND_AUDIO:
            self._hear(turn, payload)
        elif kind == KIND_ERROR:
            raise AudioSocketFailure("Asterisk sent an error frame")
        else:
            self._warn_once(f"kind 0x{kind:02x}", "skipping frames of unknown kind 0x%02x", kind)
        return True

    def _hear(self, turn: _TurnAudio, payload: bytes) -> None:
        if len(payload) % 2:
            # Half a sample would shift every later sample by a byte: noise for the VAD.
            self._warn_once("odd", "skipping an audio frame of %d bytes (odd)", len(payload))
            return
        for offset in range(0, len(payload) - FRAME_BYTES + 1, FRAME_BYTES):
            event = turn.feed(payload[offset:offset + FRAME_BYTES])
            if event is not None:
                self._post(event)
        # Asterisk sends whole 20 ms frames; a shorter tail is padding, not worth carrying.

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        warned = self.__dict__.setdefault("_warned", set())
        if what not in warned:
            warned.add(what)
            logger.warning("audiosocket %s: " + message, self.info.call_uid, *args)

    def _post_end(self, text: str, confidence: float) -> None:
        """The decoder's end of an utterance (its own thread)."""
        self._post(_Event("end", text, confidence))

    def _post(self, event: _Event) -> None:
        stamped = _Event(event.kind, event.value, event.confidence, time.monotonic())
        if event.kind in _TERMINAL:
            with self._events.mutex:  # the end of the stream is never dropped
                self._events.queue.append(stamped)
                self._events.not_empty.notify()
            return
        try:
            self._events.put_nowait(stamped)
        except queue.Full:
            self._dropped_events += 1
            if self._dropped_events == 1:
                logger.warning("audiosocket %s: the flow is not reading; events dropped",
                               self.info.call_uid)

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
        elif event.kind == "stalled":
            logger.warning("audiosocket %s: %s", self.info.call_uid, event.value)
            self._fatal = AudioSocketStalled(event.value)
        elif event.kind == "failure":
            logger.warning("audiosocket %s: %s", self.info.call_uid, event.value)
            self._fatal = AudioSocketFailure(event.value)
        if self._fatal is not None:
            raise self._fatal
        if event.kind in ("onset", "confirmed"):
            self._in_utterance = True
            self._short_sound = False
        elif event.kind in ("short", "end"):
            self._in_utterance = False
            self._short_sound = event.kind == "short" or (event.kind == "end"
                                                          and self._short_sound)
        return event

    # -- the keypad path ---------------------------------------------------------------------

    def play(self, prompt: Prompt) -> str:
        """Play ``prompt``; over the keypad path if the audio stalled (see the class doc)."""
        if self.keypad is not None:
            return self.keypad.play(prompt)
        try:
            return super().play(prompt)
        except AudioSocketStalled:
            return self._keypad_after_stall(self._pending).play(prompt)

    def collect(self, prompt: Prompt, *, max_digits: int, timeout: float = 5.0,
                terminator: str = "#", grammar: Grammar | None = None) -> CallerInput:
        """Collect an answer; after a stall the same question is asked again over the keypad
        path (keys only: the speech went with the audio stream)."""
        if self.keypad is None:
            earlier_keys = self._pending  # keys of this question the caller will press again
            try:
                return super().collect(prompt, max_digits=max_digits, timeout=timeout,
                                       terminator=terminator, grammar=grammar)
            except AudioSocketStalled:
                self._keypad_after_stall(earlier_keys)
        assert self.keypad is not None
        return self.keypad.collect(prompt, max_digits=max_digits, timeout=timeout,
                                   terminator=terminator)

    def _keypad_after_stall(self, type_ahead: str) -> CallIO:
        """Switch to the keypad path (``type_ahead``: keys pressed and not used yet, which
        :meth:`take_type_ahead` hands over), or re-raise the stall."""
        stall = self._fatal
        assert isinstance(stall, AudioSocketStalled)
        self._pending = type_ahead
        keypad = self.fallback(self) if self.fallback is not None else None
        if keypad is None:
            self.fallback = None  # asked once: the channel is gone
            raise stall
        logger.info("audiosocket %s: audio stalled; the call goes on over the keypad",
                    self.info.call_uid)
        self.keypad = keypad
        return keypad

    def take_type_ahead(self) -> str:
        """The keys pressed on this stream and not used yet (for the keypad path)."""
        keys, self._pending = self._pending, ""
        return keys

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
        """Send ``pcm`` at real time, one frame per 20 ms, and react to the caller between
        frames: a key stops it (returned); with speech barge-in an onset pauses it, a short
        sound (:attr:`speech.vad.VadEvent.SHORT`) resumes it where it paused, confirmed speech
        stops it (returned), and so does the end of an utterance in which words were heard
        (kept as the answer for :meth:`_answer`).  With a recogniser, a short sound keeps the
        prompt paused until its words are known (a few milliseconds of decoding): "да" answers,
        a cough or "угу" (no words) lets the prompt carry on."""
        self._playing = True
        try:
            return self._pace(pcm)
        finally:
            self._playing = False

    def _pace(self, pcm: bytes) -> _Event | None:
        frames = [pcm[o:o + FRAME_BYTES].ljust(FRAME_BYTES, b"\x00")
                  for o in range(0, len(pcm), FRAME_BYTES)]
        index = 0
        paused = False
        due = time.monotonic()
        while index < len(frames) or paused:
            if not paused:
                self._send(encode_frame(KIND_AUDIO, frames[index]))
                self.frames_sent += 1
                index += 1
                due += FRAME_SECONDS
            event = self._next_event(due - time.monotonic() if not paused else FRAME_SECONDS)
            while event is not None:
                if event.kind == "dtmf":
                    return event
                if self.settings.speech_barge_in:
                    verdict = self._barge_in(event, paused)
                    if verdict == "stop":
                        return event
                    if verdict in ("pause", "resume") and paused != (verdict == "pause"):
                        logger.debug("audiosocket %s: prompt %s at frame %d", self.info.call_uid,
                                     "paused" if verdict == "pause" else "resumed", index)
                    if verdict == "resume":
                        due = time.monotonic()  # the rest follows at once, then in pace
                    paused = verdict == "pause" or (paused and verdict == "")
                left = due - time.monotonic()
                event = self._next_event(left) if not paused and left > 0 else None
        return None

    def _barge_in(self, event: _Event, paused: bool) -> str:
        """What the caller's voice does to a playing prompt: "pause", "resume", "stop" or ""."""
        if event.kind == "onset":
            return "pause"
        if event.kind == "short":
            if event.value == "decoding":
                return ""  # stay paused: the end of this utterance, with or without words, follows
            return "resume" if paused else ""
        if event.kind == "confirmed":
            return "stop" if paused else ""
        if event.kind == "end":
            if event.value:
                self._early_end = event  # words were heard: they answer the question
                return "stop"
            return "resume" if paused else ""
        return ""

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
        early, self._early_end = self._early_end, None
        if early is not None and not digits and spoken:
            return Speech(early.value, early.confidence)
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
                if not self._short_sound:
                    return Timeout()
                # a cough or an "угу" without words: not an answer, keep waiting

    # -- call control ------------------------------------------------------------------------

    def set_variable(self, name: str, value: str) -> None:
        """Kept and applied over AGI once the audio socket is closed (at once on the keypad
        path)."""
        if self.keypad is not None:
            self.keypad.set_variable(name, value)
        else:
            self.variables[name] = value

    def hangup(self) -> None:
        """The IVR ends the call: the audio socket closes and AGI hangs the channel up."""
        if self.keypad is not None:
            self.keypad.hangup()
            return
        self.hung_up_by_ivr = True
        self.close()

    def close(self) -> None:
        """Send the hangup frame, close the socket, stop the reader and decoder threads."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError), self._send_lock:
            self.sock.sendall(encode_frame(KIND_HANGUP))
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._reader.join(timeout=2.0)
        self.sock.close()  # after the reader: it may still be in select() on this socket
        if self._reader.is_alive():
            logger.warning("audiosocket %s: reader thread did not stop", self.info.call_uid)
        if self._decoder is not None:
            self._decoder.stop()
        if self._fatal is None:
            self._fatal = CallerHangup("the IVR closed the audio socket")
