"""Cell values as a Russian clinic's files write them: dates, times, weekdays, yes/no, parity.

Each parser takes what the reader gave (text from a CSV; text, number, date or time from an
XLSX) and returns the value or raises :class:`BadValue` with a stable code.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from booking_core.lines import normalize_number
from clinic_import.headers import normalise


class BadValue(ValueError):
    """A cell that cannot be read as what its column holds; ``code`` names the kind."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


EXCEL_EPOCH = date(1899, 12, 30)


def parse_line_number(raw: object) -> str:
    """A dialled number of the registry line ("+7 (495) 123-00-03", "122"), as lines are
    stored (:func:`booking_core.lines.normalize_number`)."""
    value = text(raw)
    if not re.fullmatch(r"[0-9+()\-\s]{2,40}", value):
        raise BadValue("bad_line_number")
    number = normalize_number(value)
    if not 2 <= len(number) <= 32:
        raise BadValue("bad_line_number")
    return number


def text(value: object) -> str:
    """A cell as trimmed text (numbers without a trailing ``.0``)."""
    if type(value) is str:  # the common case first: this runs for every cell
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time.min else value.isoformat()
    return str(value).strip()


def digits_text(value: object) -> str:
    """A number-like cell (policy, SNILS) as text: Excel may have stored it as a number."""
    if type(value) is str:
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{int(value)}"
    return text(value)


_RU_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%y", "%Y.%m.%d")


def parse_date(value: object) -> date:
    """``05.03.1985``, ``1985-03-05``, ``05/03/1985``, an Excel date or its serial number."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2_958_466:  # Excel's serial day numbers (up to 9999-12-31)
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise BadValue("bad_date")
    s = text(value)
    m = _RU_DATE.fullmatch(s)
    if m:  # the usual DD.MM.YYYY, without strptime's cost (it runs once per patient)
        try:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            raise BadValue("impossible_date") from None
    if " " in s:
        s = s.split(" ", 1)[0]  # "05.03.1985 0:00:00" as some exports write it
    if "T" in s:
        s = s.split("T", 1)[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    # A well-formed but impossible date (31.02.1985) is a different mistake than a typo.
    if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}", s):
        raise BadValue("impossible_date")
    raise BadValue("bad_date")


def optional_date(value: object) -> date | None:
    return None if text(value) == "" else parse_date(value)


def parse_time(value: object) -> time:
    """``8:00``, ``08.30``, ``8``, an Excel time (or a fraction of a day)."""
    if isinstance(value, time):
        return value
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, timedelta):
        value = value.total_seconds() / 86400
    if isinstance(value, float) and 0 <= value < 1:
        minutes = round(value * 24 * 60)
        return time(minutes // 60, minutes % 60)
    s = text(value)
    m = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))?(?::\d{2})?", s)
    if not m:
        raise BadValue("bad_time")
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        raise BadValue("bad_time")
    return time(hour, minute)


def optional_time(value: object) -> time | None:
    return None if text(value) == "" else parse_time(value)


def parse_span(value: object) -> tuple[time, time]:
    """``08:00-14:00`` (also with «–», «—» or «до»)."""
    parts = re.split(r"\s*(?:-|–|—|до)\s*", text(value))
    if len(parts) != 2:
        raise BadValue("bad_span")
    return parse_time(parts[0]), parse_time(parts[1])


_WEEKDAYS = {
    **{w: i for i, w in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс"))},
    **{w: i for i, w in enumerate(("понедельник", "вторник", "среда", "четверг", "пятница",
                                   "суббота", "воскресенье"))},
    **{w: i for i, w in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{w: i for i, w in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                   "saturday", "sunday"))},
    **{str(i + 1): i for i in range(7)},  # 1 = Monday, as a Russian calendar counts
}


def parse_weekday(value: object) -> int:
    """Monday = 0: ``пн``, ``понедельник``, ``Mon``, ``1`` (Monday is day 1 in the file)."""
    key = normalise(digits_text(value))
    if key not in _WEEKDAYS:
        raise BadValue("bad_weekday")
    return _WEEKDAYS[key]


_YES = {"да", "yes", "y", "true", "1", "д", "+", "работает", "активен", "x", "х"}
_NO = {"нет", "no", "n", "false", "0", "н", "-", "уволен", "не работает"}


def parse_bool(value: object, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    s = normalise(digits_text(value)) if text(value) not in ("+", "-") else text(value)
    if s == "":
        return default
    if s in _YES:
        return True
    if s in _NO:
        return False
    raise BadValue("bad_yes_no")


_PARITY = {
    "": "any", "все": "any", "любые": "any", "any": "any", "all": "any", "каждая": "any",
    "чет": "even", "четные": "even", "четная": "even", "четн": "even", "even": "even",
    "нечет": "odd", "нечетные": "odd", "нечетная": "odd", "нечетн": "odd", "odd": "odd",
}


def parse_parity(value: object) -> str:
    """«чёт.», «чётные», «even» -> even; «нечёт.», «odd» -> odd; empty, «все» -> any."""
    key = normalise(value)
    if key not in _PARITY:
        raise BadValue("bad_parity")
    return _PARITY[key]


_MODES = {
    "": "self_referral", "самозапись": "self_referral", "self referral": "self_referral",
    "self_referral": "self_referral", "самостоятельно": "self_referral", "да": "self_referral",
    "по направлению": "referral_only", "направление": "referral_only",
    "referral only": "referral_only", "referral_only": "referral_only",
    "referral": "referral_only",
}
_AGES = {
    "": "any", "все": "any", "any": "any", "любой": "any", "взрослые": "adult",
    "взрослый": "adult", "adult": "adult", "adults": "adult", "дети": "child",
    "детский": "child", "child": "child", "children": "child",
}


def parse_booking_mode(value: object) -> str:
    key = normalise(value).replace("_", " ")
    if key not in _MODES:
        raise BadValue("bad_booking_mode")
    return _MODES[key]


def parse_age_group(value: object) -> str:
    key = normalise(value)
    if key not in _AGES:
        raise BadValue("bad_age_group")
    return _AGES[key]


def parse_int(value: object, lo: int, hi: int) -> int:
    s = digits_text(value)
    if not re.fullmatch(r"\d+", s) or not lo <= int(s) <= hi:
        raise BadValue("bad_number")
    return int(s)


def optional_int(value: object, lo: int, hi: int) -> int | None:
    return None if text(value) == "" else parse_int(value, lo, hi)
