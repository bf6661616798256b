"""Russian words for the console: roles, statuses, channels, escalation reasons, IVR steps,
error messages, dates.  Codes stay codes in the API; people read these."""

from __future__ import annotations

from datetime import date, datetime

ROLES = {"admin": "Администратор", "agent": "Регистратор", "observer": "Наблюдатель"}

STATUSES = {
    "pending": "Удерживается", "booked": "Записан", "cancelled": "Отменена",
    "completed": "Принят", "no_show": "Неявка", "walk_in": "Опоздал (живая очередь)",
    "out_of_schedule": "Вне расписания",
}

CHANNELS = {
    "ivr": "Телефон (IVR)", "internet": "Интернет", "infomat": "Инфомат",
    "console": "Регистратура (консоль)", "desk": "Стойка регистратуры", "sms": "SMS",
    "system": "Система", "*": "Все каналы",
}

RESTRICTABLE_CHANNELS = ("ivr", "internet", "infomat", "*")

REASONS = {
    "caller_request": "Попросил оператора",
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
    "abandoned": "Не дождался",
}

STEPS = {
    "language": "Язык", "main_menu": "Главное меню", "policy": "Полис",
    "policy_readback": "Подтверждение полиса", "birth_date": "Дата рождения",
    "birth_date_readback": "Подтверждение даты", "identified": "Опознан",
    "not_identified": "Не опознан", "not_identified_retry": "Повтор опознания",
    "specialty": "Выбор специальности", "specialty_chosen": "Специальность",
    "offer": "Предложенное время", "confirm_booking": "Подтверждение записи",
    "appointment": "Записи", "confirm_cancel": "Подтверждение отмены",
    "anything_else": "Что-то ещё", "booking_blocked": "Блокировка",
    "channel_closed": "Канал закрыт", "no_slots": "Нет времени", "slot_taken": "Время заняли",
    "referral_required": "Нужно направление", "too_many_attempts": "Много попыток",
    "home_visit": "Вызов на дом", "system_error": "Сбой", "no_input": "Тишина",
    "not_understood": "Не понял", "limit_specialty": "Лимит по специальности",
    "limit_day": "Лимит в день", "queue_no_agent": "Нет оператора",
    "held_specialty": "Уже записан к специалисту", "beyond_horizon": "День дальше горизонта",
}

#: Steps that say nothing to an agent.
QUIET_STEPS = frozenset({"greeting", "goodbye", "to_agent", "identified_readback",
                         "privacy_notice"})

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
    "not_cancellable": "Эту запись уже нельзя отменить.",
    "hold_expired": "Время удержания истекло.",
    "attachment_too_soon": "Прикрепление можно менять не чаще раза в год.",
    "invalid_transition": "Так изменить статус записи нельзя.",
    "invalid_credentials": "Неверное имя пользователя или пароль.",
    "already_exists": "Такой пользователь уже есть.",
    "call_taken": "Этот звонок уже принял другой оператор.",
    "not_authenticated": "Войдите в систему.",
    "forbidden": "Недостаточно прав для этого действия.",
    "csrf_failed": "Форма устарела. Обновите страницу и повторите.",
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
    text = STEPS.get(name, name)
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
