"""The waiting list end to end (issue "Done when"), on both databases with the fixed clock:
on the demo clinic with the ophthalmologist fully booked, a caller joins the list by phone,
another patient cancels, the caller gets the offer SMS (through the outbox and the real
Twilio client to the fake server) and books by replying 1."""

from __future__ import annotations

from datetime import time

from booking_core import booking, slots, waiting_list
from booking_core.commands import BookSlot, Cancel
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from models.tables import AppointmentStatus, Channel, WaitlistStatus
from sms.worker import OutboxWorker
from support.sms_world import ADULT_PHONE, ELDERLY_PHONE, sign
from support.world import AGENT, demo, fill_specialty, patient_id, specialty_id

ADULT = demo("adult")
SMS = "/webhooks/twilio/sms"


def _phone_call(container, script: list[str | None]) -> ScriptedCallIO:
    io = ScriptedCallIO(script)
    io.info.caller_number = ADULT_PHONE
    deps = IvrDeps(uow=container.uow, clinic_name="Городская поликлиника № 3",
                   now_local=container.clock.now_local, agents_available=lambda: True,
                   opening_time=time(8, 0), closing_time=time(20, 0))
    run_registry_call(io, deps)
    return io


def _reply(client, body: str, sid: str, sender: str = ADULT_PHONE):
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "1" * 32,
              "From": sender, "To": "+15005550006", "Body": body, "NumMedia": "0"}
    return client.post(SMS, data=params, headers={"X-Twilio-Signature": sign(SMS, params)})


def test_caller_joins_by_phone_another_cancels_reply_1_books(
        container, twilio, fake_twilio, webhook_client):
    adult, elderly = patient_id(container, "adult"), patient_id(container, "elderly")
    eye = specialty_id(container, "ophthalmologist")
    [last_slot] = fill_specialty(container, "ophthalmologist", keep=1)
    theirs = booking.book(BookSlot(elderly, last_slot, AGENT), container.uow())
    worker = OutboxWorker(container, twilio)
    worker.run_once()  # the elderly patient's booking SMS

    # 1. The phone: nothing free, so the caller joins the list («в любое время» — 3).
    options = slots.bookable_specialties(adult, Channel.IVR, container.uow())
    digit = str(next(i for i, o in enumerate(options, 1) if o.specialty.code == "ophthalmologist"))
    io = _phone_call(container, [None, "1", ADULT.policy_number,
                                 ADULT.birth_date.strftime("%d%m%Y"), "1", digit, "3"])
    assert io.transcript.keys[-3:] == ["waitlist_offer", "waitlist_joined", "goodbye"]

    # 2. The other patient cancels by SMS: the slot is held for the caller at once.
    assert _reply(webhook_client, "2", "SM" + "e" * 32, sender=ELDERLY_PHONE).status_code == 200
    assert booking.get_appointment(theirs.id, container.uow()).status == "cancelled"
    [entry] = waiting_list.list_for_specialty(eye, container.uow())
    assert entry.status == WaitlistStatus.OFFERED and entry.offer_starts_at == theirs.starts_at

    # 3. The joining SMS (how to leave by replying 0) and the offer SMS go out through the outbox.
    worker.run_once()
    joined, offer = [m["body"] for m in fake_twilio.sent_to(ADULT_PHONE)]
    assert "в листе ожидания" in joined and "ответьте 0" in joined
    assert "освободилось время" in offer or "есть время" in offer
    assert "1 — записаться, 2 — отказаться" in offer

    # 4. Reply 1: booked, and the usual booking SMS with the talon follows.
    assert _reply(webhook_client, "1", "SM" + "f" * 32).status_code == 200
    [mine] = booking.patient_appointments(adult, container.uow())
    assert (mine.status, mine.starts_at) == (AppointmentStatus.BOOKED, theirs.starts_at)
    worker.run_once()
    booked_sms = [m["body"] for m in fake_twilio.sent_to(ADULT_PHONE)][-1]
    assert f"талон {mine.confirmation_code}" in booked_sms.lower()
    [served] = waiting_list.list_for_specialty(eye, container.uow(), active_only=False)
    assert served.status == WaitlistStatus.BOOKED and served.booked_appointment_id == mine.id


def test_an_agent_cancellation_offers_the_slot_and_reply_2_passes_it_on(
        container, twilio, fake_twilio, webhook_client):
    """Reply 2: the caller is off the list and the next one in line gets the offer."""
    adult, elderly = patient_id(container, "adult"), patient_id(container, "elderly")
    eye = specialty_id(container, "ophthalmologist")
    [a, b] = fill_specialty(container, "ophthalmologist", keep=2)
    theirs = booking.book(BookSlot(patient_id(container, "3 no-shows"), a, AGENT),
                          container.uow())
    from booking_core.actors import Actor
    from booking_core.commands import JoinWaitlist

    for pid in (adult, elderly):
        waiting_list.join(JoinWaitlist(pid, eye, Actor.agent("registrar1")), container.uow())
    booking.book(BookSlot(elderly, b, AGENT), container.uow())  # elderly books meanwhile
    booking.cancel(Cancel(theirs.id, AGENT), container.uow())
    rows = waiting_list.list_for_specialty(eye, container.uow(), active_only=False)
    assert [(r.patient_id, r.status) for r in rows] == [
        (adult, WaitlistStatus.OFFERED), (elderly, WaitlistStatus.BOOKED)]
    assert _reply(webhook_client, "2", "SM" + "d" * 32).status_code == 200
    assert booking.patient_appointments(adult, container.uow()) == []
    rows = waiting_list.list_for_specialty(eye, container.uow(), active_only=False)
    assert rows[0].status == WaitlistStatus.DECLINED
