"""How numbers, dates and slots are said in each locale (built on ``speech`` word tables)."""

from __future__ import annotations

from datetime import date

from booking_core.views import SlotOffer
from ivr.catalogue import Catalogue
from speech import en_words, ru_dates, ru_numbers


class Phraser:
    """Turns domain values into the words a registrar would say in ``catalogue.locale``."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.ru = catalogue.locale == "ru"

    def digits(self, digits: str) -> list[str]:
        """One word per digit: the parts of a read-back."""
        if self.ru:
            return [ru_numbers.digits_to_words(d) for d in digits]
        return [en_words.digits_to_words(d) for d in digits]

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

    def slot(self, offer: SlotOffer) -> str:
        """"вторник, шестое сентября, в семнадцать тридцать, врач ..., кабинет пятнадцать"."""
        if self.ru:
            when = ru_dates.say_datetime_slot(offer.starts_at)
        else:
            when = (f"{en_words.say_date(offer.starts_at.date())}, "
                    f"at {en_words.say_time(offer.starts_at.time())}")
        return self.catalogue.text("slot_phrase", when=when, doctor=offer.doctor.full_name,
                                   cabinet=self.cabinet(offer.cabinet))

    def appointments(self, n: int) -> str:
        """"одна запись", "две записи", "five appointments"."""
        if self.ru:
            return ru_numbers.quantity_to_words(n, "запись", "записи", "записей", gender="f")
        return f"{en_words.number_to_words(n)} {en_words.plural(n, 'appointment', 'appointments')}"
