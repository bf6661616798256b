"""What the caller hears, in order: the hash after a number, the language key, limits told
when the specialty is chosen, and a registrar's sentences."""

from __future__ import annotations

import re
from datetime import datetime

from booking_core import booking, slots
from booking_core.actors import Actor
from booking_core.commands import BookSlot, FindSlots
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from models.tables import Channel
from support.world import demo, patient_id, specialty_id

ADULT = demo("adult")
DOB_KEYS = ADULT.birth_date.strftime("%d%m%Y")
IDENTIFY = [ADULT.policy_number, DOB_KEYS, "1"]


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


# --- item: early keys at the greeting, English on a key of its own ------------------------


def _english_call(container, make_deps, script):
    io = ScriptedCallIO(script)
    call = run_registry_call(io, make_deps(container), locale="en")
    return io, call


def test_two_pressed_during_the_greeting_is_my_appointments(container, dial):
    """A returning caller presses 2 early: «мои записи» in Russian, not English."""
    io, call = dial(container, ["2", *IDENTIFY])
    assert call.state.locale == "ru" and call.record.data.intent == "my_appointments"
    assert "main_menu" not in io.transcript.keys
    assert "no_appointments" in io.transcript.keys
    assert "Полис" in io.transcript.text


def test_three_pressed_during_the_greeting_is_a_home_visit(container, dial):
    io, call = dial(container, ["3", *IDENTIFY])
    assert call.state.locale == "ru" and call.record.data.intent == "home_visit"


def test_english_is_on_a_key_the_main_menu_does_not_use(container, dial):
    io, call = dial(container, ["9", "1", *IDENTIFY, "1", "1"])
    assert call.state.locale == "en"
    asked = [t for kind, _, t in io.transcript.events if kind == "ask"]
    assert "For English, press 9." in asked[0]
    assert "To book, press 1" in asked[1]
    offer = next(t for _, k, t in io.transcript.events if k == "offer")
    # Russian names in Latin letters for the English voice.
    assert "doctor Kashintseva" in offer
    assert not re.search("[а-яё]", io.transcript.text.split("\n", 1)[1], re.IGNORECASE)


def test_an_english_caller_is_not_offered_english_again(container, make_deps):
    io, _ = _english_call(container, make_deps, [None, "0"])
    assert "language" not in io.transcript.keys
    greeting = next(t for _, k, t in io.transcript.events if k == "greeting")
    assert "Gorodskaya poliklinika No. 3" in greeting
    assert "For English" not in io.transcript.text


# --- item: limits told when the specialty is chosen, the horizon said as such --------------


def _book_therapist(container) -> None:
    pid = patient_id(container, "adult")
    offer = slots.find_free_slots(
        FindSlots(pid, specialty_id(container, "therapist"), Channel.IVR, limit=1),
        container.uow())[0]
    booking.book(BookSlot(pid, offer.slot_id, Actor.patient(pid, Channel.IVR, "")),
                 container.uow())


def test_a_blocked_caller_is_told_before_the_specialty_menu(container, dial):
    blocked = demo("3 no-shows")
    script = [None, "1", blocked.policy_number, blocked.birth_date.strftime("%d%m%Y"), "1"]
    io, _ = dial(container, script)
    keys = io.transcript.keys
    assert "booking_blocked" in keys
    assert "choose_specialty" not in keys and "offer" not in keys
    assert io.transcript.variables["REG_REASON"] == "booking_blocked"


def test_a_held_specialty_is_told_on_choice_and_can_be_moved(container, dial):
    _book_therapist(container)
    before = booking.patient_appointments(patient_id(container, "adult"), container.uow())[0]
    io, _ = dial(container, [None, "1", *IDENTIFY, "1", "1", "2", "1"])
    keys = io.transcript.keys
    # Right after the choice, before any slot: which appointment, and an offer to move it.
    assert keys[keys.index("choose_specialty") + 1] == "held_specialty"
    held = next(t for _, k, t in io.transcript.events if k == "held_specialty")
    assert "«терапевт»" in held and "Перенести её — 1" in held
    assert "limit_specialty" not in keys and "rescheduled" in keys
    after = booking.patient_appointments(patient_id(container, "adult"), container.uow())
    assert len(after) == 1 and after[0].starts_at != before.starts_at


def test_a_held_specialty_lets_the_caller_choose_another(container, dial):
    _book_therapist(container)
    io, _ = dial(container, [None, "1", *IDENTIFY, "1", "2", "2", "1"])
    keys = io.transcript.keys
    assert keys.count("choose_specialty") == 2 and "booked" in keys
    codes = {a.specialty.code for a in booking.patient_appointments(
        patient_id(container, "adult"), container.uow())}
    assert len(codes) == 2 and "therapist" in codes


def test_a_day_beyond_the_horizon_is_told_as_the_horizon(container, dial):
    """1 October is more than 14 days after 7 September: not «свободного времени нет»."""
    io, _ = dial(container, [None, "1", *IDENTIFY, "1", "3", "0110", "1509", "1"])
    keys = io.transcript.keys
    assert "no_slots_on_day" not in keys
    said = next(t for _, k, t in io.transcript.events if k == "beyond_horizon")
    assert "По телефону запись на две недели вперёд" in said
    appt = booking.patient_appointments(patient_id(container, "adult"), container.uow())[0]
    assert appt.starts_at.date().isoformat() == "2026-09-15"


# --- item: a registrar's sentences ---------------------------------------------------------


def _said(io, key: str) -> str:
    return next(t for _, k, t in io.transcript.events if k == key)


def test_the_booking_ends_with_a_registrars_summary(container, dial):
    """Specialty, doctor, day, time, cabinet, then the talon — in that order."""
    io, _ = dial(container, [None, "1", *IDENTIFY, "1", "1"])
    booked = _said(io, "booked")
    order = ["Вы записаны: терапевт", "Кашинцева", "завтра",
             "в восемь ноль-ноль", "кабинет пятнадцать", "Талон"]
    positions = [booked.index(part) for part in order]
    assert positions == sorted(positions), booked


def test_the_data_notice_comes_once_before_the_policy(container, dial):
    wrong = ADULT.policy_number[:-1] + str((int(ADULT.policy_number[-1]) + 1) % 10)
    io, _ = dial(container, [None, "1", wrong, *IDENTIFY])
    keys = io.transcript.keys
    assert keys.count("privacy_notice") == 1
    assert keys.index("privacy_notice") + 1 == keys.index("ask_policy")
    assert "персональные данные" in _said(io, "privacy_notice").lower()


def test_the_date_question_says_eight_digits(container, dial):
    io, _ = dial(container, [None, "1", ADULT.policy_number, "hangup"])
    assert "восемь цифр" in _said(io, "ask_birth_date")


def test_hours_are_said_as_people_say_them(container, dial):
    container.clock.set(container.clock.now_local().replace(hour=21, minute=0))
    io, _ = dial(container, [None, "0", "1"], agents=False)
    assert "работают с восьми утра до восьми вечера." in _said(io, "after_hours")
    assert "Мы перезвоним вам завтра после восьми утра." in _said(io, "callback_saved")


def test_a_callback_before_opening_is_today(container, dial):
    container.clock.set(container.clock.now_local().replace(hour=6, minute=30))
    io, _ = dial(container, [None, "0", "1"], agents=False)
    assert "перезвоним вам сегодня после восьми утра" in _said(io, "callback_saved")


def test_a_callback_after_a_weekend_names_the_day(container, dial):
    """Friday night, the desk's hours (closed at weekends) open on Monday: «в понедельник»."""
    friday = datetime(2026, 9, 11, 21, 0)
    container.clock.set(friday)
    io, _ = dial(container, [None, "0", "1"], agents=False)
    assert "перезвоним вам в понедельник после восьми утра" in _said(io, "callback_saved")


def test_prompts_use_phone_wording():
    """No web words on the phone («в разделе»): a caller is told which key to press."""
    from ivr.dialogue.catalogue import load_catalogue

    for text in load_catalogue("ru").templates.values():
        assert "раздел" not in text, text
