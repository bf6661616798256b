"""The SMS worker with the real Twilio client against the fake Twilio API: retries, backoff,
crash recovery, exactly-once sending, several workers at once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from booking_core import outbox
from models.tables import OutboxMessage, OutboxStatus
from sms.providers import LocalOutboxProvider, provider_from_settings
from sms.worker import OutboxWorker
from support.sms_world import ADULT_PHONE, PUBLIC_URL, TWILIO_FROM, book


def row(container, message_id: int | None = None) -> OutboxMessage:
    with container.uow().reading() as uow:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if message_id is not None:
            stmt = stmt.where(OutboxMessage.id == message_id)
        return uow.session.exec(stmt).first()


def lease_expires(container) -> None:
    container.clock.advance(seconds=container.settings.sms_lease_seconds + 1)


def test_booking_sms_goes_out_through_twilio_once(twilio_container, twilio, fake_twilio):
    appt = book(twilio_container)
    worker = OutboxWorker(twilio_container, twilio)
    result = worker.run_once()
    assert (result.claimed, result.sent) == (1, 1)
    [sent] = fake_twilio.sent_to(ADULT_PHONE)
    assert sent["from"] == TWILIO_FROM
    assert appt.confirmation_code in sent["body"] and "Отмена: ответьте 2" in sent["body"]
    [create] = fake_twilio.creates
    assert create.authorized
    callback = urlsplit(create.form["StatusCallback"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == (
        PUBLIC_URL + "/webhooks/twilio/status")
    assert parse_qs(callback.query)["key"] == [f"booked:{appt.id}"]
    assert "+7" not in create.form["StatusCallback"]  # never a phone number in a URL
    r = row(twilio_container)
    assert (r.status, r.provider, r.provider_id, r.attempts) == ("sent", "twilio", sent["sid"], 1)
    assert r.segments == 2 and r.encoding == "UCS-2" and r.body == sent["body"]
    # Nothing is due any more: more rounds send nothing.
    assert worker.run_once().claimed == 0
    assert len(fake_twilio.messages) == 1


def test_process_killed_after_commit_sends_exactly_once_after_restart(
        twilio_container, fake_twilio):
    # The bookings committed, the process died before any worker ran: the rows wait.
    for role, code in (("adult", "therapist"), ("elderly", "therapist"), ("child", "dentist")):
        book(twilio_container, role, code=code)
    assert fake_twilio.messages == []
    restarted = OutboxWorker(twilio_container, provider_from_settings(twilio_container.settings))
    assert restarted.run_once().sent == 3
    assert restarted.run_once().claimed == 0
    keys = sorted(parse_qs(urlsplit(c.form["StatusCallback"]).query)["key"][0]
                  for c in fake_twilio.creates)
    assert len(fake_twilio.messages) == 3 and len(set(keys)) == 3


def test_worker_dying_after_claiming_is_retried_once_after_the_lease(
        twilio_container, twilio, fake_twilio):
    book(twilio_container)
    # A worker claimed the row and died before calling Twilio.
    [claimed] = outbox.claim(twilio_container.uow(), worker_id="dead", lease_seconds=120)
    assert row(twilio_container).status == "sending"
    survivor = OutboxWorker(twilio_container, twilio)
    assert survivor.run_once().claimed == 0  # the lease still holds
    lease_expires(twilio_container)
    result = survivor.run_once()
    assert (result.claimed, result.sent, result.reconciled) == (1, 1, 0)
    assert len(fake_twilio.messages) == 1
    r = row(twilio_container)
    assert r.status == "sent" and r.attempts == 2 and not r.uncertain
    # The dead worker's late report (if it ever came) cannot push the row back.
    assert outbox.mark_retry(twilio_container.uow(), claimed.id, claimed.token,
                             error="late") == "sent"


class Killed(BaseException):
    """The process dies here (not an Exception: nothing catches it)."""


def test_crash_between_twilio_accepting_and_the_db_update_does_not_resend(
        twilio_container, twilio, fake_twilio, monkeypatch):
    book(twilio_container)
    real_mark_sent = outbox.mark_sent

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(outbox, "mark_sent", die)
    with pytest.raises(Killed):
        OutboxWorker(twilio_container, twilio).run_once()
    assert len(fake_twilio.messages) == 1 and row(twilio_container).status == "sending"
    monkeypatch.setattr(outbox, "mark_sent", real_mark_sent)
    lease_expires(twilio_container)
    result = OutboxWorker(twilio_container, provider_from_settings(
        twilio_container.settings)).run_once()
    assert (result.sent, result.reconciled) == (0, 1)
    assert len(fake_twilio.messages) == 1  # found at Twilio, not sent again
    r = row(twilio_container)
    assert r.status == "sent" and r.provider_id == fake_twilio.messages[0]["sid"]


def test_timeout_after_twilio_created_the_message_is_reconciled_not_resent(
        twilio_container, twilio, fake_twilio):
    book(twilio_container)
    fake_twilio.slow_next(2.5)  # created at once, answered after the client's 1 s timeout
    worker = OutboxWorker(twilio_container, twilio)
    first = worker.run_once()
    assert (first.sent, first.retried) == (0, 1)
    r = row(twilio_container)
    assert r.status == "pending" and r.uncertain and "outcome unknown" in r.last_error
    twilio_container.clock.advance(hours=1)
    second = worker.run_once()
    assert (second.sent, second.reconciled) == (0, 1)
    assert len(fake_twilio.messages) == 1
    assert row(twilio_container).status == "sent"


def test_provider_outage_keeps_the_message_pending_with_backoff_then_sends_once(
        twilio_container, twilio, fake_twilio):
    book(twilio_container)
    fake_twilio.fail_next(500, times=3)
    worker = OutboxWorker(twilio_container, twilio)
    waits = []
    for attempt in range(1, 4):
        result = worker.run_once()
        assert (result.sent, result.retried) == (0, 1)
        r = row(twilio_container)
        assert r.status == "pending" and r.attempts == attempt and not r.uncertain
        wait = r.next_attempt_at - twilio_container.clock.now_utc()
        waits.append(wait)
        assert worker.run_once().claimed == 0  # not due before its time
        twilio_container.clock.advance(seconds=wait.total_seconds() + 1)
    assert waits[0] < waits[1] < waits[2]  # exponential
    assert worker.run_once().sent == 1
    assert len(fake_twilio.messages) == 1 and len(fake_twilio.creates) == 4
    assert row(twilio_container).status == "sent"


def test_rate_limit_honours_retry_after(twilio_container, twilio, fake_twilio):
    book(twilio_container)
    fake_twilio.fail_next(429, retry_after=600, code=20429)
    worker = OutboxWorker(twilio_container, twilio)
    assert worker.run_once().retried == 1
    r = row(twilio_container)
    assert r.next_attempt_at - twilio_container.clock.now_utc() >= timedelta(seconds=600)
    twilio_container.clock.advance(seconds=599)
    assert worker.run_once().claimed == 0
    twilio_container.clock.advance(seconds=2)
    assert worker.run_once().sent == 1


def test_unreachable_provider_is_a_plain_retry(twilio_container, fake_twilio):
    book(twilio_container)
    base = fake_twilio.base_url
    fake_twilio.stop()  # nothing listens there any more
    twilio_container.settings = twilio_container.settings.model_copy(
        update={"twilio_base_url": base})
    worker = OutboxWorker(twilio_container, provider_from_settings(twilio_container.settings))
    assert worker.run_once().retried == 1
    r = row(twilio_container)
    assert r.status == "pending" and not r.uncertain and "unreachable" in r.last_error


def test_rejected_number_is_dead_not_retried(twilio_container, twilio, fake_twilio):
    book(twilio_container)
    fake_twilio.fail_next(400, code=21211)
    worker = OutboxWorker(twilio_container, twilio)
    assert worker.run_once().dead == 1
    r = row(twilio_container)
    assert r.status == "dead" and "21211" in r.last_error and "+7916" not in r.last_error
    twilio_container.clock.advance(days=1)
    assert worker.run_once().claimed == 0


def test_too_many_attempts_end_dead(twilio_container, twilio, fake_twilio):
    twilio_container.settings = twilio_container.settings.model_copy(
        update={"sms_max_attempts": 2})
    book(twilio_container)
    fake_twilio.fail_next(503, times=5)
    worker = OutboxWorker(twilio_container, twilio)
    worker.run_once()
    twilio_container.clock.advance(hours=2)
    assert worker.run_once().dead == 1
    assert row(twilio_container).status == "dead"
    assert fake_twilio.messages == []


def test_wrong_credentials_keep_messages_for_later(twilio_container, fake_twilio):
    from pydantic import SecretStr

    book(twilio_container)
    twilio_container.settings = twilio_container.settings.model_copy(
        update={"twilio_auth_token": SecretStr("wrong")})
    worker = OutboxWorker(twilio_container, provider_from_settings(twilio_container.settings))
    assert worker.run_once().retried == 1
    assert fake_twilio.requests[-1].authorized is False
    assert row(twilio_container).status == "pending"


def test_messaging_service_instead_of_a_from_number(twilio_container, fake_twilio):
    twilio_container.settings = twilio_container.settings.model_copy(
        update={"twilio_from": "", "twilio_messaging_service_sid": "MG" + "2" * 32})
    book(twilio_container)
    OutboxWorker(twilio_container, provider_from_settings(twilio_container.settings)).run_once()
    [sent] = fake_twilio.messages
    assert sent["messaging_service_sid"] == "MG" + "2" * 32 and sent["from"] is None


def _enqueue_many(container, n: int) -> None:
    facts = {"clinic": "ГП № 3", "phone": "+74951234567", "doctor": "Орлов А.Н.",
             "specialty_ru": "Терапевт", "specialty_en": "General practitioner",
             "starts_at": datetime(2026, 9, 9, 14, 0).isoformat(), "cabinet": "16"}
    with container.uow() as uow:
        for i in range(n):
            outbox.enqueue(uow, key=f"load:{i}", kind="booked", to_phone=f"+7916000{i:04d}",
                           payload=facts | {"code": f"{100000 + i}"})
        uow.commit()


def test_two_workers_at_once_never_send_a_message_twice(twilio_container, fake_twilio):
    """Two workers, each with its own Twilio client, drain one outbox concurrently (on
    PostgreSQL the claims use SKIP LOCKED; on SQLite BEGIN IMMEDIATE serialises them)."""
    n = 40
    _enqueue_many(twilio_container, n)
    start = threading.Barrier(2)
    results = []

    def run(name: str) -> None:
        worker = OutboxWorker(twilio_container, provider_from_settings(
            twilio_container.settings), batch=3, worker_id=name)
        start.wait()
        while True:
            result = worker.run_once()
            results.append((name, result.sent))
            if result.claimed == 0:
                return

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(fake_twilio.messages) == n
    assert len({m["to"] for m in fake_twilio.messages}) == n  # each message exactly once
    assert outbox.counts(twilio_container.uow()) == {"sent": n}
    assert sum(sent for _, sent in results) == n
    assert {name for name, sent in results if sent} == {"w0", "w1"}  # both did work


def test_local_provider_only_records(container):
    appt = book(container)
    provider = LocalOutboxProvider()
    result = OutboxWorker(container, provider).run_once()
    assert result.sent == 1
    [sms] = provider.sent
    assert sms.to == ADULT_PHONE and appt.confirmation_code in sms.body
    r = row(container)
    assert r.status == "sent" and r.provider == "local" and r.provider_id == sms.provider_id


def test_english_texts_and_a_short_sender_name(container):
    container.settings = container.settings.model_copy(
        update={"sms_locale": "en", "sms_sender_name": "Clinic 3"})
    appt = book(container)
    provider = LocalOutboxProvider()
    OutboxWorker(container, provider).run_once()
    [sms] = provider.sent
    assert sms.body.startswith("Clinic 3: ") and "reply 2" in sms.body
    assert appt.confirmation_code in sms.body


def test_background_thread_sends_and_stops(container):
    book(container)
    provider = LocalOutboxProvider()
    worker = OutboxWorker(container, provider, interval=0.05)
    worker.start()
    try:
        for _ in range(200):
            if provider.sent:
                break
            threading.Event().wait(0.05)
    finally:
        worker.stop()
    assert len(provider.sent) == 1 and row(container).status == OutboxStatus.SENT


def test_rows_are_given_back_untried_when_the_lease_is_nearly_spent(container):
    book(container)
    # A request timeout as long as the lease: no time to send anything safely.
    worker = OutboxWorker(container, LocalOutboxProvider(), request_timeout=600)
    result = worker.run_once()
    assert (result.claimed, result.released, result.sent) == (1, 1, 0)
    r = row(container)
    assert r.status == "pending" and r.attempts == 0 and r.claim_token is None
    assert OutboxWorker(container, LocalOutboxProvider()).run_once().sent == 1
