"""Twilio webhooks: signature checks, replies "1"/"2", garbage, unknown numbers, replays, and
delivery reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlmodel import select

from booking_core import booking, notifications
from models.tables import AppointmentReminder, AuditLog, InboundSms, OutboxMessage
from sms.providers import LocalOutboxProvider
from sms.worker import OutboxWorker
from support.sms_world import ADULT_PHONE, ELDERLY_PHONE, book, sign

SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"


def inbound(client, body: str, *, sid: str = "SM" + "a" * 32, sender: str = ADULT_PHONE,
            signature: str | None = None):
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "1" * 32,
              "From": sender, "To": "+15005550006", "Body": body, "NumMedia": "0"}
    headers = {"X-Twilio-Signature": signature if signature is not None else sign(SMS, params)}
    return client.post(SMS, data=params, headers=headers)


def answer(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return " ".join(m.text or "" for m in root.iter("Message"))


def status_of(container, appointment_id: int) -> str:
    return booking.get_appointment(appointment_id, container.uow()).status


# --- signatures -------------------------------------------------------------------------------


def test_twilio_signed_request_is_accepted(container, webhook_client):
    book(container)
    assert answer(inbound(webhook_client, "что?"))


def test_unsigned_or_forged_requests_are_refused(container, webhook_client):
    appt = book(container)
    assert inbound(webhook_client, "2", signature="").status_code == 403
    assert inbound(webhook_client, "2", signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    params = {"MessageSid": "SM" + "b" * 32, "From": ADULT_PHONE, "Body": "1"}
    tampered = dict(params, Body="2")  # signed "1", sent "2"
    r = webhook_client.post(SMS, data=tampered,
                            headers={"X-Twilio-Signature": sign(SMS, params)})
    assert r.status_code == 403
    wrong_key = sign(SMS, params, token="another-accounts-token")
    assert webhook_client.post(SMS, data=params, headers={
        "X-Twilio-Signature": wrong_key}).status_code == 403
    assert status_of(container, appt.id) == "booked"  # nothing happened


def test_signature_is_over_the_public_url_not_the_internal_one(container, webhook_client):
    params = {"MessageSid": "SM" + "c" * 32, "From": ADULT_PHONE, "Body": "1"}
    from twilio.request_validator import RequestValidator

    from support.twilio_fake import AUTH_TOKEN

    internal = RequestValidator(AUTH_TOKEN).compute_signature("http://testserver" + SMS, params)
    assert webhook_client.post(SMS, data=params,
                               headers={"X-Twilio-Signature": internal}).status_code == 403


def test_without_an_auth_token_everything_is_refused(container, webhook_client):
    from pydantic import SecretStr

    container.settings = container.settings.model_copy(
        update={"twilio_auth_token": SecretStr("")})
    assert inbound(webhook_client, "1").status_code == 403


# --- replies ----------------------------------------------------------------------------------


def test_reply_2_cancels_the_booking_and_confirms_through_the_outbox(container, webhook_client):
    appt = book(container)
    assert answer(inbound(webhook_client, "2")) == ""  # the outbox SMS is the confirmation
    assert status_of(container, appt.id) == "cancelled"
    with container.uow().reading() as uow:
        entry = uow.session.exec(select(AuditLog).where(AuditLog.action == "cancel")).one()
        assert (entry.actor, entry.channel) == (f"patient:{appt.patient_id}", "sms")
        stored = uow.session.exec(select(InboundSms)).one()
        assert stored.action == "cancel" and stored.appointment_id == appt.id
        assert ADULT_PHONE not in stored.from_key  # a keyed hash, not the number
        sent = uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [m.kind for m in sent] == ["booked", "cancelled"]
        assert sent[1].idempotency_key == f"cancelled:{appt.id}"


def test_the_cancellation_sms_is_retried_until_the_provider_takes_it(
        container, twilio, fake_twilio, webhook_client):
    appt = book(container)
    answer(inbound(webhook_client, "2"))
    worker = OutboxWorker(container, twilio)
    worker.run_once()  # the booking SMS and the cancellation, both before the outage
    fake_twilio.fail_next(500, times=1)
    answer(inbound(webhook_client, "2", sid="SM" + "9" * 32))  # nothing left: changes nothing
    with container.uow().reading() as uow:
        kinds = uow.session.exec(select(OutboxMessage.kind)).all()
        assert sorted(kinds) == ["booked", "cancelled"]  # never queued twice
    [cancelled] = [m for m in fake_twilio.sent_to(ADULT_PHONE) if "отменена" in m["body"]]
    assert notifications.format_when(appt.starts_at) in cancelled["body"]


def test_a_lost_cancellation_sms_is_sent_again_later(
        container, twilio, fake_twilio, webhook_client):
    book(container)
    OutboxWorker(container, twilio).run_once()  # the booking SMS
    answer(inbound(webhook_client, "2"))
    fake_twilio.fail_next(500, times=1)
    worker = OutboxWorker(container, twilio)
    assert worker.run_once().retried == 1
    assert not [m for m in fake_twilio.sent_to(ADULT_PHONE) if "отменена" in m["body"]]
    container.clock.advance(hours=1)
    assert worker.run_once().sent == 1
    assert len([m for m in fake_twilio.sent_to(ADULT_PHONE) if "отменена" in m["body"]]) == 1


def test_reply_1_confirms_attendance(container, webhook_client):
    appt = book(container)
    text = answer(inbound(webhook_client, " 1. "))
    assert text.startswith("Спасибо! Ждём вас") and "Кашинцева Г.В." in text
    assert status_of(container, appt.id) == "booked"
    with container.uow().reading() as uow:
        marker = uow.session.exec(select(AppointmentReminder)).one()
        assert (marker.appointment_id, marker.kind, marker.answer) == (appt.id, "sms",
                                                                       "confirmed")
        assert uow.session.exec(select(AuditLog).where(
            AuditLog.action == "confirm_attendance")).one()


def test_garbage_gets_the_help_text_and_changes_nothing(container, webhook_client):
    appt = book(container)
    for i, body in enumerate(("что?", "", "12", "приду в 2", "😀")):
        text = answer(inbound(webhook_client, body, sid=f"SM{i:032d}"))
        assert text.startswith("Ответьте 1 — подтвердить запись, 2 — отменить")
    assert status_of(container, appt.id) == "booked"


def test_unknown_number_and_number_without_appointments_get_the_same_answer(
        container, webhook_client):
    book(container)
    unknown = answer(inbound(webhook_client, "2", sid="SM" + "1" * 32, sender="+79990001122"))
    # The elderly patient is known but nothing was ever sent to her number.
    known = answer(inbound(webhook_client, "2", sid="SM" + "2" * 32, sender=ELDERLY_PHONE))
    assert unknown == known == ("Предстоящих записей для этого номера нет. "
                                "Регистратура: +74951234567")


def test_replayed_message_sid_gets_the_same_answer_and_no_second_action(
        container, webhook_client):
    first = book(container)
    second = book(container, code="dentist")
    sid = "SM" + "d" * 32
    one = answer(inbound(webhook_client, "2", sid=sid))
    again = answer(inbound(webhook_client, "2", sid=sid))
    assert one == again
    assert status_of(container, first.id) == "cancelled"
    assert status_of(container, second.id) == "booked"  # the replay cancelled nothing else
    with container.uow().reading() as uow:
        assert len(uow.session.exec(select(InboundSms)).all()) == 1


def test_a_quick_second_2_does_not_cancel_the_next_appointment(container, webhook_client):
    first = book(container)
    second = book(container, code="dentist")
    answer(inbound(webhook_client, "2", sid="SM" + "e" * 32))
    text = answer(inbound(webhook_client, "отмена", sid="SM" + "f" * 32))
    assert text.startswith("Запись") and "уже отменена" in text
    assert status_of(container, first.id) == "cancelled"
    assert status_of(container, second.id) == "booked"


def test_a_2_about_a_newer_booking_cancels_that_one(container, webhook_client):
    """Cancelled one visit by SMS, booked another minutes later, then "2" to its SMS: that
    is about the new booking, not a repeat of the first cancellation."""
    first = book(container)
    answer(inbound(webhook_client, "2", sid="SM" + "e" * 32))
    container.clock.advance(minutes=5)
    newer = book(container, code="dentist")  # its SMS says "Отмена: ответьте 2"
    container.clock.advance(minutes=5)
    text = answer(inbound(webhook_client, "2", sid="SM" + "f" * 32))
    assert "уже отменена" not in text
    assert status_of(container, first.id) == "cancelled"
    assert status_of(container, newer.id) == "cancelled"
    with container.uow().reading() as uow:
        last = uow.session.exec(select(InboundSms).order_by(InboundSms.id.desc())).first()
        assert (last.action, last.appointment_id) == ("cancel", newer.id)
        notices = uow.session.exec(select(OutboxMessage.idempotency_key).where(
            OutboxMessage.kind == "cancelled")).all()
        assert sorted(notices) == sorted([f"cancelled:{first.id}", f"cancelled:{newer.id}"])


def test_a_repeated_2_names_the_appointment_it_cancelled(container, webhook_client):
    first = book(container)
    later = book(container, code="dentist")
    answer(inbound(webhook_client, "2", sid="SM" + "e" * 32))
    container.clock.advance(minutes=3)
    text = answer(inbound(webhook_client, "2", sid="SM" + "f" * 32))
    assert text == f"Запись {notifications.format_when(first.starts_at)} уже отменена."
    assert status_of(container, later.id) == "booked"


def test_reply_goes_to_the_reminded_appointment_first(container, webhook_client):
    from booking_core import reminders

    near, later = sorted((book(container), book(container, code="dentist", offset=3)),
                         key=lambda a: a.starts_at)
    with container.uow() as uow:
        reminders._insert_marker(uow, later.id, "sms")
        notifications.appointment_reminder(uow, later)
        uow.commit()
    answer(inbound(webhook_client, "2"))
    assert status_of(container, later.id) == "cancelled"
    assert status_of(container, near.id) == "booked"


def test_reply_after_the_appointment_started_is_not_cancellable(container, webhook_client):
    appt = book(container)
    container.clock.set(appt.starts_at)
    # Started: no longer "upcoming", so there is nothing to match.
    assert "Предстоящих записей" in answer(inbound(webhook_client, "2"))
    assert status_of(container, appt.id) == "booked"


# --- delivery reports -------------------------------------------------------------------------


def _report(client, params: dict[str, str], query: str):
    path = f"{STATUS}?{query}" if query else STATUS
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(path, params)})


def test_delivery_report_marks_the_message_delivered(container, webhook_client):
    appt = book(container)
    provider = LocalOutboxProvider()
    OutboxWorker(container, provider).run_once()
    sid = provider.sent[0].provider_id
    query = f"key=booked%3A{appt.id}"
    r = _report(webhook_client, {"MessageSid": sid, "MessageStatus": "delivered"}, query)
    assert r.status_code == 204
    late = _report(webhook_client, {"MessageSid": sid, "MessageStatus": "sent"}, query)
    assert late.status_code == 204
    with container.uow().reading() as uow:
        row = uow.session.exec(select(OutboxMessage)).one()
        assert row.status == "delivered" and row.delivered_at is not None  # not downgraded


def test_report_overtaking_the_worker_finds_the_row_by_key(container, webhook_client):
    appt = book(container)
    r = _report(webhook_client, {"MessageSid": "SM" + "9" * 32, "MessageStatus": "undelivered",
                                 "ErrorCode": "30003"}, f"key=booked%3A{appt.id}")
    assert r.status_code == 204
    with container.uow().reading() as uow:
        row = uow.session.exec(select(OutboxMessage)).one()
        assert (row.status, row.provider_id) == ("failed", "SM" + "9" * 32)
        assert "30003" in row.last_error


def test_delivery_report_needs_a_signature_too(container, webhook_client):
    book(container)
    params = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered"}
    r = webhook_client.post(STATUS + "?key=booked%3A1", data=params,
                            headers={"X-Twilio-Signature": sign(STATUS, params)})
    assert r.status_code == 403  # signed without the query string: not what Twilio called


def test_the_same_reply_delivered_concurrently_acts_once(container):
    import threading

    from booking_core import reminders

    first = book(container)
    second = book(container, code="dentist")
    reply = reminders.SmsReply("SM" + "7" * 32, ADULT_PHONE, "2")
    barrier = threading.Barrier(4)
    outcomes = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(reminders.handle_sms_reply(reply, container.uow()))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 4 and len({o.answer for o in outcomes}) == 1
    assert sum(not o.replay for o in outcomes) == 1
    assert status_of(container, first.id) == "cancelled"
    assert status_of(container, second.id) == "booked"


# --- replies to a doctor's absence (rule 14) ---------------------------------------------------


def _absent_doctor(container, appt):
    from booking_core import admin
    from booking_core.commands import RegisterAbsence
    from support.world import AGENT

    day = appt.starts_at.date()
    (item,) = admin.register_absence(
        RegisterAbsence(appt.doctor.id, day, day, AGENT), container.uow()).affected
    return item


def test_reply_1_to_an_absence_takes_the_held_substitute(container, webhook_client):
    appt = book(container)
    item = _absent_doctor(container, appt)
    assert answer(inbound(webhook_client, "1")) == ""  # the outbox SMS names the new time
    assert status_of(container, appt.id) == "cancelled"
    moved = booking.get_appointment(item.hold_id, container.uow())
    assert moved.status == "booked" and moved.starts_at == item.substitute.starts_at
    with container.uow().reading() as uow:
        keys = uow.session.exec(select(OutboxMessage.idempotency_key)).all()
        assert f"rescheduled:{moved.id}" in keys
        assert not uow.session.exec(select(AuditLog).where(
            AuditLog.action == "confirm_attendance")).all()  # nothing "confirmed" the old one


def test_reply_1_to_an_absence_after_the_hold_ran_out_explains(container, webhook_client):

    from datetime import timedelta

    from support.sms_world import tomorrow

    appt = book(container, on=tomorrow(container) + timedelta(days=1))  # after the hold ends
    item = _absent_doctor(container, appt)
    container.clock.set(item.held_until + timedelta(minutes=1))  # nobody took it in time
    assert booking.expire_holds(container.uow()) == 1
    text = answer(inbound(webhook_client, "1"))
    assert text.startswith("Врач Кашинцева Г.В. не сможет принять вас")
    assert "+74951234567" in text
    assert status_of(container, appt.id) == "booked"  # flagged, left for the agents


def test_reply_2_to_an_absence_cancels_and_releases_the_hold(container, webhook_client):
    appt = book(container)
    item = _absent_doctor(container, appt)
    answer(inbound(webhook_client, "2"))
    assert status_of(container, appt.id) == "cancelled"
    assert status_of(container, item.hold_id) == "cancelled"


# --- over-long or odd ids (validly signed) ----------------------------------------------------


def test_an_over_long_message_sid_is_a_clean_400(container, webhook_client):
    appt = book(container)
    r = inbound(webhook_client, "2", sid="SM" + "c" * 80)
    assert r.status_code == 400 and "MessageSid" in r.text
    assert inbound(webhook_client, "2", sid="SM'; --").status_code == 400
    assert status_of(container, appt.id) == "booked"
    params = {"MessageSid": "SM" + "d" * 80, "MessageStatus": "delivered"}
    r = webhook_client.post(STATUS, data=params,
                            headers={"X-Twilio-Signature": sign(STATUS, params)})
    assert r.status_code == 400
    params = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "x" * 40}
    r = webhook_client.post(STATUS, data=params,
                            headers={"X-Twilio-Signature": sign(STATUS, params)})
    assert r.status_code == 400
