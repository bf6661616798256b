"""Booking use cases: hold, book, confirm, cancel, reschedule, visit outcome (rules 8-12).

Each use case is one transaction.  "One live appointment per slot" is not checked here but
enforced by the database (partial unique index), so it holds under any concurrency on SQLite
and PostgreSQL alike; the code only turns the violation into :class:`SlotTaken`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from booking_core import audit, notifications, waiting_list
from booking_core.actors import Actor
from booking_core.commands import BookSlot, Cancel, Reschedule
from booking_core.eligibility import (
    check_patient_may_book,
    get_patient,
    get_patient_and_block,
)
from booking_core.errors import (
    ArrivalOutsideWindow,
    ChannelClosed,
    DomainError,
    HoldExpired,
    InvalidInput,
    InvalidTransition,
    LimitReached,
    NotCancellable,
    NotFound,
    SlotTaken,
    SlotUnavailable,
    WrongClinic,
)
from booking_core.rules import arrival_open, booking_window, is_remote, new_confirmation_code
from booking_core.scope import (
    EVERYWHERE,
    ClinicScope,
    check_actor,
    check_appointment,
    check_doctor,
)
from booking_core.slot_facts import LIVE_FUTURE, SlotFacts, load_slot_facts
from booking_core.uow import UnitOfWork, is_unique_violation
from booking_core.views import AppointmentView
from models.tables import (
    Appointment,
    AppointmentStatus,
    ChannelRestriction,
    Doctor,
    IdempotencyKey,
    Slot,
    Specialty,
)

logger = logging.getLogger(__name__)

AUDIT_FIELDS = ("status", "slot_id", "starts_at", "doctor_id", "confirmation_code")
ARRIVAL_FIELDS = (*AUDIT_FIELDS, "arrived_at")
ARRIVED = (AppointmentStatus.COMPLETED, AppointmentStatus.WALK_IN)


def book(cmd: BookSlot, uow: UnitOfWork) -> AppointmentView:
    """Book (or, with ``hold``, provisionally hold) a slot for a patient.

    With an idempotency key, the key is stored in the booking's own transaction: a retry (even
    one racing the first request) gets the appointment the first request made, never a second.
    """
    if cmd.idempotency_key and (earlier := _idempotent_result(cmd, uow)) is not None:
        return earlier
    try:
        with uow:
            view = _book_in_tx(uow, cmd.patient_id, cmd.slot_id, cmd.actor, cmd.referral_id,
                               cmd.hold)
            if cmd.idempotency_key:
                uow.session.add(IdempotencyKey(actor=cmd.actor.label, key=cmd.idempotency_key,
                                               appointment_id=view.id,
                                               created_at=uow.clock.now_utc()))
            if not cmd.hold:
                notifications.appointment_booked(uow, view)  # SMS in the same transaction
            _commit_or_slot_taken(uow)
    except DomainError:
        # A racing retry of the same request committed first, so this one was refused (slot
        # taken, or the per-specialty limit now counts the first): its appointment is the answer.
        if cmd.idempotency_key and (earlier := _idempotent_result(cmd, uow)) is not None:
            return earlier
        raise
    logger.info("appointment %s %s via %s", view.id, view.status, cmd.actor.channel)
    return view


def _idempotent_result(cmd: BookSlot, uow: UnitOfWork) -> AppointmentView | None:
    """The appointment an earlier request with this key made, if any."""
    with uow.reading():
        found = uow.session.exec(select(Appointment).join(
            IdempotencyKey, col(IdempotencyKey.appointment_id) == Appointment.id).where(
            IdempotencyKey.actor == cmd.actor.label,
            IdempotencyKey.key == cmd.idempotency_key)).first()
        if found is None:
            return None
        if found.slot_id != cmd.slot_id or found.patient_id != cmd.patient_id:
            raise InvalidInput("idempotency key already used for another booking",
                               field="idempotency_key")
        return _view(uow, found)


def confirm(appointment_id: int, actor: Actor, uow: UnitOfWork) -> AppointmentView:
    """Turn a pending hold into a booking; fails if the hold time ran out (rule 10)."""
    with uow:
        appt = _get_appointment(uow, appointment_id, actor=actor)
        if appt.status == AppointmentStatus.BOOKED:
            return _view(uow, appt)
        if appt.status == AppointmentStatus.CANCELLED and appt.cancel_reason == "hold_expired":
            raise HoldExpired("hold time ran out; the slot went back to the pool")
        if appt.status != AppointmentStatus.PENDING:
            raise InvalidTransition("only a pending appointment can be confirmed")
        if appt.hold_expires_at is not None and appt.hold_expires_at < uow.clock.now_utc():
            raise HoldExpired("hold time ran out; the slot went back to the pool")
        if appt.substitute_for_id is not None:  # confirming it moves the flagged visit here
            view = _take_substitute_in_tx(uow, appt, actor)
            uow.commit()
            return view
        view = confirm_in_tx(uow, appt, actor)
        uow.commit()
        return view


def confirm_in_tx(uow: UnitOfWork, appt: Appointment, actor: Actor) -> AppointmentView:
    """Book a live pending hold (the caller checked it is one), with its SMS; a waiting-list
    entry it was offered to, or one waiting for the specialty, is served by it."""
    if appt.status != AppointmentStatus.PENDING:
        raise InvalidTransition("only a pending appointment can be confirmed")
    if appt.hold_expires_at is not None and appt.hold_expires_at < uow.clock.now_utc():
        raise HoldExpired("hold time ran out; the slot went back to the pool")
    before = audit.snapshot(appt, AUDIT_FIELDS)
    _set_status(uow, appt, AppointmentStatus.BOOKED)
    appt.hold_expires_at = None
    audit.record(uow, actor, "confirm", "appointment", appt.id, before,
                 audit.snapshot(appt, AUDIT_FIELDS))
    assert appt.id is not None
    waiting_list.served_by(uow, appt.patient_id, appt.specialty_id, appt.id, actor)
    view = _view(uow, appt)
    notifications.appointment_booked(uow, view)  # SMS in the same transaction
    return view


def cancel(cmd: Cancel, uow: UnitOfWork) -> AppointmentView:
    """Cancel until the slot starts; the slot returns to the pool at once (rule 12)."""
    with uow:
        appt = _get_appointment(uow, cmd.appointment_id, patient_id=cmd.patient_id,
                                actor=cmd.actor)
        was_booked = appt.status == AppointmentStatus.BOOKED  # a mere hold got no SMS
        _cancel_in_tx(uow, appt, cmd.actor, cmd.reason)
        if was_booked:
            notifications.appointment_cancelled(uow, _view(uow, appt))
        uow.commit()
        return _view(uow, appt)


def reschedule(cmd: Reschedule, uow: UnitOfWork) -> AppointmentView:
    """Move an appointment to another slot in one transaction: both happen or neither (rule 8)."""
    with uow:
        old = _get_appointment(uow, cmd.appointment_id, patient_id=cmd.patient_id,
                               actor=cmd.actor)
        new_slot = uow.session.get(Slot, cmd.new_slot_id)
        if new_slot is None:
            raise NotFound("slot not found")
        new_doctor = uow.session.get(Doctor, new_slot.doctor_id)
        if new_doctor is None or new_doctor.specialty_id != old.specialty_id:
            raise SlotUnavailable("a reschedule keeps the specialty")
        _cancel_in_tx(uow, old, cmd.actor, "rescheduled")
        view = _book_in_tx(uow, old.patient_id, cmd.new_slot_id, cmd.actor, old.referral_id,
                           hold=False, rescheduled_from=old.id)
        notifications.appointment_rescheduled(uow, view, old.starts_at)
        _commit_or_slot_taken(uow)
        return view


def substitute_hold(appointment_id: int, uow: UnitOfWork) -> AppointmentView | None:
    """The substitute slot still held for an appointment flagged by a doctor's absence."""
    with uow.reading():
        hold = _live_substitute(uow, appointment_id)
        return _view(uow, hold) if hold is not None else None


def take_substitute(appointment_id: int, actor: Actor, uow: UnitOfWork,
                    patient_id: int | None = None) -> AppointmentView:
    """Move an appointment flagged by a doctor's absence to the substitute slot held for it
    (rule 14), in one transaction like any reschedule; the SMS goes through the outbox."""
    with uow:
        old = _get_appointment(uow, appointment_id, patient_id=patient_id, actor=actor)
        hold = _live_substitute(uow, appointment_id)
        if hold is None:
            raise HoldExpired("the substitute time is no longer held")
        view = _take_substitute_in_tx(uow, hold, actor)
        assert old.status == AppointmentStatus.CANCELLED
        uow.commit()
        return view


def _live_substitute(uow: UnitOfWork, appointment_id: int) -> Appointment | None:
    return uow.session.exec(
        select(Appointment).where(
            Appointment.substitute_for_id == appointment_id,
            Appointment.status == AppointmentStatus.PENDING,
            col(Appointment.hold_expires_at) >= uow.clock.now_utc(),
        )
    ).first()


def _take_substitute_in_tx(uow: UnitOfWork, hold: Appointment, actor: Actor) -> AppointmentView:
    """Book the held substitute slot and cancel the flagged appointment it replaces."""
    assert hold.substitute_for_id is not None
    old = _get_appointment(uow, hold.substitute_for_id)
    before = audit.snapshot(hold, AUDIT_FIELDS)
    _set_status(uow, hold, AppointmentStatus.BOOKED)  # first, so the cancel below keeps it
    hold.hold_expires_at = None
    hold.rescheduled_from_id, hold.substitute_for_id = old.id, None  # an ordinary visit now
    _cancel_in_tx(uow, old, actor, "rescheduled")
    audit.record(uow, actor, "reschedule", "appointment", hold.id, before,
                 audit.snapshot(hold, AUDIT_FIELDS))
    view = _view(uow, hold)
    notifications.appointment_rescheduled(uow, view, old.starts_at)
    return view


def mark_arrived(appointment_id: int, actor: Actor, uow: UnitOfWork,
                 at: datetime | None = None) -> AppointmentView:
    """The patient came: "completed", or "walk_in" when more than the allowed minutes late.

    Only around the visit time (``rules.arrival_window_minutes`` either side of its start): a
    visit days ahead cannot be marked by a slip of the mouse."""
    with uow:
        appt = _get_appointment(uow, appointment_id, actor=actor)
        if appt.status != AppointmentStatus.BOOKED:
            raise InvalidTransition("only a booked appointment can be marked arrived")
        at = at or uow.clock.now_local()
        if not arrival_open(appt.starts_at, at, uow.rules.arrival_window_minutes):
            raise ArrivalOutsideWindow("arrival can be recorded only around the visit time",
                                       window_minutes=uow.rules.arrival_window_minutes)
        late = at - appt.starts_at > timedelta(minutes=uow.rules.late_walk_in_minutes)
        before = audit.snapshot(appt, ARRIVAL_FIELDS)
        appt.arrived_at = at
        _set_status(uow, appt, AppointmentStatus.WALK_IN if late else AppointmentStatus.COMPLETED)
        audit.record(uow, actor, "arrived", "appointment", appt.id, before,
                     audit.snapshot(appt, ARRIVAL_FIELDS))
        uow.commit()
        return _view(uow, appt)


def undo_arrival(appointment_id: int, actor: Actor, uow: UnitOfWork) -> AppointmentView:
    """Take back a «Пришёл» recorded by mistake: the visit is booked again, and the audit log
    keeps both the mark and its undoing.  Allowed while the arrival window is open."""
    with uow:
        appt = _get_appointment(uow, appointment_id, actor=actor)
        if appt.status not in ARRIVED or appt.arrived_at is None:
            raise InvalidTransition("only a recorded arrival can be undone")
        if not arrival_open(appt.starts_at, uow.clock.now_local(),
                            uow.rules.arrival_window_minutes):
            raise ArrivalOutsideWindow("an arrival can be undone only around the visit time",
                                       window_minutes=uow.rules.arrival_window_minutes)
        before = audit.snapshot(appt, ARRIVAL_FIELDS)
        appt.arrived_at = None
        _set_status(uow, appt, AppointmentStatus.BOOKED)
        audit.record(uow, actor, "arrival_undone", "appointment", appt.id, before,
                     audit.snapshot(appt, ARRIVAL_FIELDS))
        uow.commit()
        return _view(uow, appt)


def mark_no_show(appointment_id: int, actor: Actor, uow: UnitOfWork) -> AppointmentView:
    """Record a no-show; the third one since the last block blocks remote booking (rule 11)."""
    from booking_core.blocks import apply_no_show_rule

    with uow:
        appt = _get_appointment(uow, appointment_id, actor=actor)
        if appt.status != AppointmentStatus.BOOKED:
            raise InvalidTransition("only a booked appointment can be a no-show")
        if appt.starts_at > uow.clock.now_local():
            raise InvalidTransition("a no-show can only be recorded after the slot started")
        before = audit.snapshot(appt, AUDIT_FIELDS)
        _set_status(uow, appt, AppointmentStatus.NO_SHOW)
        audit.record(uow, actor, "no_show", "appointment", appt.id, before,
                     audit.snapshot(appt, AUDIT_FIELDS))
        uow.flush()
        apply_no_show_rule(uow, appt.patient_id, actor)
        uow.commit()
        return _view(uow, appt)


def register_out_of_schedule(patient_id: int, doctor_id: int, actor: Actor,
                             uow: UnitOfWork) -> AppointmentView:
    """An urgent visit without a slot, seen between scheduled patients (status out_of_schedule)."""
    with uow:
        patient = get_patient(uow, patient_id)
        check_actor(actor, patient.clinic_id, "patient")
        doctor = check_doctor(uow, actor, doctor_id)
        appt = Appointment(
            patient_id=patient.id, doctor_id=doctor.id, specialty_id=doctor.specialty_id,  # type: ignore[arg-type]
            starts_at=uow.clock.now_local(), status=AppointmentStatus.OUT_OF_SCHEDULE,
            channel=actor.channel, confirmation_code=new_confirmation_code(),
            created_by=actor.label, created_at=uow.clock.now_utc(), updated_at=uow.clock.now_utc(),
        )
        uow.session.add(appt)
        uow.flush()
        audit.record(uow, actor, "out_of_schedule", "appointment", appt.id, None,
                     audit.snapshot(appt, AUDIT_FIELDS))
        uow.commit()
        return _view(uow, appt)


def patient_appointments(patient_id: int, uow: UnitOfWork, *, upcoming_only: bool = True,
                         limit: int = 20) -> list[AppointmentView]:
    """A patient's appointments; by default the live ones still ahead, nearest first."""
    with uow.reading():
        stmt = select(Appointment).where(Appointment.patient_id == patient_id)
        if upcoming_only:
            stmt = stmt.where(
                col(Appointment.status).in_(LIVE_FUTURE),
                Appointment.starts_at > uow.clock.now_local(),
                # a substitute held after a doctor's absence is offered with the flagged visit
                col(Appointment.substitute_for_id).is_(None),
            ).order_by(col(Appointment.starts_at))
        else:
            stmt = stmt.order_by(col(Appointment.starts_at).desc())
        return [_view(uow, a) for a in uow.session.exec(stmt.limit(limit)).all()]


def get_appointment(appointment_id: int, uow: UnitOfWork,
                    scope: ClinicScope = EVERYWHERE) -> AppointmentView:
    """One appointment by id (``other_clinic`` if outside the reader's clinic scope)."""
    with uow.reading():
        appt = _get_appointment(uow, appointment_id)
        check_appointment(uow, scope, appt)
        return _view(uow, appt)


def expire_holds(uow: UnitOfWork) -> int:
    """Cancel pending holds whose time ran out (the search already ignores them)."""
    with uow:
        expired = _cancel_expired_holds(uow)
        uow.commit()
        return expired


# --- inside a transaction -------------------------------------------------------------------


def _book_in_tx(
    uow: UnitOfWork, patient_id: int, slot_id: int, actor: Actor, referral_id: int | None,
    hold: bool, rescheduled_from: int | None = None, for_waitlist: bool = False,
) -> AppointmentView:
    patient, block = get_patient_and_block(uow, patient_id, uow.clock.today(), lock=True)
    code = new_confirmation_code()
    facts = load_slot_facts(uow, slot_id, patient_id=patient_id, channel=actor.channel, code=code)
    slot, doctor, spec = facts.slot, facts.doctor, facts.specialty
    uow.keep(patient)  # the SMS facts read the patient again before the commit
    check_actor(actor, patient.clinic_id, "patient")  # a per-clinic user books for their own
    check_actor(actor, doctor.clinic_id, "doctor")
    if not doctor.active:
        raise SlotUnavailable("doctor no longer receives patients")
    if is_remote(actor.channel) and doctor.clinic_id != patient.clinic_id:
        raise WrongClinic("remote booking is only to the attached clinic")
    referral = check_patient_may_book(uow, patient, spec, actor.channel, referral_id,
                                      on=slot.starts_at.date(), block=block)
    _check_slot_bookable(uow, facts, actor.channel)
    _check_channel_open(uow, facts)
    _check_limits(uow, facts)
    if facts.expired_hold:
        _cancel_expired_holds(uow, slot_id)
    if facts.code_taken:  # drawn again only on a clash
        code = _unique_code(uow)
    now_utc = uow.clock.now_utc()
    appt = Appointment(
        slot_id=slot.id, patient_id=patient.id, doctor_id=doctor.id, specialty_id=spec.id,  # type: ignore[arg-type]
        starts_at=slot.starts_at,
        status=AppointmentStatus.PENDING if hold else AppointmentStatus.BOOKED,
        channel=actor.channel, confirmation_code=code, created_by=actor.label,
        created_at=now_utc, updated_at=now_utc,
        hold_expires_at=now_utc + timedelta(minutes=uow.rules.hold_minutes) if hold else None,
        referral_id=referral.id if referral else None, rescheduled_from_id=rescheduled_from,
    )
    uow.session.add(appt)
    try:
        uow.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise SlotTaken("slot already taken") from None
        raise
    if referral is not None:
        referral.used_by_appointment_id = appt.id
    if not hold and not for_waitlist and facts.waiting_entry:
        assert appt.id is not None
        waiting_list.served_by(uow, patient.id, spec.id, appt.id, actor)  # type: ignore[arg-type]
    audit.record(uow, actor, "reschedule" if rescheduled_from else ("hold" if hold else "book"),
                 "appointment", appt.id, None, audit.snapshot(appt, AUDIT_FIELDS))
    return AppointmentView.of(appt, doctor, spec, slot.cabinet)


def _check_slot_bookable(uow: UnitOfWork, facts: SlotFacts, channel: str) -> None:
    now = uow.clock.now_local()
    starts_at = facts.slot.starts_at
    if starts_at <= now:
        raise SlotUnavailable("slot is in the past")
    start, end = booking_window(channel, now, uow.rules)
    if not start <= starts_at < end:
        raise SlotUnavailable("slot is outside the booking window of this channel")
    if facts.doctor_absent:
        raise SlotUnavailable("doctor is absent that day")


def _check_channel_open(uow: UnitOfWork, facts: SlotFacts) -> None:
    """Rule 13: refuse a remote booking on a day the channel is closed for the specialty or
    the doctor (the facts name the restriction only on remote channels)."""
    if facts.closing_restriction_id is None:
        return
    restriction = uow.session.get(ChannelRestriction, facts.closing_restriction_id)
    raise ChannelClosed("channel closed for this specialty or doctor",
                        reason=restriction.reason if restriction is not None else None)


def _check_limits(uow: UnitOfWork, facts: SlotFacts) -> None:
    """Rule 9: one future appointment per specialty, at most N a day."""
    if facts.same_specialty:
        raise LimitReached("patient already holds a future appointment with this specialty",
                           limit="per_specialty")
    if facts.same_day >= uow.rules.max_appointments_per_day:
        raise LimitReached("daily appointment limit reached", limit="per_day")


def _cancel_expired_holds(uow: UnitOfWork, slot_id: int | None = None) -> int:
    """Cancel holds whose time ran out (on one slot, or all), each with its audit entry."""
    stmt = select(Appointment).where(
        Appointment.status == AppointmentStatus.PENDING,
        col(Appointment.hold_expires_at) < uow.clock.now_utc(),
    )
    if slot_id is not None:
        stmt = stmt.where(Appointment.slot_id == slot_id)
    held = uow.session.exec(stmt).all()
    for appt in held:
        before = audit.snapshot(appt, AUDIT_FIELDS)
        _set_status(uow, appt, AppointmentStatus.CANCELLED)
        appt.cancel_reason = "hold_expired"
        audit.record(uow, Actor.system("hold_expiry"), "cancel", "appointment", appt.id, before,
                     audit.snapshot(appt, AUDIT_FIELDS))
    if held:
        uow.flush()  # free the slots before anything else in this transaction takes one
    return len(held)


def _cancel_in_tx(uow: UnitOfWork, appt: Appointment, actor: Actor, reason: str) -> None:
    if appt.status not in LIVE_FUTURE:
        raise NotCancellable("appointment is not active")
    if appt.starts_at <= uow.clock.now_local():
        raise NotCancellable("appointment has already started")
    before = audit.snapshot(appt, AUDIT_FIELDS)
    _set_status(uow, appt, AppointmentStatus.CANCELLED)
    appt.cancel_reason = reason
    uow.flush()  # free the slot before anything else in this transaction takes it
    audit.record(uow, actor, "cancel", "appointment", appt.id, before,
                 audit.snapshot(appt, AUDIT_FIELDS))
    _release_substitutes(uow, appt)
    waiting_list.slot_freed_in_tx(uow, appt)  # the freed time goes to the waiting list first


def _release_substitutes(uow: UnitOfWork, appt: Appointment) -> None:
    """A flagged appointment that is cancelled (or moved) needs its substitute no more."""
    if appt.absence_id is None:
        return
    held = uow.session.exec(
        select(Appointment).where(Appointment.substitute_for_id == appt.id,
                                  Appointment.status == AppointmentStatus.PENDING)
    ).all()
    for hold in held:
        before = audit.snapshot(hold, AUDIT_FIELDS)
        _set_status(uow, hold, AppointmentStatus.CANCELLED)
        hold.cancel_reason = "substitute_released"
        audit.record(uow, Actor.system("absence"), "cancel", "appointment", hold.id, before,
                     audit.snapshot(hold, AUDIT_FIELDS))
    if held:
        uow.flush()


def _commit_or_slot_taken(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise SlotTaken("slot already taken") from None
        raise


def _set_status(uow: UnitOfWork, appt: Appointment, status: AppointmentStatus) -> None:
    appt.status = status
    appt.updated_at = uow.clock.now_utc()


def _unique_code(uow: UnitOfWork) -> str:
    """A code no other live appointment carries, so the registry can find it by code alone."""
    for _ in range(20):
        code = new_confirmation_code()
        clash = uow.session.exec(
            select(Appointment.id).where(
                Appointment.confirmation_code == code, col(Appointment.status).in_(LIVE_FUTURE)
            )
        ).first()
        if clash is None:
            return code
    raise RuntimeError("could not draw a free confirmation code")  # 20 clashes: impossible


def _get_appointment(uow: UnitOfWork, appointment_id: int, patient_id: int | None = None,
                     actor: Actor | None = None) -> Appointment:
    """The appointment; with ``actor``, only one within the actor's clinic scope."""
    appt = uow.session.get(Appointment, appointment_id)
    if appt is None or (patient_id is not None and appt.patient_id != patient_id):
        raise NotFound("appointment not found")
    if actor is not None:
        check_appointment(uow, actor, appt)
    return appt


def _view(uow: UnitOfWork, appt: Appointment) -> AppointmentView:
    doctor = uow.session.get(Doctor, appt.doctor_id)
    spec = uow.session.get(Specialty, appt.specialty_id)
    assert doctor is not None and spec is not None
    slot = uow.session.get(Slot, appt.slot_id) if appt.slot_id else None
    return AppointmentView.of(appt, doctor, spec, slot.cabinet if slot else "")
