"""A TTS engine for streamed calls: every text becomes a constant tone of its own level.

The caller's side can then tell from any 20 ms frame which prompt it belongs to (tests assert
where a prompt stopped), and :class:`ivr.transports.terminal_audio.PromptIndex` finds the text
of each file from its audio, as it does for real speech.
"""

from __future__ import annotations

import threading
import wave
import zlib
from pathlib import Path


class ToneEngine:
    """``seconds`` of the level :meth:`level` gives ``text`` (``long`` maps a text fragment to
    a longer duration, for a prompt that must be long enough to be talked over; with
    ``chars_per_second`` a text lasts as long as a voice would take to say it)."""

    name = "tone"
    rate = 0

    def __init__(self, seconds: float = 0.1, long: dict[str, float] | None = None,
                 chars_per_second: float = 0.0) -> None:
        self.seconds = seconds
        self.chars_per_second = chars_per_second
        self.long = dict(long or {})
        self.texts: dict[int, str] = {}  # level -> the text rendered at it
        self._lock = threading.Lock()

    def voice_for(self, locale: str) -> str:
        return locale

    @staticmethod
    def level(text: str) -> int:
        return 1000 + zlib.crc32(text.encode()) % 20000

    def seconds_for(self, text: str) -> float:
        if self.chars_per_second:
            return max(self.seconds, len(text) / self.chars_per_second)
        return next((s for fragment, s in self.long.items() if fragment in text), self.seconds)

    def synthesize(self, text: str, locale: str, out_wav: Path) -> None:
        level = self.level(text)
        with self._lock:
            self.texts[level] = text
        write_tone(out_wav, level, int(self.seconds_for(text) * 8000))


def write_tone(path: Path, level: int, frames: int) -> None:
    """A WAV of ``frames`` samples of the constant ``level`` (8 kHz 16-bit mono)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(level.to_bytes(2, "little", signed=True) * frames)
