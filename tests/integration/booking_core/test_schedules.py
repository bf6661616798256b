"""Schedules on both databases: generation with parities, weeks, breaks and overrides; changes
that touch bookings (a new template, a day override, a doctor leaving) flag, never delete.

The demo template database was generated at Monday 2026-09-07 10:00 for 30 days (09-07..10-06);
Kashintseva (therapist) works weekdays 08:00-14:00 in 15-minute slots.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import col, select

from booking_core import admin, booking, schedules, slots, worklists
from booking_core.actors import Actor
from booking_core.commands import BookSlot
from models.tables import Appointment, AuditLog, Channel, Doctor, OutboxMessage, Slot
from support.world import doctor_ids, patient_id

ADMIN = Actor.agent("head", "10.0.0.1")


def row(weekday: int, start: str, end: str, **kw) -> schedules.TemplateRow:
    return schedules.TemplateRow(weekday, time.fromisoformat(start), time.fromisoformat(end),
                                 **kw)


def kashintseva(container) -> int:
    return doctor_ids(container, "therapist")[0]


def day_slots(container, doctor_id: int, day: date) -> list[Slot]:
    lo = datetime.combine(day, time.min)
    with container.uow().reading() as uow:
        return list(uow.session.exec(
            select(Slot).where(Slot.doctor_id == doctor_id, Slot.starts_at >= lo,
                               Slot.starts_at < lo + timedelta(days=1))
            .order_by(col(Slot.starts_at))).all())


def hhmm(found: list[Slot]) -> list[str]:
    return [f"{s.starts_at:%H:%M}" for s in found]


def book_at(container, role: str, doctor_id: int, at: datetime):
    slot = next(s for s in day_slots(container, doctor_id, at.date()) if s.starts_at == at)
    pid = patient_id(container, role)
    return booking.book(BookSlot(pid, slot.id, Actor.patient(pid, Channel.IVR)), container.uow())


def appointment(container, appt_id: int) -> Appointment:
    with container.uow().reading() as uow:
        return uow.session.get(Appointment, appt_id)


def outbox_kinds(container, appt_id: int) -> list[str]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(select(OutboxMessage.kind).where(
            OutboxMessage.appointment_id == appt_id)).all())


def replace(container, doctor_id: int, rows) -> schedules.ScheduleChange:
    with container.uow() as uow:
        change = schedules.replace_templates(uow, doctor_id, rows, ADMIN)
        uow.commit()
    return change


def weekdays(start: str, end: str, **kw) -> list[schedules.TemplateRow]:
    return [row(d, start, end, **kw) for d in range(5)]


def test_template_change_flags_uncovered_bookings_and_keeps_them(container):
    doc = kashintseva(container)
    kept = book_at(container, "adult", doc, datetime(2026, 9, 8, 8, 0))
    hit = book_at(container, "elderly", doc, datetime(2026, 9, 9, 13, 0))
    change = replace(container, doc, weekdays("08:00", "12:00", cabinet="21"))
    assert change.changed and change.flagged == 1
    # 12:00-14:00 is 8 free slots on each of the 22 weekdays in the window (today's too: it
    # is 10:00), less the booked one; and her 4 Saturdays (09:00-13:00) are gone
    assert change.removed_free_slots == 8 * 22 - 1 + 16 * 4
    assert change.created_slots == 0
    assert hhmm(day_slots(container, doc, date(2026, 9, 9)))[-2:] == ["11:45", "13:00"]
    # the booked visit stays as booked, flagged; the covered one is untouched
    flagged = appointment(container, hit.id)
    assert (flagged.status, flagged.flag, flagged.slot_id) == ("booked", "schedule_changed",
                                                               hit.slot_id)
    assert appointment(container, kept.id).flag is None
    # free slots moved to the new cabinet, the booked one kept its own
    assert {s.cabinet for s in day_slots(container, doc, date(2026, 9, 10))} == {"21"}
    # the patient gets an SMS naming a colleague's free time, the agents a line to call
    assert sorted(outbox_kinds(container, hit.id)) == ["booked", "schedule_changed"]
    assert outbox_kinds(container, kept.id) == ["booked"]
    with container.uow().reading() as uow:
        payload = uow.session.exec(select(OutboxMessage.payload).where(
            OutboxMessage.appointment_id == hit.id,
            OutboxMessage.kind == "schedule_changed")).one()
    assert payload["substitute"]["doctor"] != payload["doctor"]
    calls = worklists.absence_calls(container.uow())
    assert [(c.appointment.id, c.flag) for c in calls] == [(hit.id, "schedule_changed")]
    assert "расписание" in calls[0].absence_reason
    assert [a.id for a in admin.absence_worklist(container.uow())] == [hit.id]
    with container.uow().reading() as uow:
        entry = uow.session.exec(select(AuditLog).where(AuditLog.action == "schedule")).one()
    assert len(entry.before["templates"]) == 6 and entry.after["templates"][0]["end_time"] == \
        "12:00:00"


def test_same_templates_again_change_nothing(container):
    doc = kashintseva(container)
    rows = weekdays("08:00", "12:00")
    replace(container, doc, rows)
    again = replace(container, doc, list(reversed(rows)))
    assert again == schedules.ScheduleChange(False, 0, 0)
    assert slots.generate_slots(container.uow()) == 0
    with container.uow().reading() as uow:
        assert len(uow.session.exec(select(AuditLog).where(
            AuditLog.action == "schedule")).all()) == 1


def test_new_slot_length_never_overlaps_a_booked_slot(container):
    doc = kashintseva(container)
    kept = book_at(container, "adult", doc, datetime(2026, 9, 8, 8, 15))
    change = replace(container, doc, weekdays("08:00", "10:00", slot_minutes=20))
    assert change.flagged == 0  # 08:15-08:30 is still within the doctor's hours
    assert hhmm(day_slots(container, doc, date(2026, 9, 8))) == [
        "08:15", "08:40", "09:00", "09:20", "09:40"]
    assert appointment(container, kept.id).slot_id == kept.slot_id


def test_doctor_leaving_flags_later_visits_and_stops_generation(container, clock):
    doc = kashintseva(container)
    before = book_at(container, "adult", doc, datetime(2026, 9, 14, 9, 0))
    after = book_at(container, "elderly", doc, datetime(2026, 9, 21, 9, 0))
    with container.uow() as uow:
        assert schedules.doctor_leaves(uow, doc, date(2026, 9, 14), ADMIN) == 1
        uow.commit()
    assert appointment(container, before.id).flag is None
    left = appointment(container, after.id)
    assert (left.status, left.flag) == ("booked", "doctor_left")
    assert sorted(outbox_kinds(container, after.id)) == ["booked", "doctor_left"]
    assert hhmm(day_slots(container, doc, date(2026, 9, 21))) == ["09:00"]  # the booked one
    assert day_slots(container, doc, date(2026, 9, 15)) == []
    assert len(day_slots(container, doc, date(2026, 9, 14))) == 24
    calls = worklists.absence_calls(container.uow())
    assert [c.appointment.id for c in calls] == [after.id]
    assert "14.09.2026" in calls[0].absence_reason
    with container.uow() as uow:  # the same again (a nightly re-import) changes nothing
        assert schedules.doctor_leaves(uow, doc, date(2026, 9, 14), ADMIN) == 0
        uow.commit()
    assert sorted(outbox_kinds(container, after.id)) == ["booked", "doctor_left"]
    clock.advance(days=10)
    slots.generate_slots(container.uow())
    assert day_slots(container, doc, date(2026, 10, 12)) == []


def test_day_off_override_flags_that_day_and_removing_it_restores_the_slots(container):
    doc = kashintseva(container)
    hit = book_at(container, "elderly", doc, datetime(2026, 9, 9, 9, 0))
    with container.uow() as uow:
        change = schedules.set_day_override(
            uow, doc, schedules.DayOverride(date(2026, 9, 9), "off", reason="учёба"), ADMIN)
        uow.commit()
    assert (change.flagged, change.removed_free_slots) == (1, 23)
    assert hhmm(day_slots(container, doc, date(2026, 9, 9))) == ["09:00"]
    assert len(day_slots(container, doc, date(2026, 9, 10))) == 24  # other days untouched
    assert slots.generate_slots(container.uow()) == 0  # and generation respects the day off
    with container.uow().reading() as uow:
        override_id = uow.session.exec(select(schedules.ScheduleOverride.id)).one()
    with container.uow() as uow:
        restored = schedules.remove_day_override(uow, override_id, ADMIN)
        uow.commit()
    assert restored.created_slots == 23
    assert len(day_slots(container, doc, date(2026, 9, 9))) == 24
    assert appointment(container, hit.id).flag == "schedule_changed"  # the agents still call


def test_extra_and_shortened_days(container):
    doc = kashintseva(container)
    with container.uow() as uow:
        schedules.set_day_override(uow, doc, schedules.DayOverride(
            date(2026, 9, 12), "work", time(9, 0), time(11, 0), slot_minutes=30, cabinet="2"),
            ADMIN)  # a Saturday
        schedules.set_day_override(uow, doc, schedules.DayOverride(
            date(2026, 9, 10), "work", time(8, 0), time(10, 0)), ADMIN)
        uow.commit()
    saturday = day_slots(container, doc, date(2026, 9, 12))
    assert [(f"{s.starts_at:%H:%M}", s.cabinet) for s in saturday] == [
        ("09:00", "2"), ("09:30", "2"), ("10:00", "2"), ("10:30", "2")]
    assert len(day_slots(container, doc, date(2026, 9, 10))) == 8


def test_even_odd_dates_and_alternating_weeks_over_month_and_year_end(container, clock):
    doc = kashintseva(container)
    every_day = range(7)
    rows = [row(d, "08:00", "09:00", date_parity="even", slot_minutes=60) for d in every_day]
    rows += [row(d, "14:00", "15:00", date_parity="odd", slot_minutes=60) for d in every_day]
    rows += [row(0, "18:00", "19:00", week_parity="odd", slot_minutes=60)]
    replace(container, doc, rows)
    clock.set(datetime(2026, 12, 24, 7, 0))
    slots.generate_slots(container.uow(), days=14)

    def at(day: date) -> list[str]:
        return hhmm(day_slots(container, doc, day))

    assert at(date(2026, 12, 30)) == ["08:00"]
    assert at(date(2026, 12, 31)) == ["14:00"]  # the 31st is odd
    assert at(date(2027, 1, 1)) == ["14:00"]  # and so is the 1st
    assert at(date(2026, 12, 21)) == []  # before the window
    assert at(date(2026, 12, 28)) == ["08:00", "18:00"]  # ISO week 53: odd
    assert at(date(2027, 1, 4)) == ["08:00", "18:00"]  # ISO week 1: odd again


def test_moscow_time_has_no_dst_shift(container, clock):
    # 2026-10-25 is when Europe leaves summer time; Moscow does not, so the day has 24 hours
    doc = kashintseva(container)
    with container.uow() as uow:
        schedules.set_day_override(uow, doc, schedules.DayOverride(
            date(2026, 10, 25), "work", time(1, 0), time(5, 0), slot_minutes=60), ADMIN)
        uow.commit()
    clock.set(datetime(2026, 10, 25, 0, 30))
    assert clock.now_utc() == datetime(2026, 10, 24, 21, 30)
    slots.generate_slots(container.uow(), days=1)
    assert hhmm(day_slots(container, doc, date(2026, 10, 25))) == [
        "01:00", "02:00", "03:00", "04:00"]


def test_inactive_doctor_and_doctor_without_templates_get_nothing(container, clock):
    doc = kashintseva(container)
    with container.uow() as uow:
        uow.session.get(Doctor, doc).active = False
        uow.commit()
    replace(container, doc, weekdays("08:00", "09:00"))  # no slots made for an inactive doctor
    clock.advance(days=14)
    slots.generate_slots(container.uow())
    assert day_slots(container, doc, date(2026, 10, 19)) == []


def test_patient_without_a_mobile_is_flagged_but_not_texted(container):
    from models.tables import Patient

    doc = kashintseva(container)
    hit = book_at(container, "elderly", doc, datetime(2026, 9, 21, 9, 0))
    with container.uow() as uow:
        uow.session.get(Patient, patient_id(container, "elderly")).sms_reachable = False
        assert schedules.doctor_leaves(uow, doc, date(2026, 9, 18), ADMIN) == 1
        uow.commit()
    assert appointment(container, hit.id).flag == "doctor_left"
    assert outbox_kinds(container, hit.id) == ["booked"]
    assert [c.phone for c in worklists.absence_calls(container.uow())] == ["+79031112233"]


def test_a_specialty_whose_doctors_all_left_is_not_offered(container, clock):
    therapist_ids = doctor_ids(container, "therapist")
    adult = patient_id(container, "adult")

    def offered() -> bool:
        return "therapist" in {o.specialty.code for o in slots.bookable_specialties(
            adult, Channel.IVR, container.uow())}

    with container.uow() as uow:
        for doc in therapist_ids:
            schedules.doctor_leaves(uow, doc, date(2026, 9, 8), ADMIN)
        uow.commit()
    assert offered()  # they still work today and tomorrow
    clock.set(datetime(2026, 9, 9, 8, 0))
    assert not offered()


def test_invalid_or_overlapping_rows_change_nothing(container):
    import pytest

    from booking_core.errors import InvalidInput

    doc = kashintseva(container)
    before = len(day_slots(container, doc, date(2026, 9, 8)))
    for rows, message in (([row(0, "14:00", "08:00")], "template row 1: ends_before_start"),
                          ([row(0, "08:00", "12:00"), row(0, "11:00", "13:00")],
                           "template rows 1 and 2 overlap")):
        with container.uow() as uow, pytest.raises(InvalidInput, match=message):
            schedules.replace_templates(uow, doc, rows, ADMIN)
    assert len(day_slots(container, doc, date(2026, 9, 8))) == before


def test_a_later_last_day_gives_the_days_in_between_their_slots_back(container):
    doc = kashintseva(container)
    for last_day in (date(2026, 9, 14), date(2026, 9, 18)):
        with container.uow() as uow:
            schedules.doctor_leaves(uow, doc, last_day, ADMIN)
            uow.commit()
    assert len(day_slots(container, doc, date(2026, 9, 17))) == 24
    assert day_slots(container, doc, date(2026, 9, 21)) == []


def test_a_cancelled_visit_on_a_removed_slot_keeps_its_record(container):
    from booking_core.commands import Cancel

    doc = kashintseva(container)
    gone = book_at(container, "adult", doc, datetime(2026, 9, 9, 13, 0))
    booking.cancel(Cancel(gone.id, ADMIN), container.uow())
    change = replace(container, doc, weekdays("08:00", "12:00"))
    assert change.flagged == 0
    kept = appointment(container, gone.id)
    assert (kept.status, kept.slot_id, kept.starts_at) == ("cancelled", None,
                                                           datetime(2026, 9, 9, 13, 0))
    assert hhmm(day_slots(container, doc, date(2026, 9, 9)))[-1] == "11:45"


def test_a_doctor_who_returns_gets_slots_again(container):
    doc = kashintseva(container)
    hit = book_at(container, "elderly", doc, datetime(2026, 9, 21, 9, 0))
    with container.uow() as uow:
        schedules.doctor_leaves(uow, doc, date(2026, 9, 14), ADMIN)
        uow.commit()
    with container.uow() as uow:
        created = schedules.doctor_returns(uow, doc, ADMIN)
        assert schedules.doctor_returns(uow, doc, ADMIN) == 0  # already back
        uow.commit()
    assert created > 0
    assert len(day_slots(container, doc, date(2026, 9, 22))) == 24
    assert len(day_slots(container, doc, date(2026, 9, 21))) == 24  # around the booked one
    assert appointment(container, hit.id).flag == "doctor_left"  # the agents still call
    with container.uow().reading() as uow:
        assert uow.session.get(Doctor, doc).left_on is None
