"""Text normalisation for Russian speech synthesis: digits, dates, times and abbreviations
become the words a registrar would say.

>>> normalize_for_speech("Приходите 6 сентября в 17:30, каб. 15")
'Приходите шестое сентября в семнадцать тридцать, кабинет пятнадцать'

What is expanded, in this order:

* phone numbers ("+7 (495) 123-45-67") -> groups of cardinals separated by commas;
* numeric dates ("06.09.2026") and "6 сентября [2026 г.]" -> "шестое сентября две тысячи
  двадцать шестого года"; the day is a neuter ordinal, nominative unless a preposition before
  it asks for another case ("до 6 сентября" -> "до шестого сентября", "к 6 сентября" ->
  "к шестому сентября");
* a year with "г."/"год" ("в 2026 г." -> "в две тысячи двадцать шестом году", "2026 г." ->
  "две тысячи двадцать шестого года");
* clock times ("17:30" -> "семнадцать тридцать", "с 8:00" -> "с восьми ноль-ноль") and
  ranges ("13:00-14:00" -> "с тринадцати ноль-ноль до четырнадцати ноль-ноль");
* "№ 5" -> "номер пять"; "каб. 15" -> "кабинет пятнадцать"; ordinal numerals ("2-й этаж" ->
  "второй этаж", "на 3-м этаже" -> "на третьем этаже");
* numbers with units ("15 мин." -> "пятнадцать минут", "5%" -> "пять процентов",
  "100 руб." -> "сто рублей") and decimal fractions ("36,6" -> "тридцать шесть целых шесть
  десятых");
* abbreviations ("ул." -> "улица", "д. 5" -> "дом пять", "г. Москва" -> "город Москва",
  "т.е." -> "то есть", ...);
* every remaining number -> cardinal words, in the genitive after "с", "до", "от", "после",
  "около" ("с 8 до 20" -> "с восьми до двадцати") and the dative after "к"; numbers with a
  leading zero or longer than nine digits are read digit by digit.

The bare "6 сентября" stays nominative ("шестое сентября"): write "на 6 сентября",
"до 6 сентября" etc. in prompt templates to get the other cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time

from speech.ru_dates import MONTHS_GEN, say_time
from speech.ru_numbers import (
    MAX_CARDINAL,
    Gender,
    OrdinalGender,
    digits_to_words,
    number_to_words,
    ordinal_to_words,
    plural,
)

_GEN_PREPOSITIONS = frozenset(
    {"с", "со", "до", "от", "после", "около", "из", "без", "для", "у", "кроме", "вместо"}
)
_DAT_PREPOSITIONS = frozenset({"к", "ко"})
_PREP_PREPOSITIONS = frozenset({"о", "об", "при"})
# Nouns that make a preceding number feminine ("одна минута", "две недели").
_FEMININE_STEMS = (
    "минут",
    "секунд",
    "недел",
    "запис",
    "попытк",
    "попыток",
    "справк",
    "справок",
    "карт",
    "очеред",
    "смен",
    "тысяч",
    "копе",
    "единиц",
    "позиц",
    "строк",
    "цифр",
    "услуг",
)
_NEUTER_STEMS = ("окн", "мест", "число", "чисел")

_WORD_BEFORE_RE = re.compile(r"([А-Яа-яЁё]+)[\s\u00a0]*$")


def _preposition_case(text: str, start: int, default: str = "nom") -> str:
    """The case a preposition right before ``start`` requires (genitive after "до", ...)."""
    m = _WORD_BEFORE_RE.search(text, 0, start)
    if not m:
        return default
    word = m.group(1).lower().replace("ё", "е")
    if word in _GEN_PREPOSITIONS:
        return "gen"
    if word in _DAT_PREPOSITIONS:
        return "dat"
    if word in _PREP_PREPOSITIONS:
        return "prep"
    return default


def _capitalize_like(original: str, replacement: str) -> str:
    if original[:1].isupper() and replacement:
        return replacement[0].upper() + replacement[1:]
    return replacement


def _read_group(group: str) -> str:
    """A group of a phone number: "495" -> "четыреста девяносто пять", "05" -> "ноль пять"."""
    if len(group) > 1 and group.startswith("0"):
        return "ноль " + _read_group(group[1:])
    return number_to_words(int(group))


# --- phone numbers ----------------------------------------------------------------------------

_PHONE_RE = re.compile(
    r"(?<![\d\w])(\+7|8)?[\s\u00a0-]?\(?(\d{3})\)?[\s\u00a0-]?(\d{3})[\s\u00a0-]?(\d{2})"
    r"[\s\u00a0-]?(\d{2})(?!\d)"
    r"|(?<![\d\w-])(\d{3})-(\d{2})-(\d{2})(?![\d-])"
)


def _phone(m: re.Match[str]) -> str:
    if m.group(6):
        groups = [m.group(6), m.group(7), m.group(8)]
        prefix: list[str] = []
    else:
        groups = [m.group(2), m.group(3), m.group(4), m.group(5)]
        country = m.group(1)
        prefix = ["плюс семь"] if country == "+7" else ["восемь"] if country == "8" else []
    return ", ".join(prefix + [_read_group(g) for g in groups])


# --- dates ----------------------------------------------------------------------------------

_MONTHS_RE = "|".join(MONTHS_GEN)
_YEAR_SUFFIX_RE = r"(?:[\s\u00a0]*(г\.|г(?![а-яё])|гг\.|года|году|год)(?![а-яё]))?"
_NUMERIC_DATE_RE = re.compile(
    r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\d.]|\.\d)" + _YEAR_SUFFIX_RE
)
_DAY_MONTH_RE = re.compile(
    rf"(?<![\d\w])(\d{{1,2}})[\s\u00a0]+({_MONTHS_RE})(?![а-яё])"
    rf"(?:[\s\u00a0]+(\d{{4}})(?!\d){_YEAR_SUFFIX_RE})?",
    re.IGNORECASE,
)
_YEAR_RE = re.compile(
    r"(?<![\d\w])(\d{4})[\s\u00a0]*(г\.|г(?![а-яё])|года|году|годом|год)(?![а-яё])"
)
_YEAR_WORD_CASE = {"года": "gen", "году": "prep", "годом": "ins", "год": "nom"}


def _year_words(year: int, suffix: str | None, text: str, start: int) -> str:
    """The year as an ordinal with "год" in the case its own word or a preposition asks for."""
    if suffix in _YEAR_WORD_CASE:
        case = _YEAR_WORD_CASE[suffix]
    else:  # "г." or a date without the year word: genitive, "в 2026 г." -> "в ... году"
        before = _WORD_BEFORE_RE.search(text, 0, start)
        word = before.group(1).lower() if before else ""
        case = "prep" if word in ("в", "во") else "gen"
        if word in _DAT_PREPOSITIONS:
            case = "dat"
    year_word = {"nom": "год", "gen": "года", "dat": "году", "prep": "году", "ins": "годом"}[case]
    return f"{ordinal_to_words(year, 'm', case)} {year_word}"


def _date_phrase(day: int, month: int, year: int | None, text: str, start: int) -> str | None:
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    case = _preposition_case(text, start, "nom")
    if case == "prep":
        case = "nom"
    words = f"{ordinal_to_words(day, 'n', case)} {MONTHS_GEN[month - 1]}"
    if year is not None:
        words += " " + _year_words(year, "года", text, start)
    return words


def _numeric_date(m: re.Match[str]) -> str:
    phrase = _date_phrase(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.string, m.start())
    return phrase if phrase is not None else m.group(0)


def _day_month(m: re.Match[str]) -> str:
    month = MONTHS_GEN.index(m.group(2).lower()) + 1
    year = int(m.group(3)) if m.group(3) else None
    phrase = _date_phrase(int(m.group(1)), month, year, m.string, m.start())
    return phrase if phrase is not None else m.group(0)


def _year(m: re.Match[str]) -> str:
    return _year_words(int(m.group(1)), m.group(2).lower(), m.string, m.start())


# --- times ----------------------------------------------------------------------------------

_TIME = r"([01]?\d|2[0-3]):([0-5]\d)"
_TIME_RE = re.compile(rf"(?<![\d:.]){_TIME}(?![\d:])")
_TIME_RANGE_RE = re.compile(rf"(?<![\d:.]){_TIME}[\s\u00a0]*[-–—][\s\u00a0]*{_TIME}(?![\d:])")


def _clock_range(m: re.Match[str]) -> str:
    start = say_time(time(int(m.group(1)), int(m.group(2))), "gen")
    end = say_time(time(int(m.group(3)), int(m.group(4))), "gen")
    return f"с {start} до {end}"


def _clock(m: re.Match[str]) -> str:
    case = _preposition_case(m.string, m.start())
    if case == "prep":
        case = "nom"
    return say_time(time(int(m.group(1)), int(m.group(2))), case)


# --- ordinal numerals -------------------------------------------------------------------------

_ORDINAL_SUFFIX: dict[str, tuple[OrdinalGender, str]] = {
    "й": ("m", "nom"),
    "ый": ("m", "nom"),
    "ий": ("m", "nom"),
    "ой": ("m", "nom"),
    "я": ("f", "nom"),
    "ая": ("f", "nom"),
    "е": ("n", "nom"),
    "ое": ("n", "nom"),
    "го": ("m", "gen"),
    "ого": ("m", "gen"),
    "му": ("m", "dat"),
    "ому": ("m", "dat"),
    "м": ("m", "prep"),
    "ом": ("m", "prep"),
    "ым": ("m", "ins"),
    "ю": ("f", "acc"),
    "ую": ("f", "acc"),
    "ей": ("f", "gen"),
    "х": ("pl", "gen"),
    "ых": ("pl", "gen"),
    "ые": ("pl", "nom"),
    "ми": ("pl", "ins"),
}
_ORDINAL_RE = re.compile(r"(?<![\d\w])(\d{1,4})-(" + "|".join(_ORDINAL_SUFFIX) + r")(?![а-яё])")


def _ordinal(m: re.Match[str]) -> str:
    gender, case = _ORDINAL_SUFFIX[m.group(2)]
    return ordinal_to_words(int(m.group(1)), gender, case)


# --- numbers with units, number signs, decimals -----------------------------------------------

_UNITS: dict[str, tuple[Gender, str, str, str]] = {
    # abbreviation -> (gender, one, few, many)
    "мин": ("f", "минута", "минуты", "минут"),
    "сек": ("f", "секунда", "секунды", "секунд"),
    "ч": ("m", "час", "часа", "часов"),
    "руб": ("m", "рубль", "рубля", "рублей"),
    "р": ("m", "рубль", "рубля", "рублей"),
    "коп": ("f", "копейка", "копейки", "копеек"),
    "%": ("m", "процент", "процента", "процентов"),
    "дн": ("m", "день", "дня", "дней"),
    "мес": ("m", "месяц", "месяца", "месяцев"),
    "чел": ("m", "человек", "человека", "человек"),
}
_UNIT_RE = re.compile(
    r"(?<![\d\w,])(\d{1,9})[\s\u00a0]*(?:(%)|(мин|сек|ч|руб|р|коп|дн|мес|чел)(?:\.|(?![а-яё])))"
)
_NUMBER_SIGN_RE = re.compile(r"№[\s\u00a0]*(\d+)")
_CABINET_RE = re.compile(r"(?<![\w])(каб)(?:\.|(?![а-яё]))[\s\u00a0]*(?=\d|№)", re.IGNORECASE)
_DECIMAL_RE = re.compile(r"(?<![\d,.])(\d{1,9}),(\d{1,2})(?![\d,])")


def _unit(m: re.Match[str]) -> str:
    value = int(m.group(1))
    gender, one, few, many = _UNITS[m.group(2) or m.group(3)]
    case = _preposition_case(m.string, m.start())
    if case != "nom":
        # A declined number with an abbreviation: keep it simple and grammatical enough.
        return f"{number_to_words(value, gender, case)} {many if value != 1 else one}"
    return f"{number_to_words(value, gender)} {plural(value, one, few, many)}"


def _number_sign(m: re.Match[str]) -> str:
    return "номер " + _cardinal_text(m.group(1), "m", "nom")


def _decimal(m: re.Match[str]) -> str:
    whole, fraction = int(m.group(1)), m.group(2)
    denominator = (
        ("десятая", "десятых", "десятых")
        if len(fraction) == 1
        else (
            "сотая",
            "сотых",
            "сотых",
        )
    )
    numerator = int(fraction)
    return (
        f"{number_to_words(whole, 'f')} {plural(whole, 'целая', 'целых', 'целых')} "
        f"{number_to_words(numerator, 'f')} {plural(numerator, *denominator)}"
    )


# --- abbreviations ----------------------------------------------------------------------------

_ABBREVIATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<![\w])т\.[\s\u00a0]?е\.", re.IGNORECASE), "то есть"),
    (re.compile(r"(?<![\w])т\.[\s\u00a0]?к\.", re.IGNORECASE), "так как"),
    (re.compile(r"(?<![\w])т\.[\s\u00a0]?д\.", re.IGNORECASE), "так далее"),
    (re.compile(r"(?<![\w])т\.[\s\u00a0]?п\.", re.IGNORECASE), "тому подобное"),
    (re.compile(r"(?<![\w])и[\s\u00a0]др\.", re.IGNORECASE), "и другие"),
    (re.compile(r"(?<![\w])ул\.", re.IGNORECASE), "улица"),
    (re.compile(r"(?<![\w])пр-т(?![\w])|(?<![\w])просп\.", re.IGNORECASE), "проспект"),
    (re.compile(r"(?<![\w])пер\.", re.IGNORECASE), "переулок"),
    (re.compile(r"(?<![\w])пл\.", re.IGNORECASE), "площадь"),
    (re.compile(r"(?<![\w])наб\.", re.IGNORECASE), "набережная"),
    (re.compile(r"(?<![\w])б-р(?![\w])", re.IGNORECASE), "бульвар"),
    (re.compile(r"(?<![\w])д-р(?![\w])", re.IGNORECASE), "доктор"),
    (re.compile(r"(?<![\w])проф\.", re.IGNORECASE), "профессор"),
    (re.compile(r"(?<![\w])им\.", re.IGNORECASE), "имени"),
    (re.compile(r"(?<![\w])тел\.", re.IGNORECASE), "телефон"),
    (re.compile(r"(?<![\w])напр\.", re.IGNORECASE), "например"),
    (re.compile(r"(?<![\w])г\.(?=[\s\u00a0]*[А-ЯЁ])"), "город"),
    (re.compile(r"(?<![\w])д\.(?=[\s\u00a0]*\d)", re.IGNORECASE), "дом"),
    (re.compile(r"(?<![\w])кв\.(?=[\s\u00a0]*\d)", re.IGNORECASE), "квартира"),
    (re.compile(r"(?<![\w])корп\.(?=[\s\u00a0]*\d)", re.IGNORECASE), "корпус"),
    (re.compile(r"(?<![\w])стр\.(?=[\s\u00a0]*\d)", re.IGNORECASE), "строение"),
    (re.compile(r"(?<![\w])эт\.(?=[\s\u00a0]*\d)", re.IGNORECASE), "этаж"),
    (re.compile(r"(?<![\w])уч\.(?=[\s\u00a0]*\d)", re.IGNORECASE), "участок"),
]


def _abbreviation(replacement: str) -> Callable[[re.Match[str]], str]:
    def substitute(m: re.Match[str]) -> str:
        text = _capitalize_like(m.group(0), replacement)
        # "улица" before a word: make sure a space separates them ("ул.Ленина").
        end = m.end()
        if end < len(m.string) and (m.string[end].isalnum()):
            text += " "
        return text

    return substitute


# --- plain numbers ----------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"(?<![\d])(\d+)(?![\d])")
_NEXT_WORD_RE = re.compile(r"[\s\u00a0]*([А-Яа-яЁё]+)")


def _cardinal_text(digits: str, gender: Gender, case: str) -> str:
    if (len(digits) > 1 and digits.startswith("0")) or int(digits) > MAX_CARDINAL:
        return digits_to_words(digits)
    return number_to_words(int(digits), gender, case)


def _plain_number(m: re.Match[str]) -> str:
    case = _preposition_case(m.string, m.start())
    if case == "prep":
        case = "nom"  # "о 5" is rare; avoid a wrong guess
    gender: Gender = "m"
    nxt = _NEXT_WORD_RE.match(m.string, m.end())
    if nxt:
        word = nxt.group(1).lower().replace("ё", "е")
        if word.startswith(_FEMININE_STEMS):
            gender = "f"
        elif word.startswith(_NEUTER_STEMS):
            gender = "n"
    return _cardinal_text(m.group(1), gender, case)


_SPACES_RE = re.compile(r"[ \t\u00a0]{2,}")


def normalize_for_speech(text: str) -> str:
    """Rewrite a prompt text so that a speech synthesiser reads it like a registrar.

    See the module documentation for the list of expansions.  Text without digits or known
    abbreviations is returned unchanged (apart from runs of spaces collapsed to one).
    """
    text = _PHONE_RE.sub(_phone, text)
    text = _NUMERIC_DATE_RE.sub(_numeric_date, text)
    text = _DAY_MONTH_RE.sub(_day_month, text)
    text = _YEAR_RE.sub(_year, text)
    text = _TIME_RANGE_RE.sub(_clock_range, text)
    text = _TIME_RE.sub(_clock, text)
    text = _CABINET_RE.sub(lambda m: _capitalize_like(m.group(1), "кабинет") + " ", text)
    text = _NUMBER_SIGN_RE.sub(_number_sign, text)
    text = _ORDINAL_RE.sub(_ordinal, text)
    text = _UNIT_RE.sub(_unit, text)
    text = _DECIMAL_RE.sub(_decimal, text)
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(_abbreviation(replacement), text)
    text = _NUMBER_RE.sub(_plain_number, text)
    return _SPACES_RE.sub(" ", text)
