"""Number entry over real FastAGI: ``GET DATA`` returns at max digits or on ``#``, and the
caller's ``#`` after a complete number reaches whatever command the IVR sent next."""

from __future__ import annotations

from booking_core import booking
from ivr.transports.terminal import AsteriskCall, ScriptedCaller
from support.fakes import QuietEngine
from support.world import demo, patient_id

ADULT = demo("adult")
DOB_KEYS = ADULT.birth_date.strftime("%d%m%Y")


def test_hash_after_policy_and_date_over_fastagi(container, runtime_factory):
    """16 digits + # and 8 digits + #, as the prompts ask: no "не поняла", one question each."""
    rt = runtime_factory(container, QuietEngine())
    host, port = rt.server.server_address
    script = [None, "1", ADULT.policy_number + "#", DOB_KEYS + "#", "1", "1", "1"]
    t = AsteriskCall(host, port, sounds_dir=rt.cache.sounds_dir,
                     caller=ScriptedCaller(script)).run()
    said = " ".join(t.said)
    assert "не поняла" not in said and "не слышно" not in said
    answers = [e[3] for e in t.of("get_data")]
    assert ADULT.policy_number in answers and DOB_KEYS in answers
    assert "" not in answers  # no question answered by a lone "#"
    # The IVR asked for one key more than the number has, so "#" (not the count) ended it.
    assert {e[2] for e in t.of("get_data") if e[3] in (ADULT.policy_number, DOB_KEYS)} == {17, 9}
    assert "Вы записаны" in said
    assert len(booking.patient_appointments(patient_id(container, "adult"),
                                            container.uow())) == 1


def test_two_during_the_greeting_over_fastagi_is_my_appointments(container, runtime_factory):
    """2 interrupts the greeting's STREAM FILE and reaches the main menu's «мои записи»:
    the call stays in Russian (English is on 9)."""
    rt = runtime_factory(container, QuietEngine())
    host, port = rt.server.server_address
    script = ["!2", ADULT.policy_number + "#", DOB_KEYS + "#", "1"]
    t = AsteriskCall(host, port, sounds_dir=rt.cache.sounds_dir,
                     caller=ScriptedCaller(script)).run()
    said = " ".join(t.said)
    assert [e[2] for e in t.of("play")][:1] == ["2"]  # the greeting was interrupted by 2
    assert "У вас нет предстоящих записей" in said
    assert "To book" not in said and "Записаться — 1" not in said
