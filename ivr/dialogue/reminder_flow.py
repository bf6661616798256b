"""The reminder call: an outbound call the day before an appointment (rule 18).

"Здравствуйте! Это <clinic>. Напоминаем о вашей записи: <slot>. Нажмите 1, если придёте.
Нажмите 2, чтобы отменить запись."  1 confirms attendance, 2 (after a yes/no check) cancels
through booking_core; silence or anything else leaves the booking exactly as it is — an
unanswered reminder never cancels anything.  0 (or "оператор") goes to an agent like on the
registry line.

When a doctor's absence has flagged the visit (rule 14) the call does not ask to confirm it:
it says the doctor cannot see the patient and offers the substitute slot held for them —
1 takes it, 2 cancels — or, with nothing held any more, 1 puts them through to an agent to
find another time.

The FastAGI ``reminder`` route runs :func:`run_reminder_call` with the appointment id the AMI
originate passed along; the dialogue itself is :func:`reminder_call`, transport-free.
"""

from __future__ import annotations

import logging

from booking_core import booking, reminders
from booking_core.actors import Actor
from booking_core.errors import DomainError, NotCancellable
from booking_core.views import AppointmentView
from ivr.dialogue.call import OPERATOR, REPEAT, Call, Escalate, IvrDeps, says
from ivr.dialogue.catalogue import Prompt
from ivr.dialogue.flows import escalate, finish, system_error
from ivr.dialogue.region import visit_clinic_name
from ivr.dialogue.service import _run
from ivr.io import CallerHangup, CallIO, Digits, Grammar, Speech
from models.tables import Channel

logger = logging.getLogger(__name__)

REMINDER_WORDS = {"отмен": "2", "не приду": "2", "cancel": "2",
                  "приду": "1", "да": "1", "подтвер": "1", "yes": "1", "confirm": "1"}
MAX_TRIES = 2
MAX_REPEATS = 2


def run_reminder_call(io: CallIO, deps: IvrDeps, *, appointment_id: int,
                      locale: str = "ru") -> Call:
    """Run the reminder dialogue on ``io`` (the FastAGI ``reminder`` route calls this)."""
    return _run(io, deps, locale, lambda call: reminder_call(call, appointment_id))


def reminder_call(call: Call, appointment_id: int) -> None:
    """The whole reminder call for ``appointment_id``."""
    call.state.intent = call.record.data.intent = "reminder"
    call.record.data.appointment_id = appointment_id
    try:
        _dialogue(call, appointment_id)
    except Escalate as esc:
        escalate(call, esc.reason)
    except CallerHangup:
        finish(call, "hangup", hangup=False)
        raise
    except Exception:
        logger.exception("reminder call %s: internal error", call.state.call_id)
        system_error(call)


def _dialogue(call: Call, appointment_id: int) -> None:
    appt = reminders.reminder_target(appointment_id, call.deps.uow())
    if appt is None:
        call.play("reminder_gone")
        finish(call, "completed")
        return
    call.record.data.patient_id = appt.patient_id
    actor = Actor.patient(appt.patient_id, Channel.IVR, "reminder_call")
    held = (booking.substitute_hold(appointment_id, call.deps.uow())
            if appt.absence_id is not None else None)
    intro, menu = _intro_and_menu(call, appt, held)
    call.record.step("reminder_intro")
    call.io.play(intro)
    tries = repeats = 0
    while tries < MAX_TRIES:
        choice = _ask(call, menu)
        if choice == OPERATOR:
            raise Escalate("caller_request")
        if choice == REPEAT and repeats < MAX_REPEATS:
            repeats += 1
            call.io.play(intro)
            continue
        if choice == "1" and appt.absence_id is not None:
            _take_substitute(call, appointment_id, actor, held)
            return
        if choice == "1":
            _confirm(call, appointment_id, actor)
            return
        if choice == "2":
            _cancel(call, appointment_id, actor, absent=appt.absence_id is not None)
            return
        tries += 1
    # "stays as it is" would be wrong for a visit that cannot take place
    call.play("reminder_no_answer" if appt.absence_id is None else "reminder_absent_no_answer")
    finish(call, "no_answer")


def _intro_and_menu(call: Call, appt: AppointmentView,
                    held: AppointmentView | None) -> tuple[Prompt, str]:
    """What the call says first and which menu follows: the reminder, or for a visit a
    doctor's absence flagged, the absence and the substitute held for the patient."""
    clinic = call.phrase.name(visit_clinic_name(call, appt))
    if appt.absence_id is None:
        return call.p("reminder_intro", clinic=clinic,
                      slot=call.phrase.slot(appt, full=True)), "reminder_menu"
    absent = call.p("reminder_absent_intro", clinic=clinic, slot=call.phrase.slot(appt))
    if held is None:
        return absent, "reminder_absent_menu"
    offer = call.p("reminder_substitute", slot=call.phrase.slot(held, full=True))
    return call.say_.join("reminder_intro", absent, offer), "reminder_substitute_menu"


def _take_substitute(call: Call, appointment_id: int, actor: Actor,
                     held: AppointmentView | None) -> None:
    """1 after an absence: the held substitute, or an agent to find another time."""
    if held is None:
        call.play("reminder_to_agent")
        raise Escalate("doctor_absent")
    try:
        moved = booking.take_substitute(appointment_id, actor, call.deps.uow())
    except DomainError as exc:  # the hold ran out while we spoke, or the visit went
        logger.info("reminder call %s: substitute not taken (%s)", call.state.call_id,
                    exc.code)
        call.play("reminder_substitute_gone")
        raise Escalate("doctor_absent") from None
    call.record.data.appointment_id = moved.id
    call.record.data.outcome = "rescheduled"
    call.play("reminder_substitute_taken", slot=call.phrase.slot(moved, full=True))
    finish(call, "rescheduled")


def _ask(call: Call, menu: str) -> str | None:
    grammar = Grammar("reminder", tuple(REMINDER_WORDS)) if call.listening else None
    event = call.io.collect(call.p(menu), max_digits=1, timeout=call.deps.timeout,
                            grammar=grammar)
    choice: str | None = None
    if isinstance(event, Digits) and event.value:
        choice = event.value[0]
    elif isinstance(event, Speech):
        if any(says(event.text, w) for w in ("оператор", "operator")):
            choice = OPERATOR
        else:
            choice = next((k for w, k in REMINDER_WORDS.items() if says(event.text, w)), None)
    call.record.step(menu, choice or type(event).__name__.lower())
    return choice


def _confirm(call: Call, appointment_id: int, actor: Actor) -> None:
    try:
        reminders.confirm_attendance(appointment_id, actor, call.deps.uow(), via="call")
    except DomainError as exc:
        logger.info("reminder call %s: cannot confirm (%s)", call.state.call_id, exc.code)
        call.play("reminder_gone")
        finish(call, "completed")
        return
    call.play("reminder_confirmed")
    finish(call, "confirmed")


def _cancel(call: Call, appointment_id: int, actor: Actor, *, absent: bool = False) -> None:
    try:
        sure = call.yes_no(call.p("reminder_confirm_cancel"), step="reminder_confirm_cancel")
    except Escalate as esc:
        if esc.reason == "caller_request":
            raise
        sure = False  # silence or noise is never a "yes, cancel"
    if not sure:
        call.play("reminder_absent_kept" if absent else "reminder_kept")
        finish(call, "completed")
        return
    try:
        reminders.cancel_by_reminder(appointment_id, actor, call.deps.uow(), via="call")
    except NotCancellable:
        call.play("not_cancellable")
        finish(call, "completed")
        return
    except DomainError as exc:
        logger.info("reminder call %s: cannot cancel (%s)", call.state.call_id, exc.code)
        call.play("reminder_gone")
        finish(call, "completed")
        return
    call.record.data.outcome = "cancelled"
    call.play("reminder_cancelled")
    finish(call, "cancelled")
