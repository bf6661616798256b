"""Russian personal names in grammatical cases: «Записать Петрову Анну Ивановну», «к врачу
Беловой И.С.», «у врача Орлова А.Н.».

The forms come from ``pymorphy3`` with its OpenCorpora dictionary (``pymorphy3-dicts-ru``,
offline): it knows first names and patronymics, predicts surnames, and leaves indeclinable ones
alone (Черных, a woman's Шевчук).  The grammatical gender is read from the patronymic, else
from the dictionary's first name, else from the surname's ending.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from functools import cache, lru_cache

import pymorphy3

logger = logging.getLogger(__name__)


class Case(StrEnum):
    """Grammatical cases by their OpenCorpora names."""

    NOMINATIVE = "nomn"
    GENITIVE = "gent"  # у врача кого?
    DATIVE = "datv"  # к врачу кому?
    ACCUSATIVE = "accs"  # записать кого?
    INSTRUMENTAL = "ablt"
    PREPOSITIONAL = "loct"


MALE, FEMALE = "masc", "femn"
_FEMALE_SURNAME = ("ова", "ева", "ёва", "ина", "ына", "ая")
_MALE_SURNAME = ("ов", "ев", "ёв", "ин", "ын", "ий", "ой", "ый")


@cache
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer(lang="ru")


_warming = threading.Lock()
_warmed = False


def warm_up_in_background() -> None:
    """Load the dictionary (about 0.1 s) on a thread at start-up, so the first booking's SMS
    text does not pay for it inside a call."""
    global _warmed
    with _warming:
        if _warmed:
            return
        _warmed = True
    threading.Thread(target=_morph, name="ru-names-warm-up", daemon=True).start()


def gender_of(last_name: str, first_name: str = "", middle_name: str = "") -> str | None:
    """``"masc"``, ``"femn"`` or ``None`` when the name does not tell."""
    middle = middle_name.strip().lower()
    if middle.endswith(("ич", "оглы", "улы")):
        return MALE
    if middle.endswith(("вна", "чна", "шна", "кызы", "гызы")):
        return FEMALE
    if first_name.strip():
        for parse in _morph().parse(first_name.strip()):
            if "Name" in parse.tag and parse.tag.gender in (MALE, FEMALE):
                return str(parse.tag.gender)
    last = last_name.strip().lower()
    if last.endswith(_FEMALE_SURNAME):
        return FEMALE
    if last.endswith(_MALE_SURNAME):
        return MALE
    return None


def _match_case(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def _inflect_word(word: str, kind: str, case: Case, gender: str | None) -> str:
    for parse in _morph().parse(word):
        tag = parse.tag
        if kind not in tag or tag.case != "nomn" or tag.number == "plur":
            continue
        if gender and tag.gender and tag.gender != gender and "Ms-f" not in tag:
            continue
        form = parse.inflect({case.value})
        if form is not None:
            return _match_case(form.word, word)
    return word  # a name the dictionary cannot place is said as written


def _inflect(part: str, kind: str, case: Case, gender: str | None) -> str:
    if not part or case == Case.NOMINATIVE:
        return part
    # Double surnames decline part by part: Салтыкову-Щедрину.
    return "-".join(_inflect_word(p, kind, case, gender) if p else p for p in part.split("-"))


@lru_cache(maxsize=4096)
def full_name_in(case: Case, last_name: str, first_name: str = "",
                 middle_name: str = "") -> str:
    """«Петрову Анну Ивановну» (``Case.ACCUSATIVE``): each part declined, empty ones dropped."""
    gender = gender_of(last_name, first_name, middle_name)
    parts = (_inflect(last_name, "Surn", case, gender), _inflect(first_name, "Name", case, gender),
             _inflect(middle_name, "Patr", case, gender))
    return " ".join(p for p in parts if p)


@lru_cache(maxsize=4096)
def short_name_in(case: Case, last_name: str, first_name: str = "",
                  middle_name: str = "") -> str:
    """«Беловой И.С.» (``Case.DATIVE``): the declined surname and the initials."""
    gender = gender_of(last_name, first_name, middle_name)
    initials = "".join(f"{p[0]}." for p in (first_name, middle_name) if p)
    return f"{_inflect(last_name, 'Surn', case, gender)} {initials}".strip()
