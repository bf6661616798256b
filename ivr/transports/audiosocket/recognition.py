"""Streaming recognition for one AudioSocket connection, off the connection's reading thread.

The reader thread runs only the voice activity detector (microseconds a frame) and hands the
frames of an utterance to a :class:`Decoder`: one thread per connection, started at the first
utterance, that feeds them to the recogniser (Vosk's ``AcceptWaveform``, milliseconds a frame)
and posts the words when the utterance ends.  The hand-over is a queue bounded in audio bytes:
when the decoder falls that far behind (a starved CPU), the rest of the utterance is not queued
and it is answered as not understood, instead of memory growing and every later event
(keys, barge-in) waiting behind stale audio.

While an utterance is decoded its partial hypothesis is read every few frames; an *urgent*
phrase (the operator words of :mod:`speech.grammars`) followed by another word, in two reads
in a row, ends the turn at once with what was heard so far, so "оператор, соедините меня"
escalates while the caller is still talking.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ivr.io import Grammar
from speech.asr import AsrError, RecognitionStream, Recognizer
from speech.grammars import operator
from speech.vad import SAMPLE_RATE

logger = logging.getLogger(__name__)

#: Frames between two reads of the partial hypothesis (5 x 20 ms).
PARTIAL_EVERY_FRAMES = 5

Question = tuple[Grammar, str]
#: Posts the end of an utterance: (recognised words, confidence).
PostEnd = Callable[[str, float], None]


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower().replace("ё", "е"))


class StreamRecognition:
    """Starts a streaming recogniser for an utterance of the open question.

    ``phrases(grammar, locale)`` gives the question's phrase list (the AGI path's
    :meth:`ivr.transports.agi.speech.SpeechInput.phrases`); ``urgent(locale)`` the phrases that
    end a turn as soon as a partial result holds them (default: the operator words).
    """

    def __init__(self, recognizer: Recognizer, phrases: Callable[[Grammar, str], list[str]],
                 urgent: Callable[[str], Sequence[str]] = operator) -> None:
        self.recognizer = recognizer
        self.phrases = phrases
        self.urgent = urgent

    def start(self, grammar: Grammar, locale: str) -> RecognitionStream:
        """A recogniser for one utterance, constrained by the question's grammar."""
        return self.recognizer.stream(SAMPLE_RATE, self.phrases(grammar, locale))

    def urgent_phrases(self, locale: str) -> list[list[str]]:
        """The urgent phrases of ``locale`` as token lists (none for a locale without any)."""
        try:
            phrases = self.urgent(locale)
        except ValueError:
            return []
        return [t for t in (_tokens(p) for p in phrases) if t]


def settled(words: list[str], phrases: list[list[str]]) -> bool:
    """Does ``words`` (a partial hypothesis) hold one of ``phrases`` followed by another word?

    The last words of a partial hypothesis are still being decided (measured with the Korean
    model: "고양이 바나나" passes through "고양이 병원" for 300 ms); once the decoder has moved
    on to a next word, the earlier ones rarely change.  An urgent word said on its own is
    answered at the end of the turn, by the final result.
    """
    return any(words[i:i + len(p)] == p for p in phrases for i in range(len(words) - len(p)))


@dataclass
class _Utterance:
    number: int
    stream: RecognitionStream | None
    urgent: list[list[str]]
    frames: int = 0
    urgent_reads: int = 0
    answered: bool = False  # the end was already posted (an urgent word)


class Decoder:
    """The recogniser's thread of one connection (see the module docstring).

    The reader calls :meth:`begin`, :meth:`audio` (False: the queue is full, stop queueing this
    utterance) and :meth:`end`; exactly one ``post_end`` follows every :meth:`begin`, unless
    :meth:`stop` comes first.
    """

    def __init__(self, recognition: StreamRecognition, post_end: PostEnd, *, name: str,
                 max_bytes: int) -> None:
        self.recognition = recognition
        self.post_end = post_end
        self.max_bytes = max_bytes
        self._name = name
        self._items: deque[tuple[str, int, object]] = deque()
        self._queued_bytes = 0
        self.peak_bytes = 0  # the most audio ever waiting (for tests and the benchmark)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._current: _Utterance | None = None

    # -- the reader's side -------------------------------------------------------------------

    def begin(self, number: int, question: Question | None) -> None:
        """Utterance ``number`` started while ``question`` (or nothing) was open."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name=self._name)
            self._thread.start()
        self._put(("begin", number, question), 0)

    def audio(self, number: int, pcm: bytes) -> bool:
        """Queue audio of utterance ``number``; False when the queue is full (nothing queued)."""
        with self._cond:
            if self._queued_bytes + len(pcm) > self.max_bytes:
                return False
        self._put(("audio", number, pcm), len(pcm))
        return True

    def end(self, number: int, complete: bool) -> None:
        """Utterance ``number`` ended; ``complete`` is False when audio of it was not queued."""
        self._put(("end", number, complete), 0)

    def stop(self, timeout: float = 2.0) -> None:
        """End the thread (the utterance being decoded is dropped) and wait for it."""
        if self._thread is None:
            return
        with self._cond:
            self._items.clear()
            self._queued_bytes = 0
            self._items.append(("stop", 0, None))
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("audiosocket: the decoder thread %s did not stop", self._name)

    def _put(self, item: tuple[str, int, object], size: int) -> None:
        with self._cond:
            self._items.append(item)
            self._queued_bytes += size
            self.peak_bytes = max(self.peak_bytes, self._queued_bytes)
            self._cond.notify()

    # -- the decoder thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._items))
                kind, number, value = self._items.popleft()
                if kind == "audio":
                    self._queued_bytes -= len(value)  # type: ignore[arg-type]
            if kind == "stop":
                self._drop()
                return
            try:
                self._handle(kind, number, value)
            except Exception:  # a decoder bug must not leave the caller unanswered
                logger.exception("audiosocket: decoding failed")
                broken, self._current = self._current, None
                if broken is not None and not broken.answered:
                    self._answer("", 0.0)

    def _handle(self, kind: str, number: int, value: object) -> None:
        if kind == "begin":
            self._drop()
            self._current = _Utterance(number, self._start(value), [])
            if self._current.stream is not None and value is not None:
                self._current.urgent = self.recognition.urgent_phrases(value[1])  # type: ignore[index]
            return
        utterance = self._current
        if utterance is None or utterance.number != number:
            return  # a stale item of a dropped utterance
        if kind == "audio":
            self._feed(utterance, value)  # type: ignore[arg-type]
        elif kind == "end":
            self._finish(utterance, complete=bool(value))

    def _start(self, question: object) -> RecognitionStream | None:
        if question is None:
            return None  # speech while nothing is asked: detected, not decoded
        grammar, locale = question  # type: ignore[misc]
        try:
            return self.recognition.start(grammar, locale)
        except (AsrError, ValueError) as exc:
            logger.warning("audiosocket: cannot start recognition: %s", exc)
            return None

    def _feed(self, utterance: _Utterance, pcm: bytes) -> None:
        if utterance.stream is None or utterance.answered:
            return
        try:
            utterance.stream.feed(pcm)
            utterance.frames += 1
            if utterance.urgent and utterance.frames % PARTIAL_EVERY_FRAMES == 0:
                self._check_partial(utterance)
        except AsrError as exc:
            logger.warning("audiosocket: recognition failed: %s", exc)
            utterance.stream = None

    def _check_partial(self, utterance: _Utterance) -> None:
        assert utterance.stream is not None
        heard = utterance.stream.partial()
        if not settled(_tokens(heard), utterance.urgent):
            utterance.urgent_reads = 0
            return
        utterance.urgent_reads += 1
        if utterance.urgent_reads < 2:
            return  # a partial hypothesis can flicker: wait for the next read to agree
        logger.info("audiosocket: an urgent word in a partial result ends the turn")
        utterance.answered = True
        self._drop_stream(utterance)
        # A partial result has no confidences; the flows act on urgent words whatever the
        # confidence, and Vosk's grammar already limits what could be heard.
        self._answer(heard, 1.0)

    def _finish(self, utterance: _Utterance, *, complete: bool) -> None:
        self._current = None
        if utterance.answered:
            return
        stream, utterance.stream = utterance.stream, None
        if stream is None or not complete:
            if stream is not None:
                self._close(stream)
                logger.warning("audiosocket: the decoder fell behind; utterance dropped")
            self._answer("", 0.0)
            return
        try:
            heard = stream.finish()
        except AsrError as exc:
            logger.warning("audiosocket: recognition failed: %s", exc)
            self._answer("", 0.0)
            return
        self._answer(heard.text, heard.confidence)

    def _answer(self, text: str, confidence: float) -> None:
        self.post_end(text, confidence)

    def _drop(self) -> None:
        if self._current is not None:
            self._drop_stream(self._current)
            self._current = None

    def _drop_stream(self, utterance: _Utterance) -> None:
        stream, utterance.stream = utterance.stream, None
        if stream is not None:
            self._close(stream)

    @staticmethod
    def _close(stream: RecognitionStream) -> None:
        with contextlib.suppress(AsrError):
            stream.finish()  # frees the decoder
