"""Rule 20 on the phone: a caller booking for someone else types the code sent to the patient.

Asked right after identification, only when the caller's number is neither the patient's phone
on file nor (for a child) the representative's.  The code is sent through the outbox; the line
waits until the SMS has left (``IvrDeps.consent_sms_wait``) and hands the call to an agent if the
provider fails or is too slow — the caller is never left waiting for a text that does not come.
The code is never read back, logged or recorded (the call record keeps the digit count only).
"""

from __future__ import annotations

import logging
import time

from booking_core import consent
from booking_core.consent import ConsentChallenge, SmsState
from booking_core.errors import (
    ConsentCodeExpired,
    ConsentCodeWrong,
    ConsentUnavailable,
    TooManyAttempts,
)
from booking_core.views import PatientView
from ivr.dialogue.call import Call, Escalate
from models.tables import Channel
from speech import ru_numbers

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # how often the outbox is looked at while the SMS leaves


def confirm_consent(call: Call, patient: PatientView) -> None:
    """Return when the caller may act for ``patient``; raise :class:`Escalate` otherwise."""
    uow = call.deps.uow
    caller = call.record.data.caller_number
    # ``patient`` was identified a moment ago: its phones decide without another read.
    if not consent.consent_needed_for(patient, caller, uow().rules):
        return
    call.record.step("consent_needed")
    try:
        challenge = consent.request_code(uow(), patient.id, caller)
    except ConsentUnavailable:
        call.play("consent_no_phone")
        raise Escalate("consent_unavailable") from None
    call.play("consent_sending")
    if not _sms_left(call, challenge):
        consent.withdraw_code(uow(), challenge.id)
        call.play("consent_sms_failed")
        raise Escalate("consent_sms_failed")
    _ask_code(call, challenge)


def _sms_left(call: Call, challenge: ConsentChallenge) -> bool:
    """Wait until the provider took the SMS (True), failed, or the wait ran out (False)."""
    deadline = time.monotonic() + call.deps.consent_sms_wait
    while True:
        state = consent.sms_state(call.deps.uow(), challenge.id)
        if state is SmsState.SENT:
            return True
        if state is SmsState.FAILED or time.monotonic() >= deadline:
            logger.warning("call %s: consent SMS not sent (%s)", call.state.call_id, state)
            return False
        time.sleep(POLL_SECONDS)


def _ask_code(call: Call, challenge: ConsentChallenge) -> None:
    """Up to ``identify_tries`` answers; wrong and expired codes count as failed identifications."""
    caller = call.record.data.caller_number
    prompt = call.p("consent_ask_code")
    for attempt in range(1, call.deps.identify_tries + 1):
        digits = call.number(prompt, challenge.code_length, "consent_code",
                             ru_numbers.parse_digits, hash_ends=True)
        if not digits:
            call.play("no_input" if digits is None else "not_understood")
            continue
        try:
            consent.verify_code(call.deps.uow(), challenge.id, digits, caller, Channel.IVR)
        except ConsentCodeExpired:
            call.play("consent_code_expired")
            raise Escalate("consent_code_expired") from None
        except TooManyAttempts:
            call.play("too_many_attempts")
            raise Escalate("too_many_attempts") from None
        except ConsentCodeWrong:
            if attempt < call.deps.identify_tries:
                call.play("consent_code_wrong")
            continue
        call.record.step("consent_given")
        call.play("consent_accepted")
        return
    call.play("consent_failed")
    raise Escalate("consent_failed")
