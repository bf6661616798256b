"""Russian words for the console: roles, statuses, channels, escalation reasons, IVR steps,
error messages, dates.  Codes stay codes in the API; people read these."""

from __future__ import annotations

from datetime import date, datetime

from booking_core.hours import DeskHours

ROLES = {"admin": "Администратор", "agent": "Регистратор", "observer": "Наблюдатель"}

STATUSES = {
    "pending": "Удерживается", "booked": "Записан", "cancelled": "Отменена",
    "completed": "Принят", "no_show": "Неявка", "walk_in": "Опоздал (живая очередь)",
    "out_of_schedule": "Вне расписания",
}

WAITLIST_STATUSES = {
    "waiting": "Ждёт", "offered": "Предложено время", "booked": "Записан",
    "declined": "Отказался", "left": "Вышел из листа", "expired": "Срок истёк",
}
PREFERENCES = {"any": "в любое время", "morning": "утром", "afternoon": "после обеда"}


def days_word(n: int) -> str:
    """«день», «дня», «дней» after a number."""
    from speech.ru_numbers import plural

    return plural(int(n), "день", "дня", "дней")


def appointment_status(status: str, cancel_reason: str | None = None) -> str:
    """The status as a registrar says it: a moved visit is «Перенесена», not «Отменена»."""
    if status == "cancelled" and cancel_reason == "rescheduled":
        return "Перенесена"
    return STATUSES.get(status, status)


SPECIALTY_CLOSED = {
    "wrong_clinic": "пациент не прикреплён к поликлинике",
    "referral_required": "нужно направление",
    "limit_reached": "уже есть запись",
    "booking_blocked": "запись заблокирована",
}


def specialty_closed_text(choice: object) -> str:
    """Why a specialty cannot be booked for this patient now, in a few words."""
    reason = getattr(choice, "reason", None)
    if reason == "age_mismatch":
        group = getattr(getattr(choice, "specialty", None), "age_group", "")
        return "только для детей" if group == "child" else "только для взрослых"
    text = SPECIALTY_CLOSED.get(reason or "", ERRORS.get(reason or "", ""))
    until = getattr(choice, "until", None)
    if reason == "limit_reached" and until is not None:
        text += f" на {until:%d.%m} {until:%H:%M}"
    return text


CHANNELS = {
    "ivr": "Телефон (IVR)", "internet": "Интернет", "infomat": "Инфомат",
    "console": "Регистратура (консоль)", "desk": "Стойка регистратуры", "sms": "SMS",
    "system": "Система", "*": "Все каналы",
}

RESTRICTABLE_CHANNELS = ("ivr", "internet", "infomat", "*")

REASONS = {
    "caller_request": "Попросил оператора",
    "clinic_not_set_up": "Поликлиника не настроена: врачей нет",
    "no_input": "Не отвечает (тишина)",
    "invalid_input": "Неверные нажатия",
    "not_identified": "Не опознан по полису и дате рождения",
    "too_many_attempts": "Слишком много попыток опознания",
    "policy_entry_failed": "Не смог ввести полис",
    "birth_date_entry_failed": "Не смог ввести дату рождения",
    "no_specialties": "Нет доступных специальностей",
    "channel_closed": "Запись по телефону закрыта",
    "no_slots": "Нет свободного времени",
    "booking_blocked": "Запись заблокирована за неявки",
    "referral_required": "Нужно направление",
    "home_visit": "Вызов врача на дом",
    "system_error": "Сбой системы",
    "limit_reached": "Превышен лимит записей",
    "slot_taken": "Время заняли",
    "slot_unavailable": "Время недоступно",
    "age_mismatch": "Специальность не по возрасту",
    "wrong_clinic": "Не прикреплён к поликлинике",
    "not_cancellable": "Запись нельзя отменить",
    "no_agent": "Не было свободного оператора",
}

INTENTS = {
    "book": "Запись к врачу", "my_appointments": "Мои записи (отмена, перенос)",
    "home_visit": "Вызов врача на дом", "callback": "Обратный звонок",
}

OUTCOMES = {
    "in_progress": "Идёт", "completed": "Завершён сам", "booked": "Записался сам",
    "cancelled": "Отменил сам", "rescheduled": "Перенёс сам", "escalated": "Передан оператору",
    "callback": "Заказан обратный звонок", "hangup": "Положил трубку",
    "abandoned": "Не дождался", "waitlist": "Встал в лист ожидания",
    "waitlist_left": "Вышел из листа ожидания",
}

STEPS = {
    "language": "Язык", "main_menu": "Главное меню", "policy": "Полис",
    "not_set_up": "Запись недоступна (поликлиника не настроена)",
    "policy_readback": "Подтверждение полиса", "birth_date": "Дата рождения",
    "birth_date_readback": "Подтверждение даты", "identified": "Опознан",
    "not_identified": "Не опознан", "not_identified_retry": "Повтор опознания",
    "specialty": "Выбор специальности", "specialty_chosen": "Специальность",
    "offer": "Предложенное время", "confirm_booking": "Подтверждение записи",
    "waitlist_offer": "Лист ожидания: предложен", "waitlist_joined": "Встал в лист ожидания",
    "waitlist_already": "Уже в листе ожидания", "waitlist_item": "Лист ожидания",
    "waitlist_left": "Вышел из листа ожидания", "waitlist_menu": "Лист ожидания: меню",
    "appointment_offer": "Время из листа ожидания",
    "appointment_offer_menu": "Время из листа ожидания: меню",
    "appointment_offer_gone": "Время из листа ожидания ушло",
    "appointment": "Записи", "confirm_cancel": "Подтверждение отмены",
    "anything_else": "Что-то ещё", "booking_blocked": "Блокировка",
    "channel_closed": "Канал закрыт", "no_slots": "Нет времени", "slot_taken": "Время заняли",
    "referral_required": "Нужно направление", "too_many_attempts": "Много попыток",
    "home_visit": "Вызов на дом", "system_error": "Сбой", "no_input": "Тишина",
    "not_understood": "Не понял", "limit_specialty": "Лимит по специальности",
    "limit_day": "Лимит в день", "queue_no_agent": "Нет оператора",
    "held_specialty": "Уже записан к специалисту", "beyond_horizon": "День дальше горизонта",
    # Rule 20: a caller not on the patient's phone needs the patient's SMS code
    "consent_failed": "Звонит не пациент: код из SMS не подошёл",
    "consent_code_expired": "Звонит не пациент: код из SMS просрочен",
    "consent_sms_failed": "Звонит не пациент: SMS с кодом не ушло",
    "consent_unavailable": "Звонит не пациент: у пациента нет мобильного для кода",
}

STEPS.update({
    "speech_not_understood": "Речь не распознана", "speech_off": "Речь отключена",
    "ask_policy": "Спросили полис", "policy_bad_length": "Полис: не та длина",
    "policy_bad_check": "Полис: не сошлась контрольная цифра",
    "ask_birth_date": "Спросили дату рождения", "birth_date_bad": "Дата рождения: ошибка",
    "identity_fix": "Исправление данных", "not_identified_final": "Не опознан окончательно",
    "choose_specialty": "Выбор специальности", "specialty_option": "Специальности",
    "no_specialties": "Нет специальностей", "no_slots_on_day": "Нет времени в этот день",
    "offer_first": "Предложено время", "offer_next": "Следующее время",
    "offer_menu": "Меню предложения", "no_more_slots": "Время закончилось",
    "no_other_doctor": "Другого врача нет", "ask_day": "Спросили день",
    "day_bad": "День: ошибка", "booked": "Записан", "no_appointments": "Записей нет",
    "appointments_count": "Названо число записей", "appointment_item": "Прочитана запись",
    "appointment_menu": "Меню записи", "cancelled": "Запись отменена",
    "not_cancellable": "Отменить нельзя", "rescheduled": "Запись перенесена",
    "home_visit_after_hours": "Вызов на дом (нерабочее время)",
    "after_hours": "Нерабочее время", "callback_saved": "Заказан обратный звонок",
    "reminder_intro": "Напоминание", "reminder_menu": "Меню напоминания",
    "reminder_confirmed": "Визит подтверждён", "reminder_confirm_cancel": "Подтверждение отмены",
    "reminder_cancelled": "Отменено по напоминанию", "reminder_kept": "Запись оставлена",
    "reminder_gone": "Записи уже нет", "reminder_no_answer": "Нет ответа",
    # the call's wording, a doctor's absence on the phone and in the reminder call
    "held_specialty": "Уже есть запись к специалисту", "beyond_horizon": "День за горизонтом",
    "appointment_item_absent": "Запись: врач отсутствует",
    "appointment_substitute": "Предложено отложенное время",
    "appointment_substitute_menu": "Меню отложенного времени",
    "substitute_gone": "Отложенное время ушло",
    "reminder_absent_intro": "Напоминание: врач отсутствует",
    "reminder_substitute": "Напоминание: отложенное время",
    "reminder_substitute_menu": "Меню отложенного времени", "reminder_absent_menu": "Меню переноса",
    "reminder_substitute_taken": "Записан на отложенное время",
    "reminder_substitute_gone": "Отложенное время ушло",
    "reminder_to_agent": "Передан оператору для переноса",
    "reminder_absent_kept": "Запись оставлена (врач отсутствует)",
    "reminder_absent_no_answer": "Нет ответа (врач отсутствует)",
    # Rule 20: consent by SMS code (the code itself is never recorded)
    "consent_needed": "Звонят не с номера пациента", "consent_sending": "Отправлен код в SMS",
    "consent_ask_code": "Спросили код из SMS", "consent_code": "Код из SMS",
    "consent_code_wrong": "Код не подошёл", "consent_code_expired": "Код просрочен",
    "consent_accepted": "Код верный", "consent_given": "Согласие пациента получено",
    "consent_failed": "Код не подошёл окончательно", "consent_sms_failed": "SMS с кодом не ушло",
    "consent_no_phone": "Нет мобильного для кода",
    "attached_clinic": "Названа поликлиника пациента",
    "attached_elsewhere": "Прикреплён к другой поликлинике",
    "attached_elsewhere_book": "Прикреплён к другой поликлинике",
    "booked_clinic": "Записан", "rescheduled_clinic": "Запись перенесена",
})

#: Steps that say nothing to an agent (parts of sentences, greetings).
QUIET_STEPS = frozenset({"greeting", "goodbye", "to_agent", "identified_readback",
                         "slot_phrase", "slot_phrase_full", "tomorrow", "today", "after_time",
                         "privacy_notice", "greeting_regional", "slot_phrase_clinic"})
#: A step the table does not know yet: a word, never the internal id.
UNKNOWN_STEP = "Шаг меню"

#: Asterisk device states of agents' phones (``ast_device_state``).
DEVICE_STATES = {
    "unknown": "неизвестно", "not_in_use": "свободен", "in_use": "разговаривает",
    "busy": "занят", "invalid": "нет такого телефона", "unavailable": "не в сети",
    "ringing": "звонит", "ring_in_use": "звонит во время разговора", "on_hold": "на удержании",
}

AUDIT_ACTIONS = {
    "book": "Запись", "hold": "Удержание времени", "confirm": "Подтверждение записи",
    "cancel": "Отмена записи", "reschedule": "Перенос записи", "arrived": "Пациент пришёл",
    "arrival_undone": "Отметка о приходе снята", "no_show": "Неявка",
    "out_of_schedule": "Приём вне расписания", "confirm_attendance": "Визит подтверждён",
    "block": "Блокировка записи", "unblock": "Блокировка снята", "attach": "Прикрепление",
    "absence": "Отсутствие врача", "restrict": "Ограничение записи",
    "unrestrict": "Ограничение снято", "callback_request": "Просьба перезвонить",
    "callback_done": "Перезвонили", "take_call": "Звонок принят",
    "dismiss_call": "Звонок снят с очереди", "click_to_call": "Звонок из консоли",
    "agent_create": "Новый пользователь", "agent_update": "Изменён пользователь",
    "login": "Вход", "login_failed": "Неудачный вход", "logout": "Выход",
    "waitlist_join": "Лист ожидания: добавлен", "waitlist_leave": "Лист ожидания: вышел",
    "waitlist_offer": "Лист ожидания: предложено время",
    "waitlist_offer_expired": "Лист ожидания: предложение истекло",
    "waitlist_decline": "Лист ожидания: отказ", "waitlist_booked": "Лист ожидания: записан",
    "waitlist_expire": "Лист ожидания: срок истёк",
    "line_add": "Новый номер линии", "line_remove": "Номер линии удалён",
}

AUDIT_ENTITIES = {
    "appointment": "Запись", "patient": "Пациент", "doctor": "Врач", "callback": "Перезвон",
    "call": "Звонок", "agent": "Пользователь", "channel_restriction": "Ограничение",
    "waitlist_entry": "Лист ожидания", "clinic_line": "Номер линии",
}

SYSTEM_ACTORS = {"hold_expiry": "истечение удержания", "cli": "командная строка",
                 "demo_seed": "демо-данные", "test": "тест", "waiting_list": "лист ожидания"}

AUDIT_FIELDS = {
    "status": "Статус", "slot_id": "Время (слот)", "starts_at": "Начало", "doctor_id": "Врач",
    "confirmation_code": "Талон", "arrived_at": "Пришёл в", "blocked_from": "Блокировка с",
    "blocked_until": "Блокировка до", "reason": "Причина", "channel": "Канал",
    "specialty_id": "Специальность", "starts_on": "С", "ends_on": "По",
    "clinic_id": "Поликлиника", "district_id": "Участок", "attached_on": "Прикреплён с",
    "username": "Логин", "role": "Роль", "full_name": "Имя", "extension": "Телефон",
    "active": "Активен", "answered_by": "Принял", "outcome": "Итог", "note": "Заметка",
    "via": "Как", "affected": "Затронуто записей", "block_id": "Блокировка",
    "patient_id": "Пациент", "interface": "Телефон оператора",
    "substitute_doctor_id": "Замена", "preference": "Время дня",
    "offer_appointment_id": "Предложенная запись", "booked_appointment_id": "Запись",
    "number": "Номер", "label": "Подпись",
}

MAIN_MENU = {"1": "запись", "2": "мои записи", "3": "вызов на дом", "0": "оператор"}

ERRORS = {
    "invalid_policy": "Номер полиса не проходит проверку (16 цифр, контрольная цифра).",
    "invalid_input": "Проверьте введённые данные.",
    "not_identified": "Пациент не найден.",
    "too_many_attempts": "Слишком много попыток. Попробуйте позже.",
    "not_found": "Не найдено.",
    "slot_taken": "Это время уже занято — выберите другое.",
    "slot_unavailable": "Это время недоступно (прошло, вне окна записи или врач отсутствует).",
    "booking_blocked": "Запись заблокирована.",
    "limit_reached": "Превышен лимит: одна будущая запись на специальность и не больше "
                     "двух в день.",
    "channel_closed": "Запись через этот канал закрыта.",
    "referral_required": "Нужно действующее направление к этому специалисту.",
    "age_mismatch": "Специальность не соответствует возрасту пациента.",
    "wrong_clinic": "Пациент не прикреплён к этой поликлинике.",
    "already_waiting": "Пациент уже в листе ожидания к этому специалисту.",
    "not_cancellable": "Эту запись уже нельзя отменить.",
    "hold_expired": "Время удержания истекло.",
    "attachment_too_soon": "Прикрепление можно менять не чаще раза в год.",
    "invalid_transition": "Так изменить статус записи нельзя.",
    "arrival_outside_window": "Отметить приход можно только около времени приёма "
                              "(за два часа до начала и в течение двух часов после).",
    "invalid_credentials": "Неверное имя пользователя или пароль.",
    "already_exists": "Такой пользователь уже есть.",
    "call_taken": "Этот звонок уже принял другой оператор.",
    "not_authenticated": "Войдите в систему.",
    "forbidden": "Недостаточно прав для этого действия.",
    "other_clinic": "Это данные другой поликлиники: вы работаете только со своей.",
    "csrf_failed": "Форма устарела. Обновите страницу и повторите.",
    "duplicate": "Такая запись уже есть (код, номер или полис совпадает).",
    "invalid_snils": "СНИЛС неверен: не сходится контрольное число.",
    "invalid_birth_date": "Дата рождения в будущем или невозможна.",
    "invalid_phone": "Телефон не похож на номер телефона.",
    "clinic_not_set_up": "Поликлиника ещё не настроена.",
    "consent_code_wrong": "Код из SMS не подходит.",
    "consent_code_expired": "Срок действия кода из SMS истёк.",
    "consent_unavailable": "У пациента нет мобильного телефона для кода.",
    "telephony_unavailable": "Телефония недоступна: Asterisk не подключён.",
    "no_agent_phone": "Вам не назначен телефон в очереди операторов — обратитесь к администратору.",
    "no_phone_number": "У пациента нет номера телефона.",
    "telephony_failed": "Asterisk не выполнил команду. Попробуйте ещё раз.",
}

WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
WEEKDAYS_FULL = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота",
                 "воскресенье")
MONTHS_GEN = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
              "сентября", "октября", "ноября", "декабря")


def label(table: dict[str, str], code: str | None, default: str = "—") -> str:
    """The Russian word for ``code`` (the code itself when unknown)."""
    if not code:
        return default
    return table.get(code, code)


def error_text(code: str, fallback: str = "") -> str:
    """What to tell a registrar when the booking core refuses with ``code``."""
    return ERRORS.get(code, fallback or "Действие не выполнено.")


def ru_day(d: date | datetime) -> str:
    """``пн, 7 сентября``."""
    return f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS_GEN[d.month - 1]}"


def step_text(name: str, value: str | None) -> str:
    """One IVR step as a short phrase: ``Главное меню: 1 (запись)``, ``Полис: 16 цифр``."""
    text = STEPS.get(name, UNKNOWN_STEP)
    if value is None:
        return text
    if name == "main_menu":
        value = f"{value} ({MAIN_MENU[value]})" if value in MAIN_MENU else value
    value = (value.replace("digits", "цифр").replace("timeout", "тишина")
             .replace("speech:", "речь: ").replace("not understood", "не распознано"))
    return f"{text}: {value}"


def duration(seconds: int | float | None) -> str:
    """``4 мин 05 с``, ``35 с``."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} с"
    if s < 3600:
        return f"{s // 60} мин {s % 60:02d} с"
    return f"{s // 3600} ч {s % 3600 // 60:02d} мин"


def desk_text(hours: DeskHours, now: datetime) -> str:
    """``Регистратура открыта до 20:00`` / ``Регистратура закрыта (…), откроется пн, 7 сентября
    в 08:00``."""
    status = hours.status(now)
    if status.open and status.closes_at is not None:
        return f"Регистратура открыта до {status.closes_at:%H:%M}"
    holiday = hours.holiday_name(now.date())
    text = "Регистратура закрыта" + (f" ({holiday})" if holiday else "")
    if status.opens_at is None:
        return text
    if status.opens_at.date() == now.date():
        return f"{text}, откроется сегодня в {status.opens_at:%H:%M}"
    return f"{text}, откроется {ru_day(status.opens_at)} в {status.opens_at:%H:%M}"
def device_state(code: str | None) -> str:
    """An agent phone's Asterisk state in Russian (``not_in_use`` → «свободен»)."""
    return DEVICE_STATES.get(code or "", code or "—")


def actor_text(actor: str, name: str = "") -> str:
    """Who did it, for people: the name, or «Система: истечение удержания», «Пациент»."""
    kind, _, ident = actor.partition(":")
    if name:
        return name
    if kind == "system":
        return f"Система: {SYSTEM_ACTORS.get(ident, ident)}" if ident else "Система"
    if kind == "patient":
        return "Пациент" + (f" № {ident}" if ident else " (не опознан)")
    return ident or actor


def _audit_value(field: str, value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "да" if value else "нет"
    if field == "status":
        return STATUSES.get(str(value), str(value))
    if field == "channel":
        return CHANNELS.get(str(value), str(value))
    if field == "role":
        return ROLES.get(str(value), str(value))
    if field == "outcome":
        return OUTCOMES.get(str(value), str(value))
    if field == "reason":
        return REASONS.get(str(value), str(value))
    text = str(value)
    try:
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            at = datetime.fromisoformat(text)
            return at.strftime("%d.%m.%Y %H:%M") if "T" in text else at.strftime("%d.%m.%Y")
    except ValueError:
        pass
    if isinstance(value, list | dict):
        return f"{len(value)}" if field == "affected" else str(value)
    return text


#: Internal ids another field already says in words (the slot is its start time).
HIDDEN_AUDIT_FIELDS = frozenset({"slot_id"})


def audit_changes(before: dict | None, after: dict | None,
                  refs: dict[str, dict[str, str]] | None = None) -> list[tuple[str, str, str]]:
    """Before/after as readable rows ``(field, was, now)``: only what changed (or everything
    when only one side exists), field names and codes in Russian, ids by name (``refs``)."""
    before, after, refs = before or {}, after or {}, refs or {}

    def show(field: str, value: object) -> str:
        named = refs.get(field, {}).get(str(value))
        return named or _audit_value(field, value)

    rows = []
    for field in dict.fromkeys([*before, *after]):
        old, new = before.get(field), after.get(field)
        if field in HIDDEN_AUDIT_FIELDS or (before and after and old == new):
            continue
        rows.append((AUDIT_FIELDS.get(field, field), show(field, old) if before else "",
                     show(field, new) if after else ""))
    return rows
