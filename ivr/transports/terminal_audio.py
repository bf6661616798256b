"""The terminal phone's audio leg: Asterisk's side of an AudioSocket stream, for a person.

``registratura call --audio-socket`` runs :class:`ivr.transports.terminal.AsteriskCall` for the
FastAGI control channel with an :class:`AudioSocketPhone` as its ``audiosocket`` callable: when the
IVR runs ``EXEC AudioSocket <uuid>,<host:port>`` the phone connects there, announces the uuid
(kind ``0x01``) and then, like ``app_audiosocket.c``, sends a 20 ms frame of caller audio every
20 ms -- silence, or a WAV the person "says" -- while it reads the IVR's frames.

The protocol stays real: the IVR sends audio only, never the prompt's text.  The phone finds
the words again with a :class:`PromptIndex` over the prompt cache's directory (every WAV there
has a ``.txt`` sidecar with its text): the first loud samples of each file are a key, and the
audio heard is matched against the files, so a prompt cut short by a key or by speech is shown
cut (``…``).  Audio it cannot match is shown as its length.

What the person types, one line at a time: digits, ``*``, ``#`` (sent as DTMF frames, kind
``0x03``), ``say FILE.wav`` (the WAV is sent as the caller's voice at real time; any rate,
mono or stereo, 8/16-bit), ``say words`` (espeak-ng speaks the words as the caller), an empty
line (nothing) and ``q`` (hang up).  Typed lines go out at once, so typing while the IVR speaks
cuts the prompt.  A scripted run (``--keys``) instead waits before each answer until the IVR has
spoken and gone quiet, as a caller waits for the question.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
import warnings
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # removed in Python 3.13: the audioop-lts dependency provides it there

from ivr.transports.audiosocket.frames import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketFailure,
    encode_frame,
    read_frame,
)

logger = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
FRAME_SECONDS = 0.02
SILENCE = b"\x00" * FRAME_BYTES
KEYS = "0123456789*#ABCD"
KEY_GAP = 0.1  # between two DTMF frames, as a person presses keys
#: |sample| above this starts a prompt's audio (a file's quiet lead-in is skipped).
LOUD = 200
#: Samples after the first loud one that identify a file.
KEY_SAMPLES = 16
_KEY_BYTES = KEY_SAMPLES * 2


@dataclass(frozen=True)
class _Sound:
    text: str
    pcm: bytes
    loud_at: int  # byte offset of the first loud sample


@dataclass
class HeardPart:
    """A prompt file recognised in the audio the IVR sent."""

    text: str
    complete: bool = False  # the whole file arrived (False: the IVR stopped it early)


def _first_loud(pcm: bytes) -> int | None:
    samples = memoryview(pcm).cast("h")
    for i, value in enumerate(samples):
        if value > LOUD or value < -LOUD:
            return i * 2
    return None


class PromptIndex:
    """The prompt cache's files by the first loud samples of their audio.

    ``refresh()`` reads files added since the last call (the IVR renders dynamic prompts --
    a slot, a read-back -- on demand, just before it plays them); it lists only directories
    whose modification time changed, so calling it on every miss is cheap.
    """

    def __init__(self, sounds_dir: Path) -> None:
        self.root = Path(sounds_dir)
        self._seen: set[str] = set()
        self._dirs: dict[str, int] = {}  # directory -> mtime when it was listed
        self._by_key: dict[bytes, list[_Sound]] = {}

    def refresh(self) -> int:
        """Index new WAVs with a text sidecar; returns how many were added."""
        added = 0
        pending = [str(self.root)]
        while pending:
            folder = pending.pop()
            try:
                mtime = os.stat(folder).st_mtime_ns
            except OSError:
                continue
            changed = self._dirs.get(folder) != mtime
            self._dirs[folder] = mtime
            try:
                entries = list(os.scandir(folder)) if changed else []
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir():
                    continue
                if entry.name.endswith(".wav") and entry.path not in self._seen:
                    self._seen.add(entry.path)
                    added += self._add(Path(entry.path))
            pending += [d for d in self._dirs_below(folder, entries, changed)]
        return added

    def _dirs_below(self, folder: str, entries: list[os.DirEntry[str]],
                    changed: bool) -> list[str]:
        if changed:
            return [e.path for e in entries if e.is_dir() and not e.name.startswith(".")]
        prefix = folder.rstrip(os.sep) + os.sep
        return [d for d in self._dirs if d.startswith(prefix)
                and os.sep not in d[len(prefix):]]

    def _add(self, wav: Path) -> int:
        sound = self._load(wav)
        if sound is None:
            return 0
        key = sound.pcm[sound.loud_at:sound.loud_at + _KEY_BYTES]
        self._by_key.setdefault(key, []).append(sound)
        return 1

    @staticmethod
    def _load(wav: Path) -> _Sound | None:
        try:
            text = wav.with_suffix(".txt").read_text(encoding="utf-8").strip()
            with wave.open(str(wav), "rb") as w:
                if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
                    return None
                pcm = w.readframes(w.getnframes())
        except (OSError, EOFError, wave.Error):
            return None
        loud = _first_loud(pcm)
        if loud is None or loud + _KEY_BYTES > len(pcm):
            return None  # silence: nothing to show
        return _Sound(text, pcm, loud)

    def candidates(self, key: bytes) -> list[_Sound]:
        return self._by_key.get(key, [])


class HeardStream:
    """Matches one stretch of audio the IVR sent (frames without a pause) to prompt files.

    Feed the frames as they come; :meth:`feed` returns the parts recognised so far, so a
    terminal can print the words while the IVR is still saying them.  A part is
    ``complete`` once all of its audio arrived; after :meth:`close` a part that is still
    not complete was cut short.
    """

    def __init__(self, index: PromptIndex) -> None:
        self.index = index
        self.buf = bytearray()
        self.pos = 0  # byte offset where the next file may start
        self.unmatched = 0  # bytes of loud audio no file explains
        self.parts: list[HeardPart] = []
        self._missed_at = -1
        # The IVR renders a dynamic prompt just before it plays it.
        self.index.refresh()

    @property
    def cut(self) -> bool:
        """The last part stopped before its end (meaningful after :meth:`close`)."""
        return bool(self.parts) and not self.parts[-1].complete

    def feed(self, pcm: bytes) -> list[HeardPart]:
        self.buf += pcm
        return self._scan(final=False)

    def close(self) -> list[HeardPart]:
        """The stretch ended: parts still undecided are decided."""
        return self._scan(final=True)

    def _scan(self, *, final: bool) -> list[HeardPart]:
        found: list[HeardPart] = []
        if self.parts and self.pos <= len(self.buf):
            self.parts[-1].complete = True
        while self.pos + _KEY_BYTES <= len(self.buf):
            sample = struct.unpack_from("<h", self.buf, self.pos)[0]
            if -LOUD <= sample <= LOUD:
                self.pos += 2
                continue
            match = self._match(final)
            if match is None:
                break  # wait for more audio to tell candidates apart
            if match is False:
                self.unmatched += 2
                self.pos += 2
                continue
            sound, start = match
            self.pos = start + len(sound.pcm)
            part = HeardPart(sound.text, self.pos <= len(self.buf))
            self.parts.append(part)
            found.append(part)
        return found

    def _match(self, final: bool) -> tuple[_Sound, int] | bool | None:
        """(file, its start), ``None`` = undecided yet, ``False`` = no file fits here."""
        key = bytes(self.buf[self.pos:self.pos + _KEY_BYTES])
        found = self.index.candidates(key)
        if not found and self._missed_at != self.pos - 2 and self.index.refresh():
            found = self.index.candidates(key)
        if not found:
            self._missed_at = self.pos
            return False
        fitting = []
        for sound in found:
            have = min(len(self.buf) - self.pos, len(sound.pcm) - sound.loud_at)
            if self.buf[self.pos:self.pos + have] == sound.pcm[sound.loud_at:sound.loud_at + have]:
                fitting.append((sound, have == len(sound.pcm) - sound.loud_at))
        if not fitting:
            self._missed_at = self.pos
            return False
        if len(fitting) == 1 or final or all(whole for _, whole in fitting):
            sound = max(fitting, key=lambda f: len(f[0].pcm))[0]
            return sound, self.pos - sound.loud_at
        return None


def read_caller_wav(path: Path) -> bytes:
    """A WAV as 8 kHz 16-bit mono samples (converted from other rates, widths, stereo)."""
    with wave.open(str(path), "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        data = w.readframes(w.getnframes())
    if width != 2:
        if width == 1:
            data = audioop.bias(data, 1, -128)  # WAV 8-bit is unsigned
        data = audioop.lin2lin(data, width, 2)
    if channels == 2:
        data = audioop.tomono(data, 2, 0.5, 0.5)
    elif channels != 1:
        raise ValueError(f"{path.name}: {channels} channels (mono or stereo only)")
    if rate != SAMPLE_RATE:
        data, _ = audioop.ratecv(data, 2, 1, rate, SAMPLE_RATE, None)
    return data


def _spoken_words(text: str, locale: str) -> bytes:
    """``text`` spoken by espeak-ng at 8 kHz (the caller's stand-in voice)."""
    from speech.tts import EspeakNgCliEngine, render_to_asterisk_wav

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        render_to_asterisk_wav(EspeakNgCliEngine(variant=""), text, locale, wav)
        return read_caller_wav(wav)


class _Connection:
    """One AudioSocket connection: a sender paced at 20 ms and a receiver."""

    def __init__(self, sock: socket.socket, on_audio: Callable[[bytes], None]) -> None:
        self.sock = sock
        self.on_audio = on_audio
        self.closed = threading.Event()
        self.ivr_hung_up = False
        self.last_heard = 0.0
        self.frames_heard = 0
        self._speech = bytearray()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._receive, daemon=True,
                                          name="audio-phone-rx"),
                         threading.Thread(target=self._transmit, daemon=True,
                                          name="audio-phone-tx")]

    def start(self, call_uuid: str) -> None:
        self.send(KIND_UUID, uuid.UUID(call_uuid).bytes)
        for thread in self._threads:
            thread.start()

    def send(self, kind: int, payload: bytes = b"") -> None:
        with self._lock, contextlib.suppress(OSError):
            self.sock.sendall(encode_frame(kind, payload))

    def speak(self, pcm: bytes) -> float:
        """Queue ``pcm`` as the caller's voice; returns its length in seconds."""
        with self._lock:
            self._speech += pcm
        return len(pcm) / (SAMPLE_RATE * 2)

    def speaking(self) -> bool:
        with self._lock:
            return bool(self._speech)

    def hang_up(self) -> None:
        """The person hangs up: Asterisk closes the socket without a hangup frame."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        self.closed.set()
        for thread in self._threads:
            thread.join(2.0)
        self.sock.close()

    def _receive(self) -> None:
        try:
            while True:
                frame = read_frame(self.sock)
                if frame is None:
                    return
                kind, payload = frame
                if kind == KIND_HANGUP:
                    self.ivr_hung_up = True
                    return
                if kind == KIND_AUDIO:
                    self.last_heard = time.monotonic()
                    self.frames_heard += 1
                    self.on_audio(payload)
        except (OSError, AudioSocketFailure):
            return
        finally:
            self.closed.set()

    def _transmit(self) -> None:
        start = time.monotonic()
        index = 0
        while not self.closed.is_set():
            with self._lock:
                chunk = bytes(self._speech[:FRAME_BYTES])
                del self._speech[:FRAME_BYTES]
            self.send(KIND_AUDIO, chunk.ljust(FRAME_BYTES, b"\x00") if chunk else SILENCE)
            index += 1
            time.sleep(max(0.0, start + index * FRAME_SECONDS - time.monotonic()))


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class AudioSocketPhone:
    """``AsteriskCall(audiosocket=AudioSocketPhone(...))``: the person's side of the stream.

    ``input`` gives one line per action (see the module doc); with ``scripted`` each line waits
    until the IVR has said something and then been quiet for ``quiet_gap`` seconds.  What the
    IVR says is printed to ``output`` as ``IVR: …`` lines, one per stretch of audio.
    """

    def __init__(self, sounds_dir: Path, input: TextIO | None = None,
                 output: TextIO | None = None, *, scripted: bool = False,
                 quiet_gap: float = 1.0, locale: str = "ru",
                 connect_timeout: float = 2.0) -> None:
        self.index = PromptIndex(sounds_dir)
        self.input = input if input is not None else sys.stdin
        self.output = output if output is not None else sys.stdout
        self.scripted = scripted
        self.quiet_gap = quiet_gap
        self.locale = locale
        self.connect_timeout = connect_timeout
        self.heard: list[HeardPart] = []
        self._print_lock = threading.Lock()
        self._line_open = False
        self._stream: HeardStream | None = None
        self._stream_lock = threading.Lock()

    # -- what the IVR says -------------------------------------------------------------------

    def _on_audio(self, pcm: bytes) -> None:
        with self._stream_lock:
            if self._stream is None:
                self._stream = HeardStream(self.index)
            self._show(self._stream.feed(pcm))

    def _end_of_stretch(self) -> None:
        with self._stream_lock:
            stream, self._stream = self._stream, None
            if stream is None:
                return
            self._show(stream.close())
            if stream.cut:
                self._write("…")
            if stream.unmatched:
                self._write(f"[{stream.unmatched / (SAMPLE_RATE * 2):.1f} s of audio]")
        self._end_line()

    def _show(self, parts: list[HeardPart]) -> None:
        for part in parts:
            self.heard.append(part)
            self._write(part.text)

    def _write(self, text: str) -> None:
        with self._print_lock:
            prefix = " " if self._line_open else "IVR: "
            print(prefix + text, end="", file=self.output, flush=True)
            self._line_open = True

    def _end_line(self) -> None:
        with self._print_lock:
            if self._line_open:
                print(file=self.output, flush=True)
                self._line_open = False

    def _say_line(self, text: str) -> None:
        self._end_line()
        with self._print_lock:
            print(text, file=self.output, flush=True)

    # -- the call ----------------------------------------------------------------------------

    def __call__(self, call_uuid: str, server: str) -> tuple[int, bool]:
        """Asterisk's ``AudioSocket()``: ``(0, False)`` when the IVR ended the stream (a
        hangup frame or closing the socket: Asterisk 22 returns 0 for both), ``(-1, True)``
        when the person hung up, ``(-1, False)`` when it could not connect."""
        host, _, port = server.rpartition(":")
        host = host.strip("[]")  # an IPv6 address in brackets, as AudioSocket() takes it
        try:
            sock = socket.create_connection((host, int(port)), timeout=self.connect_timeout)
        except (OSError, ValueError) as exc:
            self._say_line(f"-- audio socket {server} unreachable: {exc}")
            return -1, False
        sock.settimeout(None)
        self.index.refresh()
        conn = _Connection(sock, self._on_audio)
        conn.start(call_uuid)
        self._say_line("-- audio stream open (keys, 'say FILE.wav' or 'say words', q = hang up)")
        hung_up = False
        try:
            hung_up = self._converse(conn, self._lines())
        finally:
            if hung_up:
                conn.hang_up()
            conn.closed.wait(10.0)
            conn.finish()
            self._end_of_stretch()
        return (-1, True) if hung_up else (0, False)

    def _lines(self) -> queue.Queue[str | None]:
        """Lines of ``input`` from a reader thread (``None`` at its end), so the call can end
        while a person is not typing."""
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            while True:
                line = self.input.readline()
                lines.put(line if line else None)
                if not line:
                    return

        threading.Thread(target=read, daemon=True, name="audio-phone-input").start()
        return lines

    def _converse(self, conn: _Connection, lines: queue.Queue[str | None]) -> bool:
        """Act on each line until the IVR closes the stream; True if the person hung up."""
        mark = 0
        while not conn.closed.is_set():
            self._watch_quiet(conn)
            try:
                line = lines.get(timeout=0.05)
            except queue.Empty:
                continue
            if line is None:
                if self.scripted:  # the script is done: listen until the IVR ends the call
                    while not conn.closed.wait(0.05):
                        self._watch_quiet(conn)
                    return False
                return True
            if self.scripted and not self._wait_question(conn, mark):
                return False
            text = line.strip()
            if not _isatty(self.input):  # typed lines are on the screen already
                self._say_line(f"> {text}")
            if text.lower() in {"q", "quit", "hangup"}:
                return True
            self._act(conn, text)
            mark = conn.frames_heard
        return False

    def _watch_quiet(self, conn: _Connection) -> None:
        if self._stream is not None and time.monotonic() - conn.last_heard >= 0.3:
            self._end_of_stretch()

    def _wait_question(self, conn: _Connection, mark: int) -> bool:
        """Wait until the IVR spoke after ``mark`` frames and then went quiet."""
        while not conn.closed.is_set():
            self._watch_quiet(conn)
            if (conn.frames_heard > mark and not conn.speaking()
                    and time.monotonic() - conn.last_heard >= self.quiet_gap):
                return True
            time.sleep(0.02)
        return False

    def _act(self, conn: _Connection, text: str) -> None:
        if text.lower().startswith("say"):
            what = text[3:].lstrip(": ").strip()
            try:
                pcm = self._voice(what)
            except (OSError, ValueError, EOFError, wave.Error, RuntimeError) as exc:
                self._say_line(f"-- cannot say {what!r}: {exc}")
                return
            self._say_line(f"-- speaking {conn.speak(pcm):.1f} s")
            return
        for key in text.upper():
            if key in KEYS:
                conn.send(KIND_DTMF, key.encode("ascii"))
                time.sleep(KEY_GAP)

    def _voice(self, what: str) -> bytes:
        path = Path(what).expanduser()
        if what.lower().endswith(".wav"):
            return read_caller_wav(path)
        if not what:
            raise ValueError("nothing to say")
        return _spoken_words(what, self.locale)
