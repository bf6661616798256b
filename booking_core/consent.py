"""Rule 20: consent of the patient when someone else books for them by phone.

A caller whose number is neither the patient's phone on file nor, for a child, the registered
representative's, must type a one-time code sent by SMS (through the outbox) to the patient's
phone.  Since November 2025 Moscow clinics ask for it: a policy number and a date of birth are
exactly what fraudsters hold.

The code itself is never stored: the table keeps a keyed hash (the install's pepper) and the
outbox row that carries it to the provider is scrubbed once the message is sent (see
:func:`booking_core.outbox.mark_sent`).  Wrong and expired codes are written to the
identification attempt log, so rule 3's limits count them with failed identifications.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import select

from booking_core import outbox
from booking_core.errors import (
    ConsentCodeExpired,
    ConsentCodeWrong,
    ConsentUnavailable,
    NotFound,
    TooManyAttempts,
)
from booking_core.identification import caller_key_for, limit_reached
from booking_core.notifications import CONSENT, normalize_phone
from booking_core.rules import BookingRules, personal_key
from booking_core.uow import UnitOfWork
from booking_core.views import PatientView
from models.tables import (
    Clinic,
    ConsentCode,
    IdentificationAttempt,
    OutboxMessage,
    OutboxStatus,
    Patient,
)

logger = logging.getLogger(__name__)


class SmsState(StrEnum):
    """Where the code's SMS is, as far as the phone line cares."""

    PENDING = "pending"  # not handed to the provider yet
    SENT = "sent"  # the provider took it
    FAILED = "failed"  # an attempt failed or the outbox gave up: the provider is down


@dataclass(frozen=True)
class ConsentChallenge:
    """A code sent to the patient; ``id`` is what the caller's answer is checked against."""

    id: int
    expires_at_utc: datetime  # naive UTC
    code_length: int


def consent_needed(uow: UnitOfWork, patient_id: int, caller_number: str) -> bool:
    """True when ``caller_number`` may not act for the patient without the patient's code
    (:func:`consent_needed_for` on the patient as stored now)."""
    if not uow.rules.consent_required:
        return False
    with uow.reading() as u:
        patient = u.session.get(Patient, patient_id)
        if patient is None:
            raise NotFound("no such patient")
        return consent_needed_for(PatientView.of(patient, u.clock.today()), caller_number,
                                  u.rules)


def consent_needed_for(patient: PatientView, caller_number: str, rules: BookingRules) -> bool:
    """True when ``caller_number`` may not act for ``patient`` (just identified) without the
    patient's code.

    The patient's own phone never needs one; nor does a registered representative's phone
    while the patient is a child.  A withheld number always needs one.
    """
    if not rules.consent_required:
        return False
    caller = normalize_phone(caller_number)
    if not caller:
        return True
    if caller == normalize_phone(patient.phone):
        return False
    return not (patient.is_child and caller == normalize_phone(patient.representative_phone))


def request_code(uow: UnitOfWork, patient_id: int, caller_number: str) -> ConsentChallenge:
    """Make a code, keep its hash, queue its SMS to the patient's phone (one transaction).

    Raises :class:`ConsentUnavailable` when the patient has no mobile number to text.
    """
    rules = uow.rules
    code = "".join(secrets.choice("0123456789") for _ in range(rules.consent_code_length))
    with uow:
        patient = uow.session.get(Patient, patient_id)
        if patient is None:
            raise NotFound("no such patient")
        to_phone = normalize_phone(patient.phone) if patient.sms_reachable else ""
        if not to_phone:
            raise ConsentUnavailable("the patient has no mobile number for the code")
        now = uow.clock.now_utc()
        row = ConsentCode(patient_id=patient_id, caller_key=caller_key_for(caller_number, rules),
                          code_hash="", outbox_key="", created_at=now,
                          expires_at=now + timedelta(minutes=rules.consent_code_minutes))
        uow.session.add(row)
        uow.session.flush()
        assert row.id is not None
        row.code_hash = _code_hash(row.id, code, rules.pepper)
        row.outbox_key = f"consent:{row.id}"
        clinic = uow.session.get(Clinic, patient.clinic_id) if patient.clinic_id else None
        outbox.enqueue(uow, key=row.outbox_key, kind=CONSENT, to_phone=to_phone,
                       payload={"code": code, "minutes": rules.consent_code_minutes,
                                "clinic": clinic.short_name if clinic else ""},
                       patient_id=patient_id)
        uow.commit()
        logger.info("consent code %s queued for patient %s", row.id, patient_id)
        return ConsentChallenge(row.id, row.expires_at, rules.consent_code_length)


def sms_state(uow: UnitOfWork, challenge_id: int) -> SmsState:
    """Whether the code's SMS has left: the phone line waits for SENT and escalates on FAILED."""
    with uow.reading() as u:
        row = u.session.get(ConsentCode, challenge_id)
        if row is None:
            raise NotFound("no such consent code")
        msg = u.session.exec(select(OutboxMessage).where(
            OutboxMessage.idempotency_key == row.outbox_key)).first()
    if msg is None:
        return SmsState.FAILED
    if msg.status in (OutboxStatus.SENT, OutboxStatus.DELIVERED):
        return SmsState.SENT
    if msg.status in (OutboxStatus.DEAD, OutboxStatus.FAILED) or msg.last_error:
        return SmsState.FAILED
    return SmsState.PENDING


def withdraw_code(uow: UnitOfWork, challenge_id: int) -> None:
    """The phone line gave up waiting for the SMS: never send a code nobody waits for (a
    provider back up an hour later would otherwise deliver it), and blank it in the outbox."""
    with uow.reading() as u:
        row = u.session.get(ConsentCode, challenge_id)
        key = row.outbox_key if row else ""
    if key and outbox.withdraw(uow, key, reason="consent code no longer awaited"):
        logger.info("consent code %s withdrawn before it was sent", challenge_id)


def verify_code(uow: UnitOfWork, challenge_id: int, code: str, caller_number: str,
                channel: str) -> None:
    """Accept the code typed or said by the caller, or raise.

    Raises :class:`ConsentCodeWrong` / :class:`ConsentCodeExpired` (both logged as failed
    identifications, rule 3), :class:`TooManyAttempts` once rule 3's limits are reached.  A
    code is good once.
    """
    rules = uow.rules
    with uow:
        row = uow.session.get(ConsentCode, challenge_id)
        if row is None:
            raise NotFound("no such consent code")
        patient = uow.session.get(Patient, row.patient_id)
        assert patient is not None
        caller_key = caller_key_for(caller_number, rules)
        policy_key = personal_key("policy", patient.policy_number, rules.pepper)
        if limit_reached(uow, caller_key=caller_key, policy_key=policy_key):
            raise TooManyAttempts("too many failed identifications")
        now = uow.clock.now_utc()
        expired = row.used_at is not None or now >= row.expires_at
        good = hmac.compare_digest(row.code_hash,
                                   _code_hash(challenge_id, "".join(code.split()), rules.pepper))
        if good and not expired:
            row.used_at = now
            uow.commit()
            logger.info("consent code %s accepted", challenge_id)
            return
        row.failures += 1
        uow.session.add(IdentificationAttempt(at=now, caller_key=caller_key,
                                              policy_key=policy_key, channel=channel))
        uow.commit()
    logger.info("consent code %s refused (%s)", challenge_id, "expired" if expired else "wrong")
    if expired:
        raise ConsentCodeExpired("the consent code has expired")
    raise ConsentCodeWrong("the consent code does not match")


def _code_hash(challenge_id: int, code: str, pepper: str) -> str:
    # The row id salts the hash: equal codes of two calls hash differently.
    return personal_key("consent", f"{challenge_id}:{code}", pepper)
