"""Doctors' schedules as Russian polyclinics run them, and the changes that touch bookings.

A doctor's week is a set of :class:`TemplateRow` periods (weekday hours with a break, on even or
odd dates, in even or odd ISO weeks, with their own slot length and cabinet, valid from/to),
plus one-off day overrides (a day off, an extra or shortened working day).  The pure functions
here turn them into the slots of a day (:func:`slots_for_day`, :func:`preview_week`); slot
generation (:func:`booking_core.slots.generate_slots`) and the console's preview use the same
ones, so what the preview shows is what gets generated.

The use cases (:func:`replace_templates`, :func:`doctor_leaves`, :func:`doctor_returns`,
:func:`set_day_override`, :func:`remove_day_override`) run inside the caller's open unit of
work and never commit: an import applies a whole file in one transaction.  None of them
deletes an appointment or a booked slot; a future booking the new schedule no longer covers is
flagged (``Appointment.flag``), lands in the agents' "patients to call" worklist like a doctor
absence (rule 14), and the patient gets an SMS with the nearest free slot of a colleague.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.errors import InvalidInput, NotFound
from booking_core.uow import UnitOfWork
from models.tables import (
    Appointment,
    AppointmentFlag,
    AppointmentStatus,
    DateParity,
    DayOverrideKind,
    Doctor,
    Patient,
    ScheduleOverride,
    ScheduleTemplate,
    Slot,
    Specialty,
)

logger = logging.getLogger(__name__)

PARITIES = (DateParity.ANY, DateParity.EVEN, DateParity.ODD)
DEFAULT_SLOT_MINUTES = 15


#: What each problem id of :meth:`TemplateRow.problems` / :meth:`DayOverride.problems` means,
#: in Russian and English, for a form or an import report.
PROBLEM_TEXTS: dict[str, tuple[str, str]] = {
    "weekday_out_of_range": ("День недели должен быть от понедельника до воскресенья",
                             "The weekday must be Monday to Sunday"),
    "ends_before_start": ("Время окончания должно быть позже начала",
                          "The end time must be after the start time"),
    "slot_minutes_out_of_range": ("Длительность приёма — от 5 до 240 минут",
                                  "The slot length must be 5 to 240 minutes"),
    "valid_to_before_valid_from": ("Дата окончания действия раньше даты начала",
                                   "Valid-to is before valid-from"),
    "unknown_parity": ("Чётность: любые, чётные или нечётные", "Parity: any, even or odd"),
    "break_needs_start_and_end": ("У перерыва должны быть и начало, и конец",
                                  "A break needs both a start and an end"),
    "break_outside_hours": ("Перерыв должен быть внутри часов приёма",
                            "The break must lie within the working hours"),
    "rows_overlap": ("Часы приёма пересекаются с другой строкой того же дня",
                     "The hours overlap another row of the same day"),
    "unknown_override_kind": ("Вид изменения дня: выходной или рабочий",
                              "The day change is either off or work"),
    "hours_need_start_and_end": ("Нужны и начало, и конец часов",
                                 "Both a start and an end time are needed"),
    "working_day_needs_hours": ("Для рабочего дня укажите часы приёма",
                                "A working day needs its hours"),
}


@dataclass(frozen=True)
class TemplateRow:
    """One period of a doctor's week, as an import file or a form gives it."""

    weekday: int  # Monday = 0
    start_time: time
    end_time: time
    slot_minutes: int = DEFAULT_SLOT_MINUTES
    cabinet: str = ""
    valid_from: date | None = None
    valid_to: date | None = None
    date_parity: str = "any"  # "any" | "even" | "odd" (the day of the month)
    week_parity: str = "any"  # "any" | "even" | "odd" (the ISO week number)
    break_start: time | None = None
    break_end: time | None = None

    @classmethod
    def of(cls, t: ScheduleTemplate) -> TemplateRow:
        """The row a stored template holds."""
        return cls(t.weekday, t.start_time, t.end_time, t.slot_minutes, t.cabinet or "",
                   t.valid_from, t.valid_to, str(t.date_parity), str(t.week_parity),
                   t.break_start, t.break_end)

    def problems(self) -> list[str]:
        """What is wrong with this row, as stable error ids (empty when it is valid)."""
        out = []
        if not 0 <= self.weekday <= 6:
            out.append("weekday_out_of_range")
        if self.end_time <= self.start_time:
            out.append("ends_before_start")
        if not 5 <= self.slot_minutes <= 240:
            out.append("slot_minutes_out_of_range")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            out.append("valid_to_before_valid_from")
        if self.date_parity not in PARITIES or self.week_parity not in PARITIES:
            out.append("unknown_parity")
        if (self.break_start is None) != (self.break_end is None):
            out.append("break_needs_start_and_end")
        elif self.break_start is not None and self.break_end is not None and not (
                self.start_time <= self.break_start < self.break_end <= self.end_time):
            out.append("break_outside_hours")
        return out

    def applies_on(self, day: date) -> bool:
        """Whether this period is worked on ``day`` (weekday, validity, both parities)."""
        if day.weekday() != self.weekday:
            return False
        if (self.valid_from and day < self.valid_from) or (self.valid_to and day > self.valid_to):
            return False
        return (_parity_ok(self.date_parity, day.day)
                and _parity_ok(self.week_parity, day.isocalendar().week))


def overlapping_rows(rows: Sequence[TemplateRow]) -> list[tuple[int, int]]:
    """Pairs of row indexes (0-based) whose hours overlap on some day both apply to.

    Two periods on the same weekday only clash when their validity dates meet and their
    parities can hold at once: mornings on even dates and afternoons on odd ones never do.
    """
    out = []
    for i, a in enumerate(rows):
        for j in range(i + 1, len(rows)):
            b = rows[j]
            if (a.weekday == b.weekday and a.start_time < b.end_time
                    and b.start_time < a.end_time
                    and _parities_meet(a.date_parity, b.date_parity)
                    and _parities_meet(a.week_parity, b.week_parity)
                    and (a.valid_from or date.min) <= (b.valid_to or date.max)
                    and (b.valid_from or date.min) <= (a.valid_to or date.max)):
                out.append((i, j))
    return out


def _parities_meet(a: str, b: str) -> bool:
    return a == DateParity.ANY or b == DateParity.ANY or a == b


def _parity_ok(parity: str, number: int) -> bool:
    if parity == DateParity.EVEN:
        return number % 2 == 0
    if parity == DateParity.ODD:
        return number % 2 == 1
    return True


@dataclass(frozen=True)
class SlotSpec:
    """A slot a schedule produces (local clinic time, naive like ``Slot.starts_at``)."""

    starts_at: datetime
    ends_at: datetime
    cabinet: str


@dataclass(frozen=True)
class Segment:
    """A stretch of a working day without a break, sliced into slots of ``slot_minutes``."""

    starts_at: datetime
    ends_at: datetime
    slot_minutes: int
    cabinet: str

    def covers(self, starts_at: datetime, ends_at: datetime) -> bool:
        return self.starts_at <= starts_at and ends_at <= self.ends_at


@dataclass(frozen=True)
class ScheduleChange:
    """What a schedule change did to the bookings and the slots."""

    changed: bool  # False when the rows equal the stored templates (an idempotent re-import)
    flagged: int  # future booked appointments no longer covered, flagged "schedule_changed"
    removed_free_slots: int  # future free slots no longer covered, deleted
    created_slots: int = 0  # slots the new schedule added in the booking window


@dataclass(frozen=True)
class DayOverride:
    """A one-off change of one day, as a form or an import gives it.

    ``kind="off"`` without hours: no work that day; with hours: no work in those hours (a
    meeting).  ``kind="work"``: these hours replace the templates' that day (an extra working
    day, a shortened day); several "work" overrides of one day are several periods.
    """

    day: date
    kind: str = DayOverrideKind.OFF
    start_time: time | None = None
    end_time: time | None = None
    slot_minutes: int | None = None
    cabinet: str = ""
    reason: str = ""

    def problems(self) -> list[str]:
        """What is wrong with this override, as stable error ids."""
        out = []
        if self.kind not in (DayOverrideKind.OFF, DayOverrideKind.WORK):
            out.append("unknown_override_kind")
        if (self.start_time is None) != (self.end_time is None):
            out.append("hours_need_start_and_end")
        elif self.start_time and self.end_time and self.end_time <= self.start_time:
            out.append("ends_before_start")
        if self.kind == DayOverrideKind.WORK and self.start_time is None:
            out.append("working_day_needs_hours")
        if self.slot_minutes is not None and not 5 <= self.slot_minutes <= 240:
            out.append("slot_minutes_out_of_range")
        return out


# --- pure: a schedule -> the slots of a day ---------------------------------------------------


def working_segments(rows: Sequence[TemplateRow], overrides: Sequence[ScheduleOverride],
                     day: date, default_cabinet: str = "") -> list[Segment]:
    """The stretches ``day`` is worked, breaks and overrides applied, by start time."""
    todays = [o for o in overrides if o.day == day]
    if any(o.kind == DayOverrideKind.OFF and o.start_time is None for o in todays):
        return []
    applying = [r for r in rows if r.applies_on(day)]
    work = [o for o in todays if o.kind == DayOverrideKind.WORK and o.start_time and o.end_time]
    periods: list[tuple[time, time, int, str, list[tuple[time, time]]]] = []
    if work:  # the override's hours replace the templates' that day
        minutes = applying[0].slot_minutes if applying else DEFAULT_SLOT_MINUTES
        cabinet = applying[0].cabinet if applying else ""
        for o in work:
            assert o.start_time is not None and o.end_time is not None
            periods.append((o.start_time, o.end_time, o.slot_minutes or minutes,
                            o.cabinet or cabinet or default_cabinet, []))
    else:
        for r in applying:
            gaps = [(r.break_start, r.break_end)] if r.break_start and r.break_end else []
            periods.append((r.start_time, r.end_time, r.slot_minutes,
                            r.cabinet or default_cabinet, gaps))
    hours_off = [(o.start_time, o.end_time) for o in todays
                 if o.kind == DayOverrideKind.OFF and o.start_time and o.end_time]
    out = []
    for start, end, minutes, cabinet, gaps in periods:
        for lo, hi in _subtract(start, end, gaps + hours_off):  # type: ignore[arg-type]
            out.append(Segment(datetime.combine(day, lo), datetime.combine(day, hi),
                               minutes, cabinet))
    return sorted(out, key=lambda s: s.starts_at)


def _subtract(start: time, end: time, gaps: list[tuple[time, time]]) -> list[tuple[time, time]]:
    """[start, end) without the gaps, as the stretches left over."""
    pieces = [(start, end)]
    for g_lo, g_hi in sorted(gaps):
        nxt = []
        for lo, hi in pieces:
            if g_hi <= lo or g_lo >= hi:
                nxt.append((lo, hi))
                continue
            if lo < g_lo:
                nxt.append((lo, g_lo))
            if g_hi < hi:
                nxt.append((g_hi, hi))
        pieces = nxt
    return pieces


def slots_for_day(rows: Sequence[TemplateRow], overrides: Sequence[ScheduleOverride],
                  day: date, default_cabinet: str) -> list[SlotSpec]:
    """The slots a schedule gives on ``day``, by start time.

    Each stretch between breaks is sliced from its own start (after a break the grid restarts
    at the break's end), and a slot that would run past the stretch's end is not made.  Where
    two periods overlap (a data error), the earlier slot wins and no two slots overlap.
    """
    out: list[SlotSpec] = []
    for seg in working_segments(rows, overrides, day, default_cabinet):
        step = timedelta(minutes=seg.slot_minutes)
        at = seg.starts_at
        while at + step <= seg.ends_at:
            if not out or out[-1].ends_at <= at:
                out.append(SlotSpec(at, at + step, seg.cabinet))
            at += step
    return out


def preview_week(rows: Sequence[TemplateRow], overrides: Sequence[ScheduleOverride],
                 monday: date, default_cabinet: str) -> dict[date, list[SlotSpec]]:
    """The slots of the seven days from ``monday`` (every day present, maybe empty)."""
    return {d: slots_for_day(rows, overrides, d, default_cabinet)
            for d in (monday + timedelta(days=i) for i in range(7))}


# --- use cases (inside the caller's transaction) -------------------------------------------


def stored_rows(uow: UnitOfWork, doctor_id: int) -> list[TemplateRow]:
    """The doctor's templates as rows, in a stable order."""
    found = uow.session.exec(
        select(ScheduleTemplate).where(ScheduleTemplate.doctor_id == doctor_id)).all()
    return sorted((TemplateRow.of(t) for t in found), key=_row_key)


def _row_key(r: TemplateRow) -> tuple[Any, ...]:
    return (r.weekday, r.start_time, r.end_time, r.date_parity, r.week_parity,
            r.valid_from or date.min, r.valid_to or date.max, r.slot_minutes, r.cabinet,
            r.break_start or time.min, r.break_end or time.min)


def _fields(r: TemplateRow) -> dict[str, Any]:
    """The row's fields (``dataclasses.asdict`` deep-copies every value: slow on an import)."""
    return {f.name: getattr(r, f.name) for f in fields(r)}


def _row_audit(rows: Iterable[TemplateRow]) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if isinstance(v, date | time) else v)
             for k, v in _fields(r).items()} for r in rows]


def _doctor(uow: UnitOfWork, doctor_id: int) -> Doctor:
    doctor = uow.session.get(Doctor, doctor_id)
    if doctor is None:
        raise NotFound("doctor not found")
    uow.keep(doctor)
    return doctor


def replace_templates(uow: UnitOfWork, doctor_id: int, rows: Sequence[TemplateRow],
                      actor: Actor) -> ScheduleChange:
    """Make ``rows`` the doctor's whole weekly schedule (inside the caller's transaction).

    A no-op when they equal the stored ones.  Otherwise audited with before/after; future free
    slots the new schedule does not produce are deleted, the window's new slots are created,
    and future bookings it no longer covers are flagged "schedule_changed" (worklist + SMS).
    Raises :class:`InvalidInput` naming the first invalid row, or two rows that overlap.
    """
    for i, row in enumerate(rows):
        if row.problems():
            raise InvalidInput(f"template row {i + 1}: {', '.join(row.problems())}")
    clash = overlapping_rows(rows)
    if clash:
        i, j = clash[0]
        raise InvalidInput(f"template rows {i + 1} and {j + 1} overlap")
    doctor = _doctor(uow, doctor_id)
    before = stored_rows(uow, doctor_id)
    after = sorted(set(rows), key=_row_key)
    if before == after:
        return ScheduleChange(False, 0, 0)
    for t in uow.session.exec(
            select(ScheduleTemplate).where(ScheduleTemplate.doctor_id == doctor_id)).all():
        uow.session.delete(t)
    uow.session.add_all(ScheduleTemplate(doctor_id=doctor_id, **_fields(r)) for r in after)
    uow.flush()
    audit.record(uow, actor, "schedule", "doctor", doctor_id, {"templates": _row_audit(before)},
                 {"templates": _row_audit(after)})
    change = _reconcile(uow, doctor, after, uow.clock.today(), None)
    logger.info("doctor %s: schedule replaced (%d rows), %s", doctor_id, len(after), change)
    return change


def doctor_leaves(uow: UnitOfWork, doctor_id: int, last_day: date, actor: Actor) -> int:
    """The doctor works up to ``last_day`` (inside the caller's transaction).

    Sets ``left_on``, deletes the free slots after it and flags the live bookings after it
    "doctor_left" (worklist + SMS); never deletes an appointment.  Returns how many were
    flagged now (0 on a repeat with the same day).
    """
    doctor = _doctor(uow, doctor_id)
    if doctor.left_on == last_day:
        return 0
    before = audit.snapshot(doctor, ("left_on",))
    doctor.left_on = last_day
    uow.session.add(doctor)
    after_day = datetime.combine(last_day + timedelta(days=1), time.min)
    since = max(after_day, uow.clock.now_local())
    removed = _delete_free_slots(uow, doctor_id, since, lambda starts_at, ends_at: None)
    flagged = _flag(uow, doctor, [a for a in _live_after(uow, doctor_id, since)
                                  if a.flag != AppointmentFlag.DOCTOR_LEFT],
                    AppointmentFlag.DOCTOR_LEFT)
    if before["left_on"] and last_day.isoformat() > before["left_on"] and doctor.active:
        # the last day moved later: the days in between get their slots back
        from booking_core.slots import generate_for_doctor

        now = uow.clock.now_local()
        window_last = now.date() + timedelta(days=uow.rules.slot_window_days - 1)
        generate_for_doctor(uow, doctor, stored_rows(uow, doctor_id), now.date(), window_last,
                            now)
    audit.record(uow, actor, "doctor_leaves", "doctor", doctor_id, before,
                 audit.snapshot(doctor, ("left_on",)) | {"flagged": flagged,
                                                         "removed_free_slots": removed})
    logger.info("doctor %s leaves after %s: %d flagged, %d free slots removed", doctor_id,
                last_day, flagged, removed)
    return flagged


def doctor_returns(uow: UnitOfWork, doctor_id: int, actor: Actor) -> int:
    """Undo :func:`doctor_leaves` (a mistake, or the doctor is back), inside the caller's
    transaction: clears ``left_on`` and creates the window's slots again; returns how many.
    Visits flagged "doctor_left" stay flagged: those patients were told, an agent calls them.
    """
    from booking_core.slots import generate_for_doctor

    doctor = _doctor(uow, doctor_id)
    if doctor.left_on is None:
        return 0
    before = audit.snapshot(doctor, ("left_on",))
    doctor.left_on = None
    uow.session.add(doctor)
    created = 0
    if doctor.active:
        now = uow.clock.now_local()
        window_last = now.date() + timedelta(days=uow.rules.slot_window_days - 1)
        created = generate_for_doctor(uow, doctor, stored_rows(uow, doctor_id), now.date(),
                                      window_last, now)
    audit.record(uow, actor, "doctor_returns", "doctor", doctor_id, before,
                 {"left_on": None, "created_slots": created})
    return created


def set_day_override(uow: UnitOfWork, doctor_id: int, override: DayOverride,
                     actor: Actor) -> ScheduleChange:
    """Add (or replace: same day and start) a one-off day change, inside the caller's
    transaction, and apply it to that day's slots and bookings like a schedule change."""
    if override.problems():
        raise InvalidInput(f"day override: {', '.join(override.problems())}")
    doctor = _doctor(uow, doctor_id)
    same = uow.session.exec(select(ScheduleOverride).where(
        ScheduleOverride.doctor_id == doctor_id, ScheduleOverride.day == override.day)).all()
    row = next((o for o in same if o.start_time == override.start_time), None)
    columns = ("kind", "start_time", "end_time", "slot_minutes", "cabinet", "reason")
    before = audit.snapshot(row, ("day", *columns)) if row else None
    if row is None:
        row = ScheduleOverride(doctor_id=doctor_id, day=override.day)
    for name in columns:
        setattr(row, name, getattr(override, name))
    row.created_by, row.created_at = actor.label, uow.clock.now_utc()
    uow.session.add(row)
    uow.flush()
    audit.record(uow, actor, "day_override", "doctor", doctor_id, before,
                 audit.snapshot(row, ("day", *columns)))
    return _reconcile(uow, doctor, stored_rows(uow, doctor_id), override.day, override.day)


def remove_day_override(uow: UnitOfWork, override_id: int, actor: Actor) -> ScheduleChange:
    """Delete a day override (inside the caller's transaction); the templates rule that day
    again.  Bookings the day no longer covers are flagged like any schedule change."""
    row = uow.session.get(ScheduleOverride, override_id)
    if row is None:
        raise NotFound("day override not found")
    doctor = _doctor(uow, row.doctor_id)
    day = row.day
    before = audit.snapshot(row, ("day", "kind", "start_time", "end_time", "slot_minutes",
                                  "cabinet", "reason"))
    uow.session.delete(row)
    uow.flush()
    audit.record(uow, actor, "day_override_removed", "doctor", doctor.id, before)
    return _reconcile(uow, doctor, stored_rows(uow, doctor.id), day, day)  # type: ignore[arg-type]


def overrides_of(uow: UnitOfWork, doctor_id: int, first: date,
                 last: date | None = None) -> list[ScheduleOverride]:
    """The doctor's day overrides from ``first`` (to ``last``), by day."""
    stmt = select(ScheduleOverride).where(ScheduleOverride.doctor_id == doctor_id,
                                          ScheduleOverride.day >= first)
    if last is not None:
        stmt = stmt.where(ScheduleOverride.day <= last)
    return list(uow.session.exec(stmt.order_by(col(ScheduleOverride.day))).all())


# --- applying a schedule to the slots and bookings ------------------------------------------


def _reconcile(uow: UnitOfWork, doctor: Doctor, rows: Sequence[TemplateRow], first: date,
               last: date | None) -> ScheduleChange:
    """Bring the doctor's future slots from ``first`` (to ``last``) in line with the schedule.

    Free slots the schedule no longer produces go (a changed cabinet is updated in place);
    booked ones stay, and their live bookings outside the new working hours are flagged.
    Then the booking window's missing slots are generated.
    """
    from booking_core.slots import generate_for_doctor

    assert doctor.id is not None
    now = uow.clock.now_local()
    since = max(now, datetime.combine(first, time.min))
    overrides = overrides_of(uow, doctor.id, first, last)
    days: dict[date, dict[tuple[datetime, datetime], str]] = {}

    def wanted(starts_at: datetime, ends_at: datetime) -> str | None:
        d = starts_at.date()
        if doctor.left_on is not None and d > doctor.left_on:
            return None
        if d not in days:
            days[d] = {(s.starts_at, s.ends_at): s.cabinet
                       for s in slots_for_day(rows, overrides, d, doctor.cabinet)}
        return days[d].get((starts_at, ends_at))

    until = datetime.combine(last + timedelta(days=1), time.min) if last else None
    removed = _delete_free_slots(uow, doctor.id, since, wanted, until)
    left = doctor.left_on
    uncovered = []
    for appt, slot in _live_with_slots(uow, doctor.id, since, until):
        if appt.flag is not None:
            continue  # already on the worklist, already told
        d = slot.starts_at.date()
        covered = (left is None or d <= left) and any(
            seg.covers(slot.starts_at, slot.ends_at)
            for seg in working_segments(rows, overrides, d, doctor.cabinet))
        if not covered:
            uncovered.append(appt)
    flagged = _flag(uow, doctor, uncovered, AppointmentFlag.SCHEDULE_CHANGED)
    # the same window as generate_slots: today and the days after it
    window_last = now.date() + timedelta(days=uow.rules.slot_window_days - 1)
    g_first, g_last = max(first, now.date()), min(last or window_last, window_last)
    created = 0
    if g_first <= g_last and doctor.active:
        created = generate_for_doctor(uow, doctor, rows, g_first, g_last, now)
    uow.flush()
    return ScheduleChange(True, flagged, removed, created)


#: Ids per statement in the bulk updates and deletes (well under SQLite's variable limit).
_CHUNK = 500


def _delete_free_slots(uow: UnitOfWork, doctor_id: int, since: datetime,
                       wanted: Callable[[datetime, datetime], str | None],
                       until: datetime | None = None) -> int:
    """Delete the doctor's slots from ``since`` (to ``until``) that hold no live appointment
    and that ``wanted(starts_at, ends_at)`` does not want (None); a wanted one gets the cabinet
    it returns.  Cancelled appointments on a deleted slot let go of it (``slot_id`` -> None):
    they keep their doctor and time.  Plain column reads and bulk statements: a nightly import
    may change hundreds of doctors' schedules in one transaction.
    """
    span = [Slot.doctor_id == doctor_id, Slot.starts_at >= since]
    if until is not None:
        span.append(Slot.starts_at < until)
    found = uow.session.exec(select(Slot.id, Slot.starts_at, Slot.ends_at, Slot.cabinet)
                             .where(*span)).all()
    if not found:
        return 0
    occupied = set(uow.session.exec(
        select(Appointment.slot_id).join(Slot, col(Slot.id) == Appointment.slot_id)
        .where(*span, Appointment.status != AppointmentStatus.CANCELLED)).all())
    doomed: list[int] = []
    moved: dict[str, list[int]] = {}
    for slot_id, starts_at, ends_at, cabinet in found:
        if slot_id in occupied:
            continue  # a booked slot is never touched
        want = wanted(starts_at, ends_at)
        if want is None:
            doomed.append(slot_id)  # type: ignore[arg-type]
        elif want != cabinet:
            moved.setdefault(want, []).append(slot_id)  # type: ignore[arg-type]
    for cabinet, ids in moved.items():
        for chunk in _chunks(ids):
            uow.session.execute(update(Slot).where(col(Slot.id).in_(chunk))
                                .values(cabinet=cabinet), execution_options=_BULK)
    for chunk in _chunks(doomed):
        uow.session.execute(update(Appointment).where(col(Appointment.slot_id).in_(chunk))
                            .values(slot_id=None), execution_options=_BULK)
        uow.session.execute(delete(Slot).where(col(Slot.id).in_(chunk)),
                            execution_options=_BULK)
    return len(doomed)


#: Bulk statements on rows this unit of work has not loaded: no session bookkeeping.
_BULK = {"synchronize_session": False}


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _live_after(uow: UnitOfWork, doctor_id: int, since: datetime) -> list[Appointment]:
    from booking_core.booking import LIVE_FUTURE

    return list(uow.session.exec(select(Appointment).where(
        Appointment.doctor_id == doctor_id, col(Appointment.status).in_(LIVE_FUTURE),
        Appointment.starts_at >= since).order_by(col(Appointment.starts_at))).all())


def _live_with_slots(uow: UnitOfWork, doctor_id: int, since: datetime,
                     until: datetime | None) -> list[tuple[Appointment, Slot]]:
    from booking_core.booking import LIVE_FUTURE

    stmt = (select(Appointment, Slot).join(Slot, col(Slot.id) == Appointment.slot_id)
            .where(Appointment.doctor_id == doctor_id,
                   col(Appointment.status).in_(LIVE_FUTURE), Appointment.starts_at >= since))
    if until is not None:
        stmt = stmt.where(Appointment.starts_at < until)
    return list(uow.session.exec(stmt.order_by(col(Appointment.starts_at))).all())  # type: ignore[arg-type]


def _flag(uow: UnitOfWork, doctor: Doctor, appts: list[Appointment], flag: str) -> int:
    """Flag ``appts`` and queue each patient's SMS with a colleague's nearest free slot."""
    if not appts:
        return 0
    from booking_core import notifications
    from booking_core.admin import AffectedAppointment, _substitute_slot
    from booking_core.booking import _view

    stamp = uow.clock.now_utc()
    for appt in appts:
        appt.flag, appt.flagged_at = flag, stamp
        uow.session.add(appt)
    uow.flush()
    spec = uow.session.get(Specialty, doctor.specialty_id)
    assert spec is not None
    affected = []
    for appt in appts:
        patient = uow.session.get(Patient, appt.patient_id)
        assert patient is not None
        substitute = _substitute_slot(uow, patient, spec, doctor, None)
        affected.append(AffectedAppointment(_view(uow, appt), patient.phone, substitute))
    notifications.flag_notices(uow, flag, affected)
    return len(appts)
