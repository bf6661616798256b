"""Spoken answers (as the recogniser gives them) through the same flows as keys."""

from __future__ import annotations

from booking_core import booking
from ivr.io import Speech
from support.world import demo, patient_id

ADULT = demo("adult")
POLICY_WORDS = "семь семь " + "ноль " * 11 + "один два три"
DOB_KEYS = ADULT.birth_date.strftime("%d%m%Y")


def test_policy_in_spoken_groups_and_two_digit_year(container, dial):
    """People say numbers in groups and years short: "…восемьдесят пятого"."""
    grouped = "семьдесят семь " + "ноль " * 11 + "сто двадцать три"
    script = [None, Speech("записаться"), Speech(grouped),
              Speech("пятое марта восемьдесят пятого года"), Speech("верно"), Speech("терапевт"),
              Speech("да"), Speech("да")]
    io, _ = dial(container, script)
    assert "booked" in io.transcript.keys, io.transcript.keys


def test_neverno_means_no(container, dial):
    script = [None, "1", Speech(POLICY_WORDS), DOB_KEYS, Speech("неверно"), "hangup"]
    io, _ = dial(container, script)
    assert "identity_fix" in io.transcript.keys and "identified" not in io.transcript.keys


def test_operator_said_anywhere_escalates(container, dial):
    io, _ = dial(container, [None, "1", Speech("позовите оператора")])
    assert io.transcript.variables["REG_REASON"] == "caller_request"


def test_low_confidence_is_asked_again(container, dial):
    script = [None, "1", Speech(POLICY_WORDS, confidence=0.2), Speech(POLICY_WORDS),
              DOB_KEYS, Speech("да"), "hangup"]
    io, _ = dial(container, script)
    assert "speech_not_understood" in io.transcript.keys
    assert "identity_readback" in io.transcript.keys and "identified" in io.transcript.keys


def test_repeated_misses_fall_back_to_the_keypad(container, dial):
    script = [None, "1", Speech("э-э ну как его"), Speech("не помню"), ADULT.policy_number,
              DOB_KEYS, "1", "hangup"]
    io, _ = dial(container, script)
    assert "speech_off" in io.transcript.keys
    # From then on the questions no longer accept speech.
    after = [g for key, _, g in io.collects if key == "ask_birth_date"]
    assert after == [None]
    assert "identified" in io.transcript.keys


def test_cancel_by_voice(container, dial):
    from booking_core import slots
    from booking_core.commands import BookSlot, FindSlots
    from models.tables import Channel
    from support.world import IVR, specialty_id

    pid = patient_id(container, "adult")
    offer = slots.find_free_slots(FindSlots(pid, specialty_id(container, "therapist"),
                                            Channel.IVR), container.uow())[0]
    appt = booking.book(BookSlot(pid, offer.slot_id, IVR), container.uow())
    script = [None, Speech("хочу отменить запись"), Speech(POLICY_WORDS),
              Speech("пятое марта тысяча девятьсот восемьдесят пятого"), Speech("да"),
              Speech("отменить"), Speech("да")]
    io, _ = dial(container, script)
    assert booking.get_appointment(appt.id, container.uow()).status == "cancelled"
