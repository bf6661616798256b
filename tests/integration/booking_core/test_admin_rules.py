"""Clinic administration: slot generation, absences, attachment, callbacks (rules 4, 7, 13-15).

The demo template database was generated at Monday 2026-09-07 10:00 for 30 days (09-07..10-06).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlmodel import col, func, select

from booking_core import admin, booking, slots
from booking_core.actors import Actor
from booking_core.commands import (
    Attach,
    BookSlot,
    Cancel,
    CloseChannel,
    FindSlots,
    RegisterAbsence,
    RequestCallback,
)
from booking_core.errors import AttachmentTooSoon, InvalidInput, NotFound, WrongClinic
from models.tables import (
    Appointment,
    AuditLog,
    CallbackRequest,
    Channel,
    Clinic,
    Doctor,
    Patient,
    Slot,
)
from registratura.bootstrap import bootstrap
from registratura.settings import Settings
from support.world import AGENT, doctor_ids, patient_id, specialty_id

NOW = datetime(2026, 9, 7, 10, 0)
ADMIN = Actor.agent("head", "10.0.0.1")
SYSTEM = Actor.system("scheduler")


# --- helpers -----------------------------------------------------------------------------------


def slot_count(container, day: date | None = None, doctor_id: int | None = None) -> int:
    with container.uow().reading() as uow:
        stmt = select(func.count()).select_from(Slot)
        if day is not None:
            lo = datetime.combine(day, time.min)
            stmt = stmt.where(Slot.starts_at >= lo, Slot.starts_at < lo + timedelta(days=1))
        if doctor_id is not None:
            stmt = stmt.where(Slot.doctor_id == doctor_id)
        return uow.session.exec(stmt).one()


def slot_times(container, day: date) -> list[datetime]:
    lo = datetime.combine(day, time.min)
    with container.uow().reading() as uow:
        return list(uow.session.exec(
            select(Slot.starts_at).where(Slot.starts_at >= lo,
                                         Slot.starts_at < lo + timedelta(days=1))
        ).all())


def slot_at(container, doctor_id: int, at: datetime) -> int:
    with container.uow().reading() as uow:
        slot = uow.session.exec(
            select(Slot).where(Slot.doctor_id == doctor_id, Slot.starts_at == at)
        ).one()
        assert slot.id is not None
        return slot.id


def book(container, role: str, slot_id: int):
    actor = Actor.patient(patient_id(container, role), Channel.IVR, "+79161234567")
    return booking.book(BookSlot(patient_id(container, role), slot_id, actor), container.uow())


def patient(container, role: str) -> Patient:
    with container.uow().reading() as uow:
        p = uow.session.get(Patient, patient_id(container, role))
        assert p is not None
        return p


def demo_clinic_id(container) -> int:
    clinic = patient(container, "adult").clinic_id
    assert clinic is not None
    return clinic


def add_clinic(container, code: str = "gp5") -> int:
    with container.uow() as uow:
        clinic = Clinic(code=code, name="ГБУЗ «Городская поликлиника № 5»",
                        short_name="Городская поликлиника № 5")
        uow.session.add(clinic)
        uow.commit()
        assert clinic.id is not None
        return clinic.id


def attach(container, role: str, clinic_id: int, district_id: int | None = None, **kw) -> None:
    admin.attach_patient(Attach(patient_id(container, role), clinic_id, district_id, AGENT, **kw),
                         container.uow())


def audit_rows(container, action: str) -> list[AuditLog]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(
            select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
        ).all())


def therapists(container) -> tuple[int, int, int]:
    kashintseva, orlov, smirnova = doctor_ids(container, "therapist")
    return kashintseva, orlov, smirnova


# --- Rule 7: slot generation ------------------------------------------------------------------


def test_slots_cover_a_30_day_window_from_today(container):
    with container.uow().reading() as uow:
        first, last = uow.session.exec(select(func.min(Slot.starts_at), func.max(Slot.starts_at))
                                       .where(Slot.starts_at >= NOW)).one()
    assert first.date() == date(2026, 9, 7)
    assert last.date() == date(2026, 10, 6)  # today + 29: 30 days in all
    assert slot_count(container, date(2026, 10, 7)) == 0


def test_slot_generation_is_idempotent(container):
    before = slot_count(container)
    assert slots.generate_slots(container.uow()) == 0
    assert slots.generate_slots(container.uow()) == 0
    assert slot_count(container) == before


def test_slot_generation_rolls_forward_a_day(container, clock):
    before = slot_count(container)
    new_day = date(2026, 10, 7)  # a Wednesday, just past the window
    clock.advance(days=1)
    created = slots.generate_slots(container.uow())
    assert created > 0
    assert slot_count(container) == before + created
    assert slot_count(container, new_day) == created
    # every doctor works on Wednesdays
    for code in ("therapist", "pediatrician", "dentist", "neurologist"):
        for doctor in doctor_ids(container, code):
            assert slot_count(container, new_day, doctor) > 0
    assert slots.generate_slots(container.uow()) == 0  # and once is enough


def test_slots_follow_the_template(container):
    kashintseva = therapists(container)[0]
    dentist = doctor_ids(container, "dentist")[0]
    day = date(2026, 9, 8)
    assert slot_count(container, day, kashintseva) == 24  # 08:00-14:00 by 15 minutes
    assert slot_count(container, day, dentist) == 18  # 08:00-14:00 by 20 minutes
    assert slot_count(container, date(2026, 9, 13)) == 0  # nobody works on Sunday
    with container.uow().reading() as uow:
        slot = uow.session.get(Slot, slot_at(container, dentist, datetime(2026, 9, 8, 8, 20)))
        assert slot.ends_at == datetime(2026, 9, 8, 8, 40)
        assert slot.cabinet == "5"


def test_no_slots_are_generated_in_the_past(container, clock):
    # the template was generated at 10:00 today: nothing earlier today exists
    assert all(t > NOW for t in slot_times(container, NOW.date()))
    day = date(2026, 10, 7)
    clock.set(datetime(2026, 10, 7, 10, 0))
    created = slots.generate_slots(container.uow(), days=1)
    times = slot_times(container, day)
    assert created == len(times) > 0
    assert min(times) == datetime(2026, 10, 7, 10, 15)
    assert all(t > clock.now_local() for t in times)


def test_inactive_doctor_gets_no_new_slots(container, clock):
    kashintseva = therapists(container)[0]
    with container.uow() as uow:
        uow.session.get(Doctor, kashintseva).active = False
        uow.commit()
    clock.advance(days=1)
    slots.generate_slots(container.uow())
    assert slot_count(container, date(2026, 10, 7), kashintseva) == 0
    assert slot_count(container, date(2026, 10, 7), therapists(container)[1]) > 0


# --- Rule 14: doctor absence ---------------------------------------------------------------------


def test_absence_flags_the_affected_appointments_only(container):
    kashintseva = therapists(container)[0]
    adult = book(container, "adult", slot_at(container, kashintseva, datetime(2026, 9, 8, 8, 0)))
    elderly = book(container, "elderly",
                   slot_at(container, kashintseva, datetime(2026, 9, 9, 8, 0)))
    outside = book(container, "child",
                   slots.find_free_slots(FindSlots(patient_id(container, "child"),
                                                   specialty_id(container, "pediatrician"),
                                                   Channel.IVR), container.uow())[0].slot_id)
    report = admin.register_absence(
        RegisterAbsence(kashintseva, date(2026, 9, 8), date(2026, 9, 9), ADMIN,
                        reason="больничный"),
        container.uow(),
    )
    assert [a.appointment.id for a in report.affected] == [adult.id, elderly.id]
    assert report.affected[0].patient_phone == patient(container, "adult").phone
    with container.uow().reading() as uow:
        assert uow.session.get(Appointment, adult.id).absence_id == report.absence_id
        assert uow.session.get(Appointment, elderly.id).absence_id == report.absence_id
        assert uow.session.get(Appointment, outside.id).absence_id is None
        # flagged, not cancelled: the agent calls the patient
        assert uow.session.get(Appointment, adult.id).status == "booked"
    (entry,) = audit_rows(container, "absence")
    assert entry.entity_id == str(kashintseva) and entry.after["affected"] == 2


def test_absence_proposes_the_nearest_slot_of_a_colleague(container):
    kashintseva = therapists(container)[0]
    book(container, "adult", slot_at(container, kashintseva, datetime(2026, 9, 8, 8, 0)))
    report = admin.register_absence(
        RegisterAbsence(kashintseva, date(2026, 9, 8), date(2026, 9, 8), ADMIN), container.uow())
    (affected,) = report.affected
    sub = affected.substitute
    assert sub is not None
    assert sub.doctor.id != kashintseva
    assert sub.doctor.specialty_id == affected.appointment.doctor.specialty_id
    # Смирнова's 10:15 today is 15 minutes away: not reachable.  The nearest slot the phone
    # line would offer the patient (tomorrow on, the lead time ahead) is the one held.
    assert sub.starts_at >= datetime(2026, 9, 8, 0, 0)
    nearest = slots.find_free_slots(
        FindSlots(patient_id(container, "adult"), specialty_id(container, "therapist"),
                  Channel.IVR, exclude_doctor_ids=(kashintseva,)), container.uow())
    assert sub.slot_id not in {o.slot_id for o in nearest}  # held: no longer free
    assert sub.starts_at <= nearest[0].starts_at


def test_absence_proposes_the_named_substitute_first(container):
    kashintseva, orlov, _ = therapists(container)
    book(container, "adult", slot_at(container, kashintseva, datetime(2026, 9, 8, 8, 0)))
    report = admin.register_absence(
        RegisterAbsence(kashintseva, date(2026, 9, 8), date(2026, 9, 8), ADMIN,
                        substitute_doctor_id=orlov),
        container.uow(),
    )
    sub = report.affected[0].substitute
    assert sub is not None and sub.doctor.id == orlov  # though Смирнова has an earlier slot
    assert sub.starts_at == datetime(2026, 9, 8, 14, 0)  # his first one tomorrow


def test_absence_without_any_free_colleague_proposes_nothing(container):
    neurologist = doctor_ids(container, "neurologist")[0]  # the only one
    offers = slots.find_free_slots(
        FindSlots(patient_id(container, "adult"), specialty_id(container, "neurologist"),
                  Channel.CONSOLE), container.uow())
    appt = booking.book(BookSlot(patient_id(container, "adult"), offers[0].slot_id, AGENT),
                        container.uow())
    day = appt.starts_at.date()
    report = admin.register_absence(RegisterAbsence(neurologist, day, day, ADMIN), container.uow())
    assert report.affected[0].substitute is None


def test_absence_worklist_lists_flagged_live_appointments(container):
    kashintseva = therapists(container)[0]
    adult = book(container, "adult", slot_at(container, kashintseva, datetime(2026, 9, 8, 8, 0)))
    elderly = book(container, "elderly",
                   slot_at(container, kashintseva, datetime(2026, 9, 8, 9, 0)))
    book(container, "child",
         slots.find_free_slots(FindSlots(patient_id(container, "child"),
                                         specialty_id(container, "dentist"), Channel.IVR),
                               container.uow())[0].slot_id)
    assert admin.absence_worklist(container.uow()) == []
    report = admin.register_absence(
        RegisterAbsence(kashintseva, date(2026, 9, 8), date(2026, 9, 8), ADMIN), container.uow())
    work = admin.absence_worklist(container.uow())
    assert [a.id for a in work] == [adult.id, elderly.id]
    assert all(a.absence_id == report.absence_id for a in work)
    # once the patient is moved or cancels, they leave the list
    booking.cancel(Cancel(adult.id, AGENT), container.uow())
    assert [a.id for a in admin.absence_worklist(container.uow())] == [elderly.id]


def test_absence_must_not_end_before_it_starts(container):
    with pytest.raises(InvalidInput):
        admin.register_absence(RegisterAbsence(therapists(container)[0], date(2026, 9, 9),
                                               date(2026, 9, 8), ADMIN), container.uow())


def test_absence_of_unknown_doctor_is_not_found(container):
    with pytest.raises(NotFound):
        admin.register_absence(RegisterAbsence(99999, date(2026, 9, 8), date(2026, 9, 8),
                                               ADMIN), container.uow())


# --- Rule 13: restrictions are validated and audited --------------------------------------------


def test_restriction_needs_a_target_and_a_valid_period(container):
    clinic = demo_clinic_id(container)
    therapist = specialty_id(container, "therapist")
    with pytest.raises(InvalidInput):
        admin.close_channel(CloseChannel(clinic, Channel.IVR, date(2026, 9, 9), date(2026, 9, 8),
                                         ADMIN, specialty_id=therapist), container.uow())
    with pytest.raises(InvalidInput):
        admin.close_channel(CloseChannel(clinic, Channel.IVR, date(2026, 9, 8), date(2026, 9, 9),
                                         ADMIN), container.uow())


def test_restriction_and_its_lifting_are_audited(container):
    rid = admin.close_channel(
        CloseChannel(demo_clinic_id(container), Channel.IVR, date(2026, 9, 8), date(2026, 9, 9),
                     ADMIN, specialty_id=specialty_id(container, "surgeon"), reason="отпуск"),
        container.uow())
    admin.lift_restriction(rid, ADMIN, container.uow())
    (closed,) = audit_rows(container, "restrict")
    (lifted,) = audit_rows(container, "unrestrict")
    assert closed.actor == "agent:head" and closed.source == "10.0.0.1"
    assert closed.after["reason"] == "отпуск" and closed.after["starts_on"] == "2026-09-08"
    assert lifted.before["channel"] == Channel.IVR and lifted.entity_id == str(rid)
    with pytest.raises(NotFound):
        admin.lift_restriction(rid, ADMIN, container.uow())


# --- Rule 4: attachment -------------------------------------------------------------------------


def test_attachment_changes_when_the_last_one_is_older_than_a_year(container):
    """The demo patients were attached 400 days ago."""
    home = demo_clinic_id(container)
    other = add_clinic(container)
    attach(container, "adult", other)
    p = patient(container, "adult")
    assert p.clinic_id == other
    assert p.attached_on == date(2026, 9, 7)
    (entry,) = audit_rows(container, "attach")
    assert entry.before["clinic_id"] == home and entry.before["attached_on"] == "2025-08-03"
    assert entry.after["clinic_id"] == other and entry.after["attached_on"] == "2026-09-07"


def test_second_change_within_a_year_is_too_soon(container):
    home = demo_clinic_id(container)
    other = add_clinic(container)
    attach(container, "adult", other)
    with pytest.raises(AttachmentTooSoon) as exc:
        attach(container, "adult", home)
    assert exc.value.details["next_allowed"] == date(2027, 9, 7)
    assert patient(container, "adult").clinic_id == other


def test_change_of_residence_allows_an_early_change(container):
    home = demo_clinic_id(container)
    other = add_clinic(container)
    attach(container, "adult", other)
    attach(container, "adult", home, change_of_residence=True)
    assert patient(container, "adult").clinic_id == home


def test_change_allowed_again_after_the_period(container, clock):
    home = demo_clinic_id(container)
    other = add_clinic(container)
    attach(container, "adult", other)
    clock.advance(days=364)
    with pytest.raises(AttachmentTooSoon):
        attach(container, "adult", home)
    clock.advance(days=1)
    attach(container, "adult", home)
    assert patient(container, "adult").clinic_id == home


def test_district_change_in_the_same_clinic_is_not_a_reattachment(container):
    home = demo_clinic_id(container)
    other = add_clinic(container)
    attach(container, "adult", other)
    attach(container, "adult", other, district_id=None)  # same clinic: always allowed
    p = patient(container, "adult")
    assert p.clinic_id == other and p.attached_on == date(2026, 9, 7)
    with pytest.raises(AttachmentTooSoon):
        attach(container, "adult", home)


def test_attachment_period_is_a_setting(db_url, clock):
    settings = Settings(database_url=db_url, secret_key="test-secret-key-0123456789",  # type: ignore[arg-type]
                        attachment_change_period_days=182)
    c = bootstrap(settings, clock=clock)
    try:
        home = demo_clinic_id(c)
        attach(c, "adult", add_clinic(c))
        clock.advance(days=181)
        with pytest.raises(AttachmentTooSoon):
            attach(c, "adult", home)
        clock.advance(days=1)
        attach(c, "adult", home)
    finally:
        c.dispose()


def test_remote_booking_only_at_the_attached_clinic(container):
    kashintseva = therapists(container)[0]
    slot = slot_at(container, kashintseva, datetime(2026, 9, 8, 8, 0))
    attach(container, "adult", add_clinic(container))
    pid = patient_id(container, "adult")
    assert slots.bookable_specialties(pid, Channel.IVR, container.uow()) == []
    with pytest.raises(WrongClinic):
        book(container, "adult", slot)
    # the registry desk may still book them there
    appt = booking.book(BookSlot(pid, slot, AGENT), container.uow())
    assert appt.status == "booked"


# --- Callbacks ---------------------------------------------------------------------------------


def test_callback_request_and_completion(container):
    clinic = demo_clinic_id(container)
    pid = patient_id(container, "elderly")
    ivr = Actor.patient(pid, Channel.IVR, "+79031112233")
    cid = admin.request_callback(
        RequestCallback("+79031112233", "after_hours", ivr, patient_id=pid, call_id="call-1",
                        clinic_id=clinic),
        container.uow(),
    )
    with container.uow().reading() as uow:
        req = uow.session.get(CallbackRequest, cid)
        assert (req.status, req.caller_number, req.reason, req.patient_id, req.call_id) == (
            "open", "+79031112233", "after_hours", pid, "call-1")
        assert req.created_at == container.clock.now_utc()
    admin.complete_callback(cid, AGENT, container.uow(), note="записана к терапевту")
    with container.uow().reading() as uow:
        req = uow.session.get(CallbackRequest, cid)
        assert (req.status, req.done_by, req.note) == ("done", "agent:registrar1",
                                                        "записана к терапевту")
        assert req.done_at == container.clock.now_utc()
    (asked,) = audit_rows(container, "callback_request")
    (done,) = audit_rows(container, "callback_done")
    assert asked.channel == Channel.IVR and asked.entity_id == str(cid)
    assert (done.before, done.after) == ({"status": "open"}, {"status": "done"})


def test_callback_from_an_unidentified_caller(container):
    cid = admin.request_callback(RequestCallback("+79990001122", "no_agents", SYSTEM),
                                 container.uow())
    with container.uow().reading() as uow:
        req = uow.session.get(CallbackRequest, cid)
        assert req.patient_id is None and req.status == "open"


def test_completing_an_unknown_callback_is_not_found(container):
    with pytest.raises(NotFound):
        admin.complete_callback(424242, AGENT, container.uow())
