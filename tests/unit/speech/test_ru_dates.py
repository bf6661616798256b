"""Russian dates and times <-> words, and the text normaliser for speech synthesis."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from speech.ru_dates import (
    MONTHS_GEN,
    WEEKDAYS,
    WEEKDAYS_ACC,
    on_weekday,
    parse_birth_date,
    parse_date,
    parse_dob_digits,
    parse_time,
    say_birth_date,
    say_date,
    say_datetime_slot,
    say_day_month,
    say_time,
    say_year,
)
from speech.ru_normalize import normalize_for_speech
from speech.ru_numbers import digits_to_words

# 2026-09-01 is a Tuesday.
TODAY = date(2026, 9, 1)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def test_month_and_weekday_tables() -> None:
    assert MONTHS_GEN[0] == "января"
    assert MONTHS_GEN[2] == "марта"
    assert MONTHS_GEN[8] == "сентября"
    assert MONTHS_GEN[11] == "декабря"
    assert len(MONTHS_GEN) == 12
    assert WEEKDAYS[0] == "понедельник"
    assert WEEKDAYS[6] == "воскресенье"
    assert WEEKDAYS[date(2026, 9, 8).weekday()] == "вторник"
    assert WEEKDAYS_ACC[2] == "среду"


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (0, "в понедельник"),
        (1, "во вторник"),
        (2, "в среду"),
        (3, "в четверг"),
        (4, "в пятницу"),
        (5, "в субботу"),
        (6, "в воскресенье"),
        (date(2026, 9, 8), "во вторник"),
        (date(2026, 9, 6), "в воскресенье"),
    ],
)
def test_on_weekday(day: int | date, expected: str) -> None:
    assert on_weekday(day) == expected


def test_on_weekday_rejects() -> None:
    with pytest.raises(ValueError):
        on_weekday(7)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

SAY_DATE = [
    (date(2026, 9, 8), True, False, "вторник, восьмое сентября"),
    (date(2026, 9, 6), True, False, "воскресенье, шестое сентября"),
    (date(2026, 9, 6), False, False, "шестое сентября"),
    (date(2026, 9, 6), False, True, "шестое сентября две тысячи двадцать шестого года"),
    (
        date(2026, 9, 8),
        True,
        True,
        "вторник, восьмое сентября две тысячи двадцать шестого года",
    ),
    (date(2026, 1, 1), False, False, "первое января"),
    (date(2026, 1, 2), False, False, "второе января"),
    (date(2026, 1, 3), False, False, "третье января"),
    (date(2026, 2, 4), False, False, "четвёртое февраля"),
    (date(2026, 3, 5), False, False, "пятое марта"),
    (date(2026, 4, 7), False, False, "седьмое апреля"),
    (date(2026, 5, 9), False, False, "девятое мая"),
    (date(2026, 6, 12), False, False, "двенадцатое июня"),
    (date(2026, 7, 20), False, False, "двадцатое июля"),
    (date(2026, 8, 21), False, False, "двадцать первое августа"),
    (date(2026, 10, 23), False, False, "двадцать третье октября"),
    (date(2026, 11, 30), False, False, "тридцатое ноября"),
    (date(2026, 12, 31), False, False, "тридцать первое декабря"),
    (date(2000, 1, 1), False, True, "первое января двухтысячного года"),
    (date(2001, 5, 9), False, True, "девятое мая две тысячи первого года"),
]


@pytest.mark.parametrize(("d", "weekday", "year", "expected"), SAY_DATE)
def test_say_date(d: date, weekday: bool, year: bool, expected: str) -> None:
    assert say_date(d, with_weekday=weekday, with_year=year) == expected


def test_say_date_default_has_weekday_and_no_year() -> None:
    assert say_date(date(2026, 9, 8)) == "вторник, восьмое сентября"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("nom", "шестое сентября"),
        ("gen", "шестого сентября"),
        ("dat", "шестому сентября"),
        ("acc", "шестое сентября"),
        ("ins", "шестым сентября"),
        ("prep", "шестом сентября"),
    ],
)
def test_say_day_month_cases(case: str, expected: str) -> None:
    assert say_day_month(date(2026, 9, 6), case) == expected
    assert say_date(date(2026, 9, 6), with_weekday=False, case=case) == expected


@pytest.mark.parametrize(
    ("year", "case", "expected"),
    [
        (2026, "gen", "две тысячи двадцать шестого года"),
        (2026, "nom", "две тысячи двадцать шестой год"),
        (2026, "prep", "две тысячи двадцать шестом году"),
        (1985, "gen", "тысяча девятьсот восемьдесят пятого года"),
        (2000, "gen", "двухтысячного года"),
        (1900, "ins", "тысяча девятисотым годом"),
    ],
)
def test_say_year(year: int, case: str, expected: str) -> None:
    assert say_year(year, case) == expected


def test_say_year_without_word() -> None:
    assert say_year(2026, with_word=False) == "две тысячи двадцать шестого"


SAY_TIME = [
    (time(17, 30), "семнадцать тридцать"),
    (time(9, 5), "девять ноль пять"),
    (time(10, 0), "десять ноль-ноль"),
    (time(8, 0), "восемь ноль-ноль"),
    (time(8, 15), "восемь пятнадцать"),
    (time(8, 45), "восемь сорок пять"),
    (time(12, 1), "двенадцать ноль одна"),
    (time(12, 2), "двенадцать ноль две"),
    (time(13, 21), "тринадцать двадцать одна"),
    (time(14, 10), "четырнадцать десять"),
    (time(19, 59), "девятнадцать пятьдесят девять"),
    (time(20, 0), "двадцать ноль-ноль"),
    (time(21, 22), "двадцать один двадцать две"),
    (time(23, 59), "двадцать три пятьдесят девять"),
    (time(0, 0), "ноль ноль-ноль"),
    (time(0, 30), "ноль тридцать"),
    (time(1, 0), "один ноль-ноль"),
    (time(17, 30, 45), "семнадцать тридцать"),
]


@pytest.mark.parametrize(("t", "expected"), SAY_TIME)
def test_say_time(t: time, expected: str) -> None:
    assert say_time(t) == expected


@pytest.mark.parametrize(
    ("t", "case", "expected"),
    [
        (time(9, 30), "gen", "девяти тридцати"),
        (time(8, 0), "gen", "восьми ноль-ноль"),
        (time(9, 5), "gen", "девяти ноль пяти"),
        (time(10, 0), "dat", "десяти ноль-ноль"),
        (time(20, 0), "gen", "двадцати ноль-ноль"),
    ],
)
def test_say_time_cases(t: time, case: str, expected: str) -> None:
    assert say_time(t, case) == expected


def test_say_datetime_slot() -> None:
    assert (
        say_datetime_slot(datetime(2026, 9, 8, 17, 30))
        == "вторник, восьмое сентября, в семнадцать тридцать"
    )
    assert (
        say_datetime_slot(datetime(2026, 9, 6, 9, 5), with_weekday=False)
        == "шестое сентября, в девять ноль пять"
    )


def test_say_datetime_slot_converts_to_clinic_zone() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    utc_slot = datetime(2026, 9, 8, 14, 30, tzinfo=UTC)
    assert say_datetime_slot(utc_slot, tz=moscow) == (
        "вторник, восьмое сентября, в семнадцать тридцать"
    )
    # Late evening UTC is the next day in Moscow.
    late = datetime(2026, 9, 7, 22, 0, tzinfo=UTC)
    assert say_datetime_slot(late, tz=moscow).startswith("вторник, восьмое сентября")
    # A naive datetime is spoken as is.
    assert say_datetime_slot(datetime(2026, 9, 8, 17, 30), tz=moscow).endswith(
        "в семнадцать тридцать"
    )


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(1985, 3, 5), "пятое марта тысяча девятьсот восемьдесят пятого года"),
        (date(2000, 2, 29), "двадцать девятое февраля двухтысячного года"),
        (date(1953, 12, 31), "тридцать первое декабря тысяча девятьсот пятьдесят третьего года"),
        (date(2010, 1, 3), "третье января две тысячи десятого года"),
        (date(1940, 6, 22), "двадцать второе июня тысяча девятьсот сорокового года"),
        (date(1900, 1, 1), "первое января тысяча девятисотого года"),
    ],
)
def test_say_birth_date(d: date, expected: str) -> None:
    assert say_birth_date(d) == expected


# ---------------------------------------------------------------------------------------------
# parse_date
# ---------------------------------------------------------------------------------------------

PARSE_DATE = [
    # Full dates in words
    ("пятое марта тысяча девятьсот восемьдесят пятого", date(1985, 3, 5)),
    ("пятое марта тысяча девятьсот восемьдесят пятого года", date(1985, 3, 5)),
    ("пятого марта тысяча девятьсот восемьдесят пятого года", date(1985, 3, 5)),
    ("пятое марта тысяча девятьсот восемьдесят пять", date(1985, 3, 5)),
    ("Пятое Марта Тысяча Девятьсот Восемьдесят Пятого", date(1985, 3, 5)),
    ("двадцать пятое марта две тысячи пятого", date(2005, 3, 25)),
    ("первое января двухтысячного года", date(2000, 1, 1)),
    ("тридцать первое декабря тысяча девятьсот девяносто девятого", date(1999, 12, 31)),
    ("третье апреля две тысячи десятого", date(2010, 4, 3)),
    ("пятое марта девятнадцать восемьдесят пять", date(1985, 3, 5)),
    ("пятое марта две тысячи двадцать седьмого", date(2027, 3, 5)),
    # Two-digit years: not in the future relative to today
    ("пятое марта восемьдесят пятого года", date(1985, 3, 5)),
    ("пятое марта восемьдесят пятого", date(1985, 3, 5)),
    ("пятое марта восемьдесят пять", date(1985, 3, 5)),
    ("пятое марта двадцать пятого года", date(2025, 3, 5)),
    ("пятое марта двадцать шестого года", date(2026, 3, 5)),
    ("пятое марта двадцать седьмого года", date(1927, 3, 5)),
    ("первое сентября двадцать шестого", date(2026, 9, 1)),
    ("второе сентября двадцать шестого", date(1926, 9, 2)),
    ("пятое марта ноль пятого", date(2005, 3, 5)),
    ("5 марта 85", date(1985, 3, 5)),
    ("5 марта 85 года", date(1985, 3, 5)),
    ("5 марта 85-го", date(1985, 3, 5)),
    # No year: the next such date on or after today
    ("двадцать пятое марта", date(2027, 3, 25)),
    ("пятого марта", date(2027, 3, 5)),
    ("шестое сентября", date(2026, 9, 6)),
    ("первое сентября", date(2026, 9, 1)),
    ("тридцать первое августа", date(2027, 8, 31)),
    ("на пятнадцатое октября", date(2026, 10, 15)),
    ("двадцать девятое февраля", date(2028, 2, 29)),
    ("шестое сентября в семнадцать тридцать", date(2026, 9, 6)),
    ("шестое сентября семнадцать тридцать", date(2026, 9, 6)),
    ("шестое сентября десять утра", date(2026, 9, 6)),
    ("запишите меня на шестое сентября пожалуйста", date(2026, 9, 6)),
    ("пятое, нет, шестое сентября", date(2026, 9, 6)),
    ("6 сентября", date(2026, 9, 6)),
    ("6-е сентября", date(2026, 9, 6)),
    ("6-го сентября", date(2026, 9, 6)),
    ("шесть сентября", date(2026, 9, 6)),
    ("шестое сентябрь", date(2026, 9, 6)),
    ("6 сент", date(2026, 9, 6)),
    # Numerals
    ("5 марта 1985", date(1985, 3, 5)),
    ("5 марта 1985 года", date(1985, 3, 5)),
    ("5 марта 1985г", date(1985, 3, 5)),
    ("05.03.1985", date(1985, 3, 5)),
    ("5.3.1985", date(1985, 3, 5)),
    ("05/03/1985", date(1985, 3, 5)),
    ("05.03.85", date(1985, 3, 5)),
    ("05.03.20", date(2020, 3, 5)),
    ("05.03.27", date(1927, 3, 5)),
    ("2026-09-06", date(2026, 9, 6)),
    ("06.09", date(2026, 9, 6)),
    ("на 06.09", date(2026, 9, 6)),
    ("05031985", date(1985, 3, 5)),
    ("050385", date(1985, 3, 5)),
    ("05 03 1985", date(1985, 3, 5)),
    ("5 3 1985", date(1985, 3, 5)),
    # Dictated digits
    ("ноль пять ноль три один девять восемь пять", date(1985, 3, 5)),
    ("ноль пять ноль три девятнадцать восемьдесят пять", date(1985, 3, 5)),
    ("ноль пять ноль три восемьдесят пять", date(1985, 3, 5)),
    ("двадцать пять ноль три восемьдесят пять", date(1985, 3, 25)),
    ("двадцать пять ноль три тысяча девятьсот восемьдесят пять", date(1985, 3, 25)),
    ("пять три восемьдесят пять", date(1985, 3, 5)),
    ("двадцать пять три тысяча девятьсот восемьдесят пять", date(1985, 3, 25)),
    ("дата рождения ноль пять ноль три один девять восемь пять", date(1985, 3, 5)),
    # Day and month as ordinals
    ("пятое третьего восемьдесят пятого", date(1985, 3, 5)),
    ("пятое третьего тысяча девятьсот восемьдесят пятого", date(1985, 3, 5)),
    ("двадцать пятое двенадцатого", date(2026, 12, 25)),
    # Relative words
    ("сегодня", TODAY),
    ("завтра", date(2026, 9, 2)),
    ("послезавтра", date(2026, 9, 3)),
    ("давайте завтра утром", date(2026, 9, 2)),
    ("через неделю", date(2026, 9, 8)),
    ("через две недели", date(2026, 9, 15)),
    ("через три дня", date(2026, 9, 4)),
    ("через 10 дней", date(2026, 9, 11)),
    # Weekdays: the next such day after today (today is a Tuesday)
    ("в среду", date(2026, 9, 2)),
    ("в четверг", date(2026, 9, 3)),
    ("в пятницу", date(2026, 9, 4)),
    ("в субботу", date(2026, 9, 5)),
    ("в воскресенье", date(2026, 9, 6)),
    ("в понедельник", date(2026, 9, 7)),
    ("во вторник", date(2026, 9, 8)),
    ("в следующий вторник", date(2026, 9, 8)),
    ("в следующую среду", date(2026, 9, 2)),
    ("на следующей неделе в среду", date(2026, 9, 9)),
    ("среда", date(2026, 9, 2)),
    ("в среду в половине шестого", date(2026, 9, 2)),
    ("в среду девятого", date(2026, 9, 9)),
    ("во вторник шестое сентября", date(2026, 9, 6)),
    ("завтра, третьего", date(2026, 9, 3)),
    # A day of the month alone, said as an ordinal
    ("на двадцать пятое", date(2026, 9, 25)),
    ("двадцать пятого", date(2026, 9, 25)),
    ("25-го", date(2026, 9, 25)),
    ("пятого числа", date(2026, 9, 5)),
    ("тридцать первого числа", date(2026, 10, 31)),
    ("первое", TODAY),
    ("тридцать первое", date(2026, 10, 31)),
    # Invalid or absent
    ("тридцать первое февраля", None),
    ("тридцать первое апреля", None),
    ("тридцать второе марта", None),
    ("31.02.2020", None),
    ("29.02.2025", None),
    ("29.02.2024", date(2024, 2, 29)),
    ("двадцать девятое февраля двадцать пятого года", None),
    ("пятое марта восьмисотого года", None),
    ("ноль пять тринадцать один девять восемь пять", None),
    ("32031985", None),
    ("не помню", None),
    ("", None),
    ("пять минут", None),
    ("марта", None),
    ("пять", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_DATE)
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text, today=TODAY) == expected


def test_parse_date_defaults_to_local_today() -> None:
    assert parse_date("сегодня") == date.today()
    assert parse_date("завтра") == date.today() + timedelta(days=1)


def test_parse_date_weekday_same_day_goes_to_next_week() -> None:
    wednesday = date(2026, 9, 2)
    assert parse_date("в среду", today=wednesday) == date(2026, 9, 9)


def test_parse_date_year_end_wraps() -> None:
    assert parse_date("пятое января", today=date(2026, 12, 31)) == date(2027, 1, 5)
    assert parse_date("тридцать первое декабря", today=date(2026, 12, 31)) == date(2026, 12, 31)
    assert parse_date("тридцать первое", today=date(2026, 2, 10)) == date(2026, 3, 31)


PARSE_BIRTH_DATE = [
    ("пятое марта тысяча девятьсот восемьдесят пятого года", date(1985, 3, 5)),
    ("пятое марта восемьдесят пятого", date(1985, 3, 5)),
    ("десятое января десятого года", date(2010, 1, 10)),
    ("05.03.1985", date(1985, 3, 5)),
    ("ноль пять ноль три один девять восемь пять", date(1985, 3, 5)),
    ("пятое марта", None),
    ("завтра", None),
    ("в среду", None),
    ("двадцать пятого", None),
    ("пятое марта две тысячи двадцать седьмого", None),
    ("05.03.2030", None),
    ("не помню", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_BIRTH_DATE)
def test_parse_birth_date(text: str, expected: date | None) -> None:
    assert parse_birth_date(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("05031985", date(1985, 3, 5)),
        ("01011900", date(1900, 1, 1)),
        ("29022000", date(2000, 2, 29)),
        ("01092026", TODAY),
        ("29021985", None),
        ("31042000", None),
        ("00011985", None),
        ("01001985", None),
        ("01131985", None),
        ("02092026", None),
        ("01011899", None),
        ("0503198", None),
        ("050319850", None),
        ("0503198a", None),
        ("", None),
        ("０５０３１９８５", None),
    ],
)
def test_parse_dob_digits(digits: str, expected: date | None) -> None:
    assert parse_dob_digits(digits, today=TODAY) == expected


def _every_day(year: int) -> list[date]:
    day = date(year, 1, 1)
    days = []
    while day.year == year:
        days.append(day)
        day += timedelta(days=1)
    return days


@pytest.mark.parametrize("year", [2024, 2026, 1985, 2000])
def test_round_trip_every_day_with_year(year: int) -> None:
    days = _every_day(year)
    assert len(days) == (366 if year in (2024, 2000) else 365)
    for d in days:
        assert parse_date(say_birth_date(d), today=TODAY) == d, say_birth_date(d)
        assert parse_date(say_date(d, with_year=True), today=TODAY) == d
        assert parse_birth_date(say_birth_date(d), today=TODAY) == (d if d <= TODAY else None)


@pytest.mark.parametrize("year", [2024, 2027])
def test_round_trip_every_day_without_year(year: int) -> None:
    today = date(year, 1, 1)
    for d in _every_day(year):
        assert parse_date(say_date(d), today=today) == d, say_date(d)
        for case in ("nom", "gen"):
            text = say_date(d, with_weekday=False, case=case)
            assert parse_date(text, today=today) == d, text


def test_round_trip_every_day_as_keypad_and_dictated_digits() -> None:
    for d in _every_day(1996):
        digits = d.strftime("%d%m%Y")
        assert parse_dob_digits(digits, today=TODAY) == d
        assert parse_date(digits_to_words(digits), today=TODAY) == d
        assert parse_date(d.strftime("%d.%m.%Y"), today=TODAY) == d


# ---------------------------------------------------------------------------------------------
# parse_time
# ---------------------------------------------------------------------------------------------

PARSE_TIME = [
    ("в семнадцать тридцать", time(17, 30)),
    ("семнадцать тридцать", time(17, 30)),
    ("17:30", time(17, 30)),
    ("в 17:30", time(17, 30)),
    ("9.05", time(9, 5)),
    ("в 9 30", time(9, 30)),
    ("девять ноль пять", time(9, 5)),
    ("десять ноль-ноль", time(10, 0)),
    ("десять ноль ноль", time(10, 0)),
    ("в десять", time(10, 0)),
    ("к девяти", time(9, 0)),
    ("в восемь сорок пять", time(8, 45)),
    ("в двадцать тридцать", time(20, 30)),
    ("в двадцать один сорок", time(21, 40)),
    ("двенадцать пятнадцать", time(12, 15)),
    ("семнадцать часов тридцать минут", time(17, 30)),
    ("в девять часов", time(9, 0)),
    ("ровно в девять", time(9, 0)),
    ("в пять вечера", time(17, 0)),
    ("в девять утра", time(9, 0)),
    ("в три часа дня", time(15, 0)),
    ("в час дня", time(13, 0)),
    ("в час", time(1, 0)),
    ("в час пятнадцать", time(1, 15)),
    ("полдень", time(12, 0)),
    ("полночь", time(0, 0)),
    ("полшестого", time(5, 30)),
    ("пол шестого", time(5, 30)),
    ("полшестого вечера", time(17, 30)),
    ("половина шестого", time(5, 30)),
    ("в половине девятого", time(8, 30)),
    ("полпервого дня", time(12, 30)),
    ("шестого сентября в десять", time(10, 0)),
    ("двадцать пятого в десять", time(10, 0)),
    ("5 марта в 10", time(10, 0)),
    ("в десять или в одиннадцать", time(10, 0)),
    ("двадцать пять", None),
    ("в двадцать четыре", None),
    ("в десять сто", None),
    ("25:00", None),
    ("не знаю", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_TIME)
def test_parse_time(text: str, expected: time | None) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("в пять", time(17, 0)),
        ("в семь", time(19, 0)),
        ("в восемь", time(8, 0)),
        ("в девять", time(9, 0)),
        ("в час", time(13, 0)),
        ("в час пятнадцать", time(13, 15)),
        ("полшестого", time(17, 30)),
        ("полпервого", time(12, 30)),
        ("в пять утра", time(5, 0)),
        ("в семнадцать", time(17, 0)),
        ("в 5:30", time(17, 30)),
    ],
)
def test_parse_time_clinic_hours(text: str, expected: time) -> None:
    assert parse_time(text, clinic_hours=(8, 20)) == expected


def test_time_round_trip_every_minute() -> None:
    for hour in range(24):
        for minute in range(60):
            t = time(hour, minute)
            assert parse_time(say_time(t)) == t, say_time(t)
            assert parse_time("в " + say_time(t)) == t


def test_datetime_slot_round_trip() -> None:
    start = datetime(2026, 9, 2, 8, 0)
    for step in range(0, 60 * 24 * 14, 97):
        slot = start + timedelta(minutes=step)
        text = say_datetime_slot(slot)
        assert parse_date(text, today=TODAY) == slot.date(), text
        assert parse_time(text) == slot.time(), text


# ---------------------------------------------------------------------------------------------
# normalize_for_speech
# ---------------------------------------------------------------------------------------------

NORMALIZE = [
    ("17:30", "семнадцать тридцать"),
    ("в 9:05", "в девять ноль пять"),
    ("в 10:00", "в десять ноль-ноль"),
    ("Работаем с 8:00 до 20:00", "Работаем с восьми ноль-ноль до двадцати ноль-ноль"),
    ("к 9:30", "к девяти тридцати"),
    ("Перерыв 13:00-14:00", "Перерыв с тринадцати ноль-ноль до четырнадцати ноль-ноль"),
    ("Перерыв 13:00 – 14:00.", "Перерыв с тринадцати ноль-ноль до четырнадцати ноль-ноль."),
    ("6 сентября", "шестое сентября"),
    ("на 6 сентября", "на шестое сентября"),
    ("до 6 сентября", "до шестого сентября"),
    ("с 1 сентября", "с первого сентября"),
    ("к 3 марта", "к третьему марта"),
    ("6 сентября 2026 г.", "шестое сентября две тысячи двадцать шестого года"),
    ("6 сентября 2026 года", "шестое сентября две тысячи двадцать шестого года"),
    ("6 сентября 2026", "шестое сентября две тысячи двадцать шестого года"),
    ("06.09.2026", "шестое сентября две тысячи двадцать шестого года"),
    ("до 06.09.2026", "до шестого сентября две тысячи двадцать шестого года"),
    ("в 2026 г.", "в две тысячи двадцать шестом году"),
    ("в 2026 году", "в две тысячи двадцать шестом году"),
    ("2026 г.", "две тысячи двадцать шестого года"),
    ("2026 год", "две тысячи двадцать шестой год"),
    ("с 2020 г.", "с две тысячи двадцатого года"),
    (
        "Приходите 6 сентября в 17:30, каб. 15",
        "Приходите шестое сентября в семнадцать тридцать, кабинет пятнадцать",
    ),
    ("каб. 15", "кабинет пятнадцать"),
    ("каб.15", "кабинет пятнадцать"),
    ("Каб. 215", "Кабинет двести пятнадцать"),
    ("кабинет 15", "кабинет пятнадцать"),
    ("кабинет №15", "кабинет номер пятнадцать"),
    ("№ 5", "номер пять"),
    ("№5", "номер пять"),
    ("поликлиника №3", "поликлиника номер три"),
    ("ул. Ленина, д. 5, кв. 12", "улица Ленина, дом пять, квартира двенадцать"),
    ("ул.Ленина", "улица Ленина"),
    ("г. Москва", "город Москва"),
    ("корп. 2, стр. 1", "корпус два, строение один"),
    ("эт. 3", "этаж три"),
    ("пр-т Мира", "проспект Мира"),
    ("пер. Садовый", "переулок Садовый"),
    ("Д-р Иванов", "Доктор Иванов"),
    ("т.е. завтра", "то есть завтра"),
    ("анализы и т.д.", "анализы и так далее"),
    ("тел. 123-45-67", "телефон сто двадцать три, сорок пять, шестьдесят семь"),
    (
        "+7 (495) 123-45-67",
        "плюс семь, четыреста девяносто пять, сто двадцать три, сорок пять, шестьдесят семь",
    ),
    (
        "8 800 555-35-05",
        "восемь, восемьсот, пятьсот пятьдесят пять, тридцать пять, ноль пять",
    ),
    ("2-й этаж", "второй этаж"),
    ("на 3-м этаже", "на третьем этаже"),
    ("1-я смена", "первая смена"),
    ("до 5-го числа", "до пятого числа"),
    ("в 90-х", "в девяностых"),
    ("15 мин.", "пятнадцать минут"),
    ("1 мин", "одна минута"),
    ("2 мин.", "две минуты"),
    ("21 мин", "двадцать одна минута"),
    ("5%", "пять процентов"),
    ("1 %", "один процент"),
    ("100 руб.", "сто рублей"),
    ("2 ч.", "два часа"),
    ("36,6", "тридцать шесть целых шесть десятых"),
    ("1,5", "одна целая пять десятых"),
    ("2,25", "две целых двадцать пять сотых"),
    ("с 8 до 20", "с восьми до двадцати"),
    ("до 5 дней", "до пяти дней"),
    ("через 2 часа", "через два часа"),
    ("1 минута", "одна минута"),
    ("2 недели", "две недели"),
    ("21 запись", "двадцать одна запись"),
    ("1 окно", "одно окно"),
    ("5 врачей", "пять врачей"),
    ("очередь: 12", "очередь: двенадцать"),
    ("007", "ноль ноль семь"),
    ("12345678901", "один два три четыре пять шесть семь восемь девять ноль один"),
    ("1000000", "миллион"),
    ("Здравствуйте!", "Здравствуйте!"),
    ("", ""),
    ("много   пробелов", "много пробелов"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE)
def test_normalize_for_speech(text: str, expected: str) -> None:
    assert normalize_for_speech(text) == expected


def test_normalize_leaves_no_digits() -> None:
    samples = [
        "Вы записаны к терапевту на 6 сентября в 17:30, кабинет 215, 2-й этаж.",
        "Режим работы: пн-пт 8:00-20:00, сб 9:00-15:00.",
        "Поликлиника №3, ул. Ленина, д. 5, тел. +7 (495) 123-45-67.",
        "Талон № 15 на 06.09.2026, приходите за 15 мин. до приёма.",
    ]
    for text in samples:
        result = normalize_for_speech(text)
        assert not any(ch.isdigit() for ch in result), result


# ---------------------------------------------------------------------------------------------
# Robustness: parsers never raise on odd input
# ---------------------------------------------------------------------------------------------

_FUZZ_TEXT = (
    "пятое марта тысяча девятьсот восемьдесят пятого года двадцать ноль в во через неделю дня "
    "завтра среду следующий половине шестого полшестого час дня вечера утра числа 05.03.1985 "
    "17:30 99999999999999999999 1985 25-го 31 02 миллион нет не знаю сентября 0 00 2026-13-45"
)
_FUZZ_WORDS = _FUZZ_TEXT.split()


def test_parsers_never_raise_on_word_soup() -> None:
    import random

    from speech.ru_numbers import parse_digits, parse_number

    rng = random.Random(1985)
    for _ in range(3000):
        text = " ".join(rng.choice(_FUZZ_WORDS) for _ in range(rng.randint(0, 8)))
        parse_date(text, today=TODAY)
        parse_birth_date(text, today=TODAY)
        parse_time(text)
        parse_time(text, clinic_hours=(8, 20))
        parse_digits(text)
        parse_number(text)
        normalize_for_speech(text)


@pytest.mark.parametrize(
    "text",
    [
        "через миллион дней",
        "99999999999999999999 марта",
        "пятое марта 9999",
        "31.12.9999",
        "0000-01-01",
        "через 0 дней",
        "05.03.1850",
    ],
)
def test_parse_date_extremes(text: str) -> None:
    result = parse_date(text, today=TODAY)
    assert result is None or isinstance(result, date)
    assert parse_birth_date(text, today=TODAY) is None
