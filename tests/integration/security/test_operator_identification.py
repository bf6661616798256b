"""Identification failures on the browser phone count against the console user,
whatever caller number they type (the per-caller limit cannot be sidestepped)."""

from __future__ import annotations

from datetime import date

import pytest

from booking_core import identification
from booking_core.commands import Identify
from booking_core.errors import NotIdentified, TooManyAttempts
from booking_core.rules import luhn_check_digit
from models.tables import Channel


def _unknown_policy(n: int) -> str:
    first15 = f"77{n:013d}"
    return first15 + luhn_check_digit(first15)


def test_a_console_user_typing_new_caller_numbers_is_still_limited(sqlite_container):
    limit = sqlite_container.rules.id_failures_per_caller
    for n in range(limit):
        with pytest.raises(NotIdentified):
            identification.identify(
                Identify(_unknown_policy(n), date(1980, 1, 1), Channel.IVR,
                         f"+7916000{n:04d}", operator="agent1"), sqlite_container.uow())
    with pytest.raises(TooManyAttempts):
        identification.identify(
            Identify(_unknown_policy(99), date(1980, 1, 1), Channel.IVR, "+79160009999",
                     operator="agent1"), sqlite_container.uow())
    # Another console user is not locked out by the first one's failures.
    with pytest.raises(NotIdentified):
        identification.identify(
            Identify(_unknown_policy(98), date(1980, 1, 1), Channel.IVR, "+79160009999",
                     operator="agent2"), sqlite_container.uow())
