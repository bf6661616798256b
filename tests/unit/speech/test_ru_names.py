"""Russian names in cases, from the pymorphy3 dictionary (no hand-written endings)."""

from __future__ import annotations

import pytest

from speech.ru_names import FEMALE, MALE, Case, full_name_in, gender_of, short_name_in


@pytest.mark.parametrize(("case", "name", "expected"), [
    (Case.ACCUSATIVE, ("Петрова", "Анна", "Ивановна"), "Петрову Анну Ивановну"),
    (Case.ACCUSATIVE, ("Соколов", "Артём", "Игоревич"), "Соколова Артёма Игоревича"),
    (Case.ACCUSATIVE, ("Кузнецов", "Олег", "Владимирович"), "Кузнецова Олега Владимировича"),
    (Case.GENITIVE, ("Ковалёва", "Наталья", "Дмитриевна"), "Ковалёвой Натальи Дмитриевны"),
    (Case.DATIVE, ("Салтыков-Щедрин", "Михаил", "Евграфович"),
     "Салтыкову-Щедрину Михаилу Евграфовичу"),
    (Case.DATIVE, ("Черных", "Илья", "Петрович"), "Черных Илье Петровичу"),
    (Case.DATIVE, ("Шевчук", "Анна", "Петровна"), "Шевчук Анне Петровне"),
    (Case.DATIVE, ("Шевчук", "Антон", "Петрович"), "Шевчуку Антону Петровичу"),
    (Case.NOMINATIVE, ("Петрова", "Анна", "Ивановна"), "Петрова Анна Ивановна"),
])
def test_full_names(case, name, expected):
    assert full_name_in(case, *name) == expected


@pytest.mark.parametrize(("case", "name", "expected"), [
    (Case.DATIVE, ("Белова", "Ирина", "Сергеевна"), "Беловой И.С."),
    (Case.DATIVE, ("Орлов", "Андрей", "Николаевич"), "Орлову А.Н."),
    (Case.GENITIVE, ("Орлов", "Андрей", "Николаевич"), "Орлова А.Н."),
    (Case.DATIVE, ("Кашинцева", "Галина", "Вячеславовна"), "Кашинцевой Г.В."),
])
def test_short_names(case, name, expected):
    assert short_name_in(case, *name) == expected


def test_gender_from_patronymic_then_first_name_then_surname():
    assert gender_of("Шевчук", "Саша", "Петровна") == FEMALE
    assert gender_of("Шевчук", "Анна") == FEMALE
    assert gender_of("Орлов") == MALE
    assert gender_of("Шевчук") is None
