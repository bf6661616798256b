"""Who may book what through which channel, and the free-slot search (rules 4-7, 11, 13, 14).

The clock stands at Monday 2026-09-07 10:00; the demo clinic's slots run to 2026-10-06.
Therapists: Кашинцева (district 1, mornings), Орлов (district 2, evenings), Смирнова (district 3,
alternating).  The adult and the child live in district 1, the elderly patient in district 2.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlmodel import select

from booking_core import admin, booking, slots
from booking_core.actors import Actor
from booking_core.commands import BookSlot, CloseChannel, FindSlots, RegisterAbsence
from booking_core.errors import (
    AgeMismatch,
    BookingBlocked,
    ChannelClosed,
    ReferralRequired,
    SlotUnavailable,
    WrongClinic,
)
from models.tables import Appointment, Channel, Patient, Referral, Slot
from support.world import AGENT, doctor_ids, patient_id, specialty_id

TODAY = date(2026, 9, 7)
NOW = datetime(2026, 9, 7, 10, 0)
TOMORROW = date(2026, 9, 8)
HORIZON_LAST_DAY = date(2026, 9, 21)  # today + 14 days (a Monday)
ADMIN = Actor.agent("head", "10.0.0.1")


def ivr(container, role: str) -> Actor:
    return Actor.patient(patient_id(container, role), Channel.IVR, "+79161234567")


def find(container, role: str, code: str, channel: str = Channel.IVR, **kw):
    q = FindSlots(patient_id(container, role), specialty_id(container, code), channel, **kw)
    return slots.find_free_slots(q, container.uow())


def options(container, role: str, channel: str = Channel.IVR) -> dict:
    found = slots.bookable_specialties(patient_id(container, role), channel, container.uow())
    return {o.specialty.code: o for o in found}


def book(container, role: str, slot_id: int, actor: Actor | None = None, **kw):
    actor = actor or ivr(container, role)
    return booking.book(BookSlot(patient_id(container, role), slot_id, actor, **kw),
                        container.uow())


def slot_at(container, doctor_id: int, at: datetime) -> int:
    with container.uow().reading() as uow:
        slot = uow.session.exec(
            select(Slot).where(Slot.doctor_id == doctor_id, Slot.starts_at == at)
        ).one()
        assert slot.id is not None
        return slot.id


def clinic_id(container) -> int:
    with container.uow().reading() as uow:
        p = uow.session.get(Patient, patient_id(container, "adult"))
        assert p is not None and p.clinic_id is not None
        return p.clinic_id


def close(container, channel: str, first: date, last: date, *, code: str | None = None,
          doctor_id: int | None = None, reason: str = "эпидсезон") -> int:
    return admin.close_channel(
        CloseChannel(clinic_id(container), channel, first, last, ADMIN,
                     specialty_id=specialty_id(container, code) if code else None,
                     doctor_id=doctor_id, reason=reason),
        container.uow(),
    )


def therapists(container) -> tuple[int, int, int]:
    kashintseva, orlov, smirnova = doctor_ids(container, "therapist")
    return kashintseva, orlov, smirnova


# --- Rules 5, 6: which specialties a patient is offered ----------------------------------------


def test_adult_by_phone_gets_self_referral_adult_specialties(container):
    found = options(container, "adult")
    assert list(found) == ["therapist", "gynecologist", "dentist", "ophthalmologist", "surgeon"]
    assert all(o.open for o in found.values())


def test_adult_by_phone_is_not_offered_pediatrician_nor_referral_only_neurologist(container):
    found = options(container, "adult")
    assert "pediatrician" not in found
    assert "neurologist" not in found


def test_registrar_is_offered_referral_only_neurologist_for_an_adult(container):
    found = options(container, "adult", Channel.CONSOLE)
    assert "neurologist" in found
    assert "pediatrician" not in found


def test_child_gets_pediatrician_and_any_age_specialties_only(container):
    for channel in (Channel.IVR, Channel.CONSOLE):
        found = options(container, "child", channel)
        assert list(found) == ["pediatrician", "dentist", "ophthalmologist"], channel


def test_blocked_patient_still_sees_the_specialties(container):
    """The block is explained when they try to book, not by hiding the menu."""
    assert "therapist" in options(container, "3 no-shows")


def test_patient_without_attachment_cannot_book_remotely(container):
    pid = patient_id(container, "elderly")
    with container.uow() as uow:
        p = uow.session.get(Patient, pid)
        p.clinic_id = None
        uow.commit()
    assert slots.bookable_specialties(pid, Channel.IVR, container.uow()) == []
    with pytest.raises(WrongClinic):
        find(container, "elderly", "therapist")


# --- Rule 7: the search window ---------------------------------------------------------------


def test_remote_search_starts_tomorrow(container):
    offers = find(container, "adult", "dentist", limit=3)
    assert offers[0].starts_at == datetime(2026, 9, 8, 8, 0)
    assert all(o.starts_at.date() >= TOMORROW for o in offers)


def test_remote_search_ends_at_the_horizon(container):
    offers = find(container, "adult", "dentist", limit=1000)
    assert max(o.starts_at.date() for o in offers) == HORIZON_LAST_DAY
    assert find(container, "adult", "dentist", on_date=HORIZON_LAST_DAY)
    assert find(container, "adult", "dentist", on_date=date(2026, 9, 22)) == []


def test_console_search_sees_todays_later_slots(container):
    offers = find(container, "adult", "therapist", Channel.CONSOLE, limit=3)
    assert offers[0].starts_at.date() == TODAY
    assert offers[0].starts_at == datetime(2026, 9, 7, 10, 15)
    assert all(o.starts_at > NOW for o in offers)


def test_console_search_goes_beyond_the_remote_horizon(container):
    later = date(2026, 9, 28)
    assert find(container, "adult", "dentist", Channel.CONSOLE, on_date=later)
    assert find(container, "adult", "dentist", Channel.IVR, on_date=later) == []


def test_remote_booking_of_todays_slot_is_refused(container):
    kashintseva, _, _ = therapists(container)
    today_slot = slot_at(container, kashintseva, datetime(2026, 9, 7, 12, 0))
    with pytest.raises(SlotUnavailable):
        book(container, "adult", today_slot)
    assert book(container, "adult", today_slot, AGENT).status == "booked"


def test_remote_booking_beyond_the_horizon_is_refused(container):
    kashintseva, _, _ = therapists(container)
    far = slot_at(container, kashintseva, datetime(2026, 9, 22, 9, 0))
    with pytest.raises(SlotUnavailable):
        book(container, "adult", far)
    assert book(container, "adult", far, AGENT).status == "booked"


def test_slot_in_the_past_is_not_bookable_even_by_console(container, clock):
    kashintseva, _, _ = therapists(container)
    slot = slot_at(container, kashintseva, datetime(2026, 9, 7, 10, 15))
    clock.set(datetime(2026, 9, 7, 10, 20))
    with pytest.raises(SlotUnavailable):
        book(container, "adult", slot, AGENT)


# --- Rule 5 and 7: order of the offers ----------------------------------------------------------


def test_district_doctor_is_offered_first_for_the_therapist(container):
    kashintseva, orlov, _ = therapists(container)
    adult = find(container, "adult", "therapist")
    assert {o.doctor.id for o in adult} == {kashintseva}
    assert all(o.district_doctor for o in adult)
    # Орлов works evenings, yet for his district's patient he comes before the morning doctors
    elderly = find(container, "elderly", "therapist")
    assert {o.doctor.id for o in elderly} == {orlov}
    assert elderly[0].starts_at == datetime(2026, 9, 8, 14, 0)
    assert elderly[0].district_doctor


def test_other_doctors_after_excluding_the_district_doctor(container):
    kashintseva, _, smirnova = therapists(container)
    offers = find(container, "adult", "therapist", exclude_doctor_ids=(kashintseva,))
    assert offers and kashintseva not in {o.doctor.id for o in offers}
    assert not any(o.district_doctor for o in offers)
    # Tuesday: Смирнова (evening on Tuesdays) and Орлов both start at 14:00; ties by doctor
    assert offers[0].starts_at == datetime(2026, 9, 8, 14, 0)


def test_offers_are_nearest_first(container):
    offers = find(container, "adult", "therapist", exclude_doctor_ids=therapists(container)[:1],
                  limit=20)
    starts = [o.starts_at for o in offers]
    assert starts == sorted(starts)
    dentist = find(container, "child", "dentist", limit=20)
    assert [o.starts_at for o in dentist] == sorted(o.starts_at for o in dentist)
    assert not any(o.district_doctor for o in dentist)  # not a district-based specialty


def test_search_by_date(container):
    day = date(2026, 9, 10)
    offers = find(container, "adult", "surgeon", on_date=day, limit=100)
    assert offers and all(o.starts_at.date() == day for o in offers)
    # Thursday is an evening for the surgeon (alternating shifts): 14:00-20:00 in 15 minutes
    assert len(offers) == 24
    assert offers[0].starts_at == datetime.combine(day, time(14, 0))


def test_search_by_doctor(container):
    _, _, smirnova = therapists(container)
    offers = find(container, "adult", "therapist", doctor_id=smirnova, limit=30)
    assert offers and {o.doctor.id for o in offers} == {smirnova}
    assert offers[0].starts_at == datetime(2026, 9, 8, 14, 0)  # Tuesday evening shift


def test_search_after_a_time_pages_on(container):
    first = find(container, "adult", "dentist", limit=3)
    second = find(container, "adult", "dentist", limit=3, after=first[-1].starts_at)
    both = find(container, "adult", "dentist", limit=6)
    assert [o.slot_id for o in first + second] == [o.slot_id for o in both]
    assert second[0].starts_at > first[-1].starts_at


def test_taken_slot_is_not_offered(container):
    first = find(container, "adult", "dentist", limit=2)
    book(container, "elderly", first[0].slot_id)
    again = find(container, "adult", "dentist", limit=1)
    assert again[0].slot_id == first[1].slot_id


# --- Rule 5: referral-only specialties -----------------------------------------------------------


def test_referral_only_specialty_is_refused_by_phone(container):
    with pytest.raises(ReferralRequired):
        find(container, "adult", "neurologist")
    slot = find(container, "adult", "neurologist", Channel.CONSOLE)[0].slot_id
    with pytest.raises(ReferralRequired):
        book(container, "adult", slot)


def test_referral_only_specialty_is_booked_by_registrar_with_the_referral(container):
    offers = find(container, "adult", "neurologist", Channel.CONSOLE)
    appt = book(container, "adult", offers[0].slot_id, AGENT)
    assert appt.status == "booked" and appt.specialty.code == "neurologist"
    with container.uow().reading() as uow:
        referral = uow.session.exec(
            select(Referral).where(Referral.patient_id == patient_id(container, "adult"))
        ).one()
        row = uow.session.get(Appointment, appt.id)
        assert referral.used_by_appointment_id == appt.id
        assert row.referral_id == referral.id


def test_referral_only_specialty_without_referral_is_refused_by_registrar(container):
    slot = find(container, "adult", "neurologist", Channel.CONSOLE)[0].slot_id
    with pytest.raises(ReferralRequired):
        find(container, "elderly", "neurologist", Channel.CONSOLE)
    with pytest.raises(ReferralRequired):
        book(container, "elderly", slot, AGENT)


def test_expired_referral_is_not_accepted(container, clock):
    clock.set(datetime(2026, 10, 8, 9, 0))  # the demo referral was valid 30 days
    with pytest.raises(ReferralRequired):
        find(container, "adult", "neurologist", Channel.CONSOLE)


def test_a_used_referral_cannot_book_a_second_time(container):
    offers = find(container, "adult", "neurologist", Channel.CONSOLE, limit=30)
    book(container, "adult", offers[0].slot_id, AGENT)
    later = next(o for o in offers if o.starts_at.date() != offers[0].starts_at.date())
    with pytest.raises(ReferralRequired):
        book(container, "adult", later.slot_id, AGENT)


# --- Rule 6: age groups ---------------------------------------------------------------------


def test_child_cannot_be_booked_to_an_adult_specialty(container):
    with pytest.raises(AgeMismatch):
        find(container, "child", "therapist")
    slot = find(container, "adult", "therapist")[0].slot_id
    with pytest.raises(AgeMismatch):
        book(container, "child", slot)
    with pytest.raises(AgeMismatch):
        book(container, "child", slot, AGENT)


def test_adult_cannot_be_booked_to_the_pediatrician(container):
    slot = find(container, "child", "pediatrician")[0].slot_id
    with pytest.raises(AgeMismatch):
        find(container, "adult", "pediatrician", Channel.CONSOLE)
    with pytest.raises(AgeMismatch):
        book(container, "adult", slot, AGENT)


def test_child_books_the_district_pediatrician(container):
    offers = find(container, "child", "pediatrician")
    assert offers[0].district_doctor
    assert book(container, "child", offers[0].slot_id).status == "booked"


# --- Rule 11: no-show block ---------------------------------------------------------------------


def test_blocked_patient_is_refused_by_phone(container):
    with pytest.raises(BookingBlocked) as exc:
        find(container, "3 no-shows", "therapist")
    assert exc.value.details["until"] == date(2026, 9, 22)  # 30 days from 08-24
    slot = find(container, "3 no-shows", "therapist", Channel.CONSOLE)[0].slot_id
    with pytest.raises(BookingBlocked):
        book(container, "3 no-shows", slot)


def test_blocked_patient_is_booked_by_the_registrar(container):
    offers = find(container, "3 no-shows", "therapist", Channel.CONSOLE)
    assert book(container, "3 no-shows", offers[0].slot_id, AGENT).status == "booked"


def test_block_ends_after_its_days(container, clock):
    clock.set(datetime(2026, 9, 22, 23, 59))  # the 30th day (from 08-24) is the last one
    with pytest.raises(BookingBlocked):
        find(container, "3 no-shows", "therapist")
    clock.set(datetime(2026, 9, 23, 0, 0))
    assert find(container, "3 no-shows", "therapist")


# --- Rule 13: channel restrictions -------------------------------------------------------------


def test_specialty_closed_for_the_whole_window_refuses_search_and_shows_closed(container):
    close(container, Channel.IVR, TODAY, date(2026, 10, 31), code="therapist", reason="грипп")
    with pytest.raises(ChannelClosed) as exc:
        find(container, "adult", "therapist")
    assert exc.value.details["reason"] == "грипп"
    option = options(container, "adult")["therapist"]
    assert not option.open and option.closed_reason == "грипп"
    assert options(container, "adult")["dentist"].open


def test_closed_specialty_slot_cannot_be_booked_by_phone(container):
    slot = find(container, "adult", "therapist")[0].slot_id
    close(container, Channel.IVR, TODAY, date(2026, 10, 31), code="therapist")
    with pytest.raises(ChannelClosed):
        book(container, "adult", slot)


def test_closed_phone_channel_leaves_registrar_and_internet_open(container):
    close(container, Channel.IVR, TODAY, date(2026, 10, 31), code="therapist")
    offers = find(container, "adult", "therapist", Channel.CONSOLE)
    assert book(container, "adult", offers[0].slot_id, AGENT).status == "booked"
    assert find(container, "elderly", "therapist", Channel.INTERNET)
    assert options(container, "adult", Channel.CONSOLE)["therapist"].open


def test_restriction_for_all_channels_closes_every_remote_channel(container):
    close(container, "*", TODAY, date(2026, 10, 31), code="therapist")
    for channel in (Channel.IVR, Channel.INTERNET, Channel.INFOMAT):
        with pytest.raises(ChannelClosed):
            find(container, "adult", "therapist", channel)
    assert find(container, "adult", "therapist", Channel.CONSOLE)


def test_specialty_closed_for_some_days_hides_only_those_days(container):
    close(container, Channel.IVR, TOMORROW, date(2026, 9, 10), code="dentist")
    assert options(container, "adult")["dentist"].open
    offers = find(container, "adult", "dentist")
    assert offers[0].starts_at == datetime(2026, 9, 11, 8, 0)
    assert find(container, "adult", "dentist", on_date=date(2026, 9, 9)) == []


def test_restriction_for_one_doctor_and_day_hides_only_those_slots(container):
    kashintseva, orlov, smirnova = therapists(container)
    close(container, Channel.IVR, TOMORROW, TOMORROW, doctor_id=kashintseva, reason="учёба")
    tomorrow = find(container, "adult", "therapist", on_date=TOMORROW, limit=100)
    assert tomorrow and kashintseva not in {o.doctor.id for o in tomorrow}
    assert {o.doctor.id for o in tomorrow} == {orlov, smirnova}
    assert find(container, "adult", "therapist")[0].starts_at == datetime(2026, 9, 9, 8, 0)
    assert options(container, "adult")["therapist"].open
    # the hidden slot can't be booked by phone, but a registrar can
    hidden = slot_at(container, kashintseva, datetime(2026, 9, 8, 9, 0))
    with pytest.raises(ChannelClosed):
        book(container, "adult", hidden)
    assert book(container, "adult", hidden, AGENT).status == "booked"


def test_restriction_naming_specialty_and_doctor_closes_only_that_doctor(container):
    """Search and booking agree: the offered slots of the other doctors can be booked."""
    kashintseva, orlov, _ = therapists(container)
    close(container, Channel.IVR, TOMORROW, TOMORROW, code="therapist", doctor_id=orlov)
    offers = find(container, "adult", "therapist", on_date=TOMORROW, limit=100)
    assert orlov not in {o.doctor.id for o in offers}
    assert offers[0].doctor.id == kashintseva
    assert book(container, "adult", offers[0].slot_id).status == "booked"
    with pytest.raises(ChannelClosed):
        book(container, "elderly", slot_at(container, orlov, datetime(2026, 9, 8, 14, 0)))


def test_lifting_a_restriction_reopens_the_channel(container):
    rid = close(container, Channel.IVR, TODAY, date(2026, 10, 31), code="therapist")
    with pytest.raises(ChannelClosed):
        find(container, "adult", "therapist")
    admin.lift_restriction(rid, ADMIN, container.uow())
    assert options(container, "adult")["therapist"].open
    offers = find(container, "adult", "therapist")
    assert book(container, "adult", offers[0].slot_id).status == "booked"


# --- Rule 14: doctor absence -----------------------------------------------------------------


def test_doctor_absence_hides_that_doctors_slots(container):
    kashintseva, _, _ = therapists(container)
    admin.register_absence(RegisterAbsence(kashintseva, TOMORROW, date(2026, 9, 9), ADMIN,
                                           reason="больничный"), container.uow())
    offers = find(container, "adult", "therapist", doctor_id=kashintseva)
    assert offers[0].starts_at == datetime(2026, 9, 10, 8, 0)
    for day in (TOMORROW, date(2026, 9, 9)):
        assert find(container, "adult", "therapist", Channel.CONSOLE, doctor_id=kashintseva,
                    on_date=day) == []
    absent_day = find(container, "adult", "therapist", Channel.CONSOLE, on_date=TOMORROW,
                      limit=200)
    assert absent_day and kashintseva not in {o.doctor.id for o in absent_day}
    # today (not in the absence) she still works
    assert find(container, "adult", "therapist", Channel.CONSOLE)[0].starts_at.date() == TODAY


def test_slot_of_an_absent_doctor_cannot_be_booked(container):
    kashintseva, _, _ = therapists(container)
    slot = slot_at(container, kashintseva, datetime(2026, 9, 8, 9, 0))
    admin.register_absence(RegisterAbsence(kashintseva, TOMORROW, TOMORROW, ADMIN),
                           container.uow())
    with pytest.raises(SlotUnavailable):
        book(container, "adult", slot)
    with pytest.raises(SlotUnavailable):
        book(container, "adult", slot, AGENT)
