"""Per-question phrase lists for the recogniser (pure text, no model needed)."""

from __future__ import annotations

from datetime import date

import pytest

from ivr.dialogue.call import Call
from ivr.dialogue.flows import MAIN_WORDS, OFFER_WORDS
from ivr.io import Speech
from speech import en_words, grammars, ru_dates, ru_numbers

ALL_QUESTIONS = grammars.QUESTIONS


def _vocabulary(phrases: list[str]) -> set[str]:
    return {word for phrase in phrases for word in phrase.split()}


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize("name", ALL_QUESTIONS)
def test_every_question_has_clean_phrases(name: str, locale: str) -> None:
    phrases = grammars.for_question(name, locale, extra=["Терапевт"] if locale == "ru" else [])
    assert phrases
    assert len(phrases) == len(set(phrases)), "no duplicates"
    for phrase in phrases:
        assert phrase == phrase.strip().lower()
        assert "  " not in phrase and "-" not in phrase and "," not in phrase
    # The operator is reachable from every question.
    assert set(grammars.operator(locale)) <= set(phrases)


def test_russian_digits_cover_dictation() -> None:
    words = grammars.digits("ru")
    assert words[:10] == list(ru_numbers.DIGIT_WORDS)
    for word in ("десять", "девятнадцать", "двадцать", "девяносто", "сто", "девятьсот"):
        assert word in words
    for word in ("тысяча", "тысячи", "одна", "две", "нуль"):
        assert word in words
    # Built from the number tables: every word is a number the parser understands.
    for word in words:
        assert ru_numbers.parse_number(word) is not None, word
    # Any policy number said in groups uses only grammar words.
    spoken = "четыреста пятьдесят шесть двадцать один ноль восемь семнадцать"
    assert set(spoken.split()) <= set(words)
    assert ru_numbers.parse_digits(spoken) == "4562108" + "17"


def test_english_digits() -> None:
    words = grammars.digits("en-US")
    for word in ("zero", "oh", "one", "nine", "eleven", "nineteen", "twenty", "ninety"):
        assert word in words
    assert en_words.parse_digits(" ".join(["four", "oh", "seven"])) == "407"
    assert all("-" not in w for w in words)


def test_yes_no() -> None:
    assert grammars.yes_no("ru") == ["да", "нет", "верно", "неверно", "правильно"]
    assert grammars.yes_no("en") == ["yes", "no"]


def test_russian_dates_cover_a_birth_date_and_a_day() -> None:
    phrases = grammars.dates("ru")
    vocabulary = _vocabulary(phrases)
    assert "первое" in phrases and "тридцать первое" in phrases
    assert "первого" in phrases and "тридцать первого" in phrases
    assert set(ru_dates.MONTHS_GEN) <= set(phrases)
    assert "тысяча девятьсот восемьдесят пятого года" in phrases
    assert "две тысячи" in phrases
    for word in ("завтра", "послезавтра", "сегодня", "в среду"):
        assert word in phrases
    # Every word of what a registrar would say back is in the grammar, and parses back.
    born = date(1985, 3, 5)
    said = ru_dates.say_birth_date(born)
    assert set(ru_numbers.tokenize(said)) <= {ru_numbers.fold(w) for w in vocabulary} | vocabulary
    assert ru_dates.parse_birth_date(said) == born
    # Short forms a caller uses are word sequences of the grammar too.
    assert {"пятое", "марта", "восемьдесят", "пятого"} <= vocabulary


def test_english_dates() -> None:
    phrases = grammars.dates("en")
    assert "twenty first" in phrases and "the thirty first" in phrases
    assert "march" in phrases and "tomorrow" in phrases
    assert "nineteen eighty five" in phrases
    said = "the fifth of march nineteen eighty five"
    assert set(said.split()) <= _vocabulary(phrases)
    assert en_words.parse_date(said) == date(1985, 3, 5)


def test_birth_date_question_also_takes_dictated_digits() -> None:
    phrases = grammars.for_question("birth_date", "ru")
    assert set(grammars.dates("ru")) <= set(phrases)
    assert set(grammars.digits("ru")) <= set(phrases)
    assert grammars.for_question("day", "ru") == phrases


def test_specialties_normalised() -> None:
    names = ["Терапевт", " участковый  терапевт ", "", "терапевт", "Лор-врач", "Ophthalmologist"]
    assert grammars.specialties(names) == [
        "терапевт",
        "участковый терапевт",
        "лор врач",
        "ophthalmologist",
    ]
    phrases = grammars.for_question("specialty", "ru", extra=names)
    assert phrases[:4] == grammars.specialties(names)
    assert "оператор" in phrases


def test_aliases_and_errors() -> None:
    assert grammars.for_question("main_menu", "ru") == grammars.for_question("menu", "ru")
    for step in ("policy_readback", "birth_date_readback", "confirm_booking", "confirm_cancel"):
        assert grammars.for_question(step, "ru") == grammars.for_question("yes_no", "ru")
    with pytest.raises(ValueError, match="unknown question"):
        grammars.for_question("weather", "ru")
    with pytest.raises(ValueError, match="no grammars"):
        grammars.digits("de")
    with pytest.raises(TypeError):
        grammars.for_question("menu", "ru", extra="терапевт")


def test_extra_phrases_are_appended() -> None:
    phrases = grammars.for_question("yes_no", "ru", extra=["Конечно", "да"])
    assert phrases[:5] == grammars.yes_no("ru")
    assert "конечно" in phrases and phrases.count("да") == 1


def _understood(phrase: str, words: dict[str, str]) -> str | None:
    return Call._choice(Speech(phrase), words)


@pytest.mark.parametrize("phrase", grammars.main_menu("ru") + grammars.main_menu("en"))
def test_main_menu_phrases_are_understood_by_the_flow(phrase: str) -> None:
    expected = {"запис": "1", "book": "1", "мои": "2", "отмен": "2", "перенес": "2",
                "cancel": "2", "appointments": "2", "дом": "3", "home": "3"}  # fmt: skip
    choice = _understood(phrase, MAIN_WORDS)
    assert choice is not None, phrase
    # The most specific cue decides: "мои записи" is "my appointments", not "book".
    key = next(k for k in ("мои", "отмен", "перенес", "дом", "home", "appointments", "cancel",
                           "запис", "book") if k in phrase)  # fmt: skip
    assert choice == expected[key], phrase


@pytest.mark.parametrize("phrase", grammars.offer("ru"))
def test_offer_phrases_are_understood_by_the_flow(phrase: str) -> None:
    assert _understood(phrase, OFFER_WORDS) is not None, phrase


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_operator_words_escalate(locale: str) -> None:
    for phrase in grammars.operator(locale):
        assert _understood(phrase, {}) == "0"
