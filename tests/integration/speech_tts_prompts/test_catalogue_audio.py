"""Every prompt of both catalogues renders to 8 kHz 16-bit mono audio through the cache."""

from __future__ import annotations

import json
import wave
from datetime import date, datetime

import pytest

from booking_core.views import DoctorView, SlotOffer
from ivr.dialogue.catalogue import LOCALES, load_catalogue
from ivr.dialogue.phrasing import Phraser
from ivr.runtime import _normalize
from speech.prompt_cache import PAUSE_AFTER_COMMA, PromptCache
from speech.tts import create_engine


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return PromptCache(tmp_path_factory.mktemp("sounds"), create_engine("auto"),
                       normalize=_normalize)


def _samples(locale: str) -> list[str]:
    """Static prompts plus dynamic ones filled the way calls fill them."""
    cat = load_catalogue(locale)
    phrase = Phraser(cat, today=lambda: date(2026, 9, 7))
    offer = SlotOffer(1, datetime(2026, 9, 8, 17, 30), datetime(2026, 9, 8, 17, 45), "15",
                      DoctorView(1, "Кашинцева", "Галина", "Вячеславовна", "15", 1, 1))
    dynamic = [
        cat("offer_first", slot=phrase.slot(offer)),
        cat("confirm_booking", slot=phrase.slot(offer)),
        cat("reminder_intro", clinic="Городская поликлиника № 3",
            slot=phrase.slot(offer, full=True)),
        cat("policy_readback", digits=phrase.digits("7700000000000123", 4)),
        cat("booked", specialty="терапевт" if locale == "ru" else "therapist",
            doctor=phrase.name("Кашинцева Галина Вячеславовна"), when=phrase.when(offer),
            cabinet=phrase.cabinet("15"), code=phrase.digits("482913", 3)),
        cat("callback_saved", when=phrase.callback_when(datetime(2026, 9, 8, 8, 0))),
        cat("appointments_count", count=phrase.appointments(2)),
        cat("greeting", clinic="Городская поликлиника № 3"),
    ]
    return cat.static_texts() + [part for p in dynamic for part in p.parts]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_prompt_renders_to_asterisk_audio(cache, locale, tmp_path):
    durations = {}
    for text in _samples(locale):
        name = cache.path_for(text, locale)
        with wave.open(str(cache.wav_path(name)), "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 800, text  # at least 0.1 s of sound
        durations[text] = cache.duration(name)
        assert cache.text_for(name) == text
    # The caller-time benchmark reads these durations; a prompt must never take forever.
    assert max(durations.values()) < 30
    (tmp_path / f"durations-{locale}.json").write_text(json.dumps(durations, ensure_ascii=False))


def test_slot_sentence_is_said_as_people_say_it():
    """An offer says what the caller needs to choose: day, time, the doctor's surname;
    "завтра" for tomorrow.  A booked appointment (reminder) adds the full name and cabinet."""
    offer = SlotOffer(1, datetime(2026, 9, 8, 17, 30), datetime(2026, 9, 8, 17, 45), "15",
                      DoctorView(1, "Кашинцева", "Галина", "Вячеславовна", "15", 1, 1))
    phrase = Phraser(load_catalogue("ru"))
    assert phrase.slot(offer) == "вторник, восьмое сентября, в семнадцать тридцать, врач Кашинцева"
    assert phrase.slot(offer, full=True) == (
        "вторник, восьмое сентября, в семнадцать тридцать, "
        "врач Кашинцева Галина Вячеславовна, кабинет пятнадцать")
    tomorrow = Phraser(load_catalogue("ru"), today=lambda: date(2026, 9, 7))
    assert tomorrow.slot(offer) == "завтра в семнадцать тридцать, врач Кашинцева"
    later = Phraser(load_catalogue("ru"), today=lambda: date(2026, 9, 6))
    assert later.slot(offer).startswith("вторник, восьмое сентября")
    english = Phraser(load_catalogue("en"), today=lambda: date(2026, 9, 7))
    assert english.slot(offer).startswith("tomorrow, at ")


def test_personal_numbers_are_read_in_groups():
    """A policy in fours, a code in threes: one part per group, none holding a whole number."""
    phrase = Phraser(load_catalogue("ru"))
    assert phrase.digits("7700000000000123", 4) == [
        "семь семь ноль ноль,", "ноль ноль ноль ноль,", "ноль ноль ноль ноль,",
        "ноль один два три"]
    assert phrase.digits("482913", 3) == ["четыре восемь два,", "девять один три"]
    assert phrase.digits("42") == ["четыре", "два"]


def test_read_back_groups_are_heard_apart(cache):
    """A group ending in a comma keeps a pause after it: the caller hears «семь семь ноль
    ноль — ноль ноль ноль ноль», not one run of digits (trailing silence is trimmed)."""
    plain = cache.duration(cache.path_for("семь семь ноль ноль", "ru"))
    group = cache.duration(cache.path_for("семь семь ноль ноль,", "ru"))
    assert group - plain >= PAUSE_AFTER_COMMA * 0.8
    with wave.open(str(cache.wav_path(cache.path_for("семь семь ноль ноль,", "ru")))) as w:
        frames = w.readframes(w.getnframes())
    tail = frames[-int(PAUSE_AFTER_COMMA * 8000) * 2:]
    assert max(abs(int.from_bytes(tail[i:i + 2], "little", signed=True))
               for i in range(0, len(tail), 2)) < 200  # silence, not speech


def test_both_catalogues_have_the_same_keys_and_placeholders():
    import string

    ru, en = load_catalogue("ru").templates, load_catalogue("en").templates
    assert ru.keys() == en.keys()
    def fields(template: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f}

    for key in ru:
        assert fields(ru[key]) == fields(en[key]), key
