"""Cell values and headers as Russian clinics' files write them."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from booking_core.rules import birth_date_problem, is_russian_mobile
from clinic_import import headers as hdr
from clinic_import import values as v
from clinic_import.readers import FileError, column_letter, detect_encoding


@pytest.mark.parametrize(("raw", "expected"), [
    ("05.03.1985", date(1985, 3, 5)), ("1985-03-05", date(1985, 3, 5)),
    ("05/03/1985", date(1985, 3, 5)), ("05.03.1985 0:00:00", date(1985, 3, 5)),
    (datetime(1985, 3, 5), date(1985, 3, 5)), (31111.0, date(1985, 3, 5)),
])
def test_dates(raw, expected):
    assert v.parse_date(raw) == expected


@pytest.mark.parametrize(("raw", "code"), [("31.02.1985", "impossible_date"),
                                           ("пятое марта", "bad_date"), ("", "bad_date")])
def test_bad_dates(raw, code):
    with pytest.raises(v.BadValue) as err:
        v.parse_date(raw)
    assert err.value.code == code


def test_times_spans_weekdays_parity_yes_no():
    assert v.parse_time("8:00") == v.parse_time("08.00") == v.parse_time(0.3333333) == time(8)
    assert v.parse_span("08:00 – 14:30") == (time(8), time(14, 30))
    assert v.parse_span("8 до 12") == (time(8), time(12))
    assert [v.parse_weekday(x) for x in ("пн", "Вторник", "WED", "4", 5.0, "вс")] == [
        0, 1, 2, 3, 4, 6]
    assert [v.parse_parity(x) for x in ("чёт.", "Нечётные", "even", "", "все")] == [
        "even", "odd", "even", "any", "any"]
    assert [v.parse_bool(x, True) for x in ("да", "Нет", "no", "+", "-", "")] == [
        True, False, False, True, False, True]
    with pytest.raises(v.BadValue):
        v.parse_time("25:00")
    with pytest.raises(v.BadValue):
        v.parse_weekday("8")


def test_headers_are_matched_whatever_the_case_yo_and_punctuation():
    hm = hdr.map_headers("patients", ["ПОЛИС  ОМС", "фамилия", "Имя", "Дата рождения:",
                                      "Телефон", "Комментарий"])
    assert set(hm.fields.values()) == {"policy_number", "last_name", "first_name",
                                       "birth_date", "phone"}
    assert hm.unknown == ["Комментарий"]
    assert hdr.guess_entity(["Policy", "Last name", "First name", "DOB"]) == "patients"
    assert hdr.guess_entity(["Код врача", "День недели", "Часы"]) == "templates"
    assert hdr.guess_entity(["Код врача", "Специальность", "Фамилия", "Имя"]) == "doctors"
    assert hdr.entity_by_name("01_Врачи") == "doctors"
    assert hdr.entity_by_name("Прикреплённое население") == "patients"


def test_encoding_detection():
    assert detect_encoding("Фамилия;Имя".encode(), whole=True) == "utf-8"
    assert detect_encoding("\ufeffФамилия".encode(), whole=True) == "utf-8-sig"
    assert detect_encoding("Фамилия;Имя".encode("cp1251"), whole=True) == "cp1251"
    with pytest.raises(FileError):
        detect_encoding("Фамилия".encode("utf-16"), whole=True)


def test_rules_for_phones_and_birth_dates():
    assert is_russian_mobile("+79161234567")
    assert not is_russian_mobile("+74951234567") and not is_russian_mobile("+7916123456")
    today = date(2026, 9, 7)
    assert birth_date_problem(date(2026, 9, 8), today) == "future"
    assert birth_date_problem(date(1899, 12, 31), today) == "impossible"
    assert birth_date_problem(date(2026, 9, 7), today) is None
    assert [column_letter(i) for i in (0, 25, 26, 27)] == ["A", "Z", "AA", "AB"]


def test_a_misspelt_header_gets_a_suggestion():
    assert hdr.suggestion("patients", "Телфон") == "Телефон"
    assert hdr.suggestion("patients", "Дата рожденя") == "Дата рождения"
    assert hdr.suggestion("patients", "Комментарий") is None
