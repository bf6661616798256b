"""Russian numbers as words, both directions (pure text, standard library only).

Rendering:

* :func:`number_to_words` -- cardinals 0..999 999 999 in three genders and six cases;
* :func:`ordinal_to_words` -- ordinals 0..9999 in three genders and six cases;
* :func:`digits_to_words` -- a digit string read one digit at a time (read-back of numbers);
* :func:`plural` / :func:`quantity_to_words` -- agreement of a noun with a number.

Parsing recognised speech:

* :func:`parse_digits` -- the digits a caller dictated ("двадцать пять сорок три" -> "2543");
* :func:`parse_number` -- one compound number, cardinal or ordinal, in any case.

Output uses the letter "ё" where Russian spelling has it ("трёх", "четвёртое"), which helps a
speech synthesiser; every parser folds "ё" into "е" first, so both spellings are accepted.

Case names: ``nom``, ``gen``, ``dat``, ``acc``, ``ins``, ``prep``.  The accusative is the
inanimate one unless ``animate=True`` is passed ("записать одного пациента").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

Gender = Literal["m", "f", "n"]
# Ordinals also have a plural ("в девяностых годах"), passed as the gender "pl".
OrdinalGender = Literal["m", "f", "n", "pl"]

CASES: tuple[str, ...] = ("nom", "gen", "dat", "acc", "ins", "prep")
GENDERS: tuple[str, ...] = ("m", "f", "n")
MAX_CARDINAL = 999_999_999
MAX_ORDINAL = 9999

# ---------------------------------------------------------------------------------------------
# Cardinal forms, one tuple per value in CASES order.
# ---------------------------------------------------------------------------------------------

_ONE: dict[str, tuple[str, ...]] = {
    "m": ("один", "одного", "одному", "один", "одним", "одном"),
    "f": ("одна", "одной", "одной", "одну", "одной", "одной"),
    "n": ("одно", "одного", "одному", "одно", "одним", "одном"),
}
_TWO: dict[str, tuple[str, ...]] = {
    "m": ("два", "двух", "двум", "два", "двумя", "двух"),
    "f": ("две", "двух", "двум", "две", "двумя", "двух"),
    "n": ("два", "двух", "двум", "два", "двумя", "двух"),
}


def _soft(stem: str) -> tuple[str, ...]:
    """Forms of numerals declined like "пять": пять, пяти, пяти, пять, пятью, пяти."""
    return (stem + "ь", stem + "и", stem + "и", stem + "ь", stem + "ью", stem + "и")


def _tens_compound(nom: str, oblique: str, ins: str) -> tuple[str, ...]:
    """Forms of "пятьдесят"-like numerals."""
    return (nom, oblique, oblique, nom, ins, oblique)


def _hundreds(nom: str, gen: str, dat: str, ins: str, prep: str) -> tuple[str, ...]:
    """Forms of "двести"-like numerals."""
    return (nom, gen, dat, nom, ins, prep)


_CARDINAL: dict[int, tuple[str, ...]] = {
    0: ("ноль", "ноля", "нолю", "ноль", "нолём", "ноле"),
    3: ("три", "трёх", "трём", "три", "тремя", "трёх"),
    4: ("четыре", "четырёх", "четырём", "четыре", "четырьмя", "четырёх"),
    5: _soft("пят"),
    6: _soft("шест"),
    7: _soft("сем"),
    8: ("восемь", "восьми", "восьми", "восемь", "восемью", "восьми"),
    9: _soft("девят"),
    10: _soft("десят"),
    11: _soft("одиннадцат"),
    12: _soft("двенадцат"),
    13: _soft("тринадцат"),
    14: _soft("четырнадцат"),
    15: _soft("пятнадцат"),
    16: _soft("шестнадцат"),
    17: _soft("семнадцат"),
    18: _soft("восемнадцат"),
    19: _soft("девятнадцат"),
    20: _soft("двадцат"),
    30: _soft("тридцат"),
    40: ("сорок", "сорока", "сорока", "сорок", "сорока", "сорока"),
    50: _tens_compound("пятьдесят", "пятидесяти", "пятьюдесятью"),
    60: _tens_compound("шестьдесят", "шестидесяти", "шестьюдесятью"),
    70: _tens_compound("семьдесят", "семидесяти", "семьюдесятью"),
    80: _tens_compound("восемьдесят", "восьмидесяти", "восемьюдесятью"),
    90: ("девяносто", "девяноста", "девяноста", "девяносто", "девяноста", "девяноста"),
    100: ("сто", "ста", "ста", "сто", "ста", "ста"),
    200: _hundreds("двести", "двухсот", "двумстам", "двумястами", "двухстах"),
    300: _hundreds("триста", "трёхсот", "трёмстам", "тремястами", "трёхстах"),
    400: _hundreds("четыреста", "четырёхсот", "четырёмстам", "четырьмястами", "четырёхстах"),
    500: _hundreds("пятьсот", "пятисот", "пятистам", "пятьюстами", "пятистах"),
    600: _hundreds("шестьсот", "шестисот", "шестистам", "шестьюстами", "шестистах"),
    700: _hundreds("семьсот", "семисот", "семистам", "семьюстами", "семистах"),
    800: _hundreds("восемьсот", "восьмисот", "восьмистам", "восемьюстами", "восьмистах"),
    900: _hundreds("девятьсот", "девятисот", "девятистам", "девятьюстами", "девятистах"),
}

# Scale nouns: singular and plural forms.
_THOUSAND_SG = ("тысяча", "тысячи", "тысяче", "тысячу", "тысячей", "тысяче")
_THOUSAND_PL = ("тысячи", "тысяч", "тысячам", "тысячи", "тысячами", "тысячах")
_MILLION_SG = ("миллион", "миллиона", "миллиону", "миллион", "миллионом", "миллионе")
_MILLION_PL = ("миллионы", "миллионов", "миллионам", "миллионы", "миллионами", "миллионах")

# ---------------------------------------------------------------------------------------------
# Ordinal stems: value -> (stem, declension type).  "hard" = пятый, "stressed" = второй,
# "soft3" = третий.
# ---------------------------------------------------------------------------------------------

_ORD_STEMS: dict[int, tuple[str, str]] = {
    0: ("нулев", "stressed"),
    1: ("перв", "hard"),
    2: ("втор", "stressed"),
    3: ("трет", "soft3"),
    4: ("четвёрт", "hard"),
    5: ("пят", "hard"),
    6: ("шест", "stressed"),
    7: ("седьм", "stressed"),
    8: ("восьм", "stressed"),
    9: ("девят", "hard"),
    10: ("десят", "hard"),
    11: ("одиннадцат", "hard"),
    12: ("двенадцат", "hard"),
    13: ("тринадцат", "hard"),
    14: ("четырнадцат", "hard"),
    15: ("пятнадцат", "hard"),
    16: ("шестнадцат", "hard"),
    17: ("семнадцат", "hard"),
    18: ("восемнадцат", "hard"),
    19: ("девятнадцат", "hard"),
    20: ("двадцат", "hard"),
    30: ("тридцат", "hard"),
    40: ("сороков", "stressed"),
    50: ("пятидесят", "hard"),
    60: ("шестидесят", "hard"),
    70: ("семидесят", "hard"),
    80: ("восьмидесят", "hard"),
    90: ("девяност", "hard"),
    100: ("сот", "hard"),
    200: ("двухсот", "hard"),
    300: ("трёхсот", "hard"),
    400: ("четырёхсот", "hard"),
    500: ("пятисот", "hard"),
    600: ("шестисот", "hard"),
    700: ("семисот", "hard"),
    800: ("восьмисот", "hard"),
    900: ("девятисот", "hard"),
    1000: ("тысячн", "hard"),
}
# "двухтысячный" .. "девятитысячный": the genitive of the count glued to "тысячн".
_THOUSANDS_PREFIX = {
    2: "двух",
    3: "трёх",
    4: "четырёх",
    5: "пяти",
    6: "шести",
    7: "семи",
    8: "восьми",
    9: "девяти",
}
for _count, _prefix in _THOUSANDS_PREFIX.items():
    _ORD_STEMS[_count * 1000] = (_prefix + "тысячн", "hard")

# Endings per gender in CASES order; the masculine accusative is filled in separately.
_ORD_ENDINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "hard": {
        "m": ("ый", "ого", "ому", "ый", "ым", "ом"),
        "f": ("ая", "ой", "ой", "ую", "ой", "ой"),
        "n": ("ое", "ого", "ому", "ое", "ым", "ом"),
        "pl": ("ые", "ых", "ым", "ые", "ыми", "ых"),
    },
    "stressed": {
        "m": ("ой", "ого", "ому", "ой", "ым", "ом"),
        "f": ("ая", "ой", "ой", "ую", "ой", "ой"),
        "n": ("ое", "ого", "ому", "ое", "ым", "ом"),
        "pl": ("ые", "ых", "ым", "ые", "ыми", "ых"),
    },
    "soft3": {
        "m": ("ий", "ьего", "ьему", "ий", "ьим", "ьем"),
        "f": ("ья", "ьей", "ьей", "ью", "ьей", "ьей"),
        "n": ("ье", "ьего", "ьему", "ье", "ьим", "ьем"),
        "pl": ("ьи", "ьих", "ьим", "ьи", "ьими", "ьих"),
    },
}

DIGIT_WORDS: tuple[str, ...] = (
    "ноль",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _check(gender: str, case: str, genders: tuple[str, ...] = GENDERS) -> int:
    if gender not in genders:
        raise ValueError(f"unknown gender {gender!r}; expected one of {genders}")
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; expected one of {CASES}")
    return CASES.index(case)


def plural(n: int, one: str, few: str, many: str) -> str:
    """Pick the Russian noun form that agrees with ``n``.

    ``one`` goes with 1, 21, 101 ("минута"), ``few`` with 2-4, 22-24 ("минуты"), ``many`` with
    0, 5-20, 25-30, 11-14 of every hundred ("минут").  Negative numbers use their absolute value.
    """
    n = abs(n)
    if 11 <= n % 100 <= 14:
        return many
    last = n % 10
    if last == 1:
        return one
    if 2 <= last <= 4:
        return few
    return many


def _small_words(n: int, gender: str, ci: int) -> list[str]:
    """Words of 1..999 in the case with index ``ci`` (no animacy)."""
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(_CARDINAL[hundreds * 100][ci])
    if 10 <= rest <= 19:
        words.append(_CARDINAL[rest][ci])
        return words
    tens, units = divmod(rest, 10)
    if tens:
        words.append(_CARDINAL[tens * 10][ci])
    if units == 1:
        words.append(_ONE[gender][ci])
    elif units == 2:
        words.append(_TWO[gender][ci])
    elif units:
        words.append(_CARDINAL[units][ci])
    return words


def _scale_noun(count: int, ci: int, singular: tuple[str, ...], plural_: tuple[str, ...]) -> str:
    """The form of "тысяча"/"миллион" after ``count`` in the case with index ``ci``."""
    form = plural(count, "one", "few", "many")
    if form == "one":
        return singular[ci]
    if CASES[ci] in ("nom", "acc"):
        return singular[1] if form == "few" else plural_[1]
    return plural_[ci]


def number_to_words(
    n: int, gender: Gender = "m", case: str = "nom", *, animate: bool = False
) -> str:
    """Spell a cardinal number 0..999 999 999 in Russian.

    ``gender`` agrees the last one or two with the counted noun ("одна минута", "две минуты",
    "одно окно"); ``case`` declines every part of the number ("двадцати одного",
    "двух тысяч трёхсот"); ``animate`` only matters for the accusative ("одного пациента",
    "двух пациентов").  Exactly 1000 and 1 000 000 are said without "одна"/"один" ("тысяча",
    "миллион"), as in speech.

    >>> number_to_words(21, "f")
    'двадцать одна'
    >>> number_to_words(21, case="gen")
    'двадцати одного'
    """
    ci = _check(gender, case)
    if not 0 <= n <= MAX_CARDINAL:
        raise ValueError(f"{n} is outside 0..{MAX_CARDINAL}")
    if n == 0:
        return _CARDINAL[0][ci]
    if animate and case == "acc":
        if 2 <= n <= 4:
            # "двух пациентов": the small animate numerals take the genitive.
            return number_to_words(n, gender, "gen")
        if n % 10 == 1 and n % 100 != 11 and gender != "f":
            # "двадцать одного пациента": only the final "один" follows animacy.
            words = number_to_words(n, gender, "acc").split()
            words[-1] = _ONE[gender][1]
            return " ".join(words)
    millions, rest = divmod(n, 1_000_000)
    thousands, small = divmod(rest, 1000)
    words: list[str] = []
    if millions:
        if millions != 1:
            words += _small_words(millions, "m", ci)
        words.append(_scale_noun(millions, ci, _MILLION_SG, _MILLION_PL))
    if thousands:
        if thousands != 1:
            words += _small_words(thousands, "f", ci)
        words.append(_scale_noun(thousands, ci, _THOUSAND_SG, _THOUSAND_PL))
    if small:
        words += _small_words(small, gender, ci)
    return " ".join(words)


def _ordinal_word(value: int, gender: str, ci: int, animate: bool) -> str:
    stem, kind = _ORD_STEMS[value]
    endings = _ORD_ENDINGS[kind][gender]
    if CASES[ci] == "acc" and gender in ("m", "pl") and animate:
        return stem + endings[1]
    return stem + endings[ci]


def ordinal_to_words(
    n: int, gender: OrdinalGender = "m", case: str = "nom", *, animate: bool = False
) -> str:
    """Spell an ordinal number 0..9999 in Russian.

    Only the last word is an ordinal adjective, the rest stays a nominative cardinal, as
    Russian requires: 1985 in the genitive is "тысяча девятьсот восемьдесят пятого", 2000 is
    "двухтысячного", 6 neuter nominative is "шестое".  ``gender`` may also be ``"pl"``
    ("девяностых").  ``animate`` only changes the masculine and plural accusative ("второго
    пациента").
    """
    ci = _check(gender, case, (*GENDERS, "pl"))
    if not 0 <= n <= MAX_ORDINAL:
        raise ValueError(f"{n} is outside 0..{MAX_ORDINAL}")
    if n == 0:
        return _ordinal_word(0, gender, ci, animate)
    if n % 1000 == 0:
        last = n
    elif n % 100 == 0:
        last = n % 1000
    elif 10 <= n % 100 <= 19 or n % 10 == 0:
        last = n % 100
    else:
        last = n % 10
    prefix = n - last
    word = _ordinal_word(last, gender, ci, animate)
    if prefix:
        return number_to_words(prefix) + " " + word
    return word


def digits_to_words(digits: str, group: int | None = None) -> str:
    """Read a string of digits one digit at a time: "0075" -> "ноль ноль семь пять".

    Spaces, hyphens, dots and brackets are ignored, a leading "+" is read as "плюс".  With
    ``group`` the digits are split into groups of that size, separated by commas, so a
    synthesiser pauses between them during a read-back ("один два три четыре, пять шесть").
    Any other character raises :class:`ValueError`.
    """
    if group is not None and group < 1:
        raise ValueError("group must be a positive number")
    prefix = ""
    clean: list[str] = []
    for i, ch in enumerate(digits.strip()):
        if ch.isdigit() and ch.isascii():
            clean.append(ch)
        elif ch == "+" and i == 0:
            prefix = "плюс "
        elif ch in " -.()\u00a0":
            continue
        else:
            raise ValueError(f"not a digit: {ch!r}")
    words = [DIGIT_WORDS[int(ch)] for ch in clean]
    if group:
        chunks = [" ".join(words[i : i + group]) for i in range(0, len(words), group)]
        return prefix + ", ".join(chunks)
    return prefix + " ".join(words)


def quantity_to_words(
    n: int, one: str, few: str, many: str, gender: Gender = "m", case: str = "nom"
) -> str:
    """A number with its agreeing noun in the nominative/accusative: "двадцать одна минута".

    Only ``nom`` and ``acc`` are supported, because in the other cases the noun itself must be
    declined by the caller (pass the right forms and use :func:`number_to_words`).
    """
    if case not in ("nom", "acc"):
        raise ValueError("quantity_to_words supports only the nom and acc cases")
    return f"{number_to_words(n, gender, case)} {plural(n, one, few, many)}"


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

SlotKind = Literal["zero", "small", "mult", "ordmult"]


@dataclass(frozen=True)
class NumberWord:
    """What a single recognised word means as part of a number."""

    value: int
    kind: SlotKind
    ordinal: bool = False
    # A singular scale noun ("тысяча", "миллион") follows only a count ending in one.
    singular: bool = False


def fold(text: str) -> str:
    """Lower-case a text and fold "ё" into "е" (the form every parser works on)."""
    return text.lower().replace("ё", "е")


def _build_lexicon() -> tuple[dict[str, NumberWord], dict[str, NumberWord]]:
    cardinal: dict[str, NumberWord] = {}
    ordinal: dict[str, NumberWord] = {}
    for ci in range(len(CASES)):
        for value, forms in _CARDINAL.items():
            cardinal[fold(forms[ci])] = NumberWord(value, "zero" if value == 0 else "small")
        for gender in GENDERS:
            cardinal[fold(_ONE[gender][ci])] = NumberWord(1, "small")
            cardinal[fold(_TWO[gender][ci])] = NumberWord(2, "small")
        for forms, value in ((_THOUSAND_PL, 1000), (_MILLION_PL, 1_000_000)):
            cardinal[fold(forms[ci])] = NumberWord(value, "mult")
    for forms, value in ((_THOUSAND_SG, 1000), (_MILLION_SG, 1_000_000)):
        for ci in range(len(CASES)):
            # The genitive singular ("тысячи", "миллиона") also follows 2-4.
            cardinal[fold(forms[ci])] = NumberWord(value, "mult", singular=CASES[ci] != "gen")
    for value in _ORD_STEMS:
        kind: SlotKind = "zero" if value == 0 else "ordmult" if value >= 1000 else "small"
        for gender in (*GENDERS, "pl"):
            for ci in range(len(CASES)):
                for animate in (False, True):
                    word = fold(_ordinal_word(value, gender, ci, animate))
                    ordinal[word] = NumberWord(value, kind, ordinal=True)
    # Other spoken forms of zero and the digit names used when dictating.
    for word in ("нуль", "нуля", "нулю", "нулем", "нуле", "нолик"):
        cardinal[word] = NumberWord(0, "zero")
    digit_names = {
        1: "единиц",
        2: "двойк",
        3: "тройк",
        4: "четверк",
        5: "пятерк",
        6: "шестерк",
        7: "семерк",
        8: "восьмерк",
        9: "девятк",
    }
    for value, stem in digit_names.items():
        for ending in ("а", "у", "и", "ой", "е"):
            cardinal[stem + ending] = NumberWord(value, "small")
    overlap = set(cardinal) & set(ordinal)
    if overlap:  # pragma: no cover - guards the tables above
        raise AssertionError(f"cardinal and ordinal forms overlap: {sorted(overlap)}")
    return cardinal, ordinal


CARDINAL_WORDS, ORDINAL_WORDS = _build_lexicon()

_TOKEN_RE = re.compile(r"\d+(?:-[а-яa-z]{1,3}(?![а-яa-z]))?|[а-яa-z]+")
_ORDINAL_SUFFIXES = frozenset(
    {
        "й",
        "я",
        "е",
        "го",
        "му",
        "м",
        "ю",
        "х",
        "ой",
        "ый",
        "ий",
        "ая",
        "ое",
        "ье",
        "ья",
        "ого",
        "ому",
        "ым",
        "ом",
        "ую",
        "ей",
        "ых",
    }
)

# Words a caller says around dictated digits that carry no digits.
DIGIT_FILLERS: frozenset[str] = frozenset(
    {
        "э",
        "ээ",
        "эээ",
        "эм",
        "м",
        "мм",
        "ммм",
        "а",
        "аа",
        "и",
        "ну",
        "так",
        "вот",
        "это",
        "значит",
        "да",
        "номер",
        "номера",
        "полис",
        "полиса",
        "мой",
        "моя",
        "мое",
        "телефон",
        "телефона",
        "карта",
        "карты",
        "код",
        "снилс",
        "паспорт",
        "пожалуйста",
        "сейчас",
        "щас",
        "секунду",
        "секунданку",
        "минуту",
        "минутку",
        "там",
        "ой",
        "короче",
        "плюс",
        "тире",
        "дефис",
        "пробел",
        "запятая",
        "точка",
        "еще",
        "записывайте",
        "пишите",
        "диктую",
        "продиктую",
        "у",
        "меня",
        "вроде",
        "кажется",
        "типа",
        "как",
        "бы",
        "сначала",
        "потом",
        "дальше",
        "последние",
        "цифры",
        "цифра",
        "цифр",
    }
)


@dataclass
class NumberGroup:
    """A run of number words read as one number, or one numeral written with digits."""

    value: int
    ordinal: bool = False
    literal: str | None = None  # the digits as written, for numerals ("05")
    start: int = 0  # index of the first token
    end: int = 0  # index after the last token

    @property
    def digits(self) -> str:
        """The digits this group stands for ("05" for a written "05", "25" for "двадцать пять")."""
        return self.literal if self.literal is not None else str(self.value)


@dataclass
class Word:
    """A token that is not part of a number."""

    text: str
    index: int


Item = NumberGroup | Word


def tokenize(text: str) -> list[str]:
    """Split recognised text into lower-case words and runs of digits ("5-го" stays whole)."""
    return _TOKEN_RE.findall(fold(text))


class _Builder:
    """Greedy accumulation of number words into compound numbers."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.small = 0
        self.allowed = 3  # the largest slot the next small word may fill
        self.last_mult = 10**12
        self.closed = False  # an ordinal word ends the number
        self.empty = True
        self.start = 0
        self.end = 0
        self.ordinal = False

    def accepts(self, w: NumberWord) -> bool:
        if self.empty:
            return True
        if self.closed or w.kind == "zero":
            return False
        if w.kind == "small":
            return _slot(w.value) <= self.allowed
        if w.kind == "mult":
            if w.singular and self.small and plural(self.small, "one", "few", "many") != "one":
                return False  # "три тысяча" is "три" and then "тысяча ..."
            return w.value < self.last_mult and (self.small > 0 or self.total > 0)
        # "ordmult": "двухтысячного" cannot follow anything.
        return False

    def add(self, w: NumberWord, index: int) -> None:
        if self.empty:
            self.start = index
        self.empty = False
        self.end = index + 1
        if w.kind == "zero":
            self.closed = True
            self.ordinal = w.ordinal
            return
        if w.kind == "small":
            self.small += w.value
            slot = _slot(w.value)
            self.allowed = 0 if w.value < 20 else slot - 1
        elif w.kind == "mult":
            self.total += (self.small or 1) * w.value
            self.small = 0
            self.allowed = 3
            self.last_mult = w.value
        else:
            self.total += w.value
            self.allowed = 0
        if w.ordinal:
            self.ordinal = True
            self.closed = True

    def flush(self) -> NumberGroup | None:
        if self.empty:
            return None
        group = NumberGroup(
            self.total + self.small, ordinal=self.ordinal, start=self.start, end=self.end
        )
        self.reset()
        return group


def _slot(value: int) -> int:
    if value >= 100:
        return 3
    if value >= 10:
        return 2
    return 1


def scan(
    text: str | Iterable[str],
    *,
    ordinals: bool = True,
    skip: frozenset[str] = frozenset(),
) -> list[Item]:
    """Split text into number groups and other words.

    Number words are joined greedily into compound numbers the way people say them:
    "двадцать пять сорок три" gives 25 and 43, "девятьсот восемь" gives 908, "пять восемь"
    gives 5 and 8, "ноль" always stands alone.  An ordinal word ends its number ("двадцать
    пятого" is 25, ordinal).  Written numerals are separate groups keeping their digits;
    a numeral with a hyphenated ending ("5-го") is an ordinal.  Words in ``skip`` are dropped
    without breaking a number; any other word breaks it and is returned as a :class:`Word`.
    With ``ordinals=False`` ordinal words are treated as ordinary words.
    """
    tokens = tokenize(text) if isinstance(text, str) else list(text)
    items: list[Item] = []
    builder = _Builder()

    def flush() -> None:
        group = builder.flush()
        if group is not None:
            items.append(group)

    for index, token in enumerate(tokens):
        if token[0].isdigit():
            flush()
            digits, _, suffix = token.partition("-")
            if suffix and suffix not in _ORDINAL_SUFFIXES:
                items.append(NumberGroup(int(digits), literal=digits, start=index, end=index + 1))
                items.append(Word(suffix, index))
                continue
            items.append(
                NumberGroup(
                    int(digits), ordinal=bool(suffix), literal=digits, start=index, end=index + 1
                )
            )
            continue
        word = CARDINAL_WORDS.get(token)
        if word is None and ordinals:
            word = ORDINAL_WORDS.get(token)
        if word is None:
            if token in skip:
                continue
            flush()
            items.append(Word(token, index))
            continue
        if not builder.accepts(word):
            flush()
        builder.add(word, index)
    flush()
    return items


def iter_groups(items: Iterable[Item]) -> Iterator[NumberGroup]:
    """The number groups among scanned items."""
    return (item for item in items if isinstance(item, NumberGroup))


def parse_digits(text: str, fillers: frozenset[str] = DIGIT_FILLERS) -> str | None:
    """Turn dictated digits into a digit string.

    Accepts single digits ("пять восемь три" -> "583"), "ноль"/"нуль", compound numbers read
    in groups ("двадцать пять сорок три" -> "2543", "сто двадцать три" -> "123",
    "девятьсот восемь" -> "908", "двадцать ноль пять" -> "2005", "три тысячи" -> "3000"),
    numerals already in the text ("58 3" -> "583", leading zeros kept) and digit names
    ("единица", "семёрка").  Filler words ("э", "ну", "номер", "полис", ...) are ignored.

    Returns None when there are no digits at all or when any other word is present, so that a
    caller who said something else ("не знаю", "оператора") is detected.  Ordinal words
    ("пятого") count as other words here.
    """
    items = scan(text, ordinals=False, skip=fillers)
    if not items or any(isinstance(item, Word) or item.ordinal for item in items):
        return None
    return "".join(group.digits for group in iter_groups(items))


def parse_number(text: str, fillers: frozenset[str] = DIGIT_FILLERS) -> int | None:
    """Parse one compound number said in words, in any case, cardinal or ordinal.

    "двадцать пять" -> 25, "сто пять" -> 105, "двадцати одного" -> 21, "двадцать пятого" -> 25,
    "тысяча девятьсот восемьдесят пятого" -> 1985, "двухтысячного" -> 2000, "25" -> 25,
    "25-го" -> 25.  Fillers are ignored.  Returns None for anything that is not exactly one
    number ("пять восемь", "двадцать пять сорок", "не знаю").
    """
    items = scan(text, ordinals=True, skip=fillers)
    if len(items) != 1 or not isinstance(items[0], NumberGroup):
        return None
    return items[0].value
