"""SMS texts: what each message says, in how many segments; replies; phone numbers."""

from __future__ import annotations

import tomllib
from datetime import datetime
from importlib import resources

import pytest

from booking_core.notifications import (
    format_when,
    load_texts,
    normalize_phone,
    render,
    render_template,
)
from booking_core.outbox import backoff_delay
from booking_core.reminders import parse_reply

CLINIC = "Городская поликлиника № 3"
FACTS = {
    "clinic": CLINIC, "phone": "+74951234567", "doctor": "Кашинцева Г.В.",
    "specialty_ru": "Терапевт", "specialty_en": "General practitioner",
    "starts_at": datetime(2026, 9, 8, 17, 30).isoformat(), "cabinet": "15", "code": "482913",
}
SUBSTITUTE = {"doctor": "Орлов А.Н.", "starts_at": datetime(2026, 9, 9, 14, 15).isoformat(),
              "cabinet": "16", "slot_id": 1}


def test_catalogues_have_the_same_keys_and_placeholders():
    ru, en = load_texts("ru"), load_texts("en")
    assert ru.keys() == en.keys()
    for name in ("ru", "en"):
        raw = resources.files("sms").joinpath("texts", f"{name}.toml").read_text("utf-8")
        assert tomllib.loads(raw)  # valid TOML
    # Every key renders with the values the renderer provides.
    for key in ru:
        for locale in ("ru", "en"):
            facts = FACTS | {"old_starts_at": FACTS["starts_at"], "substitute": SUBSTITUTE}
            assert render_template(key.removesuffix("_short"), facts, locale).text


def test_english_templates_themselves_are_gsm7():
    from sms.segments import is_gsm7

    for key, template in load_texts("en").items():
        assert is_gsm7(template.replace("{", "").replace("}", "")), key


def test_dates_are_digits_and_short_words():
    at = datetime(2026, 9, 8, 17, 30)
    assert format_when(at) == "вт 08.09 в 17:30"
    assert format_when(at, "en") == "Tue 8 Sep 17:30"
    assert format_when(datetime(2026, 9, 13, 9, 5)) == "вс 13.09 в 09:05"


def test_booking_text_has_every_fact_in_two_segments_with_the_full_clinic_name():
    r = render("booked", FACTS)
    for part in (CLINIC, "Кашинцева Г.В.", "вт 08.09 в 17:30", "каб. 15", "482913",
                 "Отмена: ответьте 2"):
        assert part in r.text
    assert (r.info.encoding, r.info.segments) == ("UCS-2", 2)
    assert r.template == "booked"  # the full text costs no more than the short one


def test_the_short_variant_is_chosen_when_it_saves_a_segment():
    r = render("reminder", FACTS)
    assert r.template == "reminder_short" and r.info.segments == 2
    assert r.text == (f"{CLINIC}: завтра вт 08.09 в 17:30, Кашинцева Г.В., каб. 15. "
                      "Ответьте 1 — подтвердить, 2 — отменить")


def test_cancellation_fits_one_segment():
    r = render("cancelled", FACTS)
    assert r.info.segments == 1 and r.text == f"{CLINIC}: запись вт 08.09 в 17:30 отменена."
    short_name = render("cancelled", FACTS, sender_name="ГП № 3")
    assert short_name.text == "ГП № 3: запись к врачу Кашинцева Г.В. вт 08.09 в 17:30 отменена."
    assert short_name.info.segments == 1


@pytest.mark.parametrize(("kind", "sender", "segments"), [
    ("booked", "", 2), ("booked", "ГП № 3", 2),
    ("rescheduled", "", 2), ("reminder", "", 2), ("reminder", "ГП № 3", 2),
    ("cancelled", "", 1), ("absence", "", 3), ("absence", "ГП № 3", 2),
])
def test_segment_budget_per_kind(kind, sender, segments):
    facts = FACTS | {"old_starts_at": FACTS["starts_at"], "substitute": SUBSTITUTE}
    assert render(kind, facts, sender_name=sender).info.segments == segments


def test_absence_text_names_the_substitute_slot():
    r = render("absence", FACTS | {"substitute": SUBSTITUTE})
    assert "Орлов А.Н." in r.text and "ср 09.09 в 14:15" in r.text and "16" in r.text
    assert "+74951234567" in r.text
    none = render("absence", FACTS | {"substitute": None})
    assert none.template.startswith("absence_no_substitute") and "+74951234567" in none.text


def test_reply_answers_fit_one_segment():
    for key in ("reply_confirmed", "reply_cancelled", "reply_already_cancelled",
                "reply_not_cancellable", "reply_help", "reply_no_appointment"):
        for locale in ("ru", "en"):
            assert render_template(key, FACTS, locale).info.segments == 1, (key, locale)


def test_english_booking_text():
    r = render("booked", FACTS | {"clinic": "City Clinic 3"}, "en")
    assert "Tue 8 Sep 17:30" in r.text and "482913" in r.text and "reply 2" in r.text
    assert "general practitioner" in r.text or r.template == "booked_short"


@pytest.mark.parametrize(("body", "intent"), [
    ("1", "confirm"), (" 1. ", "confirm"), ("Да", "confirm"), ("да!", "confirm"),
    ("2", "cancel"), ("Отмена", "cancel"), ("отменить", "cancel"), ("CANCEL", "cancel"),
    ("что?", None), ("", None), ("12", None), ("1 2", None), ("приду в 2", None),
    ("нет", None), ("2 марта", None), ("😀", None),
])
def test_parse_reply(body, intent):
    assert parse_reply(body) == intent


@pytest.mark.parametrize(("raw", "e164"), [
    ("+79161234567", "+79161234567"), ("8 (916) 123-45-67", "+79161234567"),
    ("79161234567", "+79161234567"), ("9161234567", "+79161234567"),
    ("+1 500 555 0006", "+15005550006"), ("", ""), ("12345", ""), ("anonymous", ""),
])
def test_normalize_phone(raw, e164):
    assert normalize_phone(raw) == e164


def test_backoff_grows_exponentially_to_a_cap():
    plain = [backoff_delay(n, jitter=0) for n in range(1, 10)]
    assert plain[:4] == [30, 60, 120, 240]
    assert plain[-1] == 3600
    assert all(27 <= backoff_delay(1) <= 33 for _ in range(50))


@pytest.mark.parametrize("kind", ["schedule_changed", "doctor_left"])
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_flagged_visit_texts_name_a_colleagues_slot_or_promise_a_call(kind, locale):
    with_sub = render(kind, FACTS | {"substitute": SUBSTITUTE}, locale)
    assert with_sub.template.startswith(kind) and "no_substitute" not in with_sub.template
    assert "Орлов А.Н." in with_sub.text and "+74951234567" in with_sub.text
    assert "{" not in with_sub.text and with_sub.info.segments <= 3
    without = render(kind, FACTS | {"substitute": None}, locale)
    assert without.template.startswith(f"{kind}_no_substitute")
    assert "+74951234567" in without.text and without.info.segments <= 3
    assert ("ответьте 2" if locale == "ru" else "reply 2") in without.text
