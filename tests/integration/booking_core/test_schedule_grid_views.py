"""The registrar's grid shows taken slots (whose) and the patient's own current slot, an
absent doctor's day as absent, a moved visit as «Перенесена», and the card's specialties
with why one cannot be booked (the clock stands at Monday 2026-09-07 10:00)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import select

from agent_console import labels
from booking_core import admin, booking, schedule
from booking_core.commands import BookSlot, RegisterAbsence, Reschedule
from booking_core.schedule import GridQuery, TakenSlot
from models.tables import Slot
from support.world import AGENT, doctor_ids, patient_id, specialty_id

DAY = date(2026, 9, 8)


def slot(container, at: datetime, nth: int = 0) -> int:  # type: ignore[no-untyped-def]
    with container.uow().reading() as uow:
        return uow.session.exec(select(Slot).where(
            Slot.doctor_id == doctor_ids(container, "therapist")[nth],
            Slot.starts_at == at)).one().id


def kashintseva_day(container, patient: int | None = None):  # type: ignore[no-untyped-def]
    grid = schedule.schedule_grid(GridQuery(DAY, DAY, specialty_id=specialty_id(
        container, "therapist"), patient_id=patient), container.uow())
    return next(d for d in grid.days[0].doctors if d.doctor.last_name == "Кашинцева")


def test_taken_slots_show_whose_and_the_patients_own(sqlite_container):
    c = sqlite_container
    petrova = booking.book(BookSlot(patient_id(c, "elderly"), slot(c, datetime(2026, 9, 8, 8, 0)),
                                    AGENT), c.uow())
    mine = booking.book(BookSlot(patient_id(c, "adult"), slot(c, datetime(2026, 9, 8, 8, 30)),
                                 AGENT), c.uow())
    day = kashintseva_day(c, patient_id(c, "adult"))
    taken = {t.starts_at.strftime("%H:%M"): t for t in day.taken_slots}
    assert taken["08:00"].patient_short == "Петрова А.И." and not taken["08:00"].own
    assert taken["08:30"].own and taken["08:30"].appointment_id == mine.id
    assert day.taken == 2 and len(day.free) == day.total - 2
    timeline = [type(s) for s in day.timeline]
    assert timeline[0] is TakenSlot and len(timeline) == day.total
    assert petrova.id


def test_an_absent_doctors_day_is_absent_not_fully_taken(sqlite_container):
    c = sqlite_container
    kash = doctor_ids(c, "therapist")[0]
    booking.book(BookSlot(patient_id(c, "elderly"), slot(c, datetime(2026, 9, 8, 8, 0)), AGENT),
                 c.uow())
    admin.register_absence(RegisterAbsence(kash, DAY, DAY, AGENT, reason="больничный"), c.uow())
    day = kashintseva_day(c)
    assert day.absent and day.absent_reason == "больничный"
    assert day.free == [] and day.taken == 1  # the one patient to move, not "24 of 24"


def test_a_moved_visit_reads_as_rescheduled(sqlite_container):
    c = sqlite_container
    first = booking.book(BookSlot(patient_id(c, "adult"), slot(c, datetime(2026, 9, 8, 8, 0)),
                                  AGENT), c.uow())
    booking.reschedule(Reschedule(first.id, slot(c, datetime(2026, 9, 8, 9, 0)), AGENT), c.uow())
    old = booking.get_appointment(first.id, c.uow())
    assert old.status == "cancelled" and old.cancel_reason == "rescheduled"
    assert labels.appointment_status(old.status, old.cancel_reason) == "Перенесена"
    assert labels.appointment_status("cancelled", "patient") == "Отменена"


def test_the_card_offers_only_what_the_patient_may_book(sqlite_container):
    c = sqlite_container
    child = {ch.specialty.code: ch for ch in schedule.specialty_choices(patient_id(c, "child"),
                                                                        c.uow())}
    assert child["pediatrician"].open and child["dentist"].open
    assert child["therapist"].reason == "age_mismatch"
    assert labels.specialty_closed_text(child["therapist"]) == "только для взрослых"
    elderly = {ch.specialty.code: ch
               for ch in schedule.specialty_choices(patient_id(c, "elderly"), c.uow())}
    assert elderly["neurologist"].reason == "referral_required"
    assert labels.specialty_closed_text(elderly["pediatrician"]) == "только для детей"
    booking.book(BookSlot(patient_id(c, "adult"), slot(c, datetime(2026, 9, 8, 8, 0)), AGENT),
                 c.uow())
    adult = schedule.specialty_choices(patient_id(c, "adult"), c.uow())
    by_code = {ch.specialty.code: ch for ch in adult}
    assert by_code["neurologist"].open  # the demo adult holds a referral
    assert by_code["therapist"].reason == "limit_reached"
    assert labels.specialty_closed_text(by_code["therapist"]) == "уже есть запись на 08.09 08:00"
    assert [ch.open for ch in adult] == sorted((ch.open for ch in adult), reverse=True)
