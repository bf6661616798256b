"""Masking of personal data for logs.

Nothing that identifies a patient may reach a log line whole: phone numbers keep their last four
digits, policy / SNILS numbers are shown as groups of stars with the last digits visible, and
free text coming from the wire (protocol lines, garbage a client sent) is scrubbed of long digit
runs before it is logged.
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

#: Digit runs at least this long are treated as personal data by :func:`scrub` (a date of birth
#: typed as DDMMYYYY has 8 digits, phone numbers 10-12, SNILS 11, an OMS policy 16; sample
#: positions such as ``endpos=48000`` stay readable).
SCRUB_MIN_RUN = 7

_DIGIT_RUN = re.compile(r"\d+")
_ALL_DIGITS = "0123456789"  # the DTMF escape-digit list, not personal data


def mask_phone(number: str | None, keep: int = 4) -> str:
    """Mask a phone number except its last ``keep`` digits.

    Formatting (spaces, brackets, dashes) is dropped first, so one number always masks the same
    way: ``mask_phone("+79161234567") == mask_phone("+7 (916) 123-45-67") == "********4567"``.
    Values without digits (``"unknown"``, ``"anonymous"``) carry no personal data and are returned
    unchanged; numbers with ``keep`` digits or fewer are masked completely.
    """
    if not number:
        return ""
    compact = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    digits = sum(ch.isdigit() for ch in compact)
    if digits == 0:
        return number.strip()
    if digits <= keep:
        return "*" * len(compact)
    return "*" * (len(compact) - keep) + compact[-keep:]


def mask_digits(value: str | None, keep: int = 4, group: int = 4) -> str:
    """Mask a number such as an OMS policy, keeping the last ``keep`` digits, in groups.

    Non-digits are dropped; groups of ``group`` are counted from the right so the visible digits
    form the last group: ``mask_digits("1234567890123456") == "**** **** **** 3456"`` and
    ``mask_digits("12345678901") == "*** **** 8901"``.  ``keep=0`` hides every digit.
    """
    digits = "".join(ch for ch in (value or "") if ch.isdigit())
    if not digits:
        return ""
    keep = max(0, min(keep, len(digits) - 1)) if len(digits) > 1 else 0
    masked = "*" * (len(digits) - keep) + (digits[-keep:] if keep else "")
    if group <= 0:
        return masked
    groups: list[str] = []
    end = len(masked)
    while end > 0:
        groups.append(masked[max(0, end - group) : end])
        end -= group
    return " ".join(reversed(groups))


def scrub(text: str | None, min_run: int = SCRUB_MIN_RUN, limit: int = 200) -> str:
    """Make untrusted or sensitive free text safe to log.

    Runs of ``min_run`` or more digits are masked (last four kept; the escape-digit list
    ``0123456789`` is left alone), control characters are shown escaped, and the result is cut
    to ``limit`` characters.
    """
    if not text:
        return ""

    def _mask(match: re.Match[str]) -> str:
        run = match.group(0)
        if len(run) < min_run or run == _ALL_DIGITS:
            return run
        return "*" * (len(run) - 4) + run[-4:]

    cleaned = _DIGIT_RUN.sub(_mask, text)
    cleaned = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in cleaned
    )
    if len(cleaned) > limit:
        cleaned = cleaned[:limit] + "..."
    return cleaned
