"""How numbers, dates and slots are said in each locale (built on ``speech`` word tables)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import iuliia

from booking_core.views import AppointmentView, SlotOffer, SpecialtyView
from ivr.dialogue.catalogue import Catalogue
from speech import en_words, ru_dates, ru_numbers


class Phraser:
    """Turns domain values into the words a registrar would say in ``catalogue.locale``."""

    def __init__(self, catalogue: Catalogue, today: Callable[[], date] | None = None) -> None:
        self.catalogue = catalogue
        self.ru = catalogue.locale == "ru"
        self.today = today

    def digits(self, digits: str, group: int = 1) -> list[str]:
        """The parts of a read-back, digit by digit: one part per ``group`` digits.

        ``group=4`` reads a policy as people read it, in fours ("восемь один ноль ноль,",
        "ноль ноль ...,") with a pause between the groups (the comma: see
        ``speech.prompt_cache.PAUSE_AFTER_COMMA``), and faster than a file per digit; a part
        never holds more than ``group`` digits of a personal number.
        """
        say = ru_numbers.digits_to_words if self.ru else en_words.digits_to_words
        parts = [say(digits[i:i + group]) for i in range(0, len(digits), group)]
        if group > 1:  # a pause between groups; the sentence after the last one is its own
            parts = [p + "," for p in parts[:-1]] + parts[-1:]
        return parts

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
        """A year as read back after a day and month: «тысяча девятьсот восемьдесят пятого»
        (without «года», as people say a date of birth)."""
        if self.ru:
            return ru_dates.say_year(d.year, with_word=False)
        return en_words.say_year(d.year)

    def until(self, d: date) -> str:
        """A date after "до" (genitive in Russian)."""
        if self.ru:
            return ru_dates.say_date(d, with_weekday=False, case="gen")
        return en_words.say_date(d, with_weekday=False)

    def when(self, offer: SlotOffer | AppointmentView) -> str:
        """The day and time of a slot: «завтра в восемь ноль-ноль», «вторник, восьмое
        сентября, в семнадцать тридцать»."""
        day = offer.starts_at.date()
        tomorrow = self.today is not None and day == self.today() + timedelta(days=1)
        if self.ru:
            at = ru_dates.say_time(offer.starts_at.time())
            return (f"{self.catalogue.text('tomorrow')} в {at}" if tomorrow
                    else ru_dates.say_datetime_slot(offer.starts_at))
        said_day = self.catalogue.text("tomorrow") if tomorrow else en_words.say_date(day)
        return f"{said_day}, at {en_words.say_time(offer.starts_at.time())}"

    def specialty(self, spec: SpecialtyView) -> str:
        """A specialty's name mid-sentence: «Вы записаны: терапевт ...», "a general
        practitioner" (the catalogue capitalises names for menus)."""
        name = spec.name(self.catalogue.locale)
        return name[:1].lower() + name[1:]

    def summary(self, appt: AppointmentView, clinic: str | None = None) -> dict[str, str]:
        """What a registrar repeats at the end of a booking, in her order: specialty, doctor,
        day and time, cabinet (the talon follows).  The doctor by surname, as the offer named
        them: the full name comes in the SMS, and every second counts on the phone.
        ``clinic``: the clinic's name, said before the cabinet when the line serves several
        (for the ``*_clinic`` templates)."""
        said = {"specialty": self.specialty(appt.specialty),
                "doctor": self.name(appt.doctor.last_name), "when": self.when(appt),
                "cabinet": self.cabinet(appt.cabinet)}
        if clinic:
            said["clinic"] = clinic
        return said

    def slot(self, offer: SlotOffer | AppointmentView, *, full: bool = False,
             clinic: str | None = None) -> str:
        """An offered slot as a registrar says it: "завтра в восемь ноль-ноль, врач Кашинцева",
        "вторник, восьмое сентября, в семнадцать тридцать, врач Орлов".

        Only what the caller needs to choose: the day (``tomorrow`` for tomorrow), the time and
        the doctor's surname.  ``full``: the doctor's full name and the cabinet too (an
        appointment already made, e.g. a reminder call).  ``clinic``: the line serves several
        clinics, so the clinic and the cabinet are said too («..., врач Кашинцева, Городская
        поликлиника № 3, кабинет пятнадцать»).
        """
        when = self.when(offer)
        if clinic and not full:
            return self.catalogue.text("slot_phrase_clinic", when=when,
                                       doctor=self.name(offer.doctor.last_name),
                                       clinic=clinic, cabinet=self.cabinet(offer.cabinet))
        if full:
            return self.catalogue.text("slot_phrase_full", when=when,
                                       doctor=self.name(offer.doctor.full_name),
                                       cabinet=self.cabinet(offer.cabinet))
        return self.catalogue.text("slot_phrase", when=when,
                                   doctor=self.name(offer.doctor.last_name))

    def hour(self, t: time) -> str:
        """A clock time after "с"/"до"/"после", as people say office hours: «восьми утра»,
        «восьми вечера», «часу дня»; "eight a.m." in English."""
        if not self.ru:
            return en_words.say_time(t)
        if t.minute:
            return ru_dates.say_time(t, case="gen")
        if t.hour == 0:
            return "полуночи"
        part = ("ночи" if t.hour < 4 else "утра" if t.hour < 12
                else "дня" if t.hour < 17 else "вечера")
        h12 = t.hour if t.hour <= 12 else t.hour - 12
        return f"{'часу' if h12 == 1 else ru_numbers.number_to_words(h12, case='gen')} {part}"

    def callback_when(self, at: datetime) -> str:
        """When a callback will come, naming the day: «завтра после восьми утра»,
        «в понедельник после восьми утра»."""
        today = self.today() if self.today is not None else at.date()
        days = (at.date() - today).days
        after = self.catalogue.text("after_time", time=self.hour(at.time()))
        if days <= 0:
            day = self.catalogue.text("today")
        elif days == 1:
            day = self.catalogue.text("tomorrow")
        elif days < 7:
            day = (ru_dates.on_weekday(at.date()) if self.ru
                   else f"on {at.strftime('%A')}")
        else:
            day = (ru_dates.say_date(at.date(), with_weekday=False, case="gen") if self.ru
                   else f"on {en_words.say_date(at.date(), with_weekday=False)}")
        return f"{day} {after}"

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
