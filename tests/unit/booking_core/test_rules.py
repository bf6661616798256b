"""The pure booking rules (booking_core.rules): no database, no clock, one rule per test."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from booking_core.masking import mask_digits, mask_phone
from booking_core.rules import (
    BookingRules,
    age_allows,
    age_on,
    booking_window,
    is_remote,
    luhn_check_digit,
    luhn_valid,
    new_confirmation_code,
    only_digits,
    personal_key,
    policy_valid,
    snils_checksum,
    snils_valid,
)
from models.tables import AgeGroup, Channel
from registratura.demo import DEMO_PATIENTS

DEMO_POLICIES = [p.policy_number for p in DEMO_PATIENTS]
MONDAY_10 = datetime(2026, 9, 7, 10, 0)
RULES = BookingRules()


def weighted_sum(first9: str) -> int:
    """The SNILS control sum: weights 9..1 on the first nine digits (written out for the reader)."""
    return sum(int(d) * w for d, w in zip(first9, range(9, 0, -1), strict=True))


# --- Rule 1: the OMS policy number (16 digits, Luhn) ------------------------------------------


@pytest.mark.parametrize("policy", DEMO_POLICIES)
def test_demo_policies_are_valid(policy):
    assert len(policy) == 16
    assert policy_valid(policy)


def test_known_luhn_numbers():
    assert luhn_valid("79927398713")  # the textbook example
    assert not luhn_valid("79927398710")
    assert luhn_valid("4539578763621486")


@pytest.mark.parametrize("policy", DEMO_POLICIES)
def test_every_single_digit_typo_is_caught(policy):
    for pos, original in enumerate(policy):
        for d in "0123456789":
            if d == original:
                continue
            typo = policy[:pos] + d + policy[pos + 1 :]
            assert not policy_valid(typo), (pos, d)


def _swaps(number: str):
    for i in range(len(number) - 1):
        a, b = number[i], number[i + 1]
        if a != b:
            yield a + b, number[:i] + b + a + number[i + 2 :]


@pytest.mark.parametrize("policy", DEMO_POLICIES)
def test_adjacent_transpositions_in_demo_policies_are_caught(policy):
    for pair, swapped in _swaps(policy):
        if pair not in ("09", "90"):
            assert not policy_valid(swapped), pair


@pytest.mark.parametrize("position", [0, 7, 13])
def test_adjacent_transpositions_are_caught_except_09(position):
    """Luhn catches a swap of any two adjacent different digits but "09" <-> "90" (88 of 90)."""
    caught, missed = [], []
    for a in "0123456789":
        for b in "0123456789":
            if a == b:
                continue
            prefix = ("5" * position + a + b + "3" * 15)[:15]
            number = prefix + luhn_check_digit(prefix)
            swapped = number[:position] + b + a + number[position + 2 :]
            (missed if policy_valid(swapped) else caught).append(a + b)
    assert sorted(missed) == ["09", "90"]
    assert len(caught) == 88


@pytest.mark.parametrize("length", [0, 1, 15, 17, 20])
def test_policy_of_wrong_length_is_invalid_even_if_luhn_passes(length):
    if length < 2:
        number = "0" * length
    else:
        number = "1" * (length - 1)
        number += luhn_check_digit(number)
        assert luhn_valid(number)
    assert not policy_valid(number)


def test_policy_with_non_digits_is_invalid():
    good = DEMO_POLICIES[0]
    assert not policy_valid(good[:15] + "x")
    assert not policy_valid(good[:4] + " " + good[4:15])
    assert not luhn_valid("")


def test_only_digits_strips_separators():
    assert only_digits("7700 0000-0000 0123") == "7700000000000123"
    assert only_digits("") == ""


def test_luhn_check_digit_completes_a_valid_number():
    assert luhn_check_digit("7992739871") == "3"
    for prefix in ("770000000000012", "500000000000345", "000000000000000", "999999999999999"):
        digit = luhn_check_digit(prefix)
        assert len(digit) == 1 and digit.isdigit()
        assert policy_valid(prefix + digit)
        # it is the only digit that fits
        assert [d for d in "0123456789" if luhn_valid(prefix + d)] == [digit]


def test_demo_policies_end_in_their_check_digit():
    for policy in DEMO_POLICIES:
        assert luhn_check_digit(policy[:15]) == policy[15]


# --- Rule 1: SNILS --------------------------------------------------------------------------


@pytest.mark.parametrize("snils", ["112-233-445 95", "11223344595", "597-488-273 83"])
def test_known_valid_snils(snils):
    assert snils_valid(snils)


def test_snils_with_wrong_control_is_invalid():
    assert not snils_valid("112-233-445 96")
    assert not snils_valid("112-233-445 00")


def test_snils_sum_below_100_is_the_control_itself():
    assert weighted_sum("112233445") == 95
    assert snils_checksum("112233445") == "95"
    assert weighted_sum("031182305") == 99
    assert snils_checksum("031182305") == "99"


def test_snils_small_sum_is_zero_padded():
    assert weighted_sum("100000000") == 9
    assert snils_checksum("100000000") == "09"
    assert snils_valid("100-000-000 09")
    assert not snils_valid("100-000-000 90")


@pytest.mark.parametrize("first9", ["214070124", "311150634"])
def test_snils_sum_100_or_101_gives_00(first9):
    assert weighted_sum(first9) in (100, 101)
    assert snils_checksum(first9) == "00"
    assert snils_valid(first9 + "00")
    assert not snils_valid(first9 + "01")
    assert not snils_valid(first9 + str(weighted_sum(first9))[:2])


def test_snils_sum_above_101_is_taken_mod_101():
    assert weighted_sum("210065713") == 102
    assert snils_checksum("210065713") == "01"
    assert weighted_sum("597488273") == 285
    assert snils_checksum("597488273") == "83"


@pytest.mark.parametrize("first9", ["660550973", "863899905"])
def test_snils_sum_mod_101_equal_to_100_gives_00(first9):
    assert weighted_sum(first9) % 101 == 100
    assert snils_checksum(first9) == "00"


@pytest.mark.parametrize("first9", ["000000001", "001001998", "000123456"])
def test_snils_up_to_001_001_998_accepts_any_control(first9):
    for control in ("00", "42", "99"):
        assert snils_valid(first9 + control)


def test_snils_from_001_001_999_is_checked():
    assert weighted_sum("001001999") == 65
    assert snils_valid("001-001-999 65")
    assert not snils_valid("001-001-999 00")


@pytest.mark.parametrize("text", ["", "1122334459", "112233445950", "abc"])
def test_snils_of_wrong_length_is_invalid(text):
    assert not snils_valid(text)


# --- Rule 6: age -----------------------------------------------------------------------------


def test_age_counts_full_years_turning_on_the_birthday():
    child = date(2016, 9, 6)  # the demo child
    assert age_on(child, date(2026, 9, 5)) == 9
    assert age_on(child, date(2026, 9, 6)) == 10
    assert age_on(child, date(2026, 9, 7)) == 10
    assert age_on(date(1985, 3, 5), date(2026, 9, 7)) == 41


def test_age_of_a_leap_day_birth():
    leap = date(2008, 2, 29)
    assert age_on(leap, date(2026, 2, 28)) == 17
    assert age_on(leap, date(2026, 3, 1)) == 18


def test_age_18_is_adult():
    born = date(2008, 9, 7)
    assert age_on(born, date(2026, 9, 6)) == 17
    assert age_on(born, date(2026, 9, 7)) == 18


def test_pediatric_specialty_only_for_children():
    assert age_allows(AgeGroup.CHILD, 0)
    assert age_allows(AgeGroup.CHILD, 17)
    assert not age_allows(AgeGroup.CHILD, 18)


def test_adult_specialty_only_for_adults():
    assert not age_allows(AgeGroup.ADULT, 17)
    assert age_allows(AgeGroup.ADULT, 18)
    assert age_allows(AgeGroup.ADULT, 90)


def test_any_age_specialty_for_everyone():
    assert all(age_allows(AgeGroup.ANY, age) for age in (0, 10, 17, 18, 77))


# --- Rule 7: booking window ------------------------------------------------------------------


def test_remote_and_registry_channels():
    for ch in (Channel.IVR, Channel.INTERNET, Channel.INFOMAT, Channel.SMS):
        assert is_remote(ch)
    for ch in (Channel.CONSOLE, Channel.DESK, Channel.SYSTEM):
        assert not is_remote(ch)


@pytest.mark.parametrize("channel", [Channel.IVR, Channel.INTERNET, Channel.INFOMAT])
def test_remote_window_starts_tomorrow_and_ends_after_the_horizon_day(channel):
    start, end = booking_window(channel, MONDAY_10, RULES)
    assert start == datetime(2026, 9, 8, 0, 0)
    # the horizon (14 days) is inclusive: slots on 2026-09-21 are bookable, 09-22 are not
    assert end == datetime(2026, 9, 22, 0, 0)


def test_remote_window_follows_the_horizon_setting():
    _, end = booking_window(Channel.IVR, MONDAY_10, BookingRules(booking_horizon_days=7))
    assert end == datetime(2026, 9, 15, 0, 0)


def test_remote_window_with_lead_time_instead_of_tomorrow():
    rules = BookingRules(remote_from_tomorrow=False, lead_time_minutes=60)
    start, _ = booking_window(Channel.IVR, MONDAY_10, rules)
    assert start == datetime(2026, 9, 7, 11, 0)
    start, _ = booking_window(Channel.IVR, MONDAY_10, BookingRules(remote_from_tomorrow=False,
                                                                   lead_time_minutes=0))
    assert start == MONDAY_10


def test_lead_time_late_in_the_evening_pushes_past_midnight():
    late = datetime(2026, 9, 7, 23, 30)
    start, _ = booking_window(Channel.IVR, late, RULES)
    assert start == datetime(2026, 9, 8, 0, 30)  # tomorrow, but still at least the lead time


def test_registry_window_starts_now_and_covers_the_slot_window():
    for channel in (Channel.CONSOLE, Channel.DESK):
        start, end = booking_window(channel, MONDAY_10, RULES)
        assert start == MONDAY_10  # today's later slots too
        assert end == datetime(2026, 10, 8, 0, 0)  # today + 30 days, inclusive


# --- Logs: masking -----------------------------------------------------------------------------


def test_mask_policy_keeps_only_the_last_four_digits():
    policy = DEMO_POLICIES[0]
    masked = mask_digits(policy)
    assert masked == f"**** **** **** {policy[-4:]}"
    assert policy[:12] not in only_digits(masked)
    assert mask_digits("7700 0000 0000 0123") == "**** **** **** 0123"


def test_mask_policy_of_short_input_never_shows_it_whole():
    assert "123" not in mask_digits("123")
    assert mask_digits("") == ""


def test_mask_phone_keeps_only_the_last_four_digits():
    assert mask_phone("+7 (916) 123-45-67") == "********4567"
    assert "916" not in mask_phone("+79161234567")
    assert mask_phone("12") == "**"
    assert mask_phone("") == ""


def test_personal_key_is_a_keyed_hash_without_the_value():
    policy = DEMO_POLICIES[0]
    key = personal_key("policy", policy, "pepper")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == personal_key("policy", policy, "pepper")
    assert key != personal_key("policy", policy, "other pepper")
    assert key != personal_key("caller", policy, "pepper")
    assert policy not in key


# --- Rule 17: confirmation code --------------------------------------------------------------


def test_confirmation_code_is_six_digits_without_leading_zero():
    codes = [new_confirmation_code() for _ in range(500)]
    for code in codes:
        assert re.fullmatch(r"[1-9][0-9]{5}", code), code
    assert len(set(codes)) > 400  # random, not a counter or a constant
