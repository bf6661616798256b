"""Pure booking rules: no database, no clock of their own.  Easy to test one by one."""

from __future__ import annotations

import hashlib
import operator
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from models.tables import AgeGroup, Channel

REMOTE_CHANNELS = frozenset({Channel.IVR, Channel.INTERNET, Channel.INFOMAT, Channel.SMS})
ADULT_AGE = 18


@dataclass(frozen=True)
class BookingRules:
    """The tunable numbers of the domain rules (filled from settings by the composition root)."""

    slot_window_days: int = 30
    booking_horizon_days: int = 14
    remote_from_tomorrow: bool = True
    lead_time_minutes: int = 60
    hold_minutes: int = 5
    max_appointments_per_day: int = 2
    attachment_change_period_days: int = 365
    no_show_block_threshold: int = 3
    no_show_block_days: int = 30
    no_show_lookback_months: int = 12
    substitute_hold_minutes: int = 24 * 60
    waitlist_days: int = 30
    waitlist_offer_minutes: int = 120
    late_walk_in_minutes: int = 15
    arrival_window_minutes: int = 120
    id_failures_per_caller: int = 5
    id_failures_per_policy: int = 5
    id_failure_window_minutes: int = 60
    # Rule 20: an SMS code to the patient's phone when someone else books for them.
    consent_required: bool = True
    consent_code_length: int = 6
    consent_code_minutes: int = 10
    pepper: str = "registratura"


def only_digits(text: str) -> str:
    """Strip spaces, dashes and anything else that is not a digit."""
    return re.sub(r"\D", "", text or "")


_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # d * 2, minus 9 above 9


def luhn_valid(number: str) -> bool:
    """ISO/IEC 7812 "Mod 10" check, as used by the 16-digit single-format OMS policy."""
    if not (number.isascii() and number.isdigit()) or len(number) < 2:
        return False
    digits = number[::-1]
    total = sum(map(int, digits[::2])) + sum(_LUHN_DOUBLED[int(d)] for d in digits[1::2])
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` pass :func:`luhn_valid`."""
    for d in "0123456789":
        if luhn_valid(partial + d):
            return d
    raise AssertionError("unreachable: one of ten digits always fits")


def policy_valid(policy: str) -> bool:
    """A single-format OMS policy: exactly 16 digits passing the Luhn check."""
    return len(policy) == 16 and luhn_valid(policy)


_SNILS_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, 1)


def snils_checksum(first9: str) -> str:
    """The two control digits of a SNILS for its first nine digits."""
    total = sum(map(operator.mul, map(int, first9), _SNILS_WEIGHTS))
    if total < 100:
        return f"{total:02d}"
    if total in (100, 101):
        return "00"
    rest = total % 101
    return "00" if rest == 100 else f"{rest:02d}"


def snils_valid(snils: str) -> bool:
    """SNILS check (11 digits); numbers up to 001-001-998 carry no checksum."""
    digits = only_digits(snils)
    if len(digits) != 11:
        return False
    if int(digits[:9]) <= 1001998:
        return True
    return snils_checksum(digits[:9]) == digits[9:]


def is_russian_mobile(e164: str) -> bool:
    """A Russian mobile number in E.164 (+7 9XX XXX-XX-XX): the only kind an SMS reaches."""
    return len(e164) == 12 and e164.startswith("+79") and e164[3:].isdigit()


EARLIEST_BIRTH_YEAR = 1900


def birth_date_problem(birth_date: date, today: date) -> str | None:
    """Why a date of birth cannot be true ("future", "impossible"), or None if it can."""
    if birth_date > today:
        return "future"
    if birth_date.year < EARLIEST_BIRTH_YEAR:
        return "impossible"
    return None


def age_on(birth_date: date, on: date) -> int:
    """Full years of a person born on ``birth_date`` at ``on``."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def adult_from(birth_date: date) -> date:
    """The first day on which :func:`age_on` gives 18 (29 February: 1 March if need be)."""
    try:
        return birth_date.replace(year=birth_date.year + ADULT_AGE)
    except ValueError:  # born on 29 February, the 18th year is not a leap year
        return date(birth_date.year + ADULT_AGE, 3, 1)


def age_group_days(age_group: str, birth_date: date) -> tuple[date | None, date | None]:
    """The [first, last] visit days (None: unbounded) on which ``age_group`` admits a person
    born on ``birth_date`` — every age rule is judged on the visit day (rule 21)."""
    if age_group == AgeGroup.CHILD:
        return None, adult_from(birth_date) - timedelta(days=1)
    if age_group == AgeGroup.ADULT:
        return adult_from(birth_date), None
    return None, None


def block_until(blocked_from: date, days: int) -> date:
    """The last day (inclusive) of a block of ``days`` days starting on ``blocked_from``."""
    return blocked_from + timedelta(days=days - 1)


def no_show_lookback_start(today: date, months: int) -> date:
    """The first day whose no-shows still count towards a block (rule 21)."""
    return today - relativedelta(months=months)


def age_allows(age_group: str, age: int) -> bool:
    """Pediatric specialties are for children only, adult ones for adults only."""
    if age_group == AgeGroup.CHILD:
        return age < ADULT_AGE
    if age_group == AgeGroup.ADULT:
        return age >= ADULT_AGE
    return True


def is_remote(channel: str) -> bool:
    """Channels where the patient books without a registrar (rules 7, 11, 13)."""
    return channel in REMOTE_CHANNELS


def booking_window(channel: str, now: datetime, rules: BookingRules) -> tuple[datetime, datetime]:
    """The [start, end) interval of slot start times a channel may book."""
    today = now.date()
    if is_remote(channel):
        start = now + timedelta(minutes=rules.lead_time_minutes)
        if rules.remote_from_tomorrow:
            start = max(start, datetime.combine(today + timedelta(days=1), time.min))
        end = datetime.combine(today + timedelta(days=rules.booking_horizon_days + 1), time.min)
    else:
        start = now
        end = datetime.combine(today + timedelta(days=rules.slot_window_days + 1), time.min)
    return start, end


def new_confirmation_code() -> str:
    """A six-digit "talon" number: easy to read aloud twice and to type on a keypad."""
    return f"{secrets.randbelow(900_000) + 100_000}"


def personal_key(kind: str, value: str, pepper: str) -> str:
    """A keyed hash for rate-limit bookkeeping, so that table holds no personal data."""
    return hashlib.sha256(f"{pepper}:{kind}:{value}".encode()).hexdigest()


def arrival_open(starts_at: datetime, at: datetime, window_minutes: int) -> bool:
    """«Пришёл» can be recorded only around the visit: from ``window_minutes`` before its start
    to as long after it (a later patient is seen out of schedule)."""
    return abs(at - starts_at) <= timedelta(minutes=window_minutes)


#: Slots starting before this hour suit a "morning" waiting-list entry, the rest "afternoon".
AFTERNOON_FROM = time(13, 0)


def preference_allows(preference: str, starts_at: datetime) -> bool:
    """Does a slot at ``starts_at`` suit a waiting patient's time-of-day preference?"""
    if preference == "morning":
        return starts_at.time() < AFTERNOON_FROM
    if preference == "afternoon":
        return starts_at.time() >= AFTERNOON_FROM
    return True
