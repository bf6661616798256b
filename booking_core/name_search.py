"""How a typed name is compared with the stored ones (pure functions, no database).

A registrar types «Соколов Артем», «соколов а.и.» or, with the keyboard still on the Latin
layout, «Cjrjkjd»; the registry stores «Соколов Артём Игоревич».  Both sides are folded the
same way (:func:`models.tables.fold_name`: case, ё/е, punctuation, spaces) and each typed word
must begin the name part in its position: surname, first name, patronymic.
"""

from __future__ import annotations

import re

from models.tables import fold_name

_QWERTY = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_JCUKEN = "йцукенгшщзхъфывапролджэячсмитьбюё"
_LAYOUT = str.maketrans(_QWERTY + _QWERTY.upper(), _JCUKEN + _JCUKEN.upper())
_LATIN = re.compile(r"[A-Za-z]")


def from_latin_layout(text: str) -> str:
    """What ``text`` would have been on the ЙЦУКЕН layout: keys typed on QWERTY by mistake."""
    return text.translate(_LAYOUT)


def typed_variants(text: str) -> list[list[str]]:
    """The folded words a typed name may mean: as typed, and from the wrong layout if it has
    Latin letters.  Initials («А.И.») become one-letter words."""
    variants = [fold_name(text).split()]
    if _LATIN.search(text):
        variants.append(fold_name(from_latin_layout(text)).split())
    unique: list[list[str]] = []
    for words in variants:
        if words and words not in unique:
            unique.append(words)
    return unique


def key_matches(name_key: str, words: list[str]) -> bool:
    """True when each typed word begins the stored name part in the same position."""
    parts = name_key.split()
    return len(words) <= len(parts) and all(p.startswith(w) for p, w in zip(parts, words,
                                                                               strict=False))


def like_prefix(words: list[str]) -> str:
    """A LIKE pattern that narrows the rows in SQL (``key_matches`` then decides exactly).

    Folded words hold only letters, digits and hyphens, so nothing needs escaping."""
    return "% ".join(words) + "%"


def prefix_range(words: list[str]) -> tuple[str, str]:
    """``(lo, hi)`` with ``lo <= key < hi`` for every key starting with the first word: an
    index range SQLite can use (its LIKE ignores an ordinary index), exact in code point
    order."""
    lo = words[0]
    return lo, lo[:-1] + chr(ord(lo[-1]) + 1)
