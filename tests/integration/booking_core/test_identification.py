"""Rules 1-3: identification by OMS policy + date of birth, with attempt limits (both DBs)."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from booking_core import identification
from booking_core.commands import Identify
from booking_core.errors import InvalidPolicy, NotIdentified, TooManyAttempts
from booking_core.rules import luhn_check_digit, only_digits
from models.tables import Channel, IdentificationAttempt
from support.world import demo, patient_id

CALLER = "+79161234567"
OTHER_CALLER = "+79035550000"


def identify(container, policy: str, birth: date, caller: str = CALLER):
    return identification.identify(Identify(policy, birth, Channel.IVR, caller), container.uow())


def unknown_policy(n: int) -> str:
    """A valid (Luhn) policy number that no demo patient has."""
    prefix = f"12{n:013d}"
    return prefix + luhn_check_digit(prefix)


def attempts(container) -> list[IdentificationAttempt]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(select(IdentificationAttempt)).all())


def attempt_count(container) -> int:
    with container.uow().reading() as uow:
        return uow.session.exec(select(func.count()).select_from(IdentificationAttempt)).one()


def wrong_birth(role: str = "adult") -> date:
    return demo(role).birth_date + timedelta(days=1)


def test_policy_and_birth_date_identify_the_patient(container):
    adult = demo("adult")
    view = identify(container, adult.policy_number, adult.birth_date)
    assert view.id == patient_id(container, "adult")
    assert view.full_name == adult.full_name
    assert view.age == 41 and not view.is_child
    assert attempt_count(container) == 0  # successes are not recorded


def test_policy_typed_with_spaces_identifies(container):
    adult = demo("adult")
    p = adult.policy_number
    spaced = f"{p[:4]} {p[4:8]} {p[8:12]} {p[12:]}"
    assert identify(container, spaced, adult.birth_date).id == patient_id(container, "adult")


def test_child_is_identified_by_own_policy_and_birth_date(container):
    child = demo("child")
    view = identify(container, child.policy_number, child.birth_date)
    assert view.is_child and view.age == 10


def test_unknown_policy_and_wrong_birth_date_look_the_same(container):
    """Rule 3: the phone line can't tell "no such policy" from "wrong date of birth"."""
    with pytest.raises(NotIdentified) as unknown:
        identify(container, demo("unknown policy").policy_number, demo("unknown policy").birth_date)
    with pytest.raises(NotIdentified) as wrong_dob:
        identify(container, demo("adult").policy_number, wrong_birth())
    assert type(unknown.value) is type(wrong_dob.value)
    assert unknown.value.code == wrong_dob.value.code == "not_identified"
    assert str(unknown.value) == str(wrong_dob.value)
    assert unknown.value.details == wrong_dob.value.details == {}
    assert attempt_count(container) == 2  # both count as failures


def test_error_messages_carry_no_personal_data(container):
    adult = demo("adult")
    with pytest.raises(NotIdentified) as exc:
        identify(container, adult.policy_number, wrong_birth())
    text = f"{exc.value} {exc.value.message} {exc.value.details}"
    assert adult.policy_number not in text
    assert adult.policy_number[-4:] not in text
    assert wrong_birth().isoformat() not in text


def test_bad_check_digit_is_invalid_policy_and_not_counted(container):
    """A typo is told apart at once and does not burn an attempt."""
    adult = demo("adult")
    bad = adult.policy_number[:15] + str((int(adult.policy_number[15]) + 1) % 10)
    for _ in range(10):
        with pytest.raises(InvalidPolicy):
            identify(container, bad, adult.birth_date)
    with pytest.raises(InvalidPolicy):
        identify(container, adult.policy_number[:15], adult.birth_date)  # too short
    assert attempt_count(container) == 0
    assert identify(container, adult.policy_number, adult.birth_date).id


def test_failures_from_one_caller_block_that_caller(container):
    """Rule 3: N failures from one number refuse even a correct policy + DOB from it."""
    limit = container.rules.id_failures_per_caller
    for n in range(limit):
        with pytest.raises(NotIdentified):
            identify(container, unknown_policy(n), date(1980, 1, 1), caller=CALLER)
    adult = demo("adult")
    with pytest.raises(TooManyAttempts):
        identify(container, adult.policy_number, adult.birth_date, caller=CALLER)
    # the policy itself is not blocked: another caller gets through
    assert identify(container, adult.policy_number, adult.birth_date, caller=OTHER_CALLER).id


def test_one_failure_less_than_the_limit_still_identifies(container):
    limit = container.rules.id_failures_per_caller
    for n in range(limit - 1):
        with pytest.raises(NotIdentified):
            identify(container, unknown_policy(n), date(1980, 1, 1))
    adult = demo("adult")
    assert identify(container, adult.policy_number, adult.birth_date).id


def test_caller_number_is_compared_by_digits(container):
    limit = container.rules.id_failures_per_caller
    for n in range(limit):
        with pytest.raises(NotIdentified):
            identify(container, unknown_policy(n), date(1980, 1, 1), caller="+7 916 123-45-67")
    adult = demo("adult")
    with pytest.raises(TooManyAttempts):
        identify(container, adult.policy_number, adult.birth_date, caller="79161234567")


def test_failures_for_one_policy_from_many_callers_block_the_policy(container):
    """Rule 3: brute-forcing the birth date of one policy from many numbers is stopped."""
    adult = demo("adult")
    limit = container.rules.id_failures_per_policy
    for n in range(limit):
        with pytest.raises(NotIdentified):
            identify(container, adult.policy_number, adult.birth_date + timedelta(days=n + 1),
                     caller=f"+7900000{n:04d}")
    with pytest.raises(TooManyAttempts):
        identify(container, adult.policy_number, adult.birth_date, caller="+79009999999")
    # other patients are not affected
    elderly = demo("elderly")
    assert identify(container, elderly.policy_number, elderly.birth_date,
                    caller="+79009999999").id


def test_failures_without_caller_number_still_count_per_policy(container):
    adult = demo("adult")
    for _ in range(container.rules.id_failures_per_policy):
        with pytest.raises(NotIdentified):
            identify(container, adult.policy_number, wrong_birth(), caller="")
    with pytest.raises(TooManyAttempts):
        identify(container, adult.policy_number, adult.birth_date, caller="")


def test_limit_window_expires(container, clock):
    adult = demo("adult")
    for _ in range(container.rules.id_failures_per_policy):
        with pytest.raises(NotIdentified):
            identify(container, adult.policy_number, wrong_birth())
    clock.advance(minutes=container.rules.id_failure_window_minutes - 1)
    with pytest.raises(TooManyAttempts):
        identify(container, adult.policy_number, adult.birth_date)
    clock.advance(minutes=2)  # the failures are now older than the window
    assert identify(container, adult.policy_number, adult.birth_date).id


def test_refused_attempts_are_not_counted_as_failures(container, clock):
    """While blocked, further tries do not extend the block."""
    adult = demo("adult")
    for _ in range(container.rules.id_failures_per_policy):
        with pytest.raises(NotIdentified):
            identify(container, adult.policy_number, wrong_birth())
    before = attempt_count(container)
    for _ in range(3):
        with pytest.raises(TooManyAttempts):
            identify(container, adult.policy_number, wrong_birth())
    assert attempt_count(container) == before
    clock.advance(minutes=container.rules.id_failure_window_minutes + 1)
    assert identify(container, adult.policy_number, adult.birth_date).id


def test_attempt_table_holds_no_policy_or_phone_in_clear(container):
    adult = demo("adult")
    unknown = demo("unknown policy")
    with pytest.raises(NotIdentified):
        identify(container, adult.policy_number, wrong_birth(), caller=CALLER)
    with pytest.raises(NotIdentified):
        identify(container, unknown.policy_number, unknown.birth_date, caller=OTHER_CALLER)
    rows = attempts(container)
    assert len(rows) == 2
    secrets = [adult.policy_number, unknown.policy_number, only_digits(CALLER),
               only_digits(OTHER_CALLER), CALLER[-7:], adult.policy_number[-8:]]
    for row in rows:
        stored = " ".join(str(v) for v in row.model_dump().values())
        for secret in secrets:
            assert secret not in stored
        assert len(row.policy_key) == 64 and len(row.caller_key) == 64
        assert row.channel == Channel.IVR
    assert rows[0].policy_key != rows[1].policy_key
    assert rows[0].caller_key != rows[1].caller_key


def test_identification_logs_mask_the_policy(container, caplog):
    adult = demo("adult")
    with caplog.at_level(logging.DEBUG, logger="booking_core"), pytest.raises(NotIdentified):
        identify(container, adult.policy_number, wrong_birth())
    assert adult.policy_number not in caplog.text
    assert only_digits(CALLER) not in caplog.text
