"""Builds the example import of «Городская поликлиника № 7» in both formats.

``python examples/import/build.py`` writes ``clinic.xlsx`` (one sheet per entity, Russian
headers) and ``csv/*.csv`` (the same rows; mixed encodings, separators and header languages,
as different MIS exports come).  The outputs are committed so they can be imported as they are;
a rebuild gives the same CSVs and an XLSX that differs only in its saved-at timestamp.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import openpyxl

HERE = Path(__file__).parent

CLINICS = [
    ["Код МО", "Наименование", "Краткое наименование", "Адрес", "Телефон"],
    ["gp7", "ГБУЗ «Городская поликлиника № 7»", "Городская поликлиника № 7",
     "ул. Гагарина, д. 21", "+74952345678"],
]

DISTRICTS = [
    ["Код МО", "Участок", "Название участка", "Улица", "Дома"],
    ["gp7", 1, "Участок 1", "ул. Гагарина", "1-39"],
    ["gp7", 1, "Участок 1", "ул. Школьная", ""],
    ["gp7", 1, "Участок 1", "пер. Почтовый", "2-18 чёт."],
    ["gp7", 2, "Участок 2", "ул. Гагарина", "40-120"],
    ["gp7", 2, "Участок 2", "пр. Мира", "1-65"],
    ["gp7", 2, "Участок 2", "ул. Лесная", "3, 5, 7к2"],
]

SPECIALTIES = [
    ["Код специальности", "Специальность", "Специальность (англ.)", "Запись", "Возраст",
     "Участковая", "Порядок в меню", "Слова для голосового меню"],
    ["therapist", "Терапевт", "General practitioner", "самозапись", "взрослые", "да", 1,
     "терапевт, терапевту, участковый, участковый терапевт"],
    ["pediatrician", "Педиатр", "Pediatrician", "самозапись", "дети", "да", 2,
     "педиатр, педиатру, детский врач"],
    ["dentist", "Стоматолог", "Dentist", "самозапись", "все", "нет", 3,
     "стоматолог, зубной, зубной врач"],
    ["surgeon", "Хирург", "Surgeon", "самозапись", "взрослые", "нет", 4, "хирург, хирургу"],
    ["gynecologist", "Гинеколог", "Gynecologist", "самозапись", "взрослые", "нет", 5,
     "гинеколог, женский врач"],
    ["ophthalmologist", "Офтальмолог", "Ophthalmologist", "самозапись", "все", "нет", 6,
     "офтальмолог, окулист, глазной врач"],
    ["otolaryngologist", "Оториноларинголог", "ENT doctor", "по направлению", "все", "нет", 7,
     "лор, отоларинголог, ухо горло нос"],
    ["neurologist", "Невролог", "Neurologist", "по направлению", "взрослые", "нет", 8,
     "невролог, невропатолог"],
]

DOCTORS = [
    ["Код врача", "Код МО", "Специальность", "Участок", "Фамилия", "Имя", "Отчество",
     "Кабинет", "Работает", "Дата увольнения"],
    ["D-701", "gp7", "therapist", 1, "Воронцова", "Марина", "Алексеевна", "101", "да", ""],
    ["D-702", "gp7", "therapist", 2, "Тихонов", "Сергей", "Павлович", "102", "да", ""],
    ["D-703", "gp7", "pediatrician", 1, "Фёдорова", "Анна", "Николаевна", "201", "да", ""],
    ["D-704", "gp7", "dentist", "", "Крылов", "Игорь", "Семёнович", "305", "да", ""],
    ["D-705", "gp7", "surgeon", "", "Панов", "Виктор", "Андреевич", "110", "да", ""],
    ["D-706", "gp7", "gynecologist", "", "Егорова", "Светлана", "Игоревна", "215", "да", ""],
    ["D-707", "gp7", "ophthalmologist", "", "Мельников", "Олег", "Борисович", "118", "да", ""],
    ["D-708", "gp7", "otolaryngologist", "", "Савельева", "Нина", "Петровна", "120", "да", ""],
    ["D-709", "gp7", "neurologist", "", "Гусев", "Артём", "Олегович", "122", "да", ""],
]

T_HEAD = ["Код врача", "День недели", "Часы приёма", "Перерыв", "Длительность приёма, мин",
          "Кабинет", "Числа", "Недели", "Действует с", "Действует по"]


def _templates() -> list[list[object]]:
    rows: list[list[object]] = [T_HEAD]
    weekdays = ["пн", "вт", "ср", "чт", "пт"]
    for day in weekdays:  # district therapists: one mornings, one afternoons, with a break
        rows.append(["D-701", day, "08:00-14:00", "11:00-11:30", 15, "", "", "", "", ""])
        rows.append(["D-702", day, "14:00-20:00", "17:00-17:30", 15, "", "", "", "", ""])
        rows.append(["D-703", day, "08:00-13:00", "", 20, "", "", "", "", ""])
        # Even/odd dates: mornings on even dates, afternoons on odd ones.
        rows.append(["D-704", day, "08:00-14:00", "", 30, "", "чёт.", "", "", ""])
        rows.append(["D-704", day, "14:00-20:00", "", 30, "", "нечёт.", "", "", ""])
        rows.append(["D-706", day, "09:00-15:00", "12:00-12:30", 20, "", "", "", "", ""])
        rows.append(["D-709", day, "13:00-18:00", "", 30, "", "", "", "", ""])
    # Alternating weeks: the surgeon works Mon/Wed/Fri in even weeks, Tue/Thu in odd ones.
    for day in ("пн", "ср", "пт"):
        rows.append(["D-705", day, "08:00-14:00", "", 20, "", "", "чёт.", "", ""])
    for day in ("вт", "чт"):
        rows.append(["D-705", day, "14:00-20:00", "", 20, "", "", "нечёт.", "", ""])
    for day in ("пн", "ср"):  # the ophthalmologist works in another cabinet on Wednesdays
        rows.append(["D-707", day, "08:00-12:00", "", 15, "118" if day == "пн" else "119",
                     "", "", "", ""])
    rows.append(["D-707", "сб", "09:00-13:00", "", 15, "", "", "", "", ""])
    for day in ("вт", "чт"):
        rows.append(["D-708", day, "10:00-16:00", "", 20, "", "", "", "", ""])
    return rows


FIRST = ["Александр", "Мария", "Дмитрий", "Елена", "Николай", "Ольга", "Павел", "Татьяна",
         "Юрий", "Ксения"]
LAST_M = ["Смирнов", "Попов", "Волков", "Соловьёв", "Васильев", "Зайцев", "Новиков",
          "Морозов", "Лебедев", "Козлов"]
MIDDLE_M = ["Иванович", "Петрович", "Сергеевич", "Андреевич", "Олегович"]


def _luhn_digit(partial: str) -> str:
    for d in "0123456789":
        total = 0
        for i, ch in enumerate(reversed(partial + d)):
            n = int(ch) * (2 if i % 2 else 1)
            total += n - 9 if n > 9 else n
        if total % 10 == 0:
            return d
    raise AssertionError


def _snils(first9: str) -> str:
    total = sum(int(d) * w for d, w in zip(first9, range(9, 0, -1), strict=True))
    check = total if total < 100 else (0 if total in (100, 101) else total % 101 % 100)
    return f"{first9[:3]}-{first9[3:6]}-{first9[6:]} {check:02d}"


def _patients() -> list[list[object]]:
    rows: list[list[object]] = [["Полис ОМС", "Фамилия", "Имя", "Отчество", "Дата рождения",
                                 "СНИЛС", "Телефон", "Код МО", "Участок", "Дата прикрепления"]]
    for i in range(30):
        woman = i % 2 == 1
        last = LAST_M[i % 10] + ("а" if woman else "")
        middle = MIDDLE_M[i % 5]
        middle = middle.replace("ич", "на") if woman else middle
        child = i % 5 == 4  # every fifth is a child (born 2012-2020)
        born = date(2012 + i % 9, 1 + i % 12, 1 + i % 27) if child else date(
            1940 + i * 2, 1 + (i * 5) % 12, 1 + (i * 7) % 27)
        first15 = f"5077{i:011d}"
        rows.append([first15 + _luhn_digit(first15), last, FIRST[i % 10], middle,
                     born.strftime("%d.%m.%Y"), _snils(f"{112233000 + i * 137:09d}"),
                     f"+7 (916) 700-{i // 10:02d}-{i % 100:02d}", "gp7", 1 + i % 2,
                     "15.01.2024"])
    return rows


SHEETS = {
    "Поликлиника": CLINICS, "Участки": DISTRICTS, "Специальности": SPECIALTIES,
    "Врачи": DOCTORS, "Расписание": _templates(), "Пациенты": _patients(),
}

# CSV: file name, rows, encoding, separator, English headers?
ENGLISH = {
    "Код МО": "clinic code", "Участок": "district", "Название участка": "district name",
    "Улица": "street", "Дома": "houses", "Код врача": "doctor id",
    "Специальность": "specialty", "Фамилия": "last name", "Имя": "first name",
    "Отчество": "middle name", "Кабинет": "cabinet", "Работает": "active",
    "Дата увольнения": "left on",
}
CSVS = [
    ("clinics.csv", CLINICS, "utf-8-sig", ";", False),
    ("districts.csv", DISTRICTS, "utf-8", ",", True),
    ("specialties.csv", SPECIALTIES, "utf-8", ";", False),
    ("doctors.csv", DOCTORS, "utf-8", ",", True),
    ("templates.csv", _templates(), "utf-8", ";", False),
    ("patients.csv", _patients(), "cp1251", ";", False),
]


def main() -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in SHEETS.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(HERE / "clinic.xlsx")
    for name, rows, encoding, sep, english in CSVS:
        with (HERE / "csv" / name).open("w", encoding=encoding, newline="") as f:
            writer = csv.writer(f, delimiter=sep)
            head = [ENGLISH.get(h, h) if english else h for h in rows[0]]
            writer.writerow(head)
            writer.writerows(rows[1:])


if __name__ == "__main__":
    main()
