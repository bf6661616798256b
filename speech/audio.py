"""Small DSP shared by synthesis and recognition: a windowed-sinc low-pass FIR on 32-bit PCM.

Both directions resample (espeak's 22 kHz down to Asterisk's 8 kHz; Asterisk's 8 kHz to a
model's 16 kHz) and both need the same anti-alias/anti-image filter, computed at C speed with
``audioop`` (one multiply-add pass per pair of symmetric taps).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # removed in Python 3.13: the audioop-lts dependency provides it there

WIDTH = 4  # filtering runs on 32-bit samples with headroom


@lru_cache(maxsize=16)
def lowpass_taps(rate: int, cutoff: float, transition: float) -> tuple[float, ...]:
    """Windowed-sinc (Hamming) low-pass FIR taps, odd length (at most 255), unity gain at DC."""
    count = min(math.ceil(3.3 * rate / transition) | 1, 255)
    middle = count // 2
    fc = cutoff / rate
    taps = []
    for i in range(count):
        n = i - middle
        ideal = 2 * fc if n == 0 else math.sin(2 * math.pi * fc * n) / (math.pi * n)
        taps.append(ideal * (0.54 - 0.46 * math.cos(2 * math.pi * i / (count - 1))))
    total = sum(taps)
    return tuple(t / total for t in taps)


def fir32(padded: bytes, size: int, taps: tuple[float, ...]) -> bytes:
    """Filter ``size`` bytes of 32-bit mono samples with symmetric ``taps``.

    ``padded`` holds ``len(taps) - 1`` samples of context around the ``size`` bytes (before
    them for a stream's history, or half before and half after for a whole buffer).
    """
    count = len(taps)
    middle = count // 2
    acc = audioop.mul(padded[middle * WIDTH : middle * WIDTH + size], WIDTH, taps[middle])
    for k in range(middle):
        left = padded[k * WIDTH : k * WIDTH + size]
        right = padded[(count - 1 - k) * WIDTH : (count - 1 - k) * WIDTH + size]
        pair = audioop.add(left, right, WIDTH)
        acc = audioop.add(acc, audioop.mul(pair, WIDTH, taps[k]), WIDTH)
    return acc
