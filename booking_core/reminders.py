"""Reminders the day before (rule 18): the SMS, the optional reminder call, and the patient's
answer ("1" confirms, "2" cancels) whether it comes by SMS reply or by key press.

* :func:`enqueue_due_reminders` — run often (the SMS worker does, every minute); from
  ``ReminderPolicy.hour`` in the clinic's time zone it queues one reminder SMS per booked
  appointment of tomorrow.  An :class:`~models.tables.AppointmentReminder` row ("sms") marks
  the appointment as reminded, so each one is reminded once however often the job runs and on
  however many processes.
* :func:`due_reminder_calls` / :func:`place_reminder_calls` — from ``call_hour``, patients who
  did not answer the reminder SMS get one call (marked "call"); the dialing goes through a
  :class:`ReminderDialer` (the AMI client).  A call that is not answered changes nothing.
* :func:`handle_sms_reply` — the inbound SMS webhook's use case: replay-safe by MessageSid.
* :func:`confirm_attendance`, :func:`cancel_by_reminder` — what the reminder call's keys do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import exists, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from booking_core import audit, notifications
from booking_core.actors import Actor
from booking_core.errors import HoldExpired, InvalidTransition, NotCancellable, NotFound
from booking_core.masking import mask_phone, scrub
from booking_core.rules import personal_key
from booking_core.uow import UnitOfWork, UnitOfWorkFactory, is_unique_violation
from booking_core.views import AppointmentView
from models.tables import (
    Appointment,
    AppointmentReminder,
    AppointmentStatus,
    Channel,
    Clinic,
    Doctor,
    InboundSms,
    OutboxMessage,
    Patient,
)

logger = logging.getLogger(__name__)

SMS = "sms"
CALL = "call"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
#: A second "2" from the same number this soon after a cancellation is taken as a repeat,
#: not as a wish to cancel the next appointment too.
REPEATED_CANCEL_WINDOW = timedelta(minutes=30)

_CONFIRM_WORDS = frozenset({"1", "да", "yes", "y", "ok", "ок", "подтверждаю", "приду",
                            "confirm"})
_CANCEL_WORDS = frozenset({"2", "отмена", "отменить", "отмените", "отменяю", "cancel"})
#: Leaving the waiting list by SMS (its joining SMS says "reply 0").
_LEAVE_WORDS = frozenset({"0", "стоп", "stop", "выйти", "выход", "leave"})


@dataclass(frozen=True)
class ReminderPolicy:
    """When reminders go out, in the clinic's local time (filled from settings)."""

    hour: int = 12  # reminder SMS for tomorrow's appointments from this hour
    calls: bool = False  # phone those who did not answer the SMS
    call_hour: int = 17
    quiet_from: int = 21  # nothing is queued or dialled from this hour until midnight


class ReminderDialer(Protocol):
    """Places an outbound reminder call (the AMI client implements it).

    The call is expected to reach the IVR's ``reminder`` route with ``appointment_id``; the
    dialer returns as soon as the call is originated, and raises if it could not be.
    """

    def dial(self, phone: str, appointment_id: int) -> None: ...


class CallableDialer:
    """Adapts any ``fn(phone, appointment_id)`` — e.g. ``ami.originate_reminder`` — to
    :class:`ReminderDialer`."""

    def __init__(self, fn: Callable[[str, int], object]) -> None:
        self.fn = fn

    def dial(self, phone: str, appointment_id: int) -> None:
        self.fn(phone, appointment_id)


@dataclass(frozen=True)
class ReminderCall:
    appointment_id: int
    phone: str  # E.164; mask before logging


# --- reminder SMS and calls -------------------------------------------------------------


def _insert_marker(uow: UnitOfWork, appointment_id: int, kind: str) -> bool:
    """Mark ``appointment_id`` as reminded by ``kind``; False if it already was."""
    dialect = postgresql if uow.is_postgres else sqlite
    stmt = dialect.insert(AppointmentReminder).values(
        appointment_id=appointment_id, kind=kind, created_at=uow.clock.now_utc(),
    ).on_conflict_do_nothing(index_elements=["appointment_id", "kind"]).returning(
        AppointmentReminder.id)
    return uow.session.exec(stmt).first() is not None


def _tomorrow_span(uow: UnitOfWork) -> tuple[datetime, datetime]:
    start = datetime.combine(uow.clock.now_local().date() + timedelta(days=1), time.min)
    return start, start + timedelta(days=1)


#: A visit the doctor's leaving or a schedule change cancelled gets no reminder: the patient
#: was told so and is on the agents' call list.  A visit a doctor's absence hit does get one,
#: saying the doctor is away and offering the substitute held for the patient (rule 14).
_NOT_FLAGGED = (col(Appointment.flag).is_(None),)


def enqueue_due_reminders(uow: UnitOfWork, policy: ReminderPolicy, *,
                          force: bool = False) -> int:
    """Queue tomorrow's reminder SMS once the reminder hour has come; returns how many.

    Appointments booked after today's reminder hour are skipped: their confirmation SMS has
    just gone out.  ``force`` (the CLI) queues every unreminded one now, whatever the hour.
    Idempotent, safe to run concurrently.
    """

    with uow:
        now = uow.clock.now_local()
        if not force and not policy.hour <= now.hour < policy.quiet_from:
            return 0
        start, end = _tomorrow_span(uow)
        reminded = exists().where(AppointmentReminder.appointment_id == Appointment.id,
                                  AppointmentReminder.kind == SMS)
        stmt = select(Appointment).where(
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at >= start, Appointment.starts_at < end, ~reminded,
            *_NOT_FLAGGED,
        ).order_by(col(Appointment.starts_at))
        if not force:
            moment_local = datetime.combine(now.date(), time(policy.hour))
            moment_utc = moment_local + (uow.clock.now_utc() - now)
            stmt = stmt.where(Appointment.created_at < moment_utc)
        rows = uow.session.exec(stmt).all()
        queued = 0
        for appt in rows:
            assert appt.id is not None
            if _insert_marker(uow, appt.id, SMS):
                _queue_reminder(uow, appt)
                queued += 1
        uow.commit()
    if queued:
        logger.info("reminders: %d SMS queued for tomorrow", queued)
    return queued


def _queue_reminder(uow: UnitOfWork, appt: Appointment) -> None:
    """The reminder SMS; for a visit a doctor's absence flagged, the absence and the held
    substitute instead of a request to confirm a visit that cannot happen (rule 14)."""
    from booking_core.booking import _live_substitute, _view

    view = _view(uow, appt)
    if appt.absence_id is None:
        notifications.appointment_reminder(uow, view)
        return
    assert appt.id is not None
    hold = _live_substitute(uow, appt.id)
    notifications.absent_reminder(uow, view, _view(uow, hold) if hold is not None else None)


def due_reminder_calls(uow: UnitOfWork, policy: ReminderPolicy) -> list[ReminderCall]:
    """Whom to call now: tomorrow's booked patients who were reminded by SMS and did not answer.

    Each appointment is called at most once (the "call" marker is taken here, before dialing:
    a failed dial is not retried, a patient is never phoned twice).
    """
    if not policy.calls:
        return []
    with uow:
        now = uow.clock.now_local()
        if not policy.call_hour <= now.hour < policy.quiet_from:
            return []
        start, end = _tomorrow_span(uow)
        unanswered_sms = exists().where(
            AppointmentReminder.appointment_id == Appointment.id,
            AppointmentReminder.kind == SMS, col(AppointmentReminder.answered_at).is_(None))
        called = exists().where(AppointmentReminder.appointment_id == Appointment.id,
                                AppointmentReminder.kind == CALL)
        rows = uow.session.exec(
            select(Appointment, Patient).join(Patient, Patient.id == Appointment.patient_id)  # type: ignore[arg-type]
            .where(Appointment.status == AppointmentStatus.BOOKED,
                   Appointment.starts_at >= start, Appointment.starts_at < end,
                   unanswered_sms, ~called, *_NOT_FLAGGED)
            .order_by(col(Appointment.starts_at))
        ).all()
        calls = []
        for appt, patient in rows:
            phone = notifications.normalize_phone(patient.phone)
            assert appt.id is not None
            if phone and _insert_marker(uow, appt.id, CALL):
                calls.append(ReminderCall(appt.id, phone))
        uow.commit()
        return calls


def place_reminder_calls(uow: UnitOfWorkFactory, policy: ReminderPolicy,
                         dialer: ReminderDialer) -> int:
    """Dial everyone :func:`due_reminder_calls` names; returns how many calls were originated.

    Dial failures are logged and forgotten: nothing about a booking depends on the call.
    """
    placed = 0
    for call in due_reminder_calls(uow(), policy):
        try:
            dialer.dial(call.phone, call.appointment_id)
            placed += 1
        except Exception:  # a failed call must never touch the booking
            logger.exception("reminder call for appointment %s to %s failed",
                             call.appointment_id, mask_phone(call.phone))
    return placed


# --- the patient's answer -----------------------------------------------------------------


def reminder_target(appointment_id: int, uow: UnitOfWork) -> AppointmentView | None:
    """The appointment a reminder call is about, if it is still booked and ahead."""
    from booking_core.booking import LIVE_FUTURE, _view

    with uow.reading():
        appt = uow.session.get(Appointment, appointment_id)
        if (appt is None or appt.status not in LIVE_FUTURE
                or appt.starts_at <= uow.clock.now_local()):
            return None
        return _view(uow, appt)


def _mark_answer(uow: UnitOfWork, appointment_id: int, kind: str, answer: str) -> None:
    marker = uow.session.exec(
        select(AppointmentReminder).where(AppointmentReminder.appointment_id == appointment_id,
                                          AppointmentReminder.kind == kind)
    ).first()
    if marker is None:
        marker = AppointmentReminder(appointment_id=appointment_id, kind=kind,
                                     created_at=uow.clock.now_utc())
        uow.session.add(marker)
    marker.answered_at = uow.clock.now_utc()
    marker.answer = answer


def _confirm_in_tx(uow: UnitOfWork, appt: Appointment, actor: Actor, via: str) -> None:
    if appt.status != AppointmentStatus.BOOKED or appt.starts_at <= uow.clock.now_local():
        raise InvalidTransition("only a booked appointment still ahead can be confirmed")
    if appt.absence_id is not None:
        raise InvalidTransition("the doctor is absent: the visit cannot be confirmed")
    assert appt.id is not None
    _mark_answer(uow, appt.id, via, CONFIRMED)
    audit.record(uow, actor, "confirm_attendance", "appointment", appt.id, None, {"via": via})


def confirm_attendance(appointment_id: int, actor: Actor, uow: UnitOfWork, *,
                       via: str = CALL) -> AppointmentView:
    """The patient said they will come ("1" to the reminder call or SMS)."""
    from booking_core.booking import _get_appointment, _view

    with uow:
        appt = _get_appointment(uow, appointment_id)
        _confirm_in_tx(uow, appt, actor, via)
        uow.commit()
        return _view(uow, appt)


def cancel_by_reminder(appointment_id: int, actor: Actor, uow: UnitOfWork, *,
                       via: str = CALL) -> AppointmentView:
    """The patient cancelled from a reminder call ("2"): cancel, note it, confirm by SMS."""
    from booking_core.booking import _cancel_in_tx, _get_appointment, _view

    with uow:
        appt = _get_appointment(uow, appointment_id)
        _cancel_in_tx(uow, appt, actor, f"reminder_{via}")
        assert appt.id is not None
        _mark_answer(uow, appt.id, via, CANCELLED)
        view = _view(uow, appt)
        notifications.appointment_cancelled(uow, view)
        uow.commit()
        return view


@dataclass(frozen=True)
class SmsReply:
    """An inbound SMS as the webhook received it."""

    message_sid: str
    from_phone: str
    body: str


@dataclass(frozen=True)
class ReplyOutcome:
    """What the patient is answered, and what was done."""

    answer: str
    action: str  # "confirm", "cancel", "help", "no_appointment", "repeat", "not_cancellable"
    appointment_id: int | None = None
    replay: bool = False  # the same MessageSid was handled before: nothing was done now


def parse_reply(body: str) -> str | None:
    """"1"/"да" → "confirm", "2"/"отмена" → "cancel", "0"/«стоп» → "leave" (the waiting
    list), anything else → None."""
    words = re.sub(r"[^\w]+", " ", (body or "").lower().replace("ё", "е")).split()
    if not words or len(words) > 3:
        return None
    if words[0] in _CONFIRM_WORDS and all(w in _CONFIRM_WORDS for w in words):
        return "confirm"
    if words[0] in _CANCEL_WORDS and all(w in _CANCEL_WORDS for w in words):
        return "cancel"
    if words[0] in _LEAVE_WORDS and all(w in _LEAVE_WORDS for w in words):
        return "leave"
    return None


def handle_sms_reply(reply: SmsReply, uow: UnitOfWork, *, locale: str = "ru") -> ReplyOutcome:
    """Act on a patient's SMS reply, once per MessageSid (a replay gets the same answer).

    The reply is matched by the sender's number to the nearest upcoming live appointment that
    an SMS asking for a reply went to — a reminded one first.  Unknown numbers and numbers
    without such an appointment get the same answer, so the line reveals nothing.
    """
    try:
        return _handle_reply(reply, uow, locale)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        # The same MessageSid was being handled concurrently: answer as the winner did.
        with uow.reading():
            seen = uow.session.exec(
                select(InboundSms).where(InboundSms.message_sid == reply.message_sid)).one()
            return ReplyOutcome(seen.answer, seen.action, seen.appointment_id, replay=True)


def _handle_reply(reply: SmsReply, uow: UnitOfWork, locale: str) -> ReplyOutcome:
    from booking_core.booking import _view

    with uow:
        seen = uow.session.exec(
            select(InboundSms).where(InboundSms.message_sid == reply.message_sid)).first()
        if seen is not None:
            logger.info("sms reply %s replayed: answered as before", scrub(reply.message_sid))
            return ReplyOutcome(seen.answer, seen.action, seen.appointment_id, replay=True)
        phone = notifications.normalize_phone(reply.from_phone)
        from_key = personal_key("sms", phone, uow.rules.pepper) if phone else ""
        intent = parse_reply(reply.body)
        if intent == "leave" and phone:
            return _leave_waitlist(uow, reply, phone, from_key, locale)
        offer = _offer_target(uow, phone) if phone else None
        appt, asked_at = ((offer, None) if offer is not None
                          else _reply_target(uow, phone) if phone else (None, None))
        facts: dict[str, Any] = {"phone": _registry_phone(uow, appt)}
        if appt is not None:
            facts, _ = notifications.appointment_facts(uow, _view(uow, appt))
        actor = Actor.patient(appt.patient_id if appt else None, Channel.SMS, phone)
        repeat = (_recent_cancel(uow, from_key, asked_at)
                  if intent == "cancel" and offer is None else None)
        if offer is not None:
            action, key = _act_on_offer(uow, offer, actor, intent)
        elif repeat is not None:
            # The same "2" again (a resend, a double tap): it is about the appointment just
            # cancelled, not the next one, unless an SMS about that one asked for it since.
            action, key = "repeat", "reply_already_cancelled"
            facts, _ = notifications.appointment_facts(uow, _view(uow, repeat))
        elif appt is None:
            action, key = "no_appointment", "reply_no_appointment"
        else:
            action, key = _act_on(uow, appt, actor, intent)
        # A change announced through the outbox is confirmed there (retried until it is
        # delivered, never twice), so the immediate answer says nothing more.
        answer = "" if key is None else notifications.render_template(key, facts, locale).text
        target_id = repeat.id if repeat is not None else (appt.id if appt else None)
        uow.session.add(InboundSms(
            message_sid=reply.message_sid[:64], received_at=uow.clock.now_utc(),
            from_key=from_key, body=scrub(reply.body, limit=150),
            patient_id=appt.patient_id if appt else None, appointment_id=target_id,
            action=action, answer=answer[:500],
        ))
        uow.commit()
    logger.info("sms reply from %s: %s (appointment %s)", mask_phone(phone), action, target_id)
    return ReplyOutcome(answer, action, target_id)


def _act_on(uow: UnitOfWork, appt: Appointment, actor: Actor,
            intent: str | None) -> tuple[str, str | None]:
    """Do what a reply asks about ``appt``: (action, answer key; None = the outbox tells)."""
    from booking_core.booking import _cancel_in_tx, _live_substitute, _take_substitute_in_tx, _view

    if intent == "confirm" and appt.absence_id is not None:
        # The doctor is away: "1" takes the substitute held for the patient, if still held.
        assert appt.id is not None
        hold = _live_substitute(uow, appt.id)
        if hold is None:
            return "help", "reply_absent"
        _take_substitute_in_tx(uow, hold, actor)
        _mark_answer(uow, appt.id, SMS, "substitute")
        return "substitute", None
    if intent == "confirm":
        try:
            _confirm_in_tx(uow, appt, actor, SMS)
            return "confirm", "reply_confirmed"
        except InvalidTransition:
            return "help", "reply_help"  # a hold still awaiting its booking
    if intent == "cancel":
        try:
            _cancel_in_tx(uow, appt, actor, "sms_reply")
        except NotCancellable:
            return "not_cancellable", "reply_not_cancellable"
        assert appt.id is not None
        _mark_answer(uow, appt.id, SMS, CANCELLED)
        notifications.appointment_cancelled(uow, _view(uow, appt))
        return "cancel", None
    return "help", "reply_absent" if appt.absence_id is not None else "reply_help"


def _leave_waitlist(uow: UnitOfWork, reply: SmsReply, phone: str, from_key: str,
                    locale: str) -> ReplyOutcome:
    """A "0"/«стоп» reply: off the waiting list (inside the open unit of work, committed)."""
    from booking_core import waiting_list

    left = waiting_list.leave_by_sms_in_tx(uow, phone, Actor.patient(None, Channel.SMS, phone))
    action, key = ("waitlist_left", "reply_waitlist_left") if left else (
        "no_waitlist", "reply_no_waitlist")
    answer = notifications.render_template(key, {"phone": _registry_phone(uow, None)},
                                           locale).text
    uow.session.add(InboundSms(
        message_sid=reply.message_sid[:64], received_at=uow.clock.now_utc(), from_key=from_key,
        body=scrub(reply.body, limit=150), action=action, answer=answer[:500]))
    uow.commit()
    logger.info("sms reply: %d waiting-list entries left", left)
    return ReplyOutcome(answer, action, None)


def _offer_target(uow: UnitOfWork, phone: str) -> Appointment | None:
    """A waiting-list offer (rule 19) sent to ``phone`` that a reply is about: one still held,
    or one that ran out lately (so a late "1" is told so rather than taken for something
    else).  An offer is answered before anything else: its time is short."""
    recent = uow.clock.now_utc() - 2 * timedelta(minutes=uow.rules.waitlist_offer_minutes)
    return uow.session.exec(
        select(Appointment)
        .join(OutboxMessage, OutboxMessage.appointment_id == Appointment.id)  # type: ignore[arg-type]
        .where(OutboxMessage.to_phone == phone,
               OutboxMessage.kind == notifications.WAITLIST_OFFER,
               OutboxMessage.created_at >= recent,
               or_(Appointment.status == AppointmentStatus.PENDING,
                   col(Appointment.cancel_reason).in_(_OFFER_RAN_OUT)))
        .order_by(col(OutboxMessage.created_at).desc())
    ).first()


_OFFER_RAN_OUT = ("offer_expired", "hold_expired")


def _act_on_offer(uow: UnitOfWork, appt: Appointment, actor: Actor,
                  intent: str | None) -> tuple[str, str | None]:
    """"1" takes the offered time (the booking SMS with the talon follows through the outbox),
    "2" declines it (it goes to the next entry); an offer that ran out is said to have."""
    from booking_core import waiting_list

    assert appt.id is not None
    live = (appt.status == AppointmentStatus.PENDING
            and (appt.hold_expires_at is None or appt.hold_expires_at >= uow.clock.now_utc()))
    if intent is None:
        return "help", "reply_offer_help" if live else "reply_offer_expired"
    if not live:
        return "offer_expired", "reply_offer_expired"
    if intent == "confirm":
        try:
            waiting_list.take_offer_in_tx(uow, appt.id, actor)
        except HoldExpired:
            return "offer_expired", "reply_offer_expired"
        return "offer_taken", None
    try:
        waiting_list.decline_offer_in_tx(uow, appt.id, actor)
    except NotFound:
        return "offer_expired", "reply_offer_expired"
    return "offer_declined", "reply_offer_declined"


def _reply_target(uow: UnitOfWork, phone: str) -> tuple[Appointment | None, datetime | None]:
    """The appointment a reply from ``phone`` is about (see :func:`handle_sms_reply`), and
    when the last SMS asking for a reply about it was queued."""
    from booking_core.booking import LIVE_FUTURE

    rows = uow.session.exec(
        select(Appointment, OutboxMessage.kind, OutboxMessage.created_at)
        .join(OutboxMessage, OutboxMessage.appointment_id == Appointment.id)  # type: ignore[arg-type]
        .where(OutboxMessage.to_phone == phone,
               col(OutboxMessage.kind).in_(notifications.REPLYABLE_KINDS),
               col(Appointment.status).in_(LIVE_FUTURE),
               Appointment.starts_at > uow.clock.now_local())
        .order_by(col(Appointment.starts_at))
    ).all()
    reminded = [a for a, kind, _ in rows if kind == notifications.REMINDER]
    pool = reminded or [a for a, _, _ in rows]
    if not pool:
        return None, None
    target = pool[0]
    return target, max(at for a, _, at in rows if a.id == target.id)


def _recent_cancel(uow: UnitOfWork, from_key: str,
                   asked_at: datetime | None) -> Appointment | None:
    """The appointment this number cancelled by SMS in the last minutes, if a "2" now is a
    repeat of that one: no SMS asking for a reply came since (``asked_at``: the newest one
    about the appointment the reply would otherwise go to)."""
    if not from_key:
        return None
    since = uow.clock.now_utc() - REPEATED_CANCEL_WINDOW
    last = uow.session.exec(
        select(InboundSms).where(InboundSms.from_key == from_key,
                                 InboundSms.action == "cancel", InboundSms.received_at >= since)
        .order_by(col(InboundSms.received_at).desc())
    ).first()
    if last is None or last.appointment_id is None:
        return None
    if asked_at is not None and asked_at > last.received_at:
        return None  # e.g. a new booking's SMS: this "2" is about that one
    return uow.session.get(Appointment, last.appointment_id)


def _registry_phone(uow: UnitOfWork, appt: Appointment | None) -> str:
    """The registry's phone number to put into an answer (the first clinic's if unknown)."""
    if appt is not None:
        doctor = uow.session.get(Doctor, appt.doctor_id)
        clinic = uow.session.get(Clinic, doctor.clinic_id) if doctor else None
        if clinic is not None:
            return clinic.phone
    clinic = uow.session.exec(select(Clinic).order_by(col(Clinic.id))).first()
    return clinic.phone if clinic else ""
