"""GSM-7 / UCS-2 segment counting."""

from __future__ import annotations

import pytest

from sms.segments import GSM7, UCS2, count_segments, is_gsm7, segment_info


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("", GSM7, 0, 0),
    ("a", GSM7, 1, 1),
    ("x" * 160, GSM7, 160, 1),
    ("x" * 161, GSM7, 161, 2),
    ("x" * 306, GSM7, 306, 2),  # 2 × 153
    ("x" * 307, GSM7, 307, 3),
    ("€" * 80, GSM7, 160, 1),  # extension characters cost two septets
    ("€" * 81, GSM7, 162, 2),
    ("я", UCS2, 1, 1),
    ("я" * 70, UCS2, 70, 1),
    ("я" * 71, UCS2, 71, 2),
    ("я" * 134, UCS2, 134, 2),  # 2 × 67
    ("я" * 135, UCS2, 135, 3),
    ("x" * 159 + "№", UCS2, 160, 3),  # one non-GSM character makes all of it UCS-2
    ("😀" * 35, UCS2, 70, 1),  # outside the BMP: two UTF-16 units each
    ("😀" * 36, UCS2, 72, 2),
])
def test_segment_counts(text, encoding, units, segments):
    info = segment_info(text)
    assert (info.encoding, info.units, info.segments, info.chars) == (
        encoding, units, segments, len(text))


def test_a_part_never_splits_an_escape_or_a_surrogate_pair():
    # 152 plain septets + "€" (2) = 154 > 153: the "€" moves whole to the next part.
    assert count_segments("x" * 152 + "€" + "x" * 152) == 3
    # 66 units + an emoji (2) = 68 > 67: the emoji moves to part two.
    assert count_segments("я" * 66 + "😀" + "я" * 66) == 3


def test_gsm_alphabet_edges():
    assert is_gsm7("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà")
    assert is_gsm7("^{}\\[~]|€")
    assert not is_gsm7("—")  # an em dash is not GSM-7
    assert not is_gsm7("«»") and not is_gsm7("ё") and not is_gsm7("`")
