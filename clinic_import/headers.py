"""Column headers (Russian and English) and how a file or sheet is recognised as an entity.

A file or sheet is an entity's when its name says so (``doctors.csv``, ``врачи.csv``, a sheet
«Врачи») or, failing that, when its header row holds the entity's required columns (the entity
whose required columns all match, with the most matching columns, wins).  Headers are compared
normalised: case, «ё», punctuation and extra spaces do not matter (``Полис ОМС`` =
``полис омс`` = ``policy``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# entity -> field -> (required, aliases).  The first alias is the Russian header the examples
# and the error file use, the second the English one.
COLUMNS: dict[str, dict[str, tuple[bool, tuple[str, ...]]]] = {
    "clinics": {
        "code": (True, ("Код МО", "clinic code", "код", "code", "код клиники", "clinic")),
        "name": (True, ("Наименование", "name", "название", "полное наименование",
                        "full name")),
        "short_name": (False, ("Краткое наименование", "short name", "краткое название")),
        "address": (False, ("Адрес", "address")),
        "phone": (False, ("Телефон", "phone", "телефон регистратуры")),
        "timezone": (False, ("Часовой пояс", "timezone", "time zone")),
        # The clinic's own number on the registry line (DID): its calls hear its greeting.
        "line": (False, ("Номер линии", "line", "line number", "did", "номер записи по телефону")),
    },
    "districts": {
        "clinic": (False, ("Код МО", "clinic code", "clinic", "поликлиника")),
        "number": (True, ("Участок", "district", "номер участка", "district number", "№ участка",
                          "number")),
        "name": (False, ("Название участка", "district name", "name", "наименование")),
        "street": (False, ("Улица", "street")),
        "houses": (False, ("Дома", "houses", "номера домов", "house numbers")),
    },
    "specialties": {
        "code": (True, ("Код специальности", "specialty code", "code", "код")),
        "name_ru": (True, ("Специальность", "name (ru)", "name ru", "name_ru", "наименование",
                           "название")),
        "name_en": (False, ("Специальность (англ.)", "name (en)", "name en", "name_en",
                            "english name")),
        "booking_mode": (False, ("Запись", "booking mode", "booking_mode", "порядок записи")),
        "age_group": (False, ("Возраст", "age group", "age_group", "возрастная группа")),
        "synonyms_ru": (False, ("Слова для голосового меню", "caller words", "synonyms",
                                "синонимы", "слова")),
        "district_based": (False, ("Участковая", "district based", "district_based",
                                   "по участкам")),
        "ivr_order": (False, ("Порядок в меню", "menu order", "ivr order", "ivr_order",
                              "порядок")),
    },
    "doctors": {
        "external_id": (True, ("Код врача", "doctor id", "external id", "external_id", "id врача",
                               "табельный номер", "код врача в мис", "mis id")),
        "clinic": (False, ("Код МО", "clinic code", "clinic", "поликлиника")),
        "specialty": (True, ("Специальность", "specialty", "код специальности",
                             "specialty code")),
        "district": (False, ("Участок", "district", "номер участка")),
        "last_name": (True, ("Фамилия", "last name", "last_name", "surname")),
        "first_name": (True, ("Имя", "first name", "first_name", "given name")),
        "middle_name": (False, ("Отчество", "middle name", "middle_name", "patronymic")),
        "cabinet": (False, ("Кабинет", "cabinet", "room", "каб")),
        "active": (False, ("Работает", "active", "активен", "действующий")),
        "left_on": (False, ("Дата увольнения", "left on", "left_on", "last working day",
                            "уволен", "последний рабочий день")),
    },
    "templates": {
        "doctor": (True, ("Код врача", "doctor id", "external id", "doctor", "id врача",
                          "табельный номер", "врач")),
        "clinic": (False, ("Код МО", "clinic code", "clinic", "поликлиника")),
        "weekday": (True, ("День недели", "weekday", "день", "day")),
        "hours": (False, ("Часы приёма", "hours", "часы", "время приема", "working hours")),
        "start_time": (False, ("Начало", "start", "start time", "start_time", "с")),
        "end_time": (False, ("Окончание", "end", "end time", "end_time", "по", "конец")),
        "break": (False, ("Перерыв", "break")),
        "break_start": (False, ("Начало перерыва", "break start", "break_start")),
        "break_end": (False, ("Конец перерыва", "break end", "break_end",
                              "окончание перерыва")),
        "slot_minutes": (False, ("Длительность приёма, мин", "slot minutes", "slot_minutes",
                                 "длительность приема", "длительность", "slot length",
                                 "минут на приём", "мин")),
        "cabinet": (False, ("Кабинет", "cabinet", "room", "каб")),
        "date_parity": (False, ("Числа", "dates", "date parity", "date_parity", "даты",
                                "чётность дат")),
        "week_parity": (False, ("Недели", "weeks", "week parity", "week_parity",
                                "чётность недель")),
        "valid_from": (False, ("Действует с", "valid from", "valid_from", "с даты")),
        "valid_to": (False, ("Действует по", "valid to", "valid_to", "по дату")),
    },
    "patients": {
        "policy_number": (True, ("Полис ОМС", "policy", "policy number", "policy_number",
                                 "номер полиса", "полис", "енп", "oms policy")),
        "last_name": (True, ("Фамилия", "last name", "last_name", "surname")),
        "first_name": (True, ("Имя", "first name", "first_name", "given name")),
        "middle_name": (False, ("Отчество", "middle name", "middle_name", "patronymic")),
        "birth_date": (True, ("Дата рождения", "birth date", "birth_date", "date of birth",
                              "др", "dob")),
        "snils": (False, ("СНИЛС", "snils")),
        "phone": (False, ("Телефон", "phone", "мобильный телефон", "mobile", "телефон пациента")),
        "clinic": (False, ("Код МО", "clinic code", "clinic", "поликлиника")),
        "district": (False, ("Участок", "district", "номер участка")),
        "attached_on": (False, ("Дата прикрепления", "attached on", "attached_on",
                                "прикреплён с")),
        "external_id": (False, ("Код пациента в МИС", "patient id", "external id",
                                "external_id", "mis id")),
    },
}

# Names of files and sheets (normalised) that say which entity they hold.
ENTITY_NAMES: dict[str, tuple[str, ...]] = {
    "clinics": ("clinics", "clinic", "поликлиники", "поликлиника", "мо", "организации"),
    "districts": ("districts", "district", "участки", "участок", "адреса участков"),
    "specialties": ("specialties", "specialty", "специальности", "специальность"),
    "doctors": ("doctors", "doctor", "врачи", "врач", "медработники", "сотрудники"),
    "templates": ("templates", "schedule", "schedules", "schedule templates", "расписание",
                  "расписания", "шаблоны", "шаблоны расписания", "график", "графики"),
    "patients": ("patients", "patient", "пациенты", "пациент", "прикреплённые",
                 "прикреплённое население", "attached"),
}


def normalise(text: object) -> str:
    """Lower case, «ё» as «е», punctuation and runs of spaces as one space."""
    s = str(text or "").strip().casefold().replace("ё", "е")
    return " ".join(re.sub(r"[\W_]+", " ", s).split())


_ALIASES: dict[str, dict[str, str]] = {
    entity: {normalise(a): name for name, (_, aliases) in fields.items() for a in aliases}
    for entity, fields in COLUMNS.items()
}
_NAMES: dict[str, str] = {normalise(n): e for e, names in ENTITY_NAMES.items() for n in names}


def entity_by_name(name: str) -> str | None:
    """The entity a file stem or sheet name stands for (``01_врачи`` too), if any."""
    n = normalise(name)
    if n in _NAMES:
        return _NAMES[n]
    stripped = re.sub(r"^\d+\s*|\s*\d+$", "", n)  # "01 doctors", "patients 2026"
    return _NAMES.get(stripped)


@dataclass(frozen=True)
class HeaderMap:
    """Which column holds which field, for one entity's file or sheet."""

    entity: str
    fields: dict[int, str]  # column index -> field name
    unknown: list[str]  # headers not understood (reported, ignored)

    def header_of(self, field_name: str, headers: Sequence[object]) -> str:
        for index, name in self.fields.items():
            if name == field_name:
                return str(headers[index]).strip()
        return field_name


def map_headers(entity: str, headers: Sequence[object]) -> HeaderMap:
    aliases = _ALIASES[entity]
    fields: dict[int, str] = {}
    unknown: list[str] = []
    for i, h in enumerate(headers):
        n = normalise(h)
        if not n:
            continue
        name = aliases.get(n)
        if name is None or name in fields.values():
            unknown.append(str(h).strip())
        else:
            fields[i] = name
    return HeaderMap(entity, fields, unknown)


def missing_required(hm: HeaderMap) -> list[str]:
    """Required fields of the entity no column holds ("hours" may stand in for start/end)."""
    present = set(hm.fields.values())
    missing = [name for name, (required, _) in COLUMNS[hm.entity].items()
               if required and name not in present]
    if hm.entity == "templates" and "hours" not in present:
        missing += [n for n in ("start_time", "end_time") if n not in present]
    return missing


def guess_entity(headers: Sequence[object]) -> str | None:
    """The entity whose required columns are all in ``headers`` (most matches wins)."""
    best: tuple[int, str] | None = None
    for entity in COLUMNS:
        hm = map_headers(entity, headers)
        if missing_required(hm):
            continue
        score = len(hm.fields)
        if best is None or score > best[0]:
            best = (score, entity)
    return best[1] if best else None


def suggestion(entity: str, header: str) -> str | None:
    """The known header an unknown one is probably a typo of («Телфон» -> «Телефон»)."""
    import difflib

    known = {normalise(a): a for _, aliases in COLUMNS[entity].values() for a in aliases}
    close = difflib.get_close_matches(normalise(header), list(known), n=1, cutoff=0.8)
    return known[close[0]] if close else None


def display_name(entity: str, field_name: str, lang: str = "ru") -> str:
    """The header the documentation and error file use for a field."""
    aliases = COLUMNS[entity].get(field_name, (False, (field_name, field_name)))[1]
    return aliases[0] if lang == "ru" else aliases[1]
