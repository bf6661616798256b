"""Call flows of the registry line: greeting, main menu, identify, book, my appointments,
home visit, to-agent.  Written against :class:`ivr.dialogue.call.Call`; no transport in sight."""

from __future__ import annotations

import contextlib
import logging
from datetime import date, datetime, time

from booking_core import admin, booking, identification, slots, waiting_list
from booking_core.actors import Actor
from booking_core.commands import (
    BookSlot,
    Cancel,
    FindSlots,
    Identify,
    JoinWaitlist,
    RequestCallback,
    Reschedule,
)
from booking_core.errors import (
    AlreadyWaiting,
    BookingBlocked,
    ChannelClosed,
    DomainError,
    HoldExpired,
    LimitReached,
    NotCancellable,
    NotFound,
    NotIdentified,
    ReferralRequired,
    SlotTaken,
    SlotUnavailable,
    TooManyAttempts,
)
from booking_core.notifications import normalize_phone
from booking_core.rules import is_russian_mobile, policy_valid
from booking_core.views import AppointmentView, PatientView, SlotOffer, SpecialtyOption
from booking_core.waiting_list import WaitlistEntryView
from ivr.dialogue.call import Call, Escalate, Hangup
from ivr.dialogue.catalogue import Prompt, load_catalogue
from ivr.dialogue.consent_flow import confirm_consent
from ivr.dialogue.region import clinic_said, greet, said_slot, tell_attachment
from ivr.io import CallerHangup, Digits, Timeout
from models.tables import Channel, TimePreference, WaitlistStatus
from speech import ru_dates, ru_numbers

logger = logging.getLogger(__name__)

MAIN_WORDS = {  # most specific first: "мои записи" must not read as "записаться"
    "мои запис": "2", "отмен": "2", "перенес": "2", "на дом": "3", "вызов": "3",
    "запис": "1", "appointments": "2", "cancel": "2", "home": "3", "book": "1",
}
OFFER_WORDS = {"другой врач": "4", "другой день": "3", "другое": "2", "следующ": "2",
               "да": "1", "запиш": "1"}
OFFERS_PER_FETCH = 5
MAX_SPECIALTY_ROUNDS = 3  # "another specialty" after hearing of a held appointment
PRESELECTABLE = "123"
ENGLISH = "9"  # a key the main menu does not use: an early 1/2/3 is a menu choice
DONE = ("booked", "rescheduled", "cancelled", "waitlist", "waitlist_left")
POLICY_GROUP = 4  # a policy is read back in fours: 8100 0000 0000 0002
CODE_GROUP = 3  # a confirmation code in threes: 162 999


def registry_call(call: Call) -> None:
    """The whole call.  Returns when the IVR is done; escalation leaves channel variables set."""
    try:
        choice = _greet(call)
        if not call.deps.clinic_ready():
            _not_set_up(call)
            return
        while True:
            if choice is None:
                choice = call.menu(call.p("main_menu"), PRESELECTABLE, words=MAIN_WORDS)
            {"1": book_flow, "2": my_appointments_flow, "3": home_visit_flow}[choice](call)
            choice = None
            # Done (booked, moved or cancelled, the code read twice): goodbye, as DESIGN "The
            # call" 6 has it.  Only a caller who got nothing done is asked if they need more.
            if call.record.data.outcome in DONE or not _anything_else(call):
                break
        call.play("goodbye")
        finish(call, "completed")
    except Hangup:
        finish(call, "completed")
    except Escalate as esc:
        escalate(call, esc.reason)
    except CallerHangup:
        finish(call, "hangup", hangup=False)
        raise
    except DomainError as exc:  # a rule we did not expect here: a human sorts it out
        logger.warning("call %s: unexpected refusal %s", call.state.call_id, exc.code)
        escalate(call, exc.code)
    except Exception:
        logger.exception("call %s: internal error, escalating", call.state.call_id)
        system_error(call)


def _greet(call: Call) -> str | None:
    """Greeting and language choice; a menu key pressed early is carried to the main menu.

    The language key is one the main menu does not use, so a returning caller who presses
    1, 2 or 3 during the greeting lands in that menu item, never in English by mistake.  A
    call already in English (the channel's language) is not offered English again.
    """
    greet(call)
    if call.state.locale == "en":
        return None
    # The language offer is always said in English: that is who it is for.
    event = call.io.collect(load_catalogue("en")("language"), max_digits=1, timeout=1.5)
    if isinstance(event, Digits) and event.value:
        key = event.value[0]
        call.record.step("language", key)
        if key == ENGLISH:
            call.set_locale("en")
        elif key == "0":
            raise Escalate("caller_request")
        elif key in PRESELECTABLE:
            return key
    return None


def _not_set_up(call: Call) -> None:
    """An empty installation (no doctor yet): say so plainly, then an agent or goodbye."""
    logger.info("call %s: the clinic is not set up yet", call.state.call_id)
    call.record.step("not_set_up", None)
    call.play("not_set_up")
    escalate(call, "clinic_not_set_up")


def _anything_else(call: Call) -> bool:
    event = call.io.collect(call.p("anything_else"), max_digits=1, timeout=call.deps.timeout)
    call.record.step("anything_else", event.value if isinstance(event, Digits) else "timeout")
    if isinstance(event, Digits) and event.value == "0":
        raise Escalate("caller_request")
    return isinstance(event, Digits) and event.value == "1"


# --- identification ---------------------------------------------------------------------------


def ensure_identified(call: Call) -> PatientView:
    """Identify the caller once per call (policy + date of birth, read back and confirmed)."""
    if call.state.patient is not None:
        return call.state.patient
    rounds = call.deps.identify_tries
    for attempt in range(1, rounds + 1):
        policy, birth = _ask_identity(call)
        try:
            patient = identification.identify(
                Identify(policy, birth, Channel.IVR, call.record.data.caller_number,
                         operator=call.io.info.operator),
                call.deps.uow(),
            )
        except TooManyAttempts:
            call.play("too_many_attempts")
            raise Escalate("too_many_attempts") from None
        except NotIdentified:
            call.play("not_identified")
            if attempt == rounds:
                break
            call.menu(call.p("not_identified_retry"), "1", step="not_identified_retry")
            continue
        call.record.data.patient_id = patient.id
        call.play("identified")
        # Rule 20: someone else calling for the patient needs the patient's SMS code; the
        # patient is not "identified" for the call until it is given.
        confirm_consent(call, patient)
        call.state.patient = patient
        tell_attachment(call, patient)
        return patient
    call.play("not_identified_final")
    raise Escalate("not_identified")


def _ask_identity(call: Call) -> tuple[str, date]:
    """Policy, then date of birth, then both read back and confirmed in one question.

    One "верно — 1" confirms both (the policy read in fours, the date as words); "нет" asks
    which one to correct and reads both back again.  Each entry has its own tries
    (``identify_tries``), and so has the read-back.
    """
    policy = _ask_policy(call)
    birth = _ask_birth_date(call)
    fixing = "policy"
    for _ in range(call.deps.identify_tries):
        readback = call.say_.join(
            "identity_readback",
            call.p("policy_readback", digits=call.phrase.digits(policy, POLICY_GROUP)),
            call.p("birth_date_readback", day_month=[call.phrase.day_month(birth)],
                   year=[call.phrase.year(birth)]))
        confirmed = call.yes_no(readback, step="policy_readback")
        # The console shows both confirmations; one answer gave them.
        call.record.step("birth_date_readback", "1" if confirmed else "2")
        if confirmed:
            return policy, birth
        if call.menu(call.p("identity_fix"), "12", step="identity_fix") == "1":
            fixing, policy = "policy", _ask_policy(call)
        else:
            fixing, birth = "birth_date", _ask_birth_date(call)
    raise Escalate(f"{fixing}_entry_failed")


def _ask_policy(call: Call) -> str:
    """16 digits that pass the check digit (read back by :func:`_ask_identity`).

    The first time in a call, the caller is told what the data is for (152-ФЗ) before
    being asked for it; keys pressed during the notice start the policy number.
    """
    if not call.state.privacy_told:
        call.state.privacy_told = True
        call.play("privacy_notice")
    for _ in range(call.deps.identify_tries):
        digits = call.number(call.p("ask_policy"), 16, "policy", ru_numbers.parse_digits,
                             hash_ends=True)
        if not digits:
            call.play("no_input" if digits is None else "not_understood")
            continue
        if len(digits) != 16:
            call.play("policy_bad_length", count=len(digits))
            continue
        if not policy_valid(digits):
            call.play("policy_bad_check")
            continue
        return digits
    raise Escalate("policy_entry_failed")


def _ask_birth_date(call: Call) -> date:
    """A real date of birth, typed as DDMMYYYY or said (read back by :func:`_ask_identity`)."""
    today = call.deps.now_local().date()

    def spoken(text: str) -> str | None:
        found = ru_dates.parse_birth_date(text, today=today)
        return found.strftime("%d%m%Y") if found else None

    for _ in range(call.deps.identify_tries):
        digits = call.number(call.p("ask_birth_date"), 8, "birth_date", spoken, hash_ends=True)
        if not digits:
            call.play("no_input" if digits is None else "not_understood")
            continue
        birth = ru_dates.parse_dob_digits(digits, today=today) if len(digits) == 8 else None
        if birth is None:
            call.play("birth_date_bad")
            continue
        return birth
    raise Escalate("birth_date_entry_failed")


# --- booking --------------------------------------------------------------------------------


def book_flow(call: Call) -> None:
    """Choose a specialty, hear offers, book by pressing 1 on one; the code is read twice.

    What would refuse the booking is told before any slot is offered: a no-show block before
    the specialty menu, an appointment already held with the chosen specialty (offered to be
    moved instead) and a channel closed for it right after the choice.
    """
    call.state.intent = "book"
    call.record.data.intent = "book"
    patient = ensure_identified(call)
    options = _specialty_options(call, patient)
    for _ in range(MAX_SPECIALTY_ROUNDS):
        option = _choose_specialty(call, options)
        if option.held_appointment_id is None:
            appt = _offer_and_take(call, patient, option, moving=None)
            if appt is not None:
                _announce_code(call, "booked", appt)
            return
        if _offer_to_move_held(call, patient, option):
            return
    raise Escalate("invalid_input")


def _specialty_options(call: Call, patient: PatientView) -> list[SpecialtyOption]:
    options = slots.bookable_specialties(patient.id, Channel.IVR, call.deps.uow())[:9]
    if not options:
        call.play("no_specialties")
        raise Escalate("no_specialties")
    until = options[0].blocked_until  # a no-show block closes every specialty alike
    if until is not None:
        call.play("booking_blocked", until=call.phrase.until(until))
        raise Escalate("booking_blocked")
    return options


def _choose_specialty(call: Call, options: list[SpecialtyOption]) -> SpecialtyOption:
    locale = call.state.locale
    parts = [call.say_.text("specialty_option", name=o.specialty.name(locale), digit=i)
             for i, o in enumerate(options, 1)]
    words: dict[str, str] = {}
    for i, o in enumerate(options, 1):
        spec = o.specialty
        for w in (spec.name_ru.lower(), spec.name_en.lower(), *spec.synonyms_ru):
            words[w] = str(i)
    digits = "".join(str(i) for i in range(1, len(options) + 1))
    choice = call.menu(call.p("choose_specialty", options=parts), digits, words=words,
                       step="specialty")
    option = options[int(choice) - 1]
    call.record.step("specialty_chosen", option.specialty.code)
    if not option.open:
        call.play("channel_closed", specialty=option.specialty.name(locale),
                  reason=option.closed_reason or "")
        raise Escalate("channel_closed")
    return option


def _offer_to_move_held(call: Call, patient: PatientView, option: SpecialtyOption) -> bool:
    """One future appointment per specialty (rule 9): say which one the caller already has
    and offer to move it.  True when the call's business is done, False to choose again."""
    held = next((a for a in booking.patient_appointments(patient.id, call.deps.uow())
                 if a.id == option.held_appointment_id), None)
    if held is None:  # cancelled or started meanwhile: nothing stands in the way any more
        appt = _offer_and_take(call, patient, option, moving=None)
        if appt is not None:
            _announce_code(call, "booked", appt)
        return True
    prompt = call.p("held_specialty", specialty=call.phrase.specialty(option.specialty),
                    slot=said_slot(call, held))
    if call.menu(prompt, "12", words={"перенес": "1", "друг": "2"}, step="held_specialty") == "2":
        return False
    moved = _offer_and_take(call, patient, option, moving=held)
    if moved is not None:
        _announce_code(call, "rescheduled", moved)
    return True


class _Offers:
    """The slots being offered: paging forward, by day, excluding doctors."""

    def __init__(self, call: Call, patient: PatientView, option: SpecialtyOption) -> None:
        self.call, self.patient, self.spec = call, patient, option.specialty
        self.on_date: date | None = None
        self.excluded: list[int] = []
        self.items: list[SlotOffer] = []
        self.index = 0

    def fetch(self, after: datetime | None = None) -> list[SlotOffer]:
        q = FindSlots(self.patient.id, self.spec.id, Channel.IVR, on_date=self.on_date,
                      after=after, exclude_doctor_ids=tuple(self.excluded),
                      limit=OFFERS_PER_FETCH)
        return slots.find_free_slots(q, self.call.deps.uow())

    def reset(self) -> bool:
        self.items, self.index = self.fetch(), 0
        return bool(self.items)

    @property
    def current(self) -> SlotOffer:
        return self.items[self.index]

    def advance(self) -> bool:
        if self.index + 1 < len(self.items):
            self.index += 1
            return True
        more = [o for o in self.fetch(after=self.items[-1].starts_at)
                if o.slot_id not in {i.slot_id for i in self.items}]
        if not more:
            return False
        self.items, self.index = more, 0
        return True


def _offer_and_take(call: Call, patient: PatientView, option: SpecialtyOption,
                    moving: AppointmentView | None) -> AppointmentView | None:
    """Offer slots until the caller takes one; returns the booked (or moved) appointment."""
    offers = _Offers(call, patient, option)
    try:
        if not offers.reset():
            call.play("no_slots", specialty=option.specialty.name(call.state.locale),
                      horizon=_horizon(call))
            if moving is None and _join_waitlist(call, patient, option):
                return None
            raise Escalate("no_slots")
        first = True
        while True:
            slot_text = said_slot(call, offers.current)
            intro = call.p("offer_first" if first else "offer_next", slot=slot_text)
            first = False
            choice = call.menu(call.say_.join("offer", intro, call.p("offer_menu")), "1234",
                               words=OFFER_WORDS, step="offer")
            if choice == "1":
                appt = _take(call, patient, offers.current, moving)
                if appt is not None:
                    return appt
                if not offers.reset():
                    call.play("no_more_slots")
                    raise Escalate("no_slots")
                first = True
            elif choice == "2" and not offers.advance():
                call.play("no_more_slots")
            elif choice == "3":
                _choose_day(call, offers)
                first = True
            elif choice == "4":
                _other_doctor(call, offers)
                first = True
    except LimitReached as exc:
        if exc.details.get("limit") == "per_day":
            call.play("limit_day")
        else:
            call.play("limit_specialty")
        return None
    except BookingBlocked as exc:
        until = exc.details.get("until")
        call.play("booking_blocked",
                  until=call.phrase.until(until) if isinstance(until, date) else "")
        raise Escalate("booking_blocked") from None
    except ChannelClosed as exc:
        call.play("channel_closed", specialty=option.specialty.name(call.state.locale),
                  reason=str(exc.details.get("reason") or ""))
        raise Escalate("channel_closed") from None
    except ReferralRequired:
        call.play("referral_required")
        raise Escalate("referral_required") from None


_PREFERENCES = {"1": TimePreference.MORNING, "2": TimePreference.AFTERNOON,
                "3": TimePreference.ANY}
_PREFERENCE_WORDS = {"утр": "1", "после обеда": "2", "вечер": "2", "любое": "3", "все равно": "3",
                     "оператор": "4", "нет": "4"}


def _join_waitlist(call: Call, patient: PatientView, option: SpecialtyOption) -> bool:
    """No free time: offer the waiting list (rule 19), with the time of day that suits.

    Only to a caller whose patient has a mobile number on file, since the offer comes by SMS.
    True when the caller is on the list (now or already); False sends the call to an agent.
    """
    if not is_russian_mobile(normalize_phone(patient.phone)):
        return False
    choice = call.menu(call.p("waitlist_offer"), "1234", words=_PREFERENCE_WORDS,
                       step="waitlist_offer")
    if choice == "4":
        return False
    spec = option.specialty
    try:
        waiting_list.join(JoinWaitlist(patient.id, spec.id, call.actor(patient.id),
                                       preference=_PREFERENCES[choice]), call.deps.uow())
    except AlreadyWaiting:
        call.play("waitlist_already")
    else:
        days = call.deps.uow().rules.waitlist_days
        call.play("waitlist_joined", specialty=spec.name(call.state.locale),
                  days=call.phrase.horizon(days))
    call.record.data.outcome = "waitlist"
    return True


def _take(call: Call, patient: PatientView, offer: SlotOffer,
          moving: AppointmentView | None) -> AppointmentView | None:
    """Book (or move to) the slot just offered; None if it was taken meanwhile (or declined).

    A key press on the offer is the caller's confirmation: the offer has just read the slot,
    so it is not read again.  A spoken "да" may be misheard (DESIGN "Known pitfalls"), so a
    slot taken by voice is read back and confirmed first.
    """
    if call.spoken and not call.yes_no(call.p("confirm_booking", slot=said_slot(call, offer)),
                                       step="confirm_booking"):
        return None
    actor = call.actor(patient.id)
    try:
        if moving is not None:
            return booking.reschedule(
                Reschedule(moving.id, offer.slot_id, actor, patient_id=patient.id),
                call.deps.uow())
        return booking.book(BookSlot(patient.id, offer.slot_id, actor), call.deps.uow())
    except (SlotTaken, SlotUnavailable):
        call.play("slot_taken")
        return None


def _choose_day(call: Call, offers: _Offers) -> None:
    today = call.deps.now_local().date()

    def spoken(text: str) -> str | None:
        found = ru_dates.parse_date(text, today=today)
        return found.strftime("%d%m") if found else None

    last = slots.booking_days(Channel.IVR, call.deps.uow())[1]
    for _ in range(2):
        digits = call.number(call.p("ask_day"), 4, "day", spoken)
        day = _day_from_ddmm(digits or "", today)
        if day is None:
            call.play("day_bad")
            continue
        if day > last:  # not "no free time": the phone does not book that far ahead
            call.play("beyond_horizon", horizon=_horizon(call))
            continue
        offers.on_date = day
        if offers.reset():
            return
        call.play("no_slots_on_day")
        offers.on_date = None
        found = offers.fetch(after=datetime.combine(day, time.min))
        if found:
            offers.items, offers.index = found, 0
            return
        offers.reset()
        return


def _horizon(call: Call) -> str:
    """How far ahead the phone books, as said: «две недели» (from the horizon setting)."""
    return call.phrase.horizon(slots.booking_days(Channel.IVR, call.deps.uow())[2])


def _day_from_ddmm(digits: str, today: date) -> date | None:
    """"0910" → the next 9 October on or after today."""
    if len(digits) != 4 or not digits.isdigit():
        return None
    for year in (today.year, today.year + 1):
        try:
            day = date(year, int(digits[2:]), int(digits[:2]))
        except ValueError:
            return None
        if day >= today:
            return day
    return None


def _other_doctor(call: Call, offers: _Offers) -> None:
    offers.excluded.append(offers.current.doctor.id)
    saved_date, offers.on_date = offers.on_date, None
    if offers.reset():
        return
    call.play("no_other_doctor")
    offers.excluded.pop()
    offers.on_date = saved_date
    offers.reset()


def _announce_code(call: Call, key: str, appt: AppointmentView) -> None:
    call.record.data.appointment_id = appt.id
    call.record.data.outcome = "booked" if key == "booked" else "rescheduled"
    clinic = clinic_said(call, appt.doctor.clinic_id)
    # On a line of several clinics the summary names the clinic before the cabinet.
    call.play(f"{key}_clinic" if clinic else key, **call.phrase.summary(appt, clinic),
              code=call.phrase.digits(appt.confirmation_code, CODE_GROUP))


# --- my appointments --------------------------------------------------------------------------


def my_appointments_flow(call: Call) -> None:
    """Hear upcoming appointments; cancel or reschedule one.

    A visit a doctor's absence flagged is read with the absence and, while it is held, the
    substitute slot (rule 14): 1 takes it, 2 finds another time, 3 cancels.
    """
    call.state.intent = call.record.data.intent = "my_appointments"
    patient = ensure_identified(call)
    # An entry with an offer open is read with the held time, among the appointments.
    waiting = [e for e in waiting_list.patient_entries(patient.id, call.deps.uow())
               if e.status == WaitlistStatus.WAITING]
    for entry in waiting:
        if _waitlist_entry_menu(call, patient, entry):
            return
    appts = booking.patient_appointments(patient.id, call.deps.uow())
    if not appts:
        if not waiting:
            call.play("no_appointments")
        return
    call.play("appointments_count", count=call.phrase.appointments(len(appts)))
    i = 0
    while True:
        appt = appts[i]
        if appt.status == "pending" and waiting_list.open_offer(appt.id, call.deps.uow()):
            if _waitlist_offer_menu(call, patient, appt):
                return
            i = (i + 1) % len(appts)
            continue
        held = (booking.substitute_hold(appt.id, call.deps.uow())
                if appt.absence_id is not None else None)
        prompt, keys, words = _appointment_menu(call, appt, held)
        action = keys.get(call.menu(prompt, "".join(keys), words=words, step="appointment"))
        if action == "take" and held is not None:
            _take_substitute(call, patient, appt)
            return
        if action == "cancel":
            _cancel(call, patient, appt)
            return
        if action == "reschedule":
            _reschedule(call, patient, appt)
            return
        if action == "next":
            i = (i + 1) % len(appts)
            continue
        return


def _waitlist_entry_menu(call: Call, patient: PatientView, entry: WaitlistEntryView) -> bool:
    """A waiting-list entry in "my appointments": 1 leaves the list (True: done), 2 goes on."""
    item = call.p("waitlist_item", specialty=entry.specialty.name(call.state.locale))
    prompt = call.say_.join("waitlist_item", item, call.p("waitlist_menu"))
    if call.menu(prompt, "12", words={"выйти": "1", "дальше": "2"}, step="waitlist_item") != "1":
        return False
    with contextlib.suppress(NotFound):  # served or expired while the caller listened
        waiting_list.leave(entry.id, call.actor(patient.id), call.deps.uow(),
                           patient_id=patient.id)
    call.record.data.outcome = "waitlist_left"
    call.play("waitlist_left")
    return True


def _waitlist_offer_menu(call: Call, patient: PatientView, appt: AppointmentView) -> bool:
    """Time the waiting list holds for the caller (the SMS offer, by phone): 1 books it,
    2 declines it (off the list), 3 goes on.  True when the call's business is done."""
    item = call.p("appointment_offer", specialty=appt.specialty.name(call.state.locale),
                  slot=said_slot(call, appt))
    prompt = call.say_.join("appointment_offer", item, call.p("appointment_offer_menu"))
    choice = call.menu(prompt, "123", words={"запиш": "1", "да": "1", "отказ": "2",
                                             "дальше": "3"}, step="appointment_offer")
    if choice == "3":
        return False
    actor = call.actor(patient.id)
    try:
        if choice == "1":
            _announce_code(call, "booked", waiting_list.take_offer(
                appt.id, actor, call.deps.uow(), patient_id=patient.id))
            return True
        waiting_list.decline_offer(appt.id, actor, call.deps.uow(), patient_id=patient.id)
    except (HoldExpired, NotFound):
        call.play("appointment_offer_gone")
        return True
    call.record.data.outcome = "waitlist_left"
    call.play("waitlist_left")
    return True


_APPOINTMENT_KEYS = {"1": "cancel", "2": "reschedule", "3": "next", "9": "menu"}
_APPOINTMENT_WORDS = {"отмен": "1", "перенес": "2", "следующ": "3"}
_SUBSTITUTE_KEYS = {"1": "take", "2": "reschedule", "3": "cancel", "4": "next", "9": "menu"}
_SUBSTITUTE_WORDS = {"отмен": "3", "перенес": "2", "другое": "2", "следующ": "4", "запиш": "1",
                     "да": "1"}


def _appointment_menu(call: Call, appt: AppointmentView, held: AppointmentView | None
                      ) -> tuple[Prompt, dict[str, str], dict[str, str]]:
    """An appointment as read in "my appointments", its keys (digit -> action) and words."""
    specialty = appt.specialty.name(call.state.locale)
    slot = said_slot(call, appt)
    if appt.absence_id is None:
        item = call.p("appointment_item", specialty=specialty, slot=slot)
        return (call.say_.join("appointment", item, call.p("appointment_menu")),
                _APPOINTMENT_KEYS, _APPOINTMENT_WORDS)
    item = call.p("appointment_item_absent", specialty=specialty, slot=slot)
    if held is None:  # nothing held (any more): cancel or find another time as usual
        return (call.say_.join("appointment", item, call.p("appointment_menu")),
                _APPOINTMENT_KEYS, _APPOINTMENT_WORDS)
    offer = call.p("appointment_substitute", slot=said_slot(call, held))
    return (call.say_.join("appointment", item, offer, call.p("appointment_substitute_menu")),
            _SUBSTITUTE_KEYS, _SUBSTITUTE_WORDS)


def _reschedule(call: Call, patient: PatientView, appt: AppointmentView) -> None:
    moved = _offer_and_take(call, patient, SpecialtyOption(appt.specialty), moving=appt)
    if moved is not None:
        _announce_code(call, "rescheduled", moved)


def _take_substitute(call: Call, patient: PatientView, appt: AppointmentView) -> None:
    """Move a flagged visit to the substitute slot held for it; if the hold ran out while
    the caller listened, offer other times instead."""
    actor = Actor.patient(patient.id, Channel.IVR, call.record.data.caller_number)
    try:
        moved = booking.take_substitute(appt.id, actor, call.deps.uow(), patient_id=patient.id)
    except (HoldExpired, NotCancellable):
        call.play("substitute_gone")
        _reschedule(call, patient, appt)
        return
    _announce_code(call, "rescheduled", moved)


def _cancel(call: Call, patient: PatientView, appt: AppointmentView) -> None:
    if not call.yes_no(call.p("confirm_cancel"), step="confirm_cancel"):
        return
    actor = call.actor(patient.id)
    try:
        booking.cancel(Cancel(appt.id, actor, patient_id=patient.id), call.deps.uow())
    except NotCancellable:
        call.play("not_cancellable")
        return
    call.record.data.appointment_id = appt.id
    call.record.data.outcome = "cancelled"
    call.play("cancelled")


# --- home visit, escalation -------------------------------------------------------------------


def home_visit_flow(call: Call) -> None:
    """A home visit needs a person (address, symptoms): an agent now, or a callback."""
    call.state.intent = call.record.data.intent = "home_visit"
    ensure_identified(call)
    if call.deps.agents_online():
        call.play("home_visit")
        raise Escalate("home_visit")
    _save_callback(call, "home_visit")
    call.play("home_visit_after_hours", when=_callback_when(call))
    call.play("goodbye")
    raise Hangup


def escalate(call: Call, reason: str) -> None:
    """Hand the call to the agent queue with its context, or offer a callback after hours."""
    logger.info("call %s: escalating (%s)", call.state.call_id, reason)
    now = call.record.now_utc()
    if call.deps.agents_online():
        call.record.save(outcome="escalated", escalation_reason=reason, escalated_at=now)
        if reason not in ("too_many_attempts", "home_visit"):
            call.play("to_agent")
        _set_escalation_vars(call, reason)
        return
    choice = call.io.collect(call.p("after_hours", opening=_hhmm(call, _opens(call)),
                                    closing=_hhmm(call, call.deps.closing_time)),
                             max_digits=1, timeout=call.deps.timeout)
    if isinstance(choice, Digits) and choice.value == "1":
        if _save_callback(call, reason):
            call.play("callback_saved", when=_callback_when(call))
            call.play("goodbye")
            call.record.save(outcome="callback", escalation_reason=reason, ended_at=now)
            _hang_up(call)
            return
        # The callback could not be stored: let the dialplan try the queue / voicemail.
        call.record.save(outcome="escalated", escalation_reason=reason, escalated_at=now)
        _set_escalation_vars(call, reason)
        return
    call.play("goodbye")
    call.record.save(outcome="abandoned" if isinstance(choice, Timeout) else "completed",
                     escalation_reason=reason, ended_at=now)
    _hang_up(call)


def queue_callback_call(call: Call, reason: str) -> None:
    """``/callback``: nobody answered in the queue; take a callback request (or requeue).

    Silence counts as a yes: the caller has already waited, and a request costs nothing.
    """
    call.record.data.intent = "callback"
    choice = call.io.collect(call.p("queue_no_agent"), max_digits=1, timeout=call.deps.timeout)
    call.record.step("queue_no_agent", choice.value if isinstance(choice, Digits) else "timeout")
    if isinstance(choice, Digits) and choice.value == "0":
        call.record.save(outcome="escalated", escalation_reason=reason)
        _set_escalation_vars(call, reason)
        return
    if not _save_callback(call, reason or "no_agent"):
        _set_escalation_vars(call, reason)  # the dialplan falls back to voicemail
        return
    call.play("callback_saved", when=_callback_when(call))
    call.play("goodbye")
    call.record.save(outcome="callback", escalation_reason=reason, ended_at=call.record.now_utc())
    _hang_up(call)


def system_error(call: Call) -> None:
    """Something broke inside: apologise and queue the caller; the dialplan does the rest."""
    try:
        call.play("system_error")
    except Exception:  # noqa: BLE001 - the channel itself may be what failed
        logger.warning("call %s: could not play the error prompt", call.state.call_id)
    call.record.save(outcome="escalated", escalation_reason="system_error",
                     escalated_at=call.record.now_utc())
    _set_escalation_vars(call, "system_error")


def _set_escalation_vars(call: Call, reason: str) -> None:
    # The dialplan queues only when this says the desk is open: it has no hours of its own.
    call.io.set_variable("REG_DESK_OPEN", "1" if call.deps.desk_open() else "0")
    call.io.set_variable("REG_CALL_ID", call.state.call_id)
    call.io.set_variable("REG_REASON", reason)
    call.io.set_variable("REG_ESCALATE", "1")


def _save_callback(call: Call, reason: str) -> bool:
    patient = call.state.patient
    actor = call.actor(patient.id if patient else None)
    try:
        admin.request_callback(
            RequestCallback(call.record.data.caller_number, reason, actor,
                            patient_id=patient.id if patient else None,
                            call_id=call.state.call_id),
            call.deps.uow())
        return True
    except Exception:
        logger.exception("call %s: could not store the callback request", call.state.call_id)
        return False


def finish(call: Call, outcome: str, *, hangup: bool = True) -> None:
    """Record the end of a call the IVR completed itself."""
    if call.record.data.outcome in DONE:
        outcome = call.record.data.outcome  # what the caller achieved beats how they left
    call.record.save(outcome=outcome, ended_at=call.record.now_utc())
    if hangup:
        _hang_up(call)


def _hang_up(call: Call) -> None:
    """End the call ourselves; REG_IVR_DONE tells the dialplan this was no crash."""
    call.io.set_variable("REG_CALL_ID", call.state.call_id)
    call.io.set_variable("REG_IVR_DONE", "1")
    call.io.hangup()


def _opens(call: Call) -> time:
    """The time the desk opens next (a Saturday's may differ from a weekday's)."""
    nxt = call.deps.next_opening()
    return nxt.time() if nxt is not None else call.deps.opening_time


def _hhmm(call: Call, t: time) -> str:
    return call.phrase.hour(t)


def _callback_when(call: Call) -> str:
    return call.phrase.callback_when(call.deps.callback_from())
