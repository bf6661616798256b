"""Asterisk's side of an AudioSocket stream, playing the caller (tests and the terminal phone).

:class:`AudioSocketPeer` is the ``audiosocket`` callable of
:class:`ivr.transports.terminal.AsteriskCall`:
when the IVR runs ``EXEC AudioSocket <uuid>,<host:port>`` it connects there, sends the uuid frame
and, like ``app_audiosocket.c``, sends a 20 ms frame of caller audio every 20 ms (silence unless
the caller speaks) while recording every frame it hears with a monotonic timestamp.  A scenario
function drives the caller: ``press``, ``say`` (16-bit 8 kHz PCM at real time), ``stop_sending``,
``hang_up``, ``send_raw``, and waits on what is heard (``wait_heard``, ``wait_quiet``).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ivr.transports.audiosocket.frames import AudioSocketFailure, encode_frame, read_frame

FRAME_BYTES = 320
FRAME_SECONDS = 0.02
SILENCE = b"\x00" * FRAME_BYTES


@dataclass
class Heard:
    at: float
    pcm: bytes

    @property
    def level(self) -> int:
        """The first sample (the tone engines of the tests render one constant value)."""
        return struct.unpack_from("<h", self.pcm)[0] if len(self.pcm) >= 2 else 0


@dataclass
class PeerSession:
    """One AudioSocket connection as the caller's phone sees it."""

    sock: socket.socket
    heard: list[Heard] = field(default_factory=list)
    sent_keys: list[tuple[float, str]] = field(default_factory=list)
    said: list[float] = field(default_factory=list)  # when each utterance started
    hangup_frame: bool = False  # the IVR sent kind 0x00
    closed: threading.Event = field(default_factory=threading.Event)
    sending: bool = True
    hung_up: bool = False  # the caller hung up
    _speech: bytearray = field(default_factory=bytearray)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def send_raw(self, data: bytes) -> None:
        with self._lock, contextlib.suppress(OSError):
            self.sock.sendall(data)

    def send_frame(self, kind: int, payload: bytes = b"") -> None:
        self.send_raw(encode_frame(kind, payload))

    def press(self, keys: str) -> None:
        """Keys as DTMF frames (kind 0x03, one ASCII byte), 100 ms apart."""
        for key in keys:
            self.sent_keys.append((time.monotonic(), key))
            self.send_frame(0x03, key.encode())
            time.sleep(0.1)

    def say(self, pcm: bytes, *, wait: bool = True) -> None:
        """Speak ``pcm`` (8 kHz 16-bit mono) at real time instead of silence."""
        with self._lock:
            self._speech += pcm
        if wait:
            deadline = time.monotonic() + len(pcm) / 16000 + 2.0
            while self._speech and time.monotonic() < deadline and not self.closed.is_set():
                time.sleep(0.02)

    def speech_left(self) -> int:
        """Bytes of the current utterance not sent yet (0: the caller finished talking)."""
        with self._lock:
            return len(self._speech)

    def stop_sending(self) -> None:
        """The phone goes quiet: no frames at all (a broken media path)."""
        self.sending = False

    def hang_up(self, *, frame: bool = True) -> None:
        """The caller hangs up: a hangup frame (or none) and the socket closes."""
        if frame:
            self.send_frame(0x00)
        self.hung_up = True
        self.sending = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def mark(self) -> int:
        """How many frames were heard so far (to wait for what comes next)."""
        with self._cond:
            return len(self.heard)

    def wait_heard(self, frames: int, *, since: int = 0, timeout: float = 20.0) -> bool:
        """Wait until ``frames`` more frames arrived after ``since``."""
        with self._cond:
            return self._cond.wait_for(
                lambda: len(self.heard) - since >= frames or self.closed.is_set(), timeout)

    def wait_quiet(self, gap: float = 0.3, *, since: int = 0, timeout: float = 30.0) -> bool:
        """Wait until the IVR spoke after ``since`` and then sent nothing for ``gap`` seconds
        (a question is waiting for the caller).  False if it hung up or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed.is_set():
            with self._cond:
                last = self.heard[-1].at if len(self.heard) > since else None
            if last is not None and time.monotonic() - last >= gap:
                return True
            time.sleep(0.02)
        return False

    # -- threads -----------------------------------------------------------------------------

    def receive(self) -> None:
        try:
            while True:
                frame = read_frame(self.sock)
                if frame is None:
                    return
                kind, payload = frame
                if kind == 0x00:
                    self.hangup_frame = True
                    return
                if kind == 0x10:
                    with self._cond:
                        self.heard.append(Heard(time.monotonic(), payload))
                        self._cond.notify_all()
        except (OSError, AudioSocketFailure):
            return
        finally:
            self.closed.set()
            with self._cond:
                self._cond.notify_all()

    def transmit(self) -> None:
        start = time.monotonic()
        index = 0
        speaking_since: float | None = None
        while not self.closed.is_set():
            if self.sending:
                with self._lock:
                    chunk = bytes(self._speech[:FRAME_BYTES])
                    del self._speech[:FRAME_BYTES]
                now = time.monotonic()
                if chunk and speaking_since is None:
                    speaking_since = now
                    self.said.append(now)
                if not chunk:
                    speaking_since = None
                frame = chunk.ljust(FRAME_BYTES, b"\x00") if chunk else SILENCE
                self.send_frame(0x10, frame)
            index += 1
            time.sleep(max(0.0, start + index * FRAME_SECONDS - time.monotonic()))


Scenario = Callable[[PeerSession], None]


class AudioSocketPeer:
    """``AsteriskCall(audiosocket=AudioSocketPeer(scenario))``; ``session`` after the call."""

    def __init__(self, scenario: Scenario, *, send_uuid: bool = True,
                 connect: bool = True, result_without_connecting: int = -1,
                 channel_gone: bool = False) -> None:
        self.scenario = scenario
        self.send_uuid = send_uuid
        self.connect = connect
        self.result_without_connecting = result_without_connecting
        self.channel_gone = channel_gone  # AudioSocket returns -1 however the stream ended
        self.session: PeerSession | None = None
        self.error: BaseException | None = None
        self.caller_hung_up = False

    def __call__(self, call_uuid: str, server: str) -> tuple[int, bool]:
        if not self.connect:
            return self.result_without_connecting, False
        host, _, port = server.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=2.0)
        sock.settimeout(None)
        session = self.session = PeerSession(sock)
        if self.send_uuid:
            session.send_frame(0x01, uuid.UUID(call_uuid).bytes)
        threads = [threading.Thread(target=session.receive, daemon=True),
                   threading.Thread(target=session.transmit, daemon=True)]
        for thread in threads:
            thread.start()
        try:
            self.scenario(session)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            session.hang_up()
        self.caller_hung_up = session.hung_up
        session.closed.wait(30.0)
        session.closed.set()
        for thread in threads:
            thread.join(2.0)
        sock.close()
        if self.caller_hung_up:
            return -1, True
        return (0, False) if session.hangup_frame and not self.channel_gone else (-1, False)
