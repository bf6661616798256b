"""SMS notifications: domain events in, outbox rows and message texts out (rules 14, 17, 18).

The use cases call the ``appointment_*`` / ``absence_notices`` functions inside their own
transaction, before the commit, so the outbox row exists exactly when the booking change does
(the transactional outbox).  A row stores the *facts* of the event (clinic, doctor, time,
cabinet, code — never the phone number, which has its own column); the text is rendered from
them by :func:`render` when a worker first claims the row, in the configured language, and is
then frozen on the row.

Texts live in ``sms/texts/<locale>.toml``.  Each kind may have a ``_short`` variant; the one
that costs fewer SMS segments is sent (see :mod:`sms.segments`).
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from booking_core import outbox
from booking_core.masking import mask_phone
from booking_core.uow import UnitOfWork
from booking_core.views import AppointmentView, DoctorView, SlotOffer
from models.tables import Clinic, Doctor, Patient, Specialty
from sms.segments import SegmentInfo, segment_info
from speech.ru_names import Case, short_name_in

if TYPE_CHECKING:
    from booking_core.admin import AffectedAppointment

logger = logging.getLogger(__name__)

BOOKED = "booked"
CANCELLED = "cancelled"
RESCHEDULED = "rescheduled"
REMINDER = "reminder"
ABSENCE = "absence"
#: A booked visit the doctor's new schedule no longer covers, or after the doctor's last day
#: (the values of ``AppointmentFlag``).
SCHEDULE_CHANGED = "schedule_changed"
DOCTOR_LEFT = "doctor_left"
#: A one-time code for booking someone else (rule 20): its text is scrubbed once sent.
CONSENT = "consent"
WAITLIST_OFFER = "waitlist_offer"
#: "You are on the waiting list until …; reply 0 to leave it" (rule 19).
WAITLIST_JOINED = "waitlist_joined"
#: Kinds whose text tells the patient to reply "2" (and "1" for a reminder): a reply from the
#: number such an SMS went to is matched to its appointment.
REPLYABLE_KINDS = (BOOKED, RESCHEDULED, REMINDER, ABSENCE, SCHEDULE_CHANGED, DOCTOR_LEFT)
#: Kinds that offer another doctor's slot, with a variant for when there is none.
SUBSTITUTE_KINDS = (ABSENCE, SCHEDULE_CHANGED, DOCTOR_LEFT)

LOCALES = ("ru", "en")
RU_WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --- phone numbers ------------------------------------------------------------------------


def normalize_phone(number: str | None, country_code: str = "7") -> str:
    """A phone number in E.164 (``+79161234567``), or ``""`` if it can't be one.

    Russian habits are understood: ``8 (916) 123-45-67`` and ``9161234567`` both become
    ``+79161234567``.
    """
    raw = (number or "").strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.startswith("+"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else ""
    if len(digits) == 11 and digits[0] == "8" and country_code == "7":
        return f"+7{digits[1:]}"
    if len(digits) == 11 and digits.startswith(country_code):
        return f"+{digits}"
    if len(digits) == 10:
        return f"+{country_code}{digits}"
    return ""


# --- events -> outbox ---------------------------------------------------------------------


def doctor_short_name(doctor: DoctorView | Doctor) -> str:
    """"Кашинцева Г.В." — surname and initials."""
    initials = "".join(f"{p[0]}." for p in (doctor.first_name, doctor.middle_name) if p)
    return f"{doctor.last_name} {initials}".strip()


def doctor_cases(doctor: DoctorView | Doctor) -> dict[str, str]:
    """The doctor's short name declined for the texts: «к врачу Беловой И.С.» (dative), «у врача
    Орлова А.Н.» (genitive).  Computed from the whole name, whose patronymic tells the gender."""
    parts = (doctor.last_name, doctor.first_name, doctor.middle_name)
    return {"doctor_dat": short_name_in(Case.DATIVE, *parts),
            "doctor_gen": short_name_in(Case.GENITIVE, *parts)}


def _declined_short(short: str, case: Case) -> str:
    """A stored «Белова И.С.» in ``case`` (rows queued before the facts carried the cases):
    the surname's ending decides the gender."""
    surname, _, initials = short.partition(" ")
    return f"{short_name_in(case, surname)} {initials}".strip() if surname else short


def appointment_facts(uow: UnitOfWork, view: AppointmentView) -> tuple[dict[str, Any], Patient]:
    """What any SMS about ``view`` may mention (no phone number), and the patient."""
    patient = uow.session.get(Patient, view.patient_id)
    doctor = uow.session.get(Doctor, view.doctor.id)
    assert patient is not None and doctor is not None
    clinic = uow.session.get(Clinic, doctor.clinic_id)
    facts = {
        "clinic": clinic.short_name if clinic else "",
        "phone": clinic.phone if clinic else "",
        "doctor": doctor_short_name(view.doctor),
        **doctor_cases(view.doctor),
        "specialty_ru": view.specialty.name_ru,
        "specialty_en": view.specialty.name_en,
        "starts_at": view.starts_at.isoformat(),
        "cabinet": view.cabinet,
        "code": view.confirmation_code,
    }
    return facts, patient


def _enqueue(uow: UnitOfWork, key: str, kind: str, view: AppointmentView,
             extra: dict[str, Any] | None = None) -> bool:
    facts, patient = appointment_facts(uow, view)
    # A number the registry marked as not a mobile (an import's landline) is called, not texted.
    to_phone = normalize_phone(patient.phone) if patient.sms_reachable else ""
    if not to_phone:
        logger.info("appointment %s: no SMS (%s), the patient has no mobile number", view.id,
                    kind)
        return False
    created = outbox.enqueue(uow, key=key, kind=kind, to_phone=to_phone,
                             payload=facts | (extra or {}), patient_id=patient.id,
                             appointment_id=view.id)
    if created:
        logger.info("appointment %s: %s SMS queued for %s", view.id, kind, mask_phone(to_phone))
    return created


def appointment_booked(uow: UnitOfWork, view: AppointmentView) -> bool:
    """Queue the booking confirmation (code, how to cancel).  Call before the commit."""
    return _enqueue(uow, f"booked:{view.id}", BOOKED, view)


def appointment_cancelled(uow: UnitOfWork, view: AppointmentView) -> bool:
    """Queue the cancellation notice.  Call before the commit."""
    return _enqueue(uow, f"cancelled:{view.id}", CANCELLED, view)


def appointment_rescheduled(uow: UnitOfWork, view: AppointmentView,
                            old_starts_at: datetime) -> bool:
    """Queue the notice of the new time (``view`` is the new appointment)."""
    return _enqueue(uow, f"rescheduled:{view.id}", RESCHEDULED, view,
                    {"old_starts_at": old_starts_at.isoformat()})


def appointment_reminder(uow: UnitOfWork, view: AppointmentView) -> bool:
    """Queue the reminder the day before ("reply 1 to confirm, 2 to cancel")."""
    return _enqueue(uow, f"reminder:{view.id}", REMINDER, view)


def waitlist_offer(uow: UnitOfWork, view: AppointmentView, held_until: datetime) -> bool:
    """Queue the waiting-list offer: the held time, "reply 1 to take it, 2 to decline"."""
    return _enqueue(uow, f"waitlist_offer:{view.id}", WAITLIST_OFFER, view,
                    {"held_until": held_until.isoformat(timespec="minutes")})


def waitlist_joined(uow: UnitOfWork, patient: Patient, specialty: Specialty, entry_id: int,
                    until: datetime) -> bool:
    """Tell a patient they are on the waiting list, until when, and how to leave it by SMS."""
    to_phone = normalize_phone(patient.phone) if patient.sms_reachable else ""
    if not to_phone:
        return False
    clinic = uow.session.get(Clinic, patient.clinic_id) if patient.clinic_id else None
    facts = {"clinic": clinic.short_name if clinic else "",
             "phone": clinic.phone if clinic else "", "specialty_ru": specialty.name_ru,
             "specialty_en": specialty.name_en, "until": until.isoformat()}
    return outbox.enqueue(uow, key=f"waitlist_joined:{entry_id}", kind=WAITLIST_JOINED,
                          to_phone=to_phone, payload=facts, patient_id=patient.id)


def absent_reminder(uow: UnitOfWork, view: AppointmentView,
                    substitute: AppointmentView | None) -> bool:
    """Queue the reminder of a visit a doctor's absence flagged: it says the doctor is away
    and offers the held substitute (reply 1) instead of asking to confirm the visit."""
    offer = None
    if substitute is not None:
        offer = SlotOffer(substitute.slot_id or 0, substitute.starts_at, substitute.starts_at,
                          substitute.cabinet, substitute.doctor)
    return _enqueue(uow, f"reminder:{view.id}", REMINDER, view,
                    {"absent": True, "substitute": _substitute_facts(offer)})


def absence_notices(uow: UnitOfWork, absence_id: int, starts_on: date, ends_on: date,
                    affected: Iterable[AffectedAppointment]) -> int:
    """Rule 14: tell each patient of an absent doctor, with the substitute slot held for them."""
    queued = 0
    for item in affected:
        extra: dict[str, Any] = {"absence_from": starts_on.isoformat(),
                                 "absence_to": ends_on.isoformat(),
                                 "substitute": _substitute_facts(item.substitute,
                                                                 item.held_until)}
        if _enqueue(uow, f"absence:{absence_id}:{item.appointment.id}", ABSENCE,
                    item.appointment, extra):
            queued += 1
    return queued


def flag_notices(uow: UnitOfWork, flag: str, affected: Iterable[AffectedAppointment]) -> int:
    """Tell each patient whose visit was flagged (``flag`` is the SMS kind: "schedule_changed"
    or "doctor_left") that it will not happen, with a colleague's nearest free slot."""
    queued = 0
    for item in affected:
        extra = {"substitute": _substitute_facts(item.substitute)}
        if _enqueue(uow, f"{flag}:{item.appointment.id}", flag, item.appointment, extra):
            queued += 1
    return queued


def _substitute_facts(offer: SlotOffer | None,
                      held_until: datetime | None = None) -> dict[str, Any] | None:
    if offer is None:
        return None
    facts = {"doctor": doctor_short_name(offer.doctor), "starts_at": offer.starts_at.isoformat(),
             "cabinet": offer.cabinet, "slot_id": offer.slot_id}
    if held_until is not None:
        facts["held_until"] = held_until.isoformat(timespec="minutes")
    return facts


# --- texts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A text ready to send, with its cost."""

    text: str
    info: SegmentInfo
    template: str  # catalogue key used


@cache
def load_texts(locale: str) -> dict[str, str]:
    """The SMS catalogue of ``locale`` (``sms/texts/<locale>.toml``)."""
    if locale not in LOCALES:
        locale = "ru"
    # One name per step: a namespace package's MultiplexedPath.joinpath takes only one.
    source = resources.files("sms") / "texts" / f"{locale}.toml"
    return tomllib.loads(source.read_text(encoding="utf-8"))


def format_when(at: datetime, locale: str = "ru") -> str:
    """"вт 08.09 в 17:30" / "Tue 8 Sep 17:30": digits and short words, never spoken words."""
    if locale == "en":
        return (f"{EN_WEEKDAYS[at.weekday()]} {at.day} {EN_MONTHS[at.month - 1]} "
                f"{at:%H:%M}")
    return f"{RU_WEEKDAYS[at.weekday()]} {at:%d.%m} в {at:%H:%M}"


def text_values(facts: dict[str, Any], locale: str, sender_name: str = "") -> dict[str, str]:
    """Placeholder values for the catalogue templates, from an event's facts."""
    values = {
        "clinic": sender_name or str(facts.get("clinic") or ""),
        "phone": str(facts.get("phone") or ""),
        "doctor": str(facts.get("doctor") or ""),
        "doctor_dat": str(facts.get("doctor_dat")
                          or _declined_short(str(facts.get("doctor") or ""), Case.DATIVE)),
        "doctor_gen": str(facts.get("doctor_gen")
                          or _declined_short(str(facts.get("doctor") or ""), Case.GENITIVE)),
        "specialty": str(facts.get("specialty_en") if locale == "en"
                         else (facts.get("specialty_ru") or "")).lower(),
        "cabinet": str(facts.get("cabinet") or ""),
        "code": str(facts.get("code") or ""),
        "when": "", "old_when": "", "sub_doctor": "", "sub_when": "", "sub_cabinet": "",
        "held_until": "", "minutes": str(facts.get("minutes") or ""), "until": "",
    }
    if facts.get("until"):  # the last day of a waiting-list entry
        values["until"] = datetime.fromisoformat(facts["until"]).strftime("%d.%m.%Y")
    if facts.get("starts_at"):
        values["when"] = format_when(datetime.fromisoformat(facts["starts_at"]), locale)
    if facts.get("old_starts_at"):
        values["old_when"] = format_when(datetime.fromisoformat(facts["old_starts_at"]), locale)
    if facts.get("held_until"):  # a waiting-list offer: held until (clinic time)
        values["held_until"] = format_when(datetime.fromisoformat(facts["held_until"]), locale)
    substitute = facts.get("substitute")
    if substitute:
        values["sub_doctor"] = str(substitute.get("doctor") or "")
        values["sub_when"] = format_when(datetime.fromisoformat(substitute["starts_at"]), locale)
        values["sub_cabinet"] = str(substitute.get("cabinet") or "")
        if substitute.get("held_until"):
            values["held_until"] = format_when(
                datetime.fromisoformat(substitute["held_until"]), locale)
    return values


def render_template(key: str, facts: dict[str, Any], locale: str = "ru",
                    sender_name: str = "") -> Rendered:
    """Fill template ``key`` (or its ``_short`` variant, whichever costs fewer segments)."""
    texts = load_texts(locale)
    values = text_values(facts, locale, sender_name)
    best: Rendered | None = None
    for name in (key, f"{key}_short"):
        if name not in texts:
            continue
        text = " ".join(texts[name].format(**values).split())
        candidate = Rendered(text, segment_info(text), name)
        if best is None or candidate.info.segments < best.info.segments:
            best = candidate
    if best is None:
        raise KeyError(f"no SMS text {key!r} for locale {locale!r}")
    return best


def render(kind: str, facts: dict[str, Any], locale: str = "ru",
           sender_name: str = "") -> Rendered:
    """The SMS text for an outbox row of ``kind`` with ``facts`` (its payload)."""
    key = kind
    substitute = facts.get("substitute") or {}
    if kind == ABSENCE:
        # rows queued before substitutes were held carry no "held_until": the plain text
        key = ("absence_held" if substitute.get("held_until")
               else "absence" if substitute else "absence_no_substitute")
    elif kind == REMINDER and facts.get("absent"):
        key = "reminder_absent_held" if substitute else "reminder_absent"
    elif kind in SUBSTITUTE_KINDS and not substitute:
        key = f"{kind}_no_substitute"
    return render_template(key, facts, locale, sender_name)
