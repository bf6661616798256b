"""The desk's opening hours: weekdays, per-weekday settings and the Russian production calendar."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from booking_core.hours import DeskHours, HoursFormatError, parse_span
from registratura.bootstrap import hours_from
from registratura.settings import Settings

WEEKDAY = (time(8, 0), time(20, 0))


@pytest.fixture(scope="module")
def hours() -> DeskHours:
    return DeskHours.build(WEEKDAY, {"sat": "09:00-14:00"})


def test_weekday_hours_end_exclusive(hours):
    assert hours.is_open(datetime(2026, 9, 7, 8, 0))
    assert hours.is_open(datetime(2026, 9, 7, 19, 59))
    assert not hours.is_open(datetime(2026, 9, 7, 20, 0))
    assert not hours.is_open(datetime(2026, 9, 7, 7, 59))


def test_saturday_shorter_sunday_closed(hours):
    assert hours.is_open(datetime(2026, 9, 5, 13, 30))
    assert not hours.is_open(datetime(2026, 9, 5, 14, 0))
    assert hours.hours_on(date(2026, 9, 6)) is None  # the Sunday of the incident, 04:48


def test_public_holidays_and_moved_days_off_are_closed(hours):
    assert hours.hours_on(date(2026, 11, 4)) is None  # Unity Day, a Wednesday
    assert hours.hours_on(date(2026, 1, 9)) is None  # a Friday off moved from Saturday 3 Jan
    assert hours.hours_on(date(2026, 3, 9)) is None  # Monday after 8 March on a Sunday
    assert hours.holiday_name(date(2026, 11, 4))


def test_a_working_saturday_gets_weekday_hours():
    plain = DeskHours.build(WEEKDAY)  # Saturdays closed...
    assert plain.hours_on(date(2025, 11, 1)) == WEEKDAY  # ...but 1 Nov 2025 was a working day
    assert plain.hours_on(date(2025, 11, 3)) is None  # and Monday 3 Nov the day off for it


def test_next_opening_skips_the_new_year_break(hours):
    # 31 Dec to 9 Jan are days off; Saturday 10 Jan opens with the Saturday hours
    assert hours.next_opening(datetime(2025, 12, 30, 21, 0)) == datetime(2026, 1, 10, 9, 0)
    assert hours.next_opening(datetime(2026, 9, 5, 15, 0)) == datetime(2026, 9, 7, 8, 0)
    status = hours.status(datetime(2026, 9, 7, 10, 0))
    assert status.open and status.closes_at == datetime(2026, 9, 7, 20, 0)


def test_no_calendar_means_weekdays_only():
    hours = DeskHours.build(WEEKDAY, country=None)
    assert hours.hours_on(date(2026, 11, 4)) == WEEKDAY


@pytest.mark.parametrize("bad", ["9-14", "14:00-09:00", "08:00"])
def test_bad_spans_are_named(bad):
    with pytest.raises(HoursFormatError, match="hours"):
        parse_span(bad)


def test_settings_reject_an_unknown_weekday_and_wire_the_hours():
    with pytest.raises(ValueError, match="unknown weekday 'sunday!'"):
        Settings(desk_hours={"sunday!": "10:00-12:00"})
    hours = hours_from(Settings(desk_hours={"sun": "10:00-12:00"}, desk_holiday_country=""))
    assert hours.hours_on(date(2026, 9, 6)) == (time(10, 0), time(12, 0))
    assert hours.hours_on(date(2026, 11, 4)) == WEEKDAY
