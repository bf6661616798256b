"""Russian dates and times as words, both directions (pure text, standard library only).

Rendering follows the phrasing of a registrar: "вторник, шестое сентября, в семнадцать
тридцать"; a birth date is "пятое марта тысяча девятьсот восемьдесят пятого года"; whole hours
are "десять ноль-ноль" and minutes below ten are "девять ноль пять".

Parsing accepts what callers say or what a recogniser writes: "пятое марта восемьдесят пятого",
"5 марта 1985", "05.03.1985", eight dictated digits, "завтра", "в среду", "в семнадцать
тридцать", "17:30", "полшестого".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from speech.ru_numbers import (
    DIGIT_FILLERS,
    ORDINAL_WORDS,
    NumberGroup,
    Word,
    fold,
    number_to_words,
    ordinal_to_words,
    parse_digits,
    scan,
    tokenize,
)

MONTHS_NOM: tuple[str, ...] = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
MONTHS_GEN: tuple[str, ...] = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
MONTHS_PREP: tuple[str, ...] = (
    "январе",
    "феврале",
    "марте",
    "апреле",
    "мае",
    "июне",
    "июле",
    "августе",
    "сентябре",
    "октябре",
    "ноябре",
    "декабре",
)
# Index 0 is Monday, as in date.weekday().
WEEKDAYS: tuple[str, ...] = (
    "понедельник",
    "вторник",
    "среда",
    "четверг",
    "пятница",
    "суббота",
    "воскресенье",
)
WEEKDAYS_ACC: tuple[str, ...] = (
    "понедельник",
    "вторник",
    "среду",
    "четверг",
    "пятницу",
    "субботу",
    "воскресенье",
)

_MONTH_WORDS: dict[str, int] = {}
for _i, _forms in enumerate(zip(MONTHS_NOM, MONTHS_GEN, MONTHS_PREP, strict=True)):
    for _form in _forms:
        _MONTH_WORDS[fold(_form)] = _i + 1
# Written abbreviations ("5 сент. 2026") and a dative that recognisers sometimes produce.
for _abbr, _month in {
    "янв": 1,
    "фев": 2,
    "февр": 2,
    "мар": 3,
    "апр": 4,
    "июн": 6,
    "июл": 7,
    "авг": 8,
    "сен": 9,
    "сент": 9,
    "окт": 10,
    "ноя": 11,
    "нояб": 11,
    "дек": 12,
}.items():
    _MONTH_WORDS[_abbr] = _month

_WEEKDAY_WORDS: dict[str, int] = {}
for _i, _forms in enumerate(zip(WEEKDAYS, WEEKDAYS_ACC, strict=True)):
    for _form in _forms:
        _WEEKDAY_WORDS[fold(_form)] = _i
for _i, _form in enumerate(
    ("понедельника", "вторника", "среды", "четверга", "пятницы", "субботы", "воскресенья")
):
    _WEEKDAY_WORDS[_form] = _i
for _i, _abbr in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс")):
    _WEEKDAY_WORDS[_abbr] = _i

_YEAR_WORDS = frozenset({"год", "года", "году", "годом", "г", "гг"})
_HALF_WORDS = frozenset({"пол", "половина", "половине", "половины"})
_DAY_WORDS = frozenset({"число", "числа", "числу", "числе"})
# Words that do not break a number inside a date ("двадцать э пятого").
_DATE_SKIP = frozenset({"э", "ээ", "эээ", "м", "мм", "ммм", "ну"})
# Words allowed around dictated date digits ("дата рождения ноль пять ноль три ...").
_DATE_DIGIT_FILLERS = DIGIT_FILLERS | {
    "дата",
    "рождения",
    "родился",
    "родилась",
    "рожденья",
    "день",
    "я",
}
_MIN_YEAR = 1900
_MAX_YEAR = 2100


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def on_weekday(day: int | date) -> str:
    """The weekday with its preposition, as in "запишу вас во вторник".

    ``day`` is a date or a weekday index (0 = Monday).  Gives "в понедельник", "во вторник",
    "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье".
    """
    index = day.weekday() if isinstance(day, date) else day
    if not 0 <= index <= 6:
        raise ValueError(f"weekday index {index} is outside 0..6")
    word = WEEKDAYS_ACC[index]
    return ("во " if word == "вторник" else "в ") + word


def say_year(year: int, case: str = "gen", *, with_word: bool = True) -> str:
    """A year as an ordinal: "две тысячи двадцать шестого года" (genitive by default).

    ``case`` is the grammatical case of the whole phrase ("nom": "две тысячи двадцать шестой
    год", "prep": "две тысячи двадцать шестом году"); ``with_word=False`` drops "год".
    """
    words = ordinal_to_words(year, "m", case)
    if not with_word:
        return words
    year_word = {
        "nom": "год",
        "gen": "года",
        "dat": "году",
        "acc": "год",
        "ins": "годом",
        "prep": "году",
    }[case]
    return f"{words} {year_word}"


def say_day_month(d: date, case: str = "nom") -> str:
    """Day and month: "шестое сентября" (nom), "шестого сентября" (gen), "шестому сентября"."""
    return f"{ordinal_to_words(d.day, 'n', case)} {MONTHS_GEN[d.month - 1]}"


def say_date(d: date, with_weekday: bool = True, with_year: bool = False, case: str = "nom") -> str:
    """A date as a registrar says it: "вторник, шестое сентября".

    The day is a neuter ordinal in ``case`` (nominative by default; pass ``gen`` for "до
    шестого сентября"), the month is genitive.  With ``with_year``: "шестое сентября две
    тысячи двадцать шестого года".  The weekday, when included, is always nominative and
    set off by a comma.
    """
    text = say_day_month(d, case)
    if with_year:
        text += " " + say_year(d.year)
    if with_weekday:
        text = f"{WEEKDAYS[d.weekday()]}, {text}"
    return text


def say_time(t: time, case: str = "nom") -> str:
    """A clock time in 24-hour registrar phrasing.

    "семнадцать тридцать", "девять ноль пять", "десять ноль-ноль".  ``case`` declines the
    numbers ("gen": "с девяти тридцати", "dat": "к десяти ноль-ноль").  Seconds are ignored.
    """
    hour = number_to_words(t.hour, "m", case)
    if t.minute == 0:
        minutes = "ноль-ноль"
    elif t.minute < 10:
        minutes = "ноль " + number_to_words(t.minute, "f", case)
    else:
        minutes = number_to_words(t.minute, "f", case)
    return f"{hour} {minutes}"


def say_datetime_slot(dt: datetime, tz: tzinfo | None = None, with_weekday: bool = True) -> str:
    """An appointment slot: "вторник, шестое сентября, в семнадцать тридцать".

    The wall-clock time of ``dt`` is spoken; pass ``tz`` (the clinic's zone) to convert an
    aware datetime first.
    """
    if tz is not None and dt.tzinfo is not None:
        dt = dt.astimezone(tz)
    return f"{say_date(dt.date(), with_weekday=with_weekday)}, в {say_time(dt.time())}"


def say_birth_date(d: date) -> str:
    """A birth date: "пятое марта тысяча девятьсот восемьдесят пятого года"."""
    return say_date(d, with_weekday=False, with_year=True)


# ---------------------------------------------------------------------------------------------
# Parsing dates
# ---------------------------------------------------------------------------------------------

_ISO_RE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_DMY_RE = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})(?![\d.])")
_DM_RE = re.compile(r"(?<![\d.:])(\d{1,2})\.(\d{1,2})(?![\d.:])")


@dataclass(frozen=True)
class _Parsed:
    """A date as understood from text, before the year is resolved."""

    day: int
    month: int
    year: int | None  # four digits
    two_digit_year: int | None = None
    invalid: bool = False


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except (ValueError, OverflowError):
        return None


def _valid_day_month(day: int, month: int) -> bool:
    """Whether the day exists in the month in some year (29 February counts)."""
    return 1 <= month <= 12 and _make(2000, month, day) is not None


def _resolve_two_digit(yy: int, month: int, day: int, today: date) -> date | None:
    """The century for a two-digit year that keeps the date out of the future."""
    recent = _make(2000 + yy, month, day)
    if recent is not None and recent <= today:
        return recent
    return _make(1900 + yy, month, day)


def _next_on_or_after(month: int, day: int, today: date) -> date | None:
    """The next date with this day and month, today included (29 Feb -> next leap year)."""
    if not _valid_day_month(day, month):
        return None
    for year in range(today.year, today.year + 9):
        candidate = _make(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None  # pragma: no cover - a leap year always comes within eight years


def _next_day_of_month(day: int, today: date) -> date | None:
    """The next date whose day of month is ``day``, today included."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(13):
        candidate = _make(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None  # pragma: no cover


def _finish(parsed: _Parsed, today: date, birth: bool) -> date | None:
    if parsed.invalid or not _valid_day_month(parsed.day, parsed.month):
        return None
    if parsed.year is not None:
        result = _make(parsed.year, parsed.month, parsed.day)
    elif parsed.two_digit_year is not None:
        result = _resolve_two_digit(parsed.two_digit_year, parsed.month, parsed.day, today)
    elif birth:
        return None
    else:
        result = _next_on_or_after(parsed.month, parsed.day, today)
    if result is not None and birth and not date(_MIN_YEAR, 1, 1) <= result <= today:
        return None
    return result


def _year_from_digits(digits: str) -> tuple[int | None, int | None] | None:
    """(four-digit year, two-digit year) from a digit string, or None if it is not a year."""
    if len(digits) == 4:
        year = int(digits)
        return (year, None) if _MIN_YEAR <= year <= _MAX_YEAR else None
    if len(digits) == 2:
        return None, int(digits)
    return None


def _numeric_patterns(text: str) -> _Parsed | None:
    m = _ISO_RE.search(text)
    if m:
        return _Parsed(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    m = _DMY_RE.search(text)
    if m:
        year_text = m.group(3)
        if len(year_text) == 4:
            return _Parsed(int(m.group(1)), int(m.group(2)), int(year_text))
        return _Parsed(int(m.group(1)), int(m.group(2)), None, two_digit_year=int(year_text))
    return None


def _day_month_numeric(text: str) -> _Parsed | None:
    """ "06.09" (no year); skipped after "в"/"к", where it is more likely a time."""
    for m in _DM_RE.finditer(text):
        if re.search(r"(?:^|\s)(?:в|во|к|около)\s*$", text[: m.start()]):
            continue
        if _valid_day_month(int(m.group(1)), int(m.group(2))):
            return _Parsed(int(m.group(1)), int(m.group(2)), None)
    return None


def _digits_date(digits: str) -> _Parsed | None:
    """DDMMYYYY or DDMMYY."""
    if len(digits) == 8:
        return _Parsed(int(digits[:2]), int(digits[2:4]), int(digits[4:]))
    if len(digits) == 6:
        return _Parsed(int(digits[:2]), int(digits[2:4]), None, two_digit_year=int(digits[4:]))
    return None


_NO_YEAR: tuple[int | None, int | None] = (None, None)
_BAD_YEAR: tuple[int | None, int | None] = (-1, None)


def _year_after(items: list[NumberGroup | Word], start: int) -> tuple[int | None, int | None]:
    """The year spoken after the month as (four-digit, two-digit).

    ``_NO_YEAR`` when no year follows (numbers that do not look like a year, such as a time
    "семнадцать тридцать", are left alone), ``_BAD_YEAR`` when something explicitly said as a
    year ("восемьсот пятого года") is not a plausible one.
    """
    groups: list[NumberGroup] = []
    index = start
    while index < len(items):
        item = items[index]
        if not isinstance(item, NumberGroup):
            break
        groups.append(item)
        index += 1
    if not groups:
        return _NO_YEAR
    nxt = items[index] if index < len(items) else None
    explicit = groups[-1].ordinal or (isinstance(nxt, Word) and nxt.text in _YEAR_WORDS)
    if len(groups) == 1 and groups[0].literal is None and groups[0].value >= 100:
        value = groups[0].value
        if _MIN_YEAR <= value <= _MAX_YEAR:
            return value, None
        return _BAD_YEAR if explicit else _NO_YEAR
    year = _year_from_digits("".join(group.digits for group in groups))
    if year is None:
        return _BAD_YEAR if explicit else _NO_YEAR
    if year[1] is not None and not (explicit or nxt is None):
        # "шестое сентября десять утра": a bare two-digit number is not a year.
        return _NO_YEAR
    return year


def _month_date(items: list[NumberGroup | Word]) -> _Parsed | None:
    """A date said with a month name: day before the month, optional year after it."""
    for position in range(len(items) - 1, -1, -1):
        item = items[position]
        if not isinstance(item, Word) or item.text not in _MONTH_WORDS:
            continue
        before = items[position - 1] if position > 0 else None
        if not isinstance(before, NumberGroup):
            continue
        month = _MONTH_WORDS[item.text]
        year = _year_after(items, position + 1)
        if year == _BAD_YEAR:
            return _Parsed(before.value, month, None, invalid=True)
        return _Parsed(before.value, month, year[0], two_digit_year=year[1])
    return None


def _ordinal_month_date(groups: list[NumberGroup]) -> _Parsed | None:
    """ "пятое третьего восемьдесят пятого": day and month both said as ordinals."""
    if len(groups) < 2 or not (groups[0].ordinal and groups[1].ordinal):
        return None
    if groups[0].literal is not None or groups[1].literal is not None:
        return None
    day, month = groups[0].value, groups[1].value
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    rest = groups[2:]
    if not rest:
        return _Parsed(day, month, None)
    if len(rest) == 1 and rest[0].literal is None and rest[0].value >= 100:
        value = rest[0].value
        return _Parsed(day, month, value) if _MIN_YEAR <= value <= _MAX_YEAR else None
    year = _year_from_digits("".join(group.digits for group in rest))
    if year is None:
        return None
    return _Parsed(day, month, year[0], two_digit_year=year[1])


def _three_groups(groups: list[NumberGroup]) -> _Parsed | None:
    """ "пять три восемьдесят пять" or "5 3 1985": day, month, year as three numbers."""
    if len(groups) != 3:
        return None
    day, month, year_group = groups
    if not (1 <= day.value <= 31 and 1 <= month.value <= 12):
        return None
    if len(day.digits) > 2 or len(month.digits) > 2:
        return None
    if year_group.literal is None and year_group.value >= 100:
        value = year_group.value
        return _Parsed(day.value, month.value, value) if _MIN_YEAR <= value <= _MAX_YEAR else None
    year = _year_from_digits(year_group.digits)
    if year is None:
        return None
    return _Parsed(day.value, month.value, year[0], two_digit_year=year[1])


def _relative_date(tokens: list[str], today: date) -> date | None:
    words = set(tokens)
    if "послезавтра" in words:
        return today + timedelta(days=2)
    if "завтра" in words:
        return today + timedelta(days=1)
    if "сегодня" in words:
        return today
    if "через" in tokens:
        after = tokens[tokens.index("через") + 1 :]
        items = scan(after, skip=_DATE_SKIP)
        count = 1
        if items and isinstance(items[0], NumberGroup):
            count = items[0].value
            items = items[1:]
        if items and isinstance(items[0], Word) and 1 <= count <= 366:
            unit = items[0].text
            if unit.startswith("недел"):
                return today + timedelta(weeks=count)
            if unit in ("дня", "дней", "день", "сутки", "суток") and count >= 1:
                return today + timedelta(days=count)
    return None


def _weekday_date(tokens: list[str], today: date) -> date | None:
    for index, token in enumerate(tokens):
        weekday = _WEEKDAY_WORDS.get(token)
        if weekday is None:
            continue
        window = tokens[max(0, index - 4) : index + 4]
        if "неделе" in window and any(t.startswith("следующ") for t in window):
            # "на следующей неделе во вторник": that weekday of the next calendar week.
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
            return monday + timedelta(days=weekday)
        ahead = (weekday - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    return None


def _day_only(items: list[NumberGroup | Word], today: date) -> date | None:
    for position, item in enumerate(items):
        if not isinstance(item, NumberGroup):
            continue
        previous = items[position - 1] if position else None
        if isinstance(previous, Word) and previous.text in _HALF_WORDS:
            continue  # "в половине шестого" is a time
        nxt = items[position + 1] if position + 1 < len(items) else None
        day_word = isinstance(nxt, Word) and nxt.text in _DAY_WORDS
        if (item.ordinal or day_word) and 1 <= item.value <= 31:
            return _next_day_of_month(item.value, today)
    return None


def _parse(text: str, today: date, birth: bool) -> date | None:
    folded = fold(text)
    parsed = _numeric_patterns(folded)
    if parsed is not None:
        return _finish(parsed, today, birth)
    items = scan(folded, skip=_DATE_SKIP)
    parsed = _month_date(items)
    if parsed is not None:
        return _finish(parsed, today, birth)
    parsed = _day_month_numeric(folded)
    if parsed is not None:
        return _finish(parsed, today, birth)
    groups = [item for item in items if isinstance(item, NumberGroup)]
    parsed = _ordinal_month_date(groups)
    if parsed is not None:
        return _finish(parsed, today, birth)
    digits = parse_digits(folded, _DATE_DIGIT_FILLERS)
    if digits is not None:
        parsed = _three_groups(groups) or _digits_date(digits)
        if parsed is not None:
            return _finish(parsed, today, birth)
    if birth:
        return None
    tokens = tokenize(folded)
    return _day_only(items, today) or _relative_date(tokens, today) or _weekday_date(tokens, today)


def parse_date(text: str, today: date | None = None) -> date | None:
    """Understand a spoken or written date.

    Accepted: "пятое марта тысяча девятьсот восемьдесят пятого (года)", "пятого марта",
    "двадцать пятое марта", "5 марта 1985", "05.03.1985", "05.03.85", "2026-09-06", "06.09",
    "05031985" and eight dictated digits (DDMMYYYY; six digits are DDMMYY), "пять три восемьдесят
    пять", "пятое третьего восемьдесят пятого", "сегодня", "завтра", "послезавтра",
    "через неделю", "через три дня", weekdays ("в среду", "в следующий вторник"; "на следующей
    неделе в среду" means the Wednesday of the next calendar week), and a day of the month
    alone when said as an ordinal ("на двадцать пятое", "25-го", "пятого числа").

    Resolution relative to ``today`` (default: the local date):

    * a two-digit year takes the century that keeps the date not after ``today`` (birth dates);
    * no year: the next such date on or after ``today`` (appointment requests);
    * a weekday: the next such day strictly after ``today``;
    * a day of the month alone: the next date with that day on or after ``today``.

    An explicit date wins over a relative word or a weekday said with it ("во вторник, шестое
    сентября" gives 6 September whatever weekday that is); compare the weekday yourself if
    the dialogue should query such a contradiction.

    A date that does not exist ("тридцать первое февраля") gives None.  When the caller
    corrects themselves ("пятое, нет, шестое марта") the number right before the month wins.
    """
    return _parse(text, today or date.today(), birth=False)


def parse_birth_date(text: str, today: date | None = None) -> date | None:
    """Like :func:`parse_date` but for a date of birth: the year is required.

    Relative words, weekdays and a missing year give None, and so does a date after
    ``today``.  A two-digit year takes the most recent century ("восемьдесят пятого" is 1985,
    "десятого" in 2026 is 2010).
    """
    return _parse(text, today or date.today(), birth=True)


def parse_dob_digits(digits: str, today: date | None = None) -> date | None:
    """A date of birth typed on the keypad as eight digits DDMMYYYY.

    Returns None unless there are exactly eight digits forming a real date between 1900-01-01
    and ``today`` (default: the local date).
    """
    if len(digits) != 8 or not digits.isdigit() or not digits.isascii():
        return None
    result = _make(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    if result is None or result.year < _MIN_YEAR or result > (today or date.today()):
        return None
    return result


# ---------------------------------------------------------------------------------------------
# Parsing times
# ---------------------------------------------------------------------------------------------

_CLOCK_RE = re.compile(r"(?<![\d.])([01]?\d|2[0-3])[:.](\d{2})(?![\d.])")
_HALF_RE = re.compile(r"\bпол(?:-|\s)?([а-я]+)")
_TIME_PREPOSITIONS = frozenset({"в", "во", "к", "около", "на", "после", "до", "с", "со"})
_TIME_FILLERS = frozenset(
    {
        "ровно",
        "часов",
        "часа",
        "ч",
        "минут",
        "минуты",
        "минуту",
        "мин",
        "где",
        "то",
        "примерно",
        "часиков",
        "э",
        "ну",
        "так",
        "вот",
    }
)
_PM_WORDS = frozenset({"вечера", "дня", "вечером", "днем", "после", "обеда"})
_AM_WORDS = frozenset({"утра", "утром", "ночи"})


def _apply_daypart(
    hour: int, tokens: list[str], clinic_hours: tuple[int, int] | None = None
) -> int:
    words = set(tokens)
    if words & _PM_WORDS and 1 <= hour < 12:
        return hour + 12
    if "ночи" in words and hour == 12:
        return 0
    if clinic_hours is not None and not words & _AM_WORDS and hour < 12:
        opens, closes = clinic_hours
        if not opens <= hour < closes and opens <= hour + 12 < closes:
            return hour + 12
    return hour


def parse_time(text: str, *, clinic_hours: tuple[int, int] | None = None) -> time | None:
    """Understand a spoken or written clock time.

    "в семнадцать тридцать", "девять ноль пять", "десять ноль-ноль", "в десять", "17:30",
    "9.05", "в пять вечера" (17:00), "в час дня" (13:00), "полшестого"/"половина шестого"
    (5:30, or 17:30 with "вечера"), "семнадцать часов тридцать минут".  Returns None when no
    valid time is found.

    ``clinic_hours`` = (opening hour, closing hour), e.g. (8, 20), resolves the 12-hour
    ambiguity of speech: an hour outside the opening hours whose afternoon twin is inside
    them moves to the afternoon ("в пять" -> 17:00, "полшестого" -> 17:30), unless the caller
    said "утра".  Without it the hour is taken literally.
    """
    folded = fold(text)
    tokens = tokenize(folded)
    m = _CLOCK_RE.search(folded)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        if minute < 60:
            return time(_apply_daypart(hour, tokens, clinic_hours), minute)
        return None
    half = _half_past(folded, tokens, clinic_hours)
    if half is not None:
        return half
    items = scan(tokens, ordinals=True, skip=_TIME_FILLERS | _PM_WORDS | _AM_WORDS)
    start = _hour_position(items)
    if start is None:
        words = {item.text for item in items if isinstance(item, Word)}
        if "полдень" in words:
            return time(12, 0)
        if "полночь" in words:
            return time(0, 0)
        if "час" in words:
            return time(_apply_daypart(1, tokens, clinic_hours), 0)
        return None
    hour_item = items[start]
    if not isinstance(hour_item, NumberGroup):  # pragma: no cover - guaranteed by the scan
        return None
    previous = items[start - 1] if start > 0 else None
    if isinstance(previous, Word) and previous.text == "час":
        # "в час пятнадцать": the number is the minutes.
        hour, first_minute = 1, start
    else:
        hour, first_minute = hour_item.value, start + 1
    minute_digits = ""
    for item in items[first_minute:]:
        if not isinstance(item, NumberGroup) or item.ordinal:
            break
        minute_digits += item.digits
    if len(minute_digits) > 2:
        return None
    minute = int(minute_digits) if minute_digits else 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(_apply_daypart(hour, tokens, clinic_hours), minute)


def _hour_position(items: list[NumberGroup | Word]) -> int | None:
    """Index of the number that starts the time: after a preposition if any, else the first.

    Ordinals and numbers followed by a month or "число" are parts of a date and skipped.
    """
    candidates: list[int] = []
    for index, item in enumerate(items):
        if not isinstance(item, NumberGroup) or item.ordinal:
            continue
        nxt = items[index + 1] if index + 1 < len(items) else None
        if isinstance(nxt, Word) and (nxt.text in _MONTH_WORDS or nxt.text in _DAY_WORDS):
            continue
        previous = items[index - 1] if index > 0 else None
        if isinstance(previous, NumberGroup) and not previous.ordinal:
            continue  # minutes of an earlier hour
        if isinstance(previous, Word) and previous.text in _TIME_PREPOSITIONS | {"час"}:
            return index
        candidates.append(index)
    return candidates[0] if candidates else None


def _half_past(folded: str, tokens: list[str], clinic_hours: tuple[int, int] | None) -> time | None:
    """ "полшестого", "пол шестого", "половина шестого" -> 5:30 (17:30 with "вечера")."""
    ordinal: str | None = None
    if "половина" in tokens or "половине" in tokens:
        key = "половина" if "половина" in tokens else "половине"
        index = tokens.index(key)
        if index + 1 < len(tokens):
            ordinal = tokens[index + 1]
    else:
        m = _HALF_RE.search(folded)
        if m and m.group(1) in ORDINAL_WORDS:
            ordinal = m.group(1)
    if ordinal is None:
        return None
    word = ORDINAL_WORDS.get(ordinal)
    if word is None or not 1 <= word.value <= 12:
        return None
    hour = word.value - 1
    if hour == 0:
        hour = 12 if "дня" in tokens or clinic_hours else 0
    else:
        hour = _apply_daypart(hour, tokens, clinic_hours)
    return time(hour, 30)
