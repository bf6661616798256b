"""Phrase lists that constrain speech recognition, one per question the IVR asks.

A grammar-constrained recogniser (see :mod:`speech.asr`) only ever returns words from the list
it is given, which is what makes a small model usable on the phone: "два" cannot come back as
"дома" when "дома" is not in the list.  The lists here are built from the word tables of
:mod:`speech.ru_numbers`, :mod:`speech.ru_dates` and :mod:`speech.en_words`, so the recogniser and
the parsers that read its output agree on every word.

Vosk treats a grammar as "any sequence of these phrases", so single words are enough for
dictated digits; multi-word phrases ("мои записи", "тысяча девятьсот восемьдесят пятого года")
are added where they make the likely answers more probable than loose word sequences.

Every phrase is lower case, hyphens become spaces ("twenty-first" -> "twenty first", the form
a recogniser's vocabulary holds) and Russian keeps "ё" where spelling has it; the recogniser
falls back to "е" for models whose vocabulary has no "ё".  Every question also accepts the words
for "operator", which the dialogue treats as a request for a human at any point.

Question names (:func:`for_question`) are the step names the IVR gives its questions:
``policy``, ``birth_date``, ``day``, ``menu`` (also ``main_menu``), ``yes_no`` (also any
``*_readback`` and ``confirm_*`` step), ``specialty``, ``offer`` and ``appointment``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

from speech import en_words, ru_dates, ru_numbers
from speech.tts import language_of

logger = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("ru", "en")
#: Years offered as whole phrases (birth dates and appointment days); other years are still
#: reachable word by word.
YEAR_RANGE = range(1900, 2051)

_OPERATOR: dict[str, tuple[str, ...]] = {
    "ru": ("оператор", "оператора", "регистратор"),
    "en": ("operator", "agent"),
}
_YES_NO: dict[str, tuple[str, ...]] = {
    "ru": ("да", "нет", "верно", "неверно", "правильно"),
    "en": ("yes", "no"),
}
_MAIN_MENU: dict[str, tuple[str, ...]] = {
    "ru": (
        "записаться",
        "записаться к врачу",
        "запись к врачу",
        "мои записи",
        "отменить",
        "отменить запись",
        "перенести",
        "перенести запись",
        "вызов врача на дом",
        "вызвать врача на дом",
        "врача на дом",
    ),
    "en": (
        "book",
        "book an appointment",
        "my appointments",
        "cancel",
        "cancel an appointment",
        "home visit",
        "doctor at home",
    ),
}
_OFFER: dict[str, tuple[str, ...]] = {
    "ru": (
        "да",
        "запишите",
        "запишите меня",
        "следующий",
        "следующее",
        "следующее время",
        "другое",
        "другое время",
        "другой день",
        "другой врач",
    ),
    "en": ("yes", "next", "another time", "another day", "another doctor"),
}
_APPOINTMENT: dict[str, tuple[str, ...]] = {
    "ru": (
        "отменить",
        "отменить запись",
        "перенести",
        "перенести запись",
        "следующая",
        "следующую",
        "следующая запись",
    ),
    "en": ("cancel", "reschedule", "next", "next appointment"),
}
_RELATIVE_DAYS: dict[str, tuple[str, ...]] = {
    "ru": ("сегодня", "завтра", "послезавтра", "число", "числа"),
    "en": ("today", "tomorrow", "the", "of", "next"),
}

_SPACE_RE = re.compile(r"[\s\-\u2010-\u2015]+")
_PUNCT_RE = re.compile(r"[.,!?;:«»\"()]")


def normalize_phrase(phrase: str) -> str:
    """A phrase as recogniser vocabularies spell it: lower case, single spaces, no hyphens."""
    return _SPACE_RE.sub(" ", _PUNCT_RE.sub(" ", phrase.lower())).strip()


def _unique(phrases: Iterable[str]) -> list[str]:
    """Normalised phrases in first-seen order, without empties and duplicates."""
    seen: dict[str, None] = {}
    for phrase in phrases:
        text = normalize_phrase(phrase)
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _language(locale: str) -> str:
    lang = language_of(locale)
    if lang not in LANGUAGES:
        raise ValueError(f"no grammars for locale {locale!r}; expected one of {LANGUAGES}")
    return lang


# ---------------------------------------------------------------------------------------------
# Phrase lists
# ---------------------------------------------------------------------------------------------


def _number_values() -> list[int]:
    """0..19, the tens and the hundreds: every single-word cardinal below a thousand."""
    return [*range(20), *range(20, 100, 10), *range(100, 1000, 100)]


def digits(locale: str) -> list[str]:
    """Words a caller may use to dictate a number (a policy, a date as digits).

    Russian: "ноль".."девять", "десять".."девятнадцать", "двадцать".."девяносто",
    "сто".."девятьсот", "тысяча"/"тысячи"/"тысяч", the feminine "одна"/"две" and "нуль".
    English: "zero".."nineteen", the tens, "hundred", "thousand" and "oh".
    """
    if _language(locale) == "ru":
        words = [ru_numbers.number_to_words(n) for n in _number_values()]
        words += [ru_numbers.number_to_words(n, "f") for n in (1, 2)]
        words += [
            ru_numbers.number_to_words(1000),  # тысяча
            ru_numbers.number_to_words(2000).split()[-1],  # тысячи
            ru_numbers.number_to_words(5000).split()[-1],  # тысяч
            "нуль",
        ]
        return _unique(words)
    words = [en_words.number_to_words(n) for n in range(20)]
    words += [en_words.number_to_words(n) for n in range(20, 100, 10)]
    words += ["hundred", "thousand", "oh"]
    return _unique(words)


def yes_no(locale: str) -> list[str]:
    """Answers to a yes/no question ("да", "нет", "верно", "неверно", "правильно"; "yes", "no")."""
    return _unique(_YES_NO[_language(locale)])


def main_menu(locale: str) -> list[str]:
    """Answers to the main menu: book, my appointments, cancel, reschedule, home visit."""
    return _unique(_MAIN_MENU[_language(locale)])


def offer(locale: str) -> list[str]:
    """Answers to a slot offer: take it, the next one, another day, another doctor."""
    return _unique(_OFFER[_language(locale)])


def appointment(locale: str) -> list[str]:
    """Answers about one existing appointment: cancel, reschedule, go to the next one."""
    return _unique(_APPOINTMENT[_language(locale)])


def operator(locale: str) -> list[str]:
    """The words for "a human, please", accepted by every question."""
    return _unique(_OPERATOR[_language(locale)])


def _ru_dates() -> list[str]:
    phrases: list[str] = []
    days = range(1, 32)
    # "первое".."тридцать первое" and "первого".."тридцать первого" (a date is neuter).
    for case in ("nom", "gen"):
        phrases += [ru_numbers.ordinal_to_words(d, "n", case) for d in days]
    phrases += ru_dates.MONTHS_GEN
    # Whole years, and the pieces callers say on their own: "восемьдесят пятого (года)".
    phrases += [ru_dates.say_year(y) for y in YEAR_RANGE]
    phrases += [ru_numbers.ordinal_to_words(n, "m", "gen") for n in range(1, 100)]
    phrases += [ru_numbers.number_to_words(n) for n in range(20, 100, 10)]
    phrases += [
        ru_numbers.number_to_words(1000),  # тысяча
        ru_numbers.number_to_words(900),  # девятьсот
        ru_numbers.number_to_words(2000),  # две тысячи
        ru_numbers.ordinal_to_words(2000, "m", "gen"),  # двухтысячного
        "года",
        "год",
    ]
    phrases += _RELATIVE_DAYS["ru"]
    phrases += [ru_dates.on_weekday(i) for i in range(7)]
    phrases += ru_dates.WEEKDAYS_ACC
    return phrases


def _en_dates() -> list[str]:
    phrases: list[str] = []
    for d in range(1, 32):
        phrases += [en_words.ordinal_to_words(d), f"the {en_words.ordinal_to_words(d)}"]
    phrases += en_words.MONTHS
    phrases += [en_words.say_year(y) for y in YEAR_RANGE]
    phrases += [en_words.number_to_words(n) for n in range(1, 100)]
    phrases += _RELATIVE_DAYS["en"]
    phrases += en_words.WEEKDAYS
    phrases += [f"next {day}" for day in en_words.WEEKDAYS]
    return phrases


def dates(locale: str) -> list[str]:
    """Words and phrases of a spoken date.

    Russian: day ordinals in the nominative and genitive ("первое", "тридцать первого"), month
    names in the genitive, years ("тысяча девятьсот восемьдесят пятого года", "две тысячи",
    "восемьдесят пятого"), "сегодня"/"завтра"/"послезавтра" and weekdays ("в среду").
    English: "first".."thirty first", months, years ("nineteen eighty five"), "tomorrow",
    weekdays.
    """
    return _unique(_ru_dates() if _language(locale) == "ru" else _en_dates())


def specialties(names: Iterable[str]) -> list[str]:
    """Specialty names and their synonyms as phrases ("Терапевт" -> "терапевт").

    Each name is one phrase; empty names and duplicates are dropped.
    """
    return _unique(names)


# ---------------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------------

QUESTIONS: tuple[str, ...] = (
    "policy",
    "birth_date",
    "day",
    "menu",
    "yes_no",
    "specialty",
    "offer",
    "appointment",
)
_ALIASES = {"main_menu": "menu"}


def _canonical(name: str) -> str:
    name = _ALIASES.get(name, name)
    if name.endswith("_readback") or name.startswith("confirm_"):
        return "yes_no"
    return name


def for_question(name: str, locale: str, extra: Sequence[str] = ()) -> list[str]:
    """The phrase list for the IVR question ``name`` in ``locale``.

    ``extra`` phrases (specialty names for ``specialty``, or anything a flow adds) are appended;
    the operator words are always included.  Raises :class:`ValueError` for an unknown question
    or locale.
    """
    if isinstance(extra, str):
        raise TypeError("extra must be a sequence of phrases, not one string")
    question = _canonical(name)
    if question == "policy":
        phrases = digits(locale)
    elif question in ("birth_date", "day"):
        phrases = dates(locale) + digits(locale)
    elif question == "menu":
        phrases = main_menu(locale)
    elif question == "yes_no":
        phrases = yes_no(locale)
    elif question == "specialty":
        phrases = []
    elif question == "offer":
        phrases = offer(locale)
    elif question == "appointment":
        phrases = appointment(locale)
    else:
        raise ValueError(f"unknown question {name!r}; expected one of {QUESTIONS}")
    return _unique([*phrases, *specialties(extra), *operator(locale)])
