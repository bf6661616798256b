"""Helpers for streaming-call tests: tone prompts, a voiced test sound, and a leak census of
call threads and the sockets of the IVR's ports (the tone TTS engine is
:mod:`support.tone_engine`)."""

from __future__ import annotations

import math
import os
import struct
import threading
import time
import wave
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from support.tone_engine import write_tone


class TonePrompts:
    """Prompt audio for streaming tests: every prompt is one tone file of ``seconds`` (so the
    caller can talk over it)."""

    def __init__(self, root: Path, seconds: float = 0.5) -> None:
        self.root = root
        write_tone(root / "ask.wav", 3000, int(8000 * seconds))

    def files_for(self, prompt: object) -> list[str]:
        return [str(self.root / "ask")]


def spoken_pcm(workdir: Path, text: str, locale: str = "ko") -> bytes:
    """``text`` said by espeak-ng as the caller: 8 kHz 16-bit mono PCM."""
    from speech.tts import EspeakNgCliEngine, render_to_asterisk_wav

    wav = workdir / "caller.wav"
    render_to_asterisk_wav(EspeakNgCliEngine(variant=""), text, locale, wav)
    with wave.open(str(wav), "rb") as w:
        return w.readframes(w.getnframes())


def vowel(ms: int, f0: float = 140.0) -> bytes:
    """A voiced sound (a harmonic series, like a held vowel, "угу", "ага") of ``ms``
    milliseconds: 8 kHz 16-bit mono, loud enough for the voice activity detector."""
    n = ms * 8
    harmonics = [(1, 1.0), (2, 0.8), (3, 0.6), (4, 0.5), (5, 0.4), (6, 0.3), (7, 0.25)]
    return struct.pack(f"<{n}h", *(
        int(3000 * sum(a * math.sin(2 * math.pi * f0 * k * i / 8000) for k, a in harmonics))
        for i in range(n)))


def call_threads() -> list[str]:
    """Threads that exist only while calls run: the AGI session threads, the audio reader,
    decoder and greeting threads (not the long-lived listeners)."""
    return sorted(t.name for t in threading.enumerate()
                  if "process_request" in t.name
                  or (t.name.startswith("audiosocket") and t.name != "audiosocket-listener"))


def _inodes_on(ports: Collection[int]) -> set[str]:
    """Inodes of this host's TCP sockets with a local or remote port in ``ports``, listening
    sockets excepted."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == "0A":  # LISTEN
                continue
            if {int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)} & set(ports):
                inodes.add(inode)
    return inodes


def open_sockets(ports: Collection[int]) -> int:
    """How many of this process's file descriptors are TCP connections on ``ports``."""
    inodes = _inodes_on(ports)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            count += 1
    return count


@dataclass
class Census:
    threads: list[str]
    sockets: int


def census(ports: Collection[int]) -> Census:
    return Census(call_threads(), open_sockets(ports))


def settles_to(expected: Census, ports: Collection[int], timeout: float = 5.0) -> Census:
    """Poll until the census is back to ``expected`` (threads and sockets end asynchronously
    after a call) or ``timeout``; returns the last census for the assertion."""
    deadline = time.monotonic() + timeout
    while True:
        now = census(ports)
        if (set(now.threads) <= set(expected.threads) and now.sockets <= expected.sockets) \
                or time.monotonic() > deadline:
            return now
        time.sleep(0.05)
