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


class VadEvent(Enum):
    """What a frame changed about the caller's turn."""

    ONSET = "onset"
    END = "end"


@dataclass(frozen=True)
class VadSettings:
    """Thresholds of :class:`TurnDetector` (milliseconds are multiples of 20 ms frames).

    ``onset_ms`` of voiced audio within a window one third longer confirms speech: a click or
    a noise burst shorter than that does not stop the prompt.  WebRTC's VAD keeps saying
    "voiced" for about 60 ms after a sound stops (its hangover), so 200 ms rejects bursts up to
    about 120 ms; a 300 ms cough is indistinguishable from a short word by duration alone.
    ``end_silence_ms`` of unvoiced audio after speech ends the answer.
    """

    aggressiveness: int = 3
    onset_ms: int = 200
    end_silence_ms: int = 600


class TurnDetector:
    """Per-call state over a stream of 20 ms frames; feed every received frame in order."""

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._onset_frames = max(1, self.settings.onset_ms // FRAME_MS)
        window = self._onset_frames + max(1, self._onset_frames // 3)
        self._window: deque[bool] = deque(maxlen=window)
        self._end_frames = max(1, self.settings.end_silence_ms // FRAME_MS)
        self._silent_run = 0
        self.speaking = False

    def reset(self) -> None:
        """Forget the current turn (a new question starts)."""
        self._window.clear()
        self._silent_run = 0
        self.speaking = False

    def is_speech(self, frame: bytes) -> bool:
        """The model's verdict for one 20 ms frame (other lengths count as silence)."""
        if len(frame) != FRAME_BYTES:
            return False
        return bool(self._vad.is_speech(frame, SAMPLE_RATE))

    def feed(self, frame: bytes) -> VadEvent | None:
        """One frame in; :attr:`VadEvent.ONSET` or :attr:`VadEvent.END` when the turn changes."""
        voiced = self.is_speech(frame)
        if not self.speaking:
            self._window.append(voiced)
            if sum(self._window) >= self._onset_frames:
                self.speaking = True
                self._silent_run = 0
                return VadEvent.ONSET
            return None
        self._silent_run = 0 if voiced else self._silent_run + 1
        if self._silent_run >= self._end_frames:
            self.reset()
            return VadEvent.END
        return None
