"""The turn detector over WebRTC's real VAD model: speech gives one onset and one end of turn,
silence and a short noise burst give nothing."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from speech.vad import FRAME_BYTES, TurnDetector, VadEvent, VadSettings

SILENCE = b"\x00" * FRAME_BYTES


def _frames(pcm: bytes) -> list[bytes]:
    pcm = pcm + b"\x00" * (-len(pcm) % FRAME_BYTES)
    return [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


@pytest.fixture(scope="module")
def speech_pcm(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("vad")
    wav, raw = out / "u.wav", out / "u.raw"
    subprocess.run(["espeak-ng", "-v", "ru", "-w", str(wav), "запишите меня к терапевту"],
                   check=True, capture_output=True)
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed",
                    "-t", "raw", str(raw)], check=True, capture_output=True)
    return Path(raw).read_bytes()


def _events(detector: TurnDetector, frames: list[bytes]) -> list[tuple[int, VadEvent]]:
    return [(i, e) for i, f in enumerate(frames) if (e := detector.feed(f)) is not None]


def test_speech_then_silence_is_one_turn(speech_pcm: bytes) -> None:
    detector = TurnDetector(VadSettings(onset_ms=200, end_silence_ms=600))
    frames = [SILENCE] * 10 + _frames(speech_pcm) + [SILENCE] * 40
    events = _events(detector, frames)
    assert [e for _, e in events] == [VadEvent.ONSET, VadEvent.END]
    onset_frame = events[0][0]
    first_voiced = next(i for i, f in enumerate(frames) if detector.is_speech(f))
    last_voiced = max(i for i, f in enumerate(frames) if detector.is_speech(f))
    # confirmed once 10 of 13 frames were voiced: 200 ms into the speech, not later
    assert 9 <= onset_frame - first_voiced <= 12
    assert events[1][0] == pytest.approx(last_voiced + 600 // 20, abs=4)


def test_silence_and_a_short_noise_burst_do_not_start_a_turn() -> None:
    rng = random.Random(7)
    burst = bytes(rng.getrandbits(8) for _ in range(5 * FRAME_BYTES))  # 100 ms of noise
    detector = TurnDetector()
    frames = [SILENCE] * 20 + _frames(burst) + [SILENCE] * 20
    assert _events(detector, frames) == []
    assert any(detector.is_speech(f) for f in _frames(burst)), "the burst does sound voiced"


def test_frames_of_another_length_count_as_silence() -> None:
    assert TurnDetector().is_speech(b"\x01\x02" * 100) is False
