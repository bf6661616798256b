"""What each problem code means, in Russian and English, for the report and the error file.

Messages name the column and the reason; they never repeat a personal value (policy, date of
birth, SNILS, phone), only reference values such as a specialty code or a district number.
"""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, tuple[str, str]] = {
    "bad_line_number": ("номер линии — цифры (можно с + ( ) -), от 2 до 32 цифр",
                        "a line number is digits (+ ( ) - allowed), 2 to 32 of them"),
    # whole files
    "file_unreadable": ("файл не удаётся открыть", "the file cannot be opened"),
    "file_empty": ("файл пуст", "the file is empty"),
    "file_too_large": ("файл слишком большой: {size_mb} МБ, предел {limit_mb} МБ "
                       "(настройка REGISTRATURA_IMPORT_MAX_FILE_MB); разделите его на части",
                       "the file is too large: {size_mb} MB, the limit is {limit_mb} MB "
                       "(setting REGISTRATURA_IMPORT_MAX_FILE_MB); split it"),
    "unknown_format": ("неизвестный формат «{suffix}»: нужен XLSX, CSV или FHIR Bundle (.json)",
                       "unknown format '{suffix}': XLSX, CSV or a FHIR Bundle (.json) expected"),
    "xls_not_supported": ("старый формат XLS не поддерживается: сохраните как XLSX или CSV",
                          "the old XLS format is not supported: save as XLSX or CSV"),
    "xlsx_broken": ("файл XLSX повреждён или обрезан (не полный архив): выгрузите его заново",
                    "the XLSX file is damaged or truncated (not a complete archive): "
                    "export it again"),
    "unsupported_encoding": ("кодировка не UTF-8 и не Windows-1251 (например, UTF-16): "
                             "сохраните файл в UTF-8 или Windows-1251",
                             "the encoding is neither UTF-8 nor Windows-1251 (e.g. UTF-16): "
                             "save the file as UTF-8 or Windows-1251"),
    "bad_encoding_at": ("текст не в кодировке {encoding}, с которой начинается файл: "
                        "сохраните весь файл в одной кодировке",
                        "the text is not in {encoding}, the encoding the file starts with: "
                        "save the whole file in one encoding"),
    "csv_broken": ("строка CSV разбита (незакрытые кавычки?)",
                   "a broken CSV line (an unclosed quote?)"),
    "no_header": ("не найдена строка заголовков: ожидались столбцы {expected}; найдены: "
                  "{found}. Первая строка должна содержать заголовки; файл в UTF-8 или "
                  "Windows-1251?",
                  "no header row: expected columns {expected}; found: {found}. The first row "
                  "must hold the headers; is the file in UTF-8 or Windows-1251?"),
    "unknown_entity": ("не понять, что в файле: назовите файл или лист (например, «Врачи», "
                       "patients.csv) или используйте заголовки из README",
                       "cannot tell what the file holds: name the file or sheet (e.g. "
                       "«Врачи», patients.csv) or use the headers from the README"),
    "missing_columns": ("нет обязательных столбцов: {missing}",
                        "required columns are missing: {missing}"),
    "unknown_column": ("столбец «{value}» не распознан и пропущен",
                       "column '{value}' is not recognised and is ignored"),
    "unknown_column_typo": ("столбец «{value}» не распознан и пропущен: может быть, «{guess}»?",
                            "column '{value}' is not recognised and is ignored: did you mean "
                            "'{guess}'?"),
    "empty_file": ("в файле нет строк с данными", "the file has no data rows"),
    "fhir_not_json": ("файл .json не читается как JSON: выгрузите Bundle заново",
                      "the .json file is not valid JSON: export the Bundle again"),
    "fhir_not_bundle": ("в файле .json не FHIR Bundle (resourceType должен быть «Bundle»)",
                        "the .json file is not a FHIR Bundle (resourceType must be 'Bundle')"),
    "fhir_invalid_resource": ("ресурс FHIR не соответствует спецификации R4 (элемент Bundle "
                              "с этим номером): проверьте его в МИС",
                              "the FHIR resource does not conform to R4 (the Bundle entry "
                              "with this number): check it in the MIS"),
    # cells
    "required": ("пустое обязательное поле", "a required value is empty"),
    "bad_date": ("не дата (ожидается ДД.ММ.ГГГГ)", "not a date (DD.MM.YYYY expected)"),
    "impossible_date": ("такой даты не бывает", "no such date"),
    "bad_time": ("не время (ожидается ЧЧ:ММ)", "not a time (HH:MM expected)"),
    "bad_span": ("ожидается интервал «08:00-14:00»", "an interval like '08:00-14:00' expected"),
    "bad_weekday": ("не день недели (пн…вс или 1…7)", "not a weekday (Mon..Sun or 1..7)"),
    "bad_yes_no": ("ожидается «да» или «нет»", "'yes' or 'no' expected"),
    "bad_parity": ("ожидается «чёт.», «нечёт.» или пусто", "'even', 'odd' or empty expected"),
    "bad_booking_mode": ("ожидается «самозапись» или «по направлению»",
                         "'self referral' or 'referral only' expected"),
    "bad_age_group": ("ожидается «взрослые», «дети» или «все»",
                      "'adult', 'child' or 'any' expected"),
    "bad_number": ("не число в допустимых пределах", "not a number in the allowed range"),
    "formula": ("в ячейке {cell} формула: взято её сохранённое значение",
                "cell {cell} holds a formula: its saved value was used"),
    "formula_no_value": ("в ячейке {cell} формула без сохранённого значения: откройте файл в "
                         "Excel и сохраните или вставьте значения",
                         "cell {cell} holds a formula without a saved value: open the file in "
                         "Excel and save it, or paste values"),
    "merged_cells": ("объединённые ячейки: разъедините их и заполните каждую строку",
                     "merged cells: unmerge them and fill in every row"),
    # domain
    "policy_format": ("полис ОМС должен состоять из 16 цифр",
                      "the OMS policy must have 16 digits"),
    "policy_luhn": ("номер полиса ОМС не проходит проверку контрольной цифры",
                    "the OMS policy number fails its check digit"),
    "snils_invalid": ("СНИЛС неверен (контрольное число не сходится)",
                      "invalid SNILS (the check number does not match)"),
    "birth_date_future": ("дата рождения в будущем", "the date of birth is in the future"),
    "birth_date_impossible": ("невозможная дата рождения (раньше 1900 года)",
                              "an impossible date of birth (before 1900)"),
    "phone_not_mobile": ("телефон не российский мобильный: сохранён, но SMS не отправляются",
                         "the phone is not a Russian mobile: kept, but no SMS will be sent"),
    "phone_invalid": ("телефон не распознан и не сохранён; SMS не отправляются",
                      "the phone number is not recognised and is not kept; no SMS"),
    "unknown_clinic": ("неизвестная поликлиника «{value}»", "unknown clinic '{value}'"),
    "clinic_required": ("укажите код МО: поликлиник {count}",
                        "give the clinic code: there are {count} clinics"),
    "unknown_district": ("неизвестный участок {value}", "unknown district {value}"),
    "unknown_specialty": ("неизвестная специальность «{value}»", "unknown specialty '{value}'"),
    "unknown_doctor": ("врач с кодом «{value}» не найден ни в базе, ни в файле врачей",
                       "no doctor with id '{value}' in the database or the doctors' file"),
    "ambiguous_doctor": ("код врача «{value}» есть в нескольких поликлиниках: добавьте код МО",
                         "doctor id '{value}' exists in several clinics: add the clinic code"),
    "duplicate_key": ("повтор: то же, что в {first}", "duplicate of {first}"),
    "patient_two_clinics": ("пациент прикреплён к двум поликлиникам: см. также {first}",
                            "the patient is attached to two clinics: see also {first}"),
    "ends_before_start": ("окончание приёма не позже начала", "the end is not after the start"),
    "break_outside_hours": ("перерыв вне часов приёма", "the break is outside the working hours"),
    "break_needs_start_and_end": ("у перерыва нужны начало и конец",
                                  "a break needs both a start and an end"),
    "weekday_out_of_range": ("день недели вне 1…7", "the weekday is outside 1..7"),
    "slot_minutes_out_of_range": ("длительность приёма вне 5…240 минут",
                                  "the slot length is outside 5..240 minutes"),
    "valid_to_before_valid_from": ("«действует по» раньше «действует с»",
                                   "'valid to' is before 'valid from'"),
    "unknown_parity": ("чётность: «чёт.», «нечёт.» или пусто", "parity: even, odd or empty"),
}


def render(code: str, params: dict[str, Any]) -> tuple[str, str]:
    """(Russian, English) text of a problem."""
    ru, en = MESSAGES.get(code, (code, code))
    try:
        return ru.format(**params), en.format(**params)
    except (KeyError, IndexError):
        return ru, en
