"""English numbers, dates and times <-> words (the second locale)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import pytest

from speech.en_words import (
    MONTHS,
    WEEKDAYS,
    digits_to_words,
    number_to_words,
    ordinal_suffix,
    ordinal_to_words,
    parse_date,
    parse_digits,
    parse_number,
    plural,
    say_birth_date,
    say_date,
    say_datetime_slot,
    say_time,
    say_year,
)

TODAY = date(2026, 9, 1)  # a Tuesday

NUMBERS = [
    (0, "zero"),
    (1, "one"),
    (5, "five"),
    (10, "ten"),
    (11, "eleven"),
    (12, "twelve"),
    (13, "thirteen"),
    (15, "fifteen"),
    (19, "nineteen"),
    (20, "twenty"),
    (21, "twenty-one"),
    (40, "forty"),
    (45, "forty-five"),
    (99, "ninety-nine"),
    (100, "one hundred"),
    (101, "one hundred one"),
    (110, "one hundred ten"),
    (123, "one hundred twenty-three"),
    (999, "nine hundred ninety-nine"),
    (1000, "one thousand"),
    (1001, "one thousand one"),
    (1985, "one thousand nine hundred eighty-five"),
    (2026, "two thousand twenty-six"),
    (21000, "twenty-one thousand"),
    (100_000, "one hundred thousand"),
    (1_000_000, "one million"),
    (1_200_000, "one million two hundred thousand"),
    (
        123_456_789,
        "one hundred twenty-three million four hundred fifty-six thousand "
        "seven hundred eighty-nine",
    ),
]


@pytest.mark.parametrize(("n", "expected"), NUMBERS)
def test_number_to_words(n: int, expected: str) -> None:
    assert number_to_words(n) == expected


@pytest.mark.parametrize("n", [-1, 1_000_000_000])
def test_number_to_words_rejects(n: int) -> None:
    with pytest.raises(ValueError):
        number_to_words(n)


ORDINALS = [
    (0, "zeroth"),
    (1, "first"),
    (2, "second"),
    (3, "third"),
    (4, "fourth"),
    (5, "fifth"),
    (6, "sixth"),
    (8, "eighth"),
    (9, "ninth"),
    (11, "eleventh"),
    (12, "twelfth"),
    (13, "thirteenth"),
    (20, "twentieth"),
    (21, "twenty-first"),
    (22, "twenty-second"),
    (23, "twenty-third"),
    (30, "thirtieth"),
    (31, "thirty-first"),
    (40, "fortieth"),
    (90, "ninetieth"),
    (100, "one hundredth"),
    (101, "one hundred first"),
    (1000, "one thousandth"),
    (1985, "one thousand nine hundred eighty-fifth"),
]


@pytest.mark.parametrize(("n", "expected"), ORDINALS)
def test_ordinal_to_words(n: int, expected: str) -> None:
    assert ordinal_to_words(n) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_ordinal_suffix(n: int, expected: str) -> None:
    assert ordinal_suffix(n) == expected


def test_plural() -> None:
    assert plural(1, "minute", "minutes") == "minute"
    assert plural(0, "minute", "minutes") == "minutes"
    assert plural(21, "minute", "minutes") == "minutes"


@pytest.mark.parametrize(
    ("digits", "group", "zero", "expected"),
    [
        ("0075", None, "zero", "zero zero seven five"),
        ("0075", None, "oh", "oh oh seven five"),
        ("12345678", 4, "zero", "one two three four, five six seven eight"),
        ("+44 20", None, "zero", "plus four four two zero"),
        ("", None, "zero", ""),
    ],
)
def test_digits_to_words(digits: str, group: int | None, zero: str, expected: str) -> None:
    assert digits_to_words(digits, group, zero) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("digits", "group"), [("12x", None), ("12", 0)])
def test_digits_to_words_rejects(digits: str, group: int | None) -> None:
    with pytest.raises(ValueError):
        digits_to_words(digits, group)


YEARS = [
    (1985, "nineteen eighty-five"),
    (1900, "nineteen hundred"),
    (1905, "nineteen oh five"),
    (1910, "nineteen ten"),
    (2000, "two thousand"),
    (2001, "two thousand one"),
    (2005, "two thousand five"),
    (2010, "twenty ten"),
    (2026, "twenty twenty-six"),
    (2100, "twenty-one hundred"),
    (1066, "ten sixty-six"),
    (1000, "one thousand"),
    (999, "nine hundred ninety-nine"),
]


@pytest.mark.parametrize(("year", "expected"), YEARS)
def test_say_year(year: int, expected: str) -> None:
    assert say_year(year) == expected


def test_say_year_rejects() -> None:
    with pytest.raises(ValueError):
        say_year(0)


@pytest.mark.parametrize(
    ("d", "weekday", "year", "expected"),
    [
        (date(2026, 9, 8), True, False, "Tuesday, the eighth of September"),
        (date(2026, 9, 6), True, False, "Sunday, the sixth of September"),
        (date(2026, 9, 6), False, False, "the sixth of September"),
        (date(2026, 9, 6), False, True, "the sixth of September, twenty twenty-six"),
        (date(2026, 1, 1), True, True, "Thursday, the first of January, twenty twenty-six"),
        (date(2026, 3, 22), False, False, "the twenty-second of March"),
        (date(2026, 12, 31), False, False, "the thirty-first of December"),
    ],
)
def test_say_date(d: date, weekday: bool, year: bool, expected: str) -> None:
    assert say_date(d, with_weekday=weekday, with_year=year) == expected


TIMES = [
    (time(17, 30), "five thirty p.m.", "seventeen thirty"),
    (time(9, 5), "nine oh five a.m.", "nine oh five"),
    (time(10, 0), "ten a.m.", "ten hundred"),
    (time(17, 0), "five p.m.", "seventeen hundred"),
    (time(12, 0), "twelve noon", "twelve hundred"),
    (time(12, 30), "twelve thirty p.m.", "twelve thirty"),
    (time(0, 0), "midnight", "zero hundred"),
    (time(0, 15), "twelve fifteen a.m.", "zero fifteen"),
    (time(23, 59), "eleven fifty-nine p.m.", "twenty-three fifty-nine"),
    (time(8, 45), "eight forty-five a.m.", "eight forty-five"),
]


@pytest.mark.parametrize(("t", "twelve", "twenty_four"), TIMES)
def test_say_time(t: time, twelve: str, twenty_four: str) -> None:
    assert say_time(t) == twelve
    assert say_time(t, "12") == twelve
    assert say_time(t, "24") == twenty_four


def test_say_datetime_slot() -> None:
    slot = datetime(2026, 9, 8, 17, 30)
    assert say_datetime_slot(slot) == "Tuesday, the eighth of September, at five thirty p.m."
    assert say_datetime_slot(slot, "24") == "Tuesday, the eighth of September, at seventeen thirty"
    assert say_datetime_slot(slot, with_weekday=False).startswith("the eighth of September")


def test_say_birth_date() -> None:
    assert say_birth_date(date(1985, 3, 5)) == "the fifth of March, nineteen eighty-five"
    assert say_birth_date(date(2005, 11, 2)) == "the second of November, two thousand five"


PARSE_DIGITS = [
    ("five eight three", "583"),
    ("zero zero seven", "007"),
    ("oh seven", "07"),
    ("o seven", "07"),
    ("nought one", "01"),
    ("double five two", "552"),
    ("triple seven", "777"),
    ("double oh", "00"),
    ("twenty five forty three", "2543"),
    ("one hundred twenty three", "123"),
    ("eight hundred", "800"),
    ("58 3", "583"),
    ("um my number is five five", "55"),
    ("Five-Eight-Three", "583"),
    ("one two three four, five six", "123456"),
    ("", None),
    ("hello", None),
    ("five eight no three", None),
    ("fifth", None),
    ("um", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_DIGITS)
def test_parse_digits(text: str, expected: str | None) -> None:
    assert parse_digits(text) == expected


PARSE_NUMBER = [
    ("twenty five", 25),
    ("twenty-five", 25),
    ("one hundred and five", 105),
    ("a hundred", 100),
    ("twenty-fifth", 25),
    ("fifth", 5),
    ("first", 1),
    ("twelfth", 12),
    ("thirtieth", 30),
    ("25th", 25),
    ("25", 25),
    ("two thousand five", 2005),
    ("nineteen hundred eighty five", 1985),
    ("one million two hundred thousand", 1_200_000),
    ("five eight", None),
    ("nineteen eighty five", None),
    ("hello", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_NUMBER)
def test_parse_number(text: str, expected: int | None) -> None:
    assert parse_number(text) == expected


PARSE_DATE = [
    ("fifth of March nineteen eighty five", date(1985, 3, 5)),
    ("the fifth of March nineteen eighty-five", date(1985, 3, 5)),
    ("the 5th of March 1985", date(1985, 3, 5)),
    ("5 March 1985", date(1985, 3, 5)),
    ("March 5, 1985", date(1985, 3, 5)),
    ("March 5th 1985", date(1985, 3, 5)),
    ("March fifth nineteen eighty five", date(1985, 3, 5)),
    ("fifth of March eighty five", date(1985, 3, 5)),
    ("fifth of March two thousand five", date(2005, 3, 5)),
    ("first of January two thousand", date(2000, 1, 1)),
    ("the sixth of September twenty twenty six", date(2026, 9, 6)),
    ("fifth of March twenty five", date(2025, 3, 5)),
    ("fifth of March twenty seven", date(1927, 3, 5)),
    ("March fifth", date(2027, 3, 5)),
    ("the sixth of September", date(2026, 9, 6)),
    ("sixth of Sept", date(2026, 9, 6)),
    ("twenty ninth of February", date(2028, 2, 29)),
    ("05/03/1985", date(1985, 3, 5)),
    ("05.03.1985", date(1985, 3, 5)),
    ("05.03.85", date(1985, 3, 5)),
    ("2026-09-06", date(2026, 9, 6)),
    ("today", TODAY),
    ("tomorrow", date(2026, 9, 2)),
    ("the day after tomorrow", date(2026, 9, 3)),
    ("on Wednesday", date(2026, 9, 2)),
    ("next Tuesday", date(2026, 9, 8)),
    ("Monday", date(2026, 9, 7)),
    ("thirty first of February", None),
    ("31/02/2020", None),
    ("fifth of March eighteen hundred", None),
    ("I don't know", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_DATE)
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text, today=TODAY) == expected


def test_tables() -> None:
    assert MONTHS[8] == "September"
    assert WEEKDAYS[1] == "Tuesday"


@pytest.mark.parametrize("n", range(0, 10000, 7))
def test_number_round_trip(n: int) -> None:
    assert parse_number(number_to_words(n)) == n
    assert parse_number(ordinal_to_words(n)) == n


def test_number_round_trip_random_large() -> None:
    rng = random.Random(42)
    for _ in range(1000):
        n = rng.randint(10_000, 999_999_999)
        assert parse_number(number_to_words(n)) == n


def test_digits_round_trip_random() -> None:
    rng = random.Random(16)
    for _ in range(1000):
        digits = "".join(rng.choice("0123456789") for _ in range(16))
        assert parse_digits(digits_to_words(digits)) == digits
        assert parse_digits(digits_to_words(digits, 4, "oh")) == digits


@pytest.mark.parametrize("year", [2024, 1985])
def test_date_round_trip_every_day(year: int) -> None:
    day = date(year, 1, 1)
    while day.year == year:
        assert parse_date(say_birth_date(day), today=TODAY) == day, say_birth_date(day)
        assert parse_date(say_date(day, with_year=True), today=TODAY) == day
        day += timedelta(days=1)


def test_parsers_never_raise_on_word_soup() -> None:
    text = (
        "fifth of March nineteen eighty five oh double triple hundred thousand million the "
        "tomorrow next Tuesday 05/03/1985 99999999999999999999 25th and a zero 31 02"
    )
    words = text.split()
    rng = random.Random(5)
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 8)))
        parse_date(text, today=TODAY)
        parse_digits(text)
        parse_number(text)
