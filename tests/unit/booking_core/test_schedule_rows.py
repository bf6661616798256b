"""Pure schedule arithmetic: periods, breaks, even/odd dates, alternating weeks, overrides."""

from __future__ import annotations

from datetime import date, datetime, time
from itertools import pairwise

import pytest

from booking_core.schedules import TemplateRow, preview_week, slots_for_day
from models.tables import ScheduleOverride


def row(weekday: int, start: str, end: str, **kw) -> TemplateRow:
    return TemplateRow(weekday, time.fromisoformat(start), time.fromisoformat(end), **kw)


def starts(rows, day: date, overrides=()) -> list[str]:
    return [f"{s.starts_at:%H:%M}" for s in slots_for_day(rows, list(overrides), day, "1")]


def override(day: date, kind: str = "off", start: str | None = None, end: str | None = None,
             **kw) -> ScheduleOverride:
    return ScheduleOverride(doctor_id=1, day=day, kind=kind,
                            start_time=time.fromisoformat(start) if start else None,
                            end_time=time.fromisoformat(end) if end else None, **kw)


def test_hours_slot_length_and_cabinet_of_the_period():
    rows = [row(0, "08:00", "09:00", slot_minutes=20, cabinet="12")]
    specs = slots_for_day(rows, [], date(2026, 9, 7), "1")
    assert [(s.starts_at, s.ends_at, s.cabinet) for s in specs] == [
        (datetime(2026, 9, 7, 8, 0), datetime(2026, 9, 7, 8, 20), "12"),
        (datetime(2026, 9, 7, 8, 20), datetime(2026, 9, 7, 8, 40), "12"),
        (datetime(2026, 9, 7, 8, 40), datetime(2026, 9, 7, 9, 0), "12"),
    ]
    assert slots_for_day(rows, [], date(2026, 9, 8), "1") == []  # a Tuesday
    # no cabinet on the period: the doctor's own
    assert {s.cabinet for s in slots_for_day([row(0, "08:00", "09:00")], [],
                                             date(2026, 9, 7), "7")} == {"7"}


def test_a_slot_that_would_run_past_the_end_is_not_made():
    assert starts([row(0, "08:00", "08:50", slot_minutes=20)], date(2026, 9, 7)) == [
        "08:00", "08:20"]


def test_break_yields_no_slots_and_the_grid_restarts_after_it():
    rows = [row(0, "08:00", "10:00", slot_minutes=20, break_start=time(8, 50),
                break_end=time(9, 10))]
    assert starts(rows, date(2026, 9, 7)) == ["08:00", "08:20", "09:10", "09:30"]


def test_even_and_odd_dates_around_a_month_end():
    # mornings on even dates, afternoons on odd ones, every weekday
    rows = [row(d, "08:00", "09:00", date_parity="even", slot_minutes=60) for d in range(7)]
    rows += [row(d, "14:00", "15:00", date_parity="odd", slot_minutes=60) for d in range(7)]
    assert starts(rows, date(2026, 8, 30)) == ["08:00"]
    assert starts(rows, date(2026, 8, 31)) == ["14:00"]  # the 31st is odd ...
    assert starts(rows, date(2026, 9, 1)) == ["14:00"]  # ... and so is the 1st after it
    assert starts(rows, date(2026, 9, 2)) == ["08:00"]
    assert starts(rows, date(2027, 2, 28)) == ["08:00"]
    assert starts(rows, date(2027, 3, 1)) == ["14:00"]


def test_alternating_weeks_follow_the_iso_week_number_across_a_53_week_year():
    rows = [row(0, "08:00", "09:00", week_parity="odd", slot_minutes=60),
            row(0, "14:00", "15:00", week_parity="even", slot_minutes=60)]
    assert date(2026, 12, 21).isocalendar().week == 52
    assert starts(rows, date(2026, 12, 21)) == ["14:00"]
    # 2026 has an ISO week 53, so two odd weeks follow each other over the new year
    assert date(2026, 12, 28).isocalendar().week == 53
    assert starts(rows, date(2026, 12, 28)) == ["08:00"]
    assert starts(rows, date(2027, 1, 4)) == ["08:00"]  # week 1
    assert starts(rows, date(2027, 1, 11)) == ["14:00"]  # week 2


def test_valid_from_and_to_bound_a_period():
    rows = [row(0, "08:00", "09:00", slot_minutes=60, valid_from=date(2026, 9, 14),
                valid_to=date(2026, 9, 21))]
    assert [bool(starts(rows, date(2026, 9, d))) for d in (7, 14, 21, 28)] == [
        False, True, True, False]


def test_overrides_day_off_hours_off_extra_and_shortened_day():
    rows = [row(0, "08:00", "12:00", slot_minutes=60, cabinet="3")]
    monday, sunday = date(2026, 9, 7), date(2026, 9, 13)
    assert starts(rows, monday, [override(monday)]) == []
    assert starts(rows, monday, [override(date(2026, 9, 8))]) == ["08:00", "09:00", "10:00",
                                                                  "11:00"]
    assert starts(rows, monday, [override(monday, "off", "09:00", "10:00")]) == [
        "08:00", "10:00", "11:00"]
    shortened = override(monday, "work", "08:00", "10:00")
    assert starts(rows, monday, [shortened]) == ["08:00", "09:00"]  # the template's length
    extra = override(sunday, "work", "09:00", "10:00", slot_minutes=30, cabinet="9")
    specs = slots_for_day(rows, [extra], sunday, "1")
    assert [(f"{s.starts_at:%H:%M}", s.cabinet) for s in specs] == [("09:00", "9"),
                                                                    ("09:30", "9")]


def test_overlapping_periods_never_give_overlapping_slots():
    rows = [row(0, "08:00", "10:00", slot_minutes=30), row(0, "09:00", "11:00", slot_minutes=45)]
    specs = slots_for_day(rows, [], date(2026, 9, 7), "1")
    assert all(a.ends_at <= b.starts_at for a, b in pairwise(specs))


def test_preview_week_lists_every_day():
    rows = [row(d, "08:00", "09:00", date_parity="even") for d in range(5)]
    week = preview_week(rows, [], date(2026, 8, 31), "1")
    assert list(week) == [date(2026, 8, 31)] + [date(2026, 9, d) for d in range(1, 7)]
    assert [len(v) for v in week.values()] == [0, 0, 4, 0, 4, 0, 0]


@pytest.mark.parametrize(("bad", "problem"), [
    (row(0, "09:00", "08:00"), "ends_before_start"),
    (row(7, "08:00", "09:00"), "weekday_out_of_range"),
    (row(0, "08:00", "09:00", slot_minutes=2), "slot_minutes_out_of_range"),
    (row(0, "08:00", "09:00", date_parity="чёт"), "unknown_parity"),
    (row(0, "08:00", "09:00", break_start=time(8, 30)), "break_needs_start_and_end"),
    (row(0, "08:00", "09:00", break_start=time(8, 30), break_end=time(9, 30)),
     "break_outside_hours"),
])
def test_invalid_rows_name_their_problem(bad, problem):
    assert problem in bad.problems()


def test_overlapping_rows_are_found_unless_their_parities_keep_them_apart():
    from booking_core.schedules import overlapping_rows

    assert overlapping_rows([row(0, "08:00", "14:00"), row(0, "13:00", "16:00")]) == [(0, 1)]
    assert overlapping_rows([row(0, "08:00", "14:00"), row(0, "14:00", "16:00")]) == []
    assert overlapping_rows([row(0, "08:00", "14:00"), row(1, "08:00", "14:00")]) == []
    assert overlapping_rows([row(0, "08:00", "14:00", date_parity="even"),
                             row(0, "08:00", "14:00", date_parity="odd")]) == []
    assert overlapping_rows([row(0, "08:00", "14:00", week_parity="even"),
                             row(0, "10:00", "12:00")]) == [(0, 1)]
    assert overlapping_rows([row(0, "08:00", "14:00", valid_to=date(2026, 9, 30)),
                             row(0, "08:00", "14:00", valid_from=date(2026, 10, 1))]) == []



def test_every_problem_has_a_russian_and_an_english_text():
    from booking_core.schedules import PROBLEM_TEXTS, DayOverride

    bad_rows = [row(9, "09:00", "08:00", slot_minutes=1, date_parity="x",
                    valid_from=date(2026, 9, 2), valid_to=date(2026, 9, 1),
                    break_start=time(7, 0)),
                row(0, "08:00", "09:00", break_start=time(7, 0), break_end=time(8, 30))]
    bad_days = [DayOverride(date(2026, 9, 7), "holiday", time(9, 0)),
                DayOverride(date(2026, 9, 7), "work", slot_minutes=1),
                DayOverride(date(2026, 9, 7), "off", time(9, 0), time(8, 0))]
    found = {p for r in bad_rows for p in r.problems()}
    found |= {p for d in bad_days for p in d.problems()}
    assert found | {"rows_overlap"} == set(PROBLEM_TEXTS)
    assert all(ru and en for ru, en in PROBLEM_TEXTS.values())
