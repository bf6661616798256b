"""Fakes that implement the product's ports, for tests and benchmarks."""

from __future__ import annotations

import wave
from pathlib import Path


class QuietEngine:
    """A TTS engine (``speech.tts.TtsEngine``) that renders silence instantly.

    Calls over the real FastAGI server need prompt files but not speech; ``seconds`` of silence
    at ``sample_rate`` per text (the prompt cache converts other rates to Asterisk's 8 kHz).
    """

    name = "quiet"
    rate = 0

    def __init__(self, seconds: float = 0.2, sample_rate: int = 8000) -> None:
        self.frames = int(seconds * sample_rate)
        self.sample_rate = sample_rate

    def voice_for(self, locale: str) -> str:
        return locale

    def synthesize(self, text: str, locale: str, out_wav: Path) -> None:
        with wave.open(str(out_wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(b"\x00\x00" * self.frames)
