"""The transactional outbox: each booking change writes its SMS row in the same transaction."""

from __future__ import annotations

import pytest
from sqlmodel import select

from booking_core import admin, booking, notifications, outbox, slots
from booking_core.commands import BookSlot, Cancel, FindSlots, RegisterAbsence, Reschedule
from booking_core.errors import SlotTaken
from models.tables import Channel, OutboxMessage, OutboxStatus
from sms.providers import LocalOutboxProvider
from sms.worker import OutboxWorker
from support.sms_world import ADULT_PHONE, ELDERLY_PHONE, book
from support.world import AGENT, IVR, doctor_ids, patient_id, specialty_id


def rows(container) -> list[OutboxMessage]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_booking_writes_one_pending_sms_with_the_facts(container):
    appt = book(container)
    [row] = rows(container)
    assert (row.kind, row.idempotency_key, row.status) == ("booked", f"booked:{appt.id}",
                                                           "pending")
    assert row.to_phone == ADULT_PHONE and row.appointment_id == appt.id
    assert row.body is None  # rendered by the worker, in the configured language
    assert row.payload["code"] == appt.confirmation_code
    assert row.payload["doctor"] == "Кашинцева Г.В."
    assert row.payload["clinic"] == "Городская поликлиника № 3"
    assert "phone" not in row.payload or row.payload["phone"] != ADULT_PHONE


def test_a_slot_taken_rolls_back_the_sms_with_the_booking(container):
    appt = book(container)
    with pytest.raises(SlotTaken):
        booking.book(BookSlot(patient_id(container, "elderly"), appt.slot_id, AGENT),
                     container.uow())
    assert [r.to_phone for r in rows(container)] == [ADULT_PHONE]
    assert not [r for r in rows(container) if r.to_phone == ELDERLY_PHONE]


def test_hold_sends_nothing_until_confirmed(container):
    pid = patient_id(container, "adult")
    offer = slots.find_free_slots(FindSlots(pid, specialty_id(container, "therapist"),
                                            Channel.IVR), container.uow())[0]
    held = booking.book(BookSlot(pid, offer.slot_id, IVR, hold=True), container.uow())
    assert rows(container) == []
    booking.confirm(held.id, IVR, container.uow())
    assert [r.idempotency_key for r in rows(container)] == [f"booked:{held.id}"]


def test_cancelling_a_hold_sends_nothing(container):
    pid = patient_id(container, "adult")
    offer = slots.find_free_slots(FindSlots(pid, specialty_id(container, "therapist"),
                                            Channel.IVR), container.uow())[0]
    held = booking.book(BookSlot(pid, offer.slot_id, IVR, hold=True), container.uow())
    booking.cancel(Cancel(held.id, IVR, patient_id=pid), container.uow())
    assert rows(container) == []


def test_cancel_and_reschedule_each_send_their_notice(container):
    appt = book(container)
    pid = appt.patient_id
    other = slots.find_free_slots(FindSlots(pid, appt.specialty.id, Channel.CONSOLE,
                                            after=appt.starts_at), container.uow())[0]
    moved = booking.reschedule(Reschedule(appt.id, other.slot_id, AGENT), container.uow())
    booking.cancel(Cancel(moved.id, AGENT), container.uow())
    kinds = [(r.kind, r.appointment_id) for r in rows(container)]
    # The old appointment's cancellation inside the reschedule is not a separate SMS.
    assert kinds == [("booked", appt.id), ("rescheduled", moved.id), ("cancelled", moved.id)]
    resched = rows(container)[1]
    assert resched.payload["old_starts_at"] == appt.starts_at.isoformat()


def test_enqueue_is_idempotent_by_key(container):
    appt = book(container)
    with container.uow() as uow:
        again = notifications.appointment_booked(uow, booking._view(
            uow, uow.session.get(booking.Appointment, appt.id)))
        uow.commit()
    assert again is False
    assert len(rows(container)) == 1


def test_patient_without_a_mobile_gets_no_row(container):
    from models.tables import Patient

    pid = patient_id(container, "adult")
    with container.uow() as uow:
        uow.session.get(Patient, pid).phone = ""
        uow.commit()
    book(container)
    assert rows(container) == []


def test_absence_notice_carries_the_substitute_slot(container):
    appt = book(container)  # with Кашинцева, the district therapist
    kashintseva, orlov, _ = doctor_ids(container, "therapist")
    report = admin.register_absence(
        RegisterAbsence(kashintseva, appt.starts_at.date(), appt.starts_at.date(), AGENT,
                        reason="болезнь", substitute_doctor_id=orlov), container.uow())
    substitute = report.affected[0].substitute
    assert substitute is not None and substitute.doctor.id == orlov
    notice = next(r for r in rows(container) if r.kind == "absence")
    assert notice.idempotency_key == f"absence:{report.absence_id}:{appt.id}"
    assert notice.payload["substitute"]["doctor"] == "Орлов А.Н."
    provider = LocalOutboxProvider()
    OutboxWorker(container, provider).run_once()
    text = next(s.body for s in provider.sent if s.key == notice.idempotency_key)
    when = notifications.format_when(substitute.starts_at)
    assert "Орлов А.Н." in text and when in text and f"каб. {substitute.cabinet}" in text
    assert "Кашинцева Г.В." in text and "+74951234567" in text and "2 — отменить" in text
    # the slot is held for this patient: the SMS says until when, and "1" takes it
    assert notice.payload["substitute"]["held_until"] == "2026-09-08T10:00"
    assert "До вт 08.09 в 10:00 ответьте" in text and "1 — записаться" in text


def test_absence_without_any_free_colleague_says_we_will_call(container):
    appt = book(container, code="dentist")  # the only dentist
    [dentist] = doctor_ids(container, "dentist")
    admin.register_absence(RegisterAbsence(dentist, appt.starts_at.date(),
                                           appt.starts_at.date(), AGENT), container.uow())
    provider = LocalOutboxProvider()
    OutboxWorker(container, provider).run_once()
    notice = next(s for s in provider.sent if s.key.startswith("absence:"))
    assert "Перенести" in notice.body or "позвоним" in notice.body


def test_status_summary_and_listing_mask_the_phone(container):
    book(container)
    [entry] = outbox.recent(container.uow())
    assert entry.phone_masked == "********4567" and entry.status == OutboxStatus.PENDING
    assert outbox.counts(container.uow()) == {"pending": 1}
