"""How many SMS segments a text costs: GSM-7 versus UCS-2 (3GPP TS 23.038 / 23.040).

A text made only of GSM-7 characters travels in 7-bit septets: 160 in a single SMS, 153 per
part of a concatenated one (the user-data header takes the rest); characters of the extension
table (``€ [ ] { } ^ ~ | \\`` and form feed) cost two septets.  Any other character — every
Cyrillic letter, "№", "—", "«»" — switches the whole message to UCS-2: 70 UTF-16 code units in
a single SMS, 67 per part; characters outside the BMP (emoji) take two units.  A part never
splits an escape pair or a surrogate pair, so the count here is exact, not ``ceil(len / n)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

GSM7 = "GSM-7"
UCS2 = "UCS-2"

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# The GSM 03.38 default alphabet (without the escape character itself) ...
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# ... and its extension table, reached through the escape: two septets each.
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SegmentInfo:
    """The cost of one text."""

    encoding: str  # GSM7 or UCS2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    chars: int

    @property
    def single(self) -> bool:
        return self.segments <= 1


def is_gsm7(text: str) -> bool:
    """True if every character of ``text`` is in the GSM-7 alphabet (basic or extension)."""
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text)


def _unit_costs(text: str) -> tuple[str, list[int]]:
    if is_gsm7(text):
        return GSM7, [2 if ch in _GSM_EXTENDED else 1 for ch in text]
    return UCS2, [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _parts(costs: list[int], size: int) -> int:
    """Greedy split into parts of at most ``size`` units; a character is never split."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > size:
            parts += 1
            used = 0
        used += cost
    return parts


def segment_info(text: str) -> SegmentInfo:
    """Encoding, unit count and number of segments of ``text`` (0 segments when empty)."""
    encoding, costs = _unit_costs(text)
    units = sum(costs)
    single, part = (GSM_SINGLE, GSM_PART) if encoding == GSM7 else (UCS2_SINGLE, UCS2_PART)
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = _parts(costs, part)
    return SegmentInfo(encoding, units, segments, len(text))


def count_segments(text: str) -> int:
    """Just the number of segments of ``text``."""
    return segment_info(text).segments
