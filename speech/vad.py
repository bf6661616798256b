"""Voice activity detection on 8 kHz 16-bit mono frames (the AudioSocket stream).

The model is WebRTC's VAD (the ``webrtcvad-wheels`` package): a small C Gaussian-mixture
classifier that takes 10/20/30 ms frames at 8 kHz natively, costs microseconds per frame and
needs neither numpy nor onnxruntime, which matters with twenty streaming calls on two cores.
Silero VAD (ONNX) is more robust to noise but wants 32 ms chunks (256 samples at 8 kHz) and
onnxruntime in every worker; see bench/README.md for the figures behind the choice.

:class:`TurnDetector` turns per-frame verdicts into the two events a dialogue needs: *onset*
(enough voiced frames in a short window: speech, not a click; this is what stops a prompt) and
*end of turn* (a configurable silence after speech).  It knows nothing of calls or bookings.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from enum import Enum

import webrtcvad

logger = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2  # 320


#: How long WebRTC's VAD (mode 3, 8 kHz) keeps saying "voiced" after a sound stops: measured
#: on harmonic 100..400 ms sounds, 80 ms after the shortest and 120 ms after the others.
HANGOVER_MS = 120


class VadEvent(Enum):
    """What a frame changed about the caller's turn."""

    ONSET = "onset"  # speech may have started: pause the prompt
    SHORT = "short"  # ...it was a sound under the backchannel length: carry on with the prompt
    CONFIRMED = "confirmed"  # ...it is longer: the caller is talking, stop the prompt
    END = "end"  # the turn is over (a silence of ``end_silence_ms``)


@dataclass(frozen=True)
class VadSettings:
    """Thresholds of :class:`TurnDetector` (milliseconds are multiples of 20 ms frames).

    ``onset_ms`` of voiced audio within a window one third longer is an onset: the prompt
    pauses there (a click or a burst shorter than about 100 ms never gets that far).  The sound
    is then judged by its length: one that ends (``backchannel_gap_ms`` of unvoiced audio)
    before ``backchannel_ms`` -- a cough, "угу", "ага" -- is :attr:`VadEvent.SHORT` and the
    prompt carries on from where it paused; one that lasts longer is
    :attr:`VadEvent.CONFIRMED` and the prompt stops.  Duration alone cannot tell a short "да"
    from an "угу": the short sound is still decoded, and if the recogniser heard words in it
    they answer the question.  ``end_silence_ms`` of unvoiced audio after speech ends the turn.
    """

    aggressiveness: int = 3
    onset_ms: int = 160
    end_silence_ms: int = 600
    backchannel_ms: int = 300
    backchannel_gap_ms: int = 100


class TurnDetector:
    """Per-call state over a stream of 20 ms frames; feed every received frame in order.

    States: idle; *deciding* (after an onset, until the sound is judged short or confirmed);
    *short* (a short sound was heard, the turn stays open until the end silence, and a new
    onset starts deciding again); *speech*.
    """

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._onset_frames = max(1, self.settings.onset_ms // FRAME_MS)
        window = self._onset_frames + max(1, self._onset_frames // 3)
        self._window: deque[bool] = deque(maxlen=window)
        self._end_frames = max(1, self.settings.end_silence_ms // FRAME_MS)
        self._short_frames = (self.settings.backchannel_ms + HANGOVER_MS) // FRAME_MS
        self._gap_frames = max(1, self.settings.backchannel_gap_ms // FRAME_MS)
        self._state = "idle"
        self._silent_run = 0
        self._since_first = 0  # frames since the sound's first voiced frame
        self._span = 0  # frames from the sound's first voiced frame to its last one

    @property
    def speaking(self) -> bool:
        """A turn is open (from an onset to its end)."""
        return self._state != "idle"

    def reset(self) -> None:
        """Forget the current turn (a new question starts)."""
        self._window.clear()
        self._silent_run = 0
        self._since_first = self._span = 0
        self._state = "idle"

    def is_speech(self, frame: bytes) -> bool:
        """The model's verdict for one 20 ms frame (other lengths count as silence)."""
        if len(frame) != FRAME_BYTES:
            return False
        return bool(self._vad.is_speech(frame, SAMPLE_RATE))

    def feed(self, frame: bytes) -> VadEvent | None:
        """One frame in; a :class:`VadEvent` when the turn changes."""
        voiced = self.is_speech(frame)
        self._silent_run = 0 if voiced else self._silent_run + 1
        if self._state in ("idle", "short"):
            return self._watch(voiced)
        if self._state == "deciding":
            return self._decide(voiced)
        if self._silent_run >= self._end_frames:
            self.reset()
            return VadEvent.END
        return None

    def _watch(self, voiced: bool) -> VadEvent | None:
        self._window.append(voiced)
        if sum(self._window) >= self._onset_frames:
            first = next(i for i, v in enumerate(self._window) if v)
            self._since_first = self._span = len(self._window) - first
            self._window.clear()
            self._state = "deciding"
            return VadEvent.ONSET
        if self._state == "short" and self._silent_run >= self._end_frames:
            self.reset()
            return VadEvent.END
        return None

    def _decide(self, voiced: bool) -> VadEvent | None:
        self._since_first += 1
        if voiced:
            self._span = self._since_first
        if self._span >= self._short_frames:
            self._state = "speech"
            return VadEvent.CONFIRMED
        if self._silent_run >= self._gap_frames:
            self._state = "short"
            return VadEvent.SHORT
        return None
