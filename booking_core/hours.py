"""Opening hours of the registry desk: the one answer to "are agents on duty now?".

The IVR (escalate or offer a callback), the dialplan (through the ``REG_DESK_OPEN`` channel
variable the IVR sets) and the console all ask :class:`DeskHours`, so they cannot disagree.

A day's hours come from the weekly table (per weekday, ``None`` = closed); the Russian production
calendar (``holidays``: public holidays, the days off moved by government decree, and the
Saturdays made working days in exchange) overrides it: a day off is closed whatever its weekday,
and a working weekend day gets the ``workday_hours``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import holidays

logger = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: How far :meth:`DeskHours.next_opening` looks ahead (the New Year break is the longest closure).
MAX_LOOKAHEAD_DAYS = 31

Span = tuple[time, time]


class HoursFormatError(ValueError):
    """A weekday or an hours span in the settings is not understood."""


def parse_span(text: str | None) -> Span | None:
    """``"08:00-20:00"`` -> (08:00, 20:00); ``""``, ``"closed"`` or ``None`` -> closed.

    The end is exclusive ("until 20:00") and must be after the start.
    """
    if text is None or text.strip().lower() in ("", "closed", "-"):
        return None
    try:
        start_text, end_text = (part.strip() for part in text.split("-"))
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError as exc:
        raise HoursFormatError(f"hours must look like 08:00-20:00, got {text!r}") from exc
    if end <= start:
        raise HoursFormatError(f"hours end before they start: {text!r}")
    return start, end


def week_from(default: Span, overrides: Mapping[str, str | None]) -> dict[int, Span | None]:
    """Monday-Friday ``default``, Saturday and Sunday closed, then ``overrides`` by weekday name."""
    week: dict[int, Span | None] = {i: default if i < 5 else None for i in range(7)}
    for name, text in overrides.items():
        key = name.strip().lower()
        if key in _FULL_NAMES:
            key = key[:3]
        if key not in WEEKDAYS:
            raise HoursFormatError(f"unknown weekday {name!r}: use one of {', '.join(WEEKDAYS)}")
        week[WEEKDAYS.index(key)] = parse_span(text)
    return week


@dataclass(frozen=True)
class DeskStatus:
    """The desk right now: open or not, and the next change."""

    open: bool
    closes_at: datetime | None  # when open
    opens_at: datetime | None  # when closed (None: not within the look-ahead)


@dataclass
class DeskHours:
    """Weekly hours plus a production calendar (``calendar=None``: weekdays only)."""

    week: dict[int, Span | None]
    workday_hours: Span
    calendar: Any | None = None  # a holidays.HolidayBase
    _cache: dict[date, Span | None] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, default: Span, overrides: Mapping[str, str | None] | None = None,
              country: str | None = "RU") -> DeskHours:
        """Hours from the settings' shape: weekday default, per-weekday overrides, a country
        code for the public-holiday calendar (empty/None: no holidays)."""
        # Holiday names in Russian where the calendar has them: the console shows them.
        calendar = holidays.country_holidays(country, language="ru") if country else None
        return cls(week_from(default, overrides or {}), default, calendar)

    def hours_on(self, day: date) -> Span | None:
        """The desk's hours on ``day`` (None: closed all day)."""
        if day not in self._cache:
            self._cache[day] = self._compute(day)
        return self._cache[day]

    def _compute(self, day: date) -> Span | None:
        if self.calendar is None:
            return self.week[day.weekday()]
        if day in self.calendar:  # a public holiday or a moved day off
            return None
        if day.weekday() in self.calendar.weekend and self.calendar.is_working_day(day):
            return self.week[day.weekday()] or self.workday_hours  # a working Saturday
        return self.week[day.weekday()]

    def holiday_name(self, day: date) -> str | None:
        """The calendar's name of the day off, if ``day`` is one."""
        return self.calendar.get(day) if self.calendar is not None else None

    def is_open(self, at: datetime) -> bool:
        """Is the desk staffed at local time ``at``?"""
        span = self.hours_on(at.date())
        return span is not None and span[0] <= at.time() < span[1]

    def next_opening(self, after: datetime) -> datetime | None:
        """The next moment the desk opens, strictly after ``after`` (None: over a month away)."""
        for offset in range(MAX_LOOKAHEAD_DAYS + 1):
            day = after.date() + timedelta(days=offset)
            span = self.hours_on(day)
            if span is not None:
                start = datetime.combine(day, span[0])
                if start > after:
                    return start
        return None

    def status(self, at: datetime) -> DeskStatus:
        """Open now? and when does that change (for the console and the callback promise)."""
        span = self.hours_on(at.date())
        if span is not None and span[0] <= at.time() < span[1]:
            return DeskStatus(True, datetime.combine(at.date(), span[1]), None)
        return DeskStatus(False, None, self.next_opening(at))
