"""How numbers, dates and slots are said in each locale (built on ``speech`` word tables)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import iuliia

from booking_core.views import AppointmentView, SlotOffer
from ivr.catalogue import Catalogue
from speech import en_words, ru_dates, ru_numbers


class Phraser:
    """Turns domain values into the words a registrar would say in ``catalogue.locale``."""

    def __init__(self, catalogue: Catalogue, today: Callable[[], date] | None = None) -> None:
        self.catalogue = catalogue
        self.ru = catalogue.locale == "ru"
        self.today = today

    def digits(self, digits: str, group: int = 1) -> list[str]:
        """The parts of a read-back, digit by digit: one part per ``group`` digits.

        ``group=4`` reads a policy as people read it, in fours ("восемь один ноль ноль",
        "ноль ноль ...") with a short pause between the parts, and faster than a file per digit;
        a part never holds more than ``group`` digits of a personal number.
        """
        say = ru_numbers.digits_to_words if self.ru else en_words.digits_to_words
        return [say(digits[i:i + group]) for i in range(0, len(digits), group)]

    def name(self, text: str) -> str:
        """A Russian proper name (clinic, doctor) as this locale says it.

        English prompts read names in Latin letters: an English voice cannot say Cyrillic.
        The Wikipedia scheme of :mod:`iuliia` is the one English readers know ("Solovyov",
        "Artyom"), closer to the sound than the passport scheme.
        """
        if self.ru:
            return text
        return iuliia.WIKIPEDIA.translate(text.replace("№", "No."))

    def number(self, n: int) -> str:
        return ru_numbers.number_to_words(n) if self.ru else en_words.number_to_words(n)

    def cabinet(self, cabinet: str) -> str:
        """"15" → "пятнадцать"; "15а" → "пятнадцать а"."""
        head = "".join(ch for ch in cabinet if ch.isdigit())
        tail = cabinet[len(head):].strip() if cabinet.startswith(head) else ""
        if not head or not cabinet.startswith(head):
            return cabinet
        return f"{self.number(int(head))} {tail}".strip()

    def day_month(self, d: date) -> str:
        if self.ru:
            return ru_dates.say_day_month(d)
        return en_words.say_date(d, with_weekday=False)

    def year(self, d: date) -> str:
        return ru_dates.say_year(d.year) if self.ru else en_words.say_year(d.year)

    def until(self, d: date) -> str:
        """A date after "до" (genitive in Russian)."""
        if self.ru:
            return ru_dates.say_date(d, with_weekday=False, case="gen")
        return en_words.say_date(d, with_weekday=False)

    def slot(self, offer: SlotOffer | AppointmentView, *, full: bool = False) -> str:
        """An offered slot as a registrar says it: "завтра, в восемь ноль-ноль, врач Кашинцева",
        "вторник, восьмое сентября, в семнадцать тридцать, врач Орлов".

        Only what the caller needs to choose: the day (``tomorrow`` for tomorrow), the time and
        the doctor's surname.  ``full``: the doctor's full name and the cabinet too (an
        appointment already made, e.g. a reminder call).
        """
        day = offer.starts_at.date()
        tomorrow = self.today is not None and day == self.today() + timedelta(days=1)
        if self.ru:
            at = ru_dates.say_time(offer.starts_at.time())
            when = (f"{self.catalogue.text('tomorrow')}, в {at}" if tomorrow
                    else ru_dates.say_datetime_slot(offer.starts_at))
        else:
            said_day = self.catalogue.text("tomorrow") if tomorrow else en_words.say_date(day)
            when = f"{said_day}, at {en_words.say_time(offer.starts_at.time())}"
        if full:
            return self.catalogue.text("slot_phrase_full", when=when,
                                       doctor=self.name(offer.doctor.full_name),
                                       cabinet=self.cabinet(offer.cabinet))
        return self.catalogue.text("slot_phrase", when=when,
                                   doctor=self.name(offer.doctor.last_name))

    def horizon(self, days: int) -> str:
        """A booking horizon after "на ... вперёд": «неделю», «две недели», «десять дней»."""
        weeks, rest = divmod(days, 7)
        if self.ru:
            if rest or not weeks:
                return ru_numbers.quantity_to_words(days, "день", "дня", "дней", case="acc")
            if weeks == 1:
                return "неделю"
            return ru_numbers.quantity_to_words(weeks, "неделю", "недели", "недель",
                                                gender="f", case="acc")
        if rest or not weeks:
            return f"{en_words.number_to_words(days)} {en_words.plural(days, 'day', 'days')}"
        return f"{en_words.number_to_words(weeks)} {en_words.plural(weeks, 'week', 'weeks')}"

    def appointments(self, n: int) -> str:
        """"одна запись", "две записи", "five appointments"."""
        if self.ru:
            return ru_numbers.quantity_to_words(n, "запись", "записи", "записей", gender="f")
        return f"{en_words.number_to_words(n)} {en_words.plural(n, 'appointment', 'appointments')}"
