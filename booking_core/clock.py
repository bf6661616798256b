"""Time as a port: the real clock in production, a fixed one in tests and drills."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Tells the clinic's local time and UTC (both naive, see ``models.tables``)."""

    def now_utc(self) -> datetime: ...

    def now_local(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    """The wall clock, in the clinic's time zone."""

    def __init__(self, timezone: str = "Europe/Moscow") -> None:
        self.tz = ZoneInfo(timezone)

    def now_utc(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def now_local(self) -> datetime:
        return datetime.now(self.tz).replace(tzinfo=None)

    def today(self) -> date:
        return self.now_local().date()


class FixedClock:
    """A clock that stands still until moved; the same port as :class:`SystemClock`."""

    def __init__(self, local: datetime, timezone: str = "Europe/Moscow") -> None:
        self.tz = ZoneInfo(timezone)
        self._local = local

    def now_local(self) -> datetime:
        return self._local

    def now_utc(self) -> datetime:
        aware = self._local.replace(tzinfo=self.tz)
        return aware.astimezone(UTC).replace(tzinfo=None)

    def today(self) -> date:
        return self._local.date()

    def advance(self, **delta: float) -> None:
        """Move the clock forward by ``timedelta(**delta)``."""
        self._local += timedelta(**delta)

    def set(self, local: datetime) -> None:
        self._local = local
