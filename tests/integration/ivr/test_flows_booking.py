"""Booking by phone, as scripts of key presses: what the caller hears, what gets booked."""

from __future__ import annotations

from booking_core import booking, calls
from ivr.io import Speech
from support.world import demo, patient_id

ADULT = demo("adult")
DOB_KEYS = ADULT.birth_date.strftime("%d%m%Y")


def identify_keys(policy: str = ADULT.policy_number, dob: str = DOB_KEYS) -> list:
    """Policy, date of birth, then 1 to the read-back of both."""
    return [policy, dob, "1"]


def test_book_nearest_therapist_by_keys(container, dial):
    """The DESIGN's happy path: 1 book, policy, DOB, therapist, 1 takes the first offer."""
    script = [None, "1", *identify_keys(), "1", "1"]
    io, call = dial(container, script)
    keys = io.transcript.keys
    assert keys[:3] == ["greeting", "language", "main_menu"]
    assert "identified" in keys and "booked" in keys and keys[-1] == "goodbye"
    # A key press on the offer books it: no second read-back of the slot, and once booked
    # (code read twice) the call says goodbye without asking for anything else.
    assert "confirm_booking" not in keys and "anything_else" not in keys
    appts = booking.patient_appointments(patient_id(container, "adult"), container.uow())
    assert len(appts) == 1 and appts[0].specialty.code == "therapist"
    code = appts[0].confirmation_code
    booked_text = next(t for _, k, t in io.transcript.events if k == "booked")
    assert booked_text.count(" ".join(call.phrase.digits(code, 3))) == 2
    assert "кабинет пятнадцать" in booked_text
    offer = next(t for kind, key, t in io.transcript.events if key == "offer")
    # Day, time and the doctor's surname: the full name and cabinet come with the booking.
    assert "завтра в восемь ноль-ноль, врач Кашинцева." in offer
    assert "Галина" not in offer and "кабинет" not in offer
    record = calls.get_call(call.state.call_id, container.uow())
    assert record.outcome == "booked" and record.appointment_id == appts[0].id
    assert ADULT.policy_number not in str(record.steps)
    assert not io.transcript.escalated


def test_barge_in_digit_is_not_lost(container, dial):
    """Pressing 1 during the greeting skips straight into booking, no key lost."""
    script = ["!1", *identify_keys(), "1", "1"]
    io, _ = dial(container, script)
    assert "main_menu" not in io.transcript.keys
    assert "booked" in io.transcript.keys


def test_next_time_then_take(container, dial):
    script = [None, "1", *identify_keys(), "1", "2", "1"]
    io, _ = dial(container, script)
    assert [k for k in io.transcript.keys if k == "offer"] == ["offer", "offer"]
    offers = [t for _, k, t in io.transcript.events if k == "offer"]
    assert offers[1].startswith("Следующее время")
    appt = booking.patient_appointments(patient_id(container, "adult"), container.uow())[0]
    assert appt.starts_at.strftime("%H:%M") == "08:15"


def test_another_day_by_keys(container, dial):
    """3 → the caller types 1509 → the offer is on 15 September."""
    script = [None, "1", *identify_keys(), "1", "3", "1509", "1"]
    io, _ = dial(container, script)
    appt = booking.patient_appointments(patient_id(container, "adult"), container.uow())[0]
    assert appt.starts_at.date().isoformat() == "2026-09-15"


def test_another_doctor(container, dial):
    script = [None, "1", *identify_keys(), "1", "4", "1"]
    io, _ = dial(container, script)
    appt = booking.patient_appointments(patient_id(container, "adult"), container.uow())[0]
    assert appt.doctor.last_name != "Кашинцева"


def test_star_repeats_the_menu(container, dial):
    script = [None, "*", "1", *identify_keys(), "1", "1"]
    io, _ = dial(container, script)
    assert io.transcript.keys.count("main_menu") == 2
    assert "booked" in io.transcript.keys


def test_policy_typo_is_caught_and_retyped(container, dial):
    bad = ADULT.policy_number[:-1] + str((int(ADULT.policy_number[-1]) + 1) % 10)
    script = [None, "1", bad, *identify_keys(), "1", "1"]
    io, _ = dial(container, script)
    assert "policy_bad_check" in io.transcript.keys
    assert "booked" in io.transcript.keys


def test_short_policy_says_how_many_digits(container, dial):
    script = [None, "1", "12345", *identify_keys(), "1", "1"]
    io, _ = dial(container, script)
    said = next(t for _, k, t in io.transcript.events if k == "policy_bad_length")
    assert "5" in said


def test_policy_and_birth_date_are_read_back_together(container, dial):
    """One read-back: the policy in groups of four digits, then the date of birth."""
    io, _ = dial(container, [None, "1", *identify_keys(), "1", "1"])
    (readback,) = [e for e in io.transcript.events if e[1] == "identity_readback"]
    assert readback[2] == ("Полис: семь семь ноль ноль, ноль ноль ноль ноль, ноль ноль ноль "
                           "ноль, ноль один два три Дата рождения: пятое марта тысяча "
                           "девятьсот восемьдесят пятого Верно — 1, нет — 2.")
    assert "booked" in io.transcript.keys


def test_no_to_the_readback_corrects_the_policy(container, dial):
    """2 = not right; 1 = the policy is wrong: typed again, both read back again."""
    script = [None, "1", ADULT.policy_number, DOB_KEYS, "2", "1", *identify_keys()[:1], "1",
              "1", "1"]
    io, _ = dial(container, script)
    keys = io.transcript.keys
    assert keys.count("identity_readback") == 2 and "identity_fix" in keys
    assert keys.count("ask_policy") == 2 and keys.count("ask_birth_date") == 1
    assert "booked" in keys


def test_no_to_the_readback_corrects_the_birth_date(container, dial):
    wrong = "06031985"
    script = [None, "1", ADULT.policy_number, wrong, "2", "2", DOB_KEYS, "1", "1", "1"]
    io, _ = dial(container, script)
    readbacks = [t for _, k, t in io.transcript.events if k == "identity_readback"]
    assert "шестое марта" in readbacks[0] and "пятое марта" in readbacks[1]
    assert io.transcript.keys.count("ask_policy") == 1
    assert "booked" in io.transcript.keys


def test_readback_denied_every_time_escalates(container, dial):
    script = [None, "1", ADULT.policy_number, DOB_KEYS,
              "2", "2", DOB_KEYS, "2", "2", DOB_KEYS, "2", "2", DOB_KEYS]
    io, _ = dial(container, script)
    assert io.transcript.escalated
    assert io.transcript.variables["REG_REASON"] == "birth_date_entry_failed"


def test_spoken_answers_go_through_the_same_path(container, dial):
    """Speech events (as Vosk would give them) identify and book like keys do."""
    policy_words = "семь семь " + "ноль " * 11 + "один два три"
    dob_words = "пятое марта тысяча девятьсот восемьдесят пятого года"
    script = [None, Speech("записаться"), Speech(policy_words), Speech(dob_words),
              Speech("да"), Speech("терапевт"), Speech("да, запишите"), Speech("да")]
    io, _ = dial(container, script)
    assert "booked" in io.transcript.keys, io.transcript.keys
    # A slot taken by voice is read back first: speech can be misheard, a key can't.
    confirm = next(t for _, k, t in io.transcript.events if k == "confirm_booking")
    assert confirm.startswith("Записать вас: завтра в восемь ноль-ноль, врач Кашинцева?")


def test_spoken_take_declined_offers_again(container, dial):
    """"Запишите" → "Записать вас: ...?" → "нет": nothing booked, the offers start again;
    then 1 on the keypad books at once."""
    script = [None, "1", *identify_keys(), "1", Speech("запишите"), Speech("нет"), "1"]
    io, _ = dial(container, script)
    keys = io.transcript.keys
    assert keys.count("confirm_booking") == 1 and keys.count("offer") == 2
    assert keys.index("confirm_booking") < keys.index("booked")
    assert "booked" in keys


def test_said_matches_whole_words_only():
    """"неверно" is a no, even though it contains "верно"."""
    from ivr.dialogue.call import says

    assert says("неверно", "неверно") and not says("неверно", "верно")
    assert says("хочу отменить запись", "отмен") and says("вызов врача на дом", "на дом")
    assert not says("дома", "на дом")
