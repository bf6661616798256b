"""What the caller hears, in order: the hash after a number, the language key, limits told
when the specialty is chosen, and a registrar's sentences."""

from __future__ import annotations

from booking_core import booking
from support.world import demo, patient_id

ADULT = demo("adult")
DOB_KEYS = ADULT.birth_date.strftime("%d%m%Y")


def _asked(io) -> list[str]:
    return [key for kind, key, _ in io.transcript.events if kind in ("ask", "play")]


# --- item: "#" ends the policy and the date of birth ---------------------------------------


def test_hash_after_a_full_policy_and_date_is_not_the_next_answer(container, dial):
    """The prompt asks for the policy "и решётку": 16 digits then # must not land on the
    date-of-birth question as a wrong answer (same for the 8-digit date)."""
    script = [None, "1", ADULT.policy_number + "#", DOB_KEYS + "#", "1", "1", "1"]
    io, _ = dial(container, script)
    keys = _asked(io)
    assert "not_understood" not in keys and "no_input" not in keys
    assert keys.count("ask_policy") == 1 and keys.count("ask_birth_date") == 1
    assert "booked" in keys
    assert len(booking.patient_appointments(patient_id(container, "adult"),
                                            container.uow())) == 1


def test_seventeen_digits_are_too_many(container, dial):
    """Asking for one key more than the number has (so # can end it) still refuses a 17th."""
    script = [None, "1", ADULT.policy_number + "7", ADULT.policy_number]
    io, _ = dial(container, script)
    bad = next(t for _, k, t in io.transcript.events if k == "policy_bad_length")
    assert "семнадцать" in bad or "17" in bad
