"""Rule 20 in the booking core: who needs the patient's code, and what is kept of it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from booking_core import consent
from booking_core.errors import ConsentCodeExpired, ConsentCodeWrong, ConsentUnavailable
from models.tables import ConsentCode, OutboxMessage, Patient
from support.world import demo, patient_id

PARENT = "+79035550011"


def _set(container, role: str, **values) -> int:
    pid = patient_id(container, role)
    with container.uow() as uow:
        p = uow.session.get(Patient, pid)
        for k, v in values.items():
            setattr(p, k, v)
        uow.commit()
    return pid


def test_who_needs_a_code(container):
    adult = _set(container, "adult", representative_phone=PARENT)
    child = _set(container, "child", representative_phone=PARENT)
    needed = consent.consent_needed
    assert not needed(container.uow(), adult, demo("adult").phone)
    assert not needed(container.uow(), adult, "8 916 123 45 67")  # the same number, typed
    assert needed(container.uow(), adult, PARENT)  # an adult's "representative": code
    assert needed(container.uow(), adult, "")  # a withheld number
    assert needed(container.uow(), adult, "anonymous")
    assert not needed(container.uow(), child, PARENT)
    assert needed(container.uow(), child, "+79990001122")


def test_the_code_is_kept_hashed_and_is_good_once(container):
    pid = patient_id(container, "adult")
    challenge = consent.request_code(container.uow(), pid, "+79990001122")
    with container.uow().reading() as uow:
        row = uow.session.get(ConsentCode, challenge.id)
        msg = uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.idempotency_key == row.outbox_key)).one()
    code = msg.payload["code"]
    assert len(code) == 6 and code not in row.code_hash and len(row.code_hash) == 64
    assert msg.to_phone == demo("adult").phone and msg.kind == "consent"
    with pytest.raises(ConsentCodeWrong):
        consent.verify_code(container.uow(), challenge.id, "x" + code[1:], "+79990001122", "ivr")
    consent.verify_code(container.uow(), challenge.id, code, "+79990001122", "ivr")
    with pytest.raises(ConsentCodeExpired):  # used already
        consent.verify_code(container.uow(), challenge.id, code, "+79990001122", "ivr")


def test_no_mobile_no_code(container):
    pid = _set(container, "adult", sms_reachable=False)
    with pytest.raises(ConsentUnavailable):
        consent.request_code(container.uow(), pid, "+79990001122")
