"""The reminder call: an outbound call the day before an appointment (rule 18).

"Здравствуйте! Это <clinic>. Напоминаем о вашей записи: <slot>. Нажмите 1, если придёте.
Нажмите 2, чтобы отменить запись."  1 confirms attendance, 2 (after a yes/no check) cancels
through booking_core; silence or anything else leaves the booking exactly as it is — an
unanswered reminder never cancels anything.  0 (or "оператор") goes to an agent like on the
registry line.

The FastAGI ``reminder`` route runs :func:`run_reminder_call` with the appointment id the AMI
originate passed along; the dialogue itself is :func:`reminder_call`, transport-free.
"""

from __future__ import annotations

import logging

from booking_core import reminders
from booking_core.actors import Actor
from booking_core.errors import DomainError, NotCancellable
from ivr.call import OPERATOR, REPEAT, Call, Escalate, IvrDeps, says
from ivr.flows import escalate, finish, system_error
from ivr.io import CallerHangup, CallIO, Digits, Grammar, Speech
from ivr.service import _run
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
    intro = call.p("reminder_intro", clinic=call.phrase.name(call.deps.clinic_name),
                   slot=call.phrase.slot(appt, full=True))
    call.record.step("reminder_intro")
    call.io.play(intro)
    tries = repeats = 0
    while tries < MAX_TRIES:
        choice = _ask(call)
        if choice == OPERATOR:
            raise Escalate("caller_request")
        if choice == REPEAT and repeats < MAX_REPEATS:
            repeats += 1
            call.io.play(intro)
            continue
        if choice == "1":
            _confirm(call, appointment_id, actor)
            return
        if choice == "2":
            _cancel(call, appointment_id, actor)
            return
        tries += 1
    call.play("reminder_no_answer")
    finish(call, "no_answer")


def _ask(call: Call) -> str | None:
    grammar = Grammar("reminder", tuple(REMINDER_WORDS)) if call.listening else None
    event = call.io.collect(call.p("reminder_menu"), max_digits=1, timeout=call.deps.timeout,
                            grammar=grammar)
    choice: str | None = None
    if isinstance(event, Digits) and event.value:
        choice = event.value[0]
    elif isinstance(event, Speech):
        if any(says(event.text, w) for w in ("оператор", "operator")):
            choice = OPERATOR
        else:
            choice = next((k for w, k in REMINDER_WORDS.items() if says(event.text, w)), None)
    call.record.step("reminder_menu", choice or type(event).__name__.lower())
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


def _cancel(call: Call, appointment_id: int, actor: Actor) -> None:
    try:
        sure = call.yes_no(call.p("reminder_confirm_cancel"), step="reminder_confirm_cancel")
    except Escalate as esc:
        if esc.reason == "caller_request":
            raise
        sure = False  # silence or noise is never a "yes, cancel"
    if not sure:
        call.play("reminder_kept")
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
