"""Rule 20 on the phone: booking for someone else needs the code texted to the patient.

A real outbox worker sends the code (to the in-memory local provider, or to one that is down);
the scripted caller reads the code off the sent SMS, as the patient would read it out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

import pytest
from sqlmodel import select

from booking_core import booking, calls
from booking_core.outbox import ClaimedMessage
from ivr.dialogue.service import run_registry_call
from ivr.io import Speech
from ivr.transports.scripted import ScriptedCallIO, ScriptStep
from models.tables import ConsentCode, IdentificationAttempt, OutboxMessage, Patient
from registratura.bootstrap import bootstrap
from sms.providers import LocalOutboxProvider, SendReceipt, TemporaryFailure
from sms.worker import OutboxWorker
from support.world import demo, patient_id

ADULT, CHILD = demo("adult"), demo("child")
STRANGER = "+79990001122"  # nobody's phone on file
PARENT = "+79035550011"


class LazyScriptIO(ScriptedCallIO):
    """A scripted caller whose steps may be functions, called when the step comes up (the
    code exists only once the SMS has gone)."""

    def _next(self) -> ScriptStep:
        step = super()._next()
        return step() if callable(step) else step


class DownProvider:
    """An SMS provider that cannot be reached."""

    name = "down"

    def send(self, message: ClaimedMessage) -> SendReceipt:
        raise TemporaryFailure("connection refused")

    def find_sent(self, message: ClaimedMessage) -> SendReceipt | None:
        return None


@pytest.fixture
def sms(container) -> Iterator[LocalOutboxProvider]:
    provider = LocalOutboxProvider()
    worker = OutboxWorker(container, provider, reminders_enabled=False, interval=0.05)
    worker.start()
    yield provider
    worker.stop()


def sent_code(sms: LocalOutboxProvider, n: int = 6) -> Callable[[], str]:
    def read() -> str:
        (message,) = [m for m in sms.sent if m.key.startswith("consent:")]
        assert message.to == ADULT.phone or message.to == CHILD.phone
        return re.search(rf"\b(\d{{{n}}})\b", message.body).group(1) + "#"
    return read


def call(container, make_deps, script: list, caller: str, **deps) -> tuple[LazyScriptIO, object]:
    io = LazyScriptIO(script)
    io.info.caller_number = caller
    deps.setdefault("consent_sms_wait", 10.0)
    return io, run_registry_call(io, make_deps(container, **deps))


def book_script(who=ADULT, *code_steps) -> list:
    return [None, "1", who.policy_number, who.birth_date.strftime("%d%m%Y"), "1",
            *code_steps, "1", "1"]


def test_the_right_code_lets_someone_else_book(container, make_deps, sms, caplog):
    caplog.set_level(logging.DEBUG)
    code = sent_code(sms)
    typed: list[str] = []

    def answer() -> str:
        typed.append(code())
        return typed[0]

    io, the_call = call(container, make_deps, book_script(ADULT, answer), STRANGER)
    keys = io.transcript.keys
    assert keys.index("identified") < keys.index("consent_sending") < keys.index(
        "consent_ask_code") < keys.index("consent_accepted") < keys.index("booked")
    assert len(booking.patient_appointments(patient_id(container, "adult"), container.uow())) == 1
    secret = typed[0].rstrip("#")
    # Never read back, logged, recorded, or kept in clear.
    assert secret not in io.transcript.text
    assert secret not in caplog.text
    record = calls.get_call(the_call.state.call_id, container.uow())
    assert secret not in str(record.steps) and record.outcome == "booked"
    with container.uow().reading() as uow:
        row = uow.session.exec(select(ConsentCode)).one()
        msg = uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.idempotency_key == row.outbox_key)).one()
    assert row.used_at is not None and secret not in row.code_hash
    assert secret not in (msg.body or "") and "code" not in (msg.payload or {})
    assert "*" * len(secret) in (msg.body or "")


def test_the_code_may_be_said_digit_by_digit(container, make_deps, sms):
    words = ["ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"]
    code = sent_code(sms)

    def say() -> Speech:
        return Speech(" ".join(words[int(d)] for d in code().rstrip("#")))

    io, _ = call(container, make_deps, book_script(ADULT, say), STRANGER)
    assert "consent_accepted" in io.transcript.keys and "booked" in io.transcript.keys


def test_wrong_codes_count_as_failed_identifications_and_end_with_an_agent(
        container, make_deps, sms):
    io, _ = call(container, make_deps, book_script(ADULT, "000000#", "000000#", "000000#"),
                 STRANGER)
    keys = io.transcript.keys
    assert keys.count("consent_code_wrong") == 2 and "consent_failed" in keys
    assert io.transcript.variables["REG_REASON"] == "consent_failed"
    assert "booked" not in keys
    with container.uow().reading() as uow:
        assert len(uow.session.exec(select(IdentificationAttempt)).all()) == 3


def test_wrong_codes_reach_the_identification_limit(container, make_deps, sms):
    """Rule 3 counts wrong codes with failed identifications: after four failed
    identifications of this policy, one wrong code is the fifth and the next answer is refused."""
    dob, wrong_dob = ADULT.birth_date.strftime("%d%m%Y"), "01011990"
    failing = [ADULT.policy_number, wrong_dob, "1"]
    call(container, make_deps, [None, "1", *failing, "1", *failing, "1", *failing], STRANGER)
    script = [None, "1", *failing, "1", ADULT.policy_number, dob, "1", "000000#", "000000#"]
    io, _ = call(container, make_deps, script, STRANGER)
    keys = io.transcript.keys
    assert keys.count("consent_code_wrong") == 1 and "too_many_attempts" in keys
    assert io.transcript.variables["REG_REASON"] == "too_many_attempts"
    with container.uow().reading() as uow:
        assert len(uow.session.exec(select(IdentificationAttempt)).all()) == 5


def test_an_expired_code_ends_with_an_agent(container, make_deps, sms, clock):
    code = sent_code(sms)

    def late() -> str:
        clock.advance(minutes=11)  # the code lives 10 minutes
        return code()

    io, _ = call(container, make_deps, book_script(ADULT, late), STRANGER)
    keys = io.transcript.keys
    assert "consent_code_expired" in keys and "booked" not in keys
    assert io.transcript.variables["REG_REASON"] == "consent_code_expired"
    with container.uow().reading() as uow:
        assert len(uow.session.exec(select(IdentificationAttempt)).all()) == 1


def test_the_patients_own_number_needs_no_code(container, make_deps, sms):
    io, _ = call(container, make_deps, book_script(ADULT), "8 (916) 123-45-67")
    assert "consent_sending" not in io.transcript.keys and "booked" in io.transcript.keys
    assert not [m for m in sms.sent if m.key.startswith("consent:")]


def test_a_childs_registered_representative_needs_no_code(container, make_deps, sms):
    with container.uow() as uow:
        child = uow.session.get(Patient, patient_id(container, "child"))
        child.representative_phone = PARENT
        uow.commit()
    io, _ = call(container, make_deps, book_script(CHILD), PARENT)
    assert "consent_sending" not in io.transcript.keys and "identified" in io.transcript.keys
    # Anyone else calling for the child still needs the code.
    io, _ = call(container, make_deps, book_script(CHILD, sent_code(sms)), STRANGER)
    assert "consent_accepted" in io.transcript.keys


def test_provider_down_escalates_instead_of_waiting(container, make_deps):
    worker = OutboxWorker(container, DownProvider(), reminders_enabled=False, interval=0.05)
    worker.start()
    try:
        io, _ = call(container, make_deps, book_script(ADULT, "123456#"), STRANGER,
                     consent_sms_wait=60.0)
    finally:
        worker.stop()
    keys = io.transcript.keys
    assert "consent_sms_failed" in keys and "consent_ask_code" not in keys
    assert io.transcript.variables["REG_REASON"] == "consent_sms_failed"
    # Nobody waits for that code any more: it is not retried later, and not kept.
    with container.uow().reading() as uow:
        msg = uow.session.exec(select(OutboxMessage)).one()
    assert msg.status == "dead" and "code" not in (msg.payload or {})


def test_no_worker_at_all_escalates_after_the_wait(container, make_deps):
    io, _ = call(container, make_deps, book_script(ADULT, "123456#"), STRANGER,
                 consent_sms_wait=0.3)
    assert io.transcript.variables["REG_REASON"] == "consent_sms_failed"
    with container.uow().reading() as uow:
        msg = uow.session.exec(select(OutboxMessage)).one()
    assert msg.status == "dead" and msg.payload == {"minutes": 10, "clinic": msg.payload["clinic"]}


def test_consent_can_be_switched_off(container, clock, make_deps):
    c = bootstrap(container.settings.model_copy(update={"consent_required": False}),
                  clock=clock)
    try:
        io, _ = call(c, make_deps, book_script(ADULT), STRANGER)
    finally:
        c.dispose()
    assert "consent_sending" not in io.transcript.keys and "booked" in io.transcript.keys
