"""Rule 1-3: identify a patient by OMS policy and date of birth, with attempt limits."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache

from sqlalchemy import bindparam, case, false, true
from sqlmodel import func, or_, select
from sqlmodel.sql.expression import Select

from booking_core.commands import Identify
from booking_core.errors import InvalidPolicy, NotIdentified, TooManyAttempts
from booking_core.masking import mask_digits
from booking_core.rules import BookingRules, only_digits, personal_key, policy_valid
from booking_core.uow import UnitOfWork
from booking_core.views import PatientView
from models.tables import IdentificationAttempt, Patient

logger = logging.getLogger(__name__)


def identify(cmd: Identify, uow: UnitOfWork) -> PatientView:
    """Return the patient whose policy and birth date both match.

    Raises :class:`InvalidPolicy` for a number that cannot be a policy (a typo: wrong length or
    check digit), :class:`TooManyAttempts` once the caller number or the policy has failed too
    often recently, and :class:`NotIdentified` — the same for an unknown policy and a wrong
    birth date, so the phone line can't be used to test stolen data.
    """
    policy = only_digits(cmd.policy_number)
    if not policy_valid(policy):
        raise InvalidPolicy("policy number fails the length or check-digit test")
    rules = uow.rules
    caller_key = caller_key_for(cmd.caller_number, rules)
    if cmd.operator:
        # A console user types any caller number they like: count their own failures.
        caller_key = personal_key("operator", cmd.operator, rules.pepper)
    policy_key = personal_key("policy", policy, rules.pepper)
    # Only a failure writes, so the check and the lookup are a read: on PostgreSQL no
    # transaction round trips, on SQLite no write lock on every caller's identification.
    with uow.reading():
        # The patient comes with both failure counts; an unknown policy counts them alone.
        row = uow.session.exec(_by_policy(bool(caller_key)), params={
            "policy": policy, **_failure_params(uow, caller_key, policy_key)}).first()
        if row is None:
            refused = limit_reached(uow, caller_key=caller_key, policy_key=policy_key)
        else:
            patient, policy_failures, caller_failures = row
            refused = _over_limit(uow.rules, policy_failures, caller_failures)
        if refused:
            logger.warning("identification refused: too many failures (%s)", mask_digits(policy))
            raise TooManyAttempts("too many failed identifications")
        if row is not None and patient.birth_date == cmd.birth_date:
            return PatientView.of(patient, uow.clock.today())
    with uow:
        uow.session.add(IdentificationAttempt(at=uow.clock.now_utc(), caller_key=caller_key,
                                              policy_key=policy_key, channel=cmd.channel))
        uow.commit()
    logger.info("identification failed for %s", mask_digits(policy))
    raise NotIdentified("no patient with this policy and date of birth")


def caller_key_for(caller_number: str, rules: BookingRules) -> str:
    """The keyed hash a caller number is counted under ("" for a withheld number).

    A withheld number ("anonymous") has no digits: such callers are counted by policy only, or
    one attacker could lock out every caller who hides their number.
    """
    digits = only_digits(caller_number)
    return personal_key("caller", digits, rules.pepper) if digits else ""


def limit_reached(uow: UnitOfWork, *, caller_key: str, policy_key: str) -> bool:
    """Rule 3: the policy or the caller failed too often within the window (open ``uow``).

    Both counts come from one statement: identification is on every call's path.
    """
    # A withheld number has no key ("" is never counted: see caller_key_for).
    policy_failures, caller_failures = uow.session.exec(
        _failures_statement(bool(caller_key)),
        params=_failure_params(uow, caller_key, policy_key)).one()
    return _over_limit(uow.rules, policy_failures, caller_failures)


def _over_limit(rules: BookingRules, policy_failures: int, caller_failures: int) -> bool:
    return (policy_failures >= rules.id_failures_per_policy
            or caller_failures >= rules.id_failures_per_caller)


def _failure_params(uow: UnitOfWork, caller_key: str, policy_key: str) -> dict[str, object]:
    since = uow.clock.now_utc() - timedelta(minutes=uow.rules.id_failure_window_minutes)
    return {"since": since, "policy_key": policy_key, "caller_key": caller_key}


@cache
def _failures_statement(by_caller_number: bool) -> Select:  # type: ignore[type-arg]
    """Failures since ``since`` by ``policy_key`` and (or, without a caller number, none) by
    ``caller_key``; built once, values bound at execution."""
    by_policy = IdentificationAttempt.policy_key == bindparam("policy_key")
    by_caller = (IdentificationAttempt.caller_key == bindparam("caller_key")
                 if by_caller_number else false())
    return (
        select(func.count(case((by_policy, 1))), func.count(case((by_caller, 1))))
        .select_from(IdentificationAttempt)
        .where(IdentificationAttempt.at >= bindparam("since"), or_(by_policy, by_caller))
    )


@cache
def _by_policy(by_caller_number: bool) -> Select:  # type: ignore[type-arg]
    """The patient with ``policy`` and the failures counted as in :func:`_failures_statement`,
    in one statement: the lookup is on every call's path."""
    failures = _failures_statement(by_caller_number).subquery()
    policy_failures, caller_failures = failures.c
    return (select(Patient, policy_failures, caller_failures)
            .join(failures, true())
            .where(Patient.policy_number == bindparam("policy")))
