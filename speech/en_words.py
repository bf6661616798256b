"""English numbers, dates and times as words, the second locale (pure text, standard library).

Rendering mirrors the Russian modules: "Tuesday, the sixth of September", "five thirty p.m."
(or "seventeen thirty" on the 24-hour clock), "the fifth of March, nineteen eighty-five".
Numbers are written without "and" ("one hundred five") and with hyphens in 21..99.

Parsing is deliberately simple: dictated digits ("five eight three", "oh", "double five"),
one compound number, and dates such as "fifth of March nineteen eighty five", "March 5th 1985",
"05/03/1985" (day first, as in Russia), "tomorrow", "next Tuesday".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

Clock = Literal["12", "24"]

MAX_NUMBER = 999_999_999

_UNITS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS: dict[int, str] = {
    20: "twenty",
    30: "thirty",
    40: "forty",
    50: "fifty",
    60: "sixty",
    70: "seventy",
    80: "eighty",
    90: "ninety",
}
_ORDINAL_IRREGULAR: dict[str, str] = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}

MONTHS: tuple[str, ...] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_UNITS[hundreds], "hundred"]
    if rest:
        if rest < 20:
            words.append(_UNITS[rest])
        else:
            tens, units = divmod(rest, 10)
            words.append(_TENS[tens * 10] + (f"-{_UNITS[units]}" if units else ""))
    return words


def number_to_words(n: int) -> str:
    """Spell a cardinal 0..999 999 999: 123 -> "one hundred twenty-three"."""
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"{n} is outside 0..{MAX_NUMBER}")
    if n == 0:
        return "zero"
    millions, rest = divmod(n, 1_000_000)
    thousands, small = divmod(rest, 1000)
    words: list[str] = []
    if millions:
        words += [*_below_thousand(millions), "million"]
    if thousands:
        words += [*_below_thousand(thousands), "thousand"]
    words += _below_thousand(small)
    return " ".join(words)


def _ordinal_of_word(word: str) -> str:
    if word in _ORDINAL_IRREGULAR:
        return _ORDINAL_IRREGULAR[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"


def ordinal_to_words(n: int) -> str:
    """Spell an ordinal 0..999 999 999: 1 "first", 21 "twenty-first", 100 "one hundredth"."""
    text = number_to_words(n)
    head, sep, last = text.rpartition(" ")
    if "-" in last:
        tens, _, units = last.partition("-")
        last = f"{tens}-{_ordinal_of_word(units)}"
    else:
        last = _ordinal_of_word(last)
    return head + sep + last


def ordinal_suffix(n: int) -> str:
    """The written ordinal: 1 -> "1st", 12 -> "12th", 22 -> "22nd"."""
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def plural(n: int, one: str, many: str) -> str:
    """English noun agreement: 1 minute, 0/2/21 minutes."""
    return one if abs(n) == 1 else many


def digits_to_words(
    digits: str, group: int | None = None, zero: Literal["zero", "oh"] = "zero"
) -> str:
    """Read digits one at a time: "0075" -> "zero zero seven five".

    Spaces, hyphens, dots and brackets are ignored, a leading "+" is "plus".  ``group`` splits
    the digits into comma-separated groups for a read-back; ``zero="oh"`` says "oh" for 0.
    """
    if group is not None and group < 1:
        raise ValueError("group must be a positive number")
    prefix = ""
    words: list[str] = []
    for i, ch in enumerate(digits.strip()):
        if ch.isdigit() and ch.isascii():
            words.append(zero if ch == "0" else _UNITS[int(ch)])
        elif ch == "+" and i == 0:
            prefix = "plus "
        elif ch in " -.()\u00a0":
            continue
        else:
            raise ValueError(f"not a digit: {ch!r}")
    if group:
        chunks = [" ".join(words[i : i + group]) for i in range(0, len(words), group)]
        return prefix + ", ".join(chunks)
    return prefix + " ".join(words)


def say_year(year: int) -> str:
    """A year as said aloud: 1985 "nineteen eighty-five", 1905 "nineteen oh five",
    1900 "nineteen hundred", 2000 "two thousand", 2005 "two thousand five",
    2026 "twenty twenty-six"."""
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is outside 1..9999")
    high, low = divmod(year, 100)
    if year < 1000 or (year % 1000 < 10 and high % 10 == 0):
        return number_to_words(year)  # 999, 2000, 2005, 1000
    if low == 0:
        return f"{number_to_words(high)} hundred"
    if low < 10:
        return f"{number_to_words(high)} oh {_UNITS[low]}"
    return f"{number_to_words(high)} {number_to_words(low)}"


def say_date(d: date, with_weekday: bool = True, with_year: bool = False) -> str:
    """A date: "Tuesday, the sixth of September" (+ ", twenty twenty-six" with the year)."""
    text = f"the {ordinal_to_words(d.day)} of {MONTHS[d.month - 1]}"
    if with_year:
        text += f", {say_year(d.year)}"
    if with_weekday:
        text = f"{WEEKDAYS[d.weekday()]}, {text}"
    return text


def say_time(t: time, clock: Clock = "12") -> str:
    """A clock time.

    12-hour: "five thirty p.m.", "nine oh five a.m.", "ten a.m.", "twelve noon", "midnight".
    24-hour: "seventeen thirty", "nine oh five", "seventeen hundred".
    """
    if t.minute == 0:
        minutes = ""
    elif t.minute < 10:
        minutes = f" oh {_UNITS[t.minute]}"
    else:
        minutes = " " + number_to_words(t.minute)
    if clock == "24":
        return number_to_words(t.hour) + (minutes or " hundred")
    if t.hour == 12 and t.minute == 0:
        return "twelve noon"
    if t.hour == 0 and t.minute == 0:
        return "midnight"
    hour = t.hour % 12 or 12
    suffix = "a.m." if t.hour < 12 else "p.m."
    return f"{number_to_words(hour)}{minutes} {suffix}"


def say_datetime_slot(
    dt: datetime, clock: Clock = "12", tz: tzinfo | None = None, with_weekday: bool = True
) -> str:
    """An appointment slot: "Tuesday, the sixth of September, at five thirty p.m."."""
    if tz is not None and dt.tzinfo is not None:
        dt = dt.astimezone(tz)
    return f"{say_date(dt.date(), with_weekday=with_weekday)}, at {say_time(dt.time(), clock)}"


def say_birth_date(d: date) -> str:
    """A birth date: "the fifth of March, nineteen eighty-five"."""
    return say_date(d, with_weekday=False, with_year=True)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Word:
    value: int
    kind: Literal["zero", "small", "hundred", "mult"]
    ordinal: bool = False


def _build_lexicon() -> dict[str, _Word]:
    lexicon: dict[str, _Word] = {}
    for value, word in enumerate(_UNITS):
        kind: Literal["zero", "small"] = "zero" if value == 0 else "small"
        lexicon[word] = _Word(value, kind)
        lexicon[_ordinal_of_word(word)] = _Word(value, kind, ordinal=True)
    for value, word in _TENS.items():
        lexicon[word] = _Word(value, "small")
        lexicon[_ordinal_of_word(word)] = _Word(value, "small", ordinal=True)
    lexicon["hundred"] = _Word(100, "hundred")
    lexicon["hundredth"] = _Word(100, "hundred", ordinal=True)
    lexicon["thousand"] = _Word(1000, "mult")
    lexicon["thousandth"] = _Word(1000, "mult", ordinal=True)
    lexicon["million"] = _Word(1_000_000, "mult")
    lexicon["millionth"] = _Word(1_000_000, "mult", ordinal=True)
    for word in ("oh", "o", "nought", "naught", "nil", "zeroth"):
        lexicon[word] = _Word(0, "zero", ordinal=word == "zeroth")
    return lexicon


_LEXICON = _build_lexicon()
_TOKEN_RE = re.compile(r"\d+(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)?")
DIGIT_FILLERS: frozenset[str] = frozenset(
    {
        "uh",
        "um",
        "er",
        "erm",
        "ah",
        "hmm",
        "mm",
        "so",
        "well",
        "my",
        "number",
        "is",
        "it",
        "it's",
        "its",
        "the",
        "policy",
        "phone",
        "ok",
        "okay",
        "and",
        "a",
        "plus",
        "dash",
        "space",
        "please",
        "that's",
        "thats",
        "like",
        "then",
        "yes",
        "yeah",
    }
)
_NUMBER_FILLERS = frozenset({"uh", "um", "er", "erm", "ah", "and", "a", "the", "hmm"})


@dataclass
class _Group:
    value: int
    ordinal: bool = False
    literal: str | None = None

    @property
    def digits(self) -> str:
        return self.literal if self.literal is not None else str(self.value)


@dataclass
class _Other:
    text: str


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower().replace("-", " "))


class _Builder:
    """Greedy accumulation of English number words into compound numbers (the shape of the
    Russian scanner's builder; the grammar differs: "hundred" is its own kind)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.small = 0
        self.allowed = 2  # the largest slot the next small word may fill
        self.hundred_used = False
        self.last_mult = 10**12
        self.empty = True
        self.closed = False  # "oh"/"zero" or an ordinal word ends the number
        self.ordinal = False

    def accepts(self, word: _Word) -> bool:
        if self.empty:
            return True
        if self.closed or word.kind == "zero":
            return False
        if word.kind == "small":
            return (2 if 10 <= word.value < 100 else 1) <= self.allowed
        if word.kind == "hundred":
            return not self.hundred_used and 0 < self.small < 100
        return word.value < self.last_mult and (self.small or self.total) > 0

    def add(self, word: _Word) -> None:
        self.empty = False
        if word.kind == "zero":
            self.closed = True
        elif word.kind == "small":
            self.small += word.value
            self.allowed = 0 if word.value < 20 else 1
        elif word.kind == "hundred":
            self.small = (self.small or 1) * 100
            self.hundred_used = True
            self.allowed = 2
        else:
            self.total += (self.small or 1) * word.value
            self.small = 0
            self.allowed = 2
            self.hundred_used = False
            self.last_mult = word.value
        if word.ordinal:
            self.ordinal = self.closed = True

    def flush(self) -> _Group | None:
        group = None if self.empty else _Group(self.total + self.small, self.ordinal)
        self.reset()
        return group


def _scan(tokens: list[str], skip: frozenset[str]) -> list[_Group | _Other]:
    """Greedy grouping of number words, like the Russian scanner.

    "twenty five forty three" -> 25, 43; "nineteen eighty five" -> 19, 85;
    "nineteen hundred eighty five" -> 1985; "two thousand five" -> 2005; "oh" stands alone.
    "double"/"triple" repeat the next group ("double five" -> 5, 5).
    """
    items: list[_Group | _Other] = []
    builder = _Builder()
    repeat = 1

    def flush() -> None:
        nonlocal repeat
        group = builder.flush()
        if group is not None:
            items.extend([group] * repeat)
            repeat = 1

    for token in tokens:
        if token[0].isdigit():
            flush()
            digits = token.rstrip("stndrh")
            items.append(_Group(int(digits), ordinal=digits != token, literal=digits))
            continue
        if token in ("double", "triple"):
            flush()
            repeat = 2 if token == "double" else 3
            continue
        word = _LEXICON.get(token)
        if word is None:
            if token in skip:
                continue
            flush()
            repeat = 1
            items.append(_Other(token))
            continue
        if not builder.accepts(word):
            flush()
        builder.add(word)
        if word.kind == "zero" or (repeat > 1 and word.kind == "small" and word.value < 10):
            flush()
    flush()
    return items


def parse_digits(text: str) -> str | None:
    """Dictated digits to a digit string: "five eight three" -> "583", "oh" and "zero" -> "0",
    "double five" -> "55", "twenty five forty three" -> "2543", numerals kept as written.

    Returns None when there are no digits or when a word other than a filler is present.
    """
    items = _scan(_tokens(text), DIGIT_FILLERS)
    if not items or any(isinstance(item, _Other) for item in items):
        return None
    if any(isinstance(item, _Group) and item.ordinal for item in items):
        return None
    return "".join(item.digits for item in items if isinstance(item, _Group))


def parse_number(text: str) -> int | None:
    """One compound number, cardinal or ordinal: "one hundred and five" -> 105,
    "twenty-fifth" -> 25, "25th" -> 25.  None for anything else."""
    items = _scan(_tokens(text), _NUMBER_FILLERS)
    if len(items) != 1 or not isinstance(items[0], _Group):
        return None
    return items[0].value


_MONTH_WORDS: dict[str, int] = {}
for _i, _name in enumerate(MONTHS):
    _MONTH_WORDS[_name.lower()] = _i + 1
    _MONTH_WORDS[_name.lower()[:3]] = _i + 1
_MONTH_WORDS["sept"] = 9
_WEEKDAY_WORDS: dict[str, int] = {}
for _i, _name in enumerate(WEEKDAYS):
    _WEEKDAY_WORDS[_name.lower()] = _i
    _WEEKDAY_WORDS[_name.lower()[:3]] = _i
_DATE_SKIP = frozenset({"uh", "um", "er", "erm", "the", "of", "and"})
_YEAR_WORDS = frozenset({"year"})
_DMY_RE = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})(?![\d.])")
_ISO_RE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except (ValueError, OverflowError):
        return None


def _resolve(day: int, month: int, year: int | None, two: int | None, today: date) -> date | None:
    if not 1 <= month <= 12 or _make(2000, month, day) is None:
        return None
    if year is not None:
        return _make(year, month, day)
    if two is not None:
        recent = _make(2000 + two, month, day)
        return recent if recent is not None and recent <= today else _make(1900 + two, month, day)
    for candidate_year in range(today.year, today.year + 9):
        candidate = _make(candidate_year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None  # pragma: no cover


def _year_of(groups: list[_Group]) -> tuple[int | None, int | None] | None:
    """(four-digit, two-digit) year from the groups after a month, None if not a year."""
    if not groups:
        return None, None
    if len(groups) == 1 and groups[0].literal is None and groups[0].value >= 100:
        return (groups[0].value, None) if 1900 <= groups[0].value <= 2100 else None
    digits = "".join(group.digits for group in groups)
    if len(digits) == 4 and 1900 <= int(digits) <= 2100:
        return int(digits), None
    if len(digits) == 2:
        return None, int(digits)
    return None


def parse_date(text: str, today: date | None = None) -> date | None:
    """A spoken or written date, with the same resolution rules as the Russian parser.

    "fifth of March nineteen eighty five", "the 5th of March 1985", "March fifth", "March 5,
    1985", "05/03/1985" and "05.03.85" (day first), "2026-09-06", "today", "tomorrow",
    "the day after tomorrow", "on Wednesday", "next Tuesday".  A two-digit year takes the
    century that keeps the date not after ``today``; no year gives the next such date on or
    after ``today``; a weekday gives the next such day after ``today``.  Invalid dates give None.
    """
    today = today or date.today()
    lowered = text.lower()
    m = _ISO_RE.search(lowered)
    if m:
        return _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _DMY_RE.search(lowered)
    if m:
        year_text = m.group(3)
        four = int(year_text) if len(year_text) == 4 else None
        two = int(year_text) if len(year_text) == 2 else None
        return _resolve(int(m.group(1)), int(m.group(2)), four, two, today)
    tokens = _tokens(lowered)
    items = _scan(tokens, _DATE_SKIP)
    for index, item in enumerate(items):
        if not isinstance(item, _Other) or item.text not in _MONTH_WORDS:
            continue
        month = _MONTH_WORDS[item.text]
        before = items[index - 1] if index > 0 else None
        after: list[_Group] = []
        for follower in items[index + 1 :]:
            if not isinstance(follower, _Group):
                break
            after.append(follower)
        if isinstance(before, _Group) and 1 <= before.value <= 31:
            day = before.value
            year_groups = after
        elif after:
            # "March fifth nineteen eighty five": the day comes first after the month.
            day, year_groups = after[0].value, after[1:]
        else:
            continue
        year = _year_of(year_groups)
        if year is None:
            return None
        return _resolve(day, month, year[0], year[1], today)
    words = set(tokens)
    if "after" in words and "tomorrow" in words:
        return today + timedelta(days=2)
    if "tomorrow" in words:
        return today + timedelta(days=1)
    if "today" in words:
        return today
    for token in tokens:
        if token in _WEEKDAY_WORDS:
            ahead = (_WEEKDAY_WORDS[token] - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    return None
