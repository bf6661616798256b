"""Speech answers over AGI: Asterisk records the utterance, Vosk recognises it.

Asterisk writes the recording with ``RECORD FILE`` (silence detection, no beep) into a directory
both hosts see at the same path; the IVR recognises it with the question's grammar in a worker
thread and deletes it at once (a recording of a date of birth is personal data).  A key pressed
instead of speaking stops the recording and is returned as keys.  A streaming transport
(AudioSocket) would implement the same :class:`SpeechInput` without touching flows.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ivr.io import Grammar
from speech.asr import Recognition, Recognizer
from speech.grammars import for_question

logger = logging.getLogger(__name__)

SPECIFIC_PHRASES = ("specialty",)  # questions whose Grammar.phrases are whole words to add


@dataclass
class SpeechInput:
    """How a transport records and recognises an answer."""

    recognizer: Recognizer
    record_dir: Path
    silence_seconds: int = 2
    max_seconds: float = 10.0
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    def recording_path(self, call_uid: str) -> Path:
        """A fresh path (without extension) for the next utterance of the call."""
        # No dots: Asterisk appends ".wav" and a dotted uniqueid would look like a suffix.
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in call_uid) or "call"
        return self.record_dir / f"{safe}-{next(self._counter)}"

    def phrases(self, grammar: Grammar, locale: str) -> list[str]:
        extra = grammar.phrases if grammar.name in SPECIFIC_PHRASES else ()
        try:
            return for_question(grammar.name, locale, extra=extra)
        except ValueError:
            return list(grammar.phrases)  # an unknown question: recognise its own phrases

    def recognise(self, wav: Path, grammar: Grammar, locale: str) -> Recognition:
        """Recognise and delete the recording (whatever happens)."""
        try:
            return self.recognizer.recognize_wav(wav, self.phrases(grammar, locale))
        finally:
            with contextlib.suppress(OSError):
                wav.unlink()
