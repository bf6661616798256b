"""The waiting list (rule 19): patients wait for free time with a specialty (or one doctor);
freed time is offered to them in order, held for a while, then goes to the next.

* :func:`join`, :func:`leave`, :func:`patient_entries`, :func:`list_for_specialty` — the list.
* :func:`offer_slot_in_tx` — called where booking_core frees a slot (a cancellation): the first
  eligible entry gets the slot held for it (a pending appointment, rule 10) and an SMS asking
  "1 — take, 2 — decline".  :func:`offer_free_time` does the same for time that appeared
  otherwise (the daily slot generation, an import, an absence withdrawn).
* :func:`take_offer_in_tx` / :func:`decline_offer_in_tx` — the patient's answer.
* :func:`expire` — offers nobody answered go to the next entry; old entries expire.

Concurrency: an entry moves ``waiting → offered`` by a conditional UPDATE after the patient's
row is locked (the same lock every booking takes, so the lock order is always patient → entry):
two slots freed at once never go to one entry twice, and an offer racing the patient's own
booking ends with one appointment, because the per-specialty limit (rule 9) is checked under
that lock and counts a live hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.sql.expression import Select

from booking_core import audit, notifications
from booking_core.actors import Actor
from booking_core.commands import JoinWaitlist
from booking_core.eligibility import check_patient_may_book, get_patient, get_patient_and_block
from booking_core.errors import (
    AlreadyWaiting,
    DomainError,
    InvalidInput,
    LimitReached,
    NotFound,
    WrongClinic,
)
from booking_core.rules import preference_allows
from booking_core.scope import check_actor
from booking_core.slot_facts import ACTIVE_ENTRY, LIVE_FUTURE, hold_in_force
from booking_core.uow import UnitOfWork, is_unique_violation
from booking_core.views import AppointmentView, SpecialtyView
from models.tables import (
    Appointment,
    AppointmentStatus,
    Doctor,
    OutboxMessage,
    Patient,
    Slot,
    Specialty,
    TimePreference,
    WaitlistEntry,
    WaitlistStatus,
)

logger = logging.getLogger(__name__)

ENTRY_FIELDS = ("status", "preference", "doctor_id", "offer_appointment_id",
                "booked_appointment_id")
#: How many entries one freed slot is tried on before it is left in the pool.
MAX_CANDIDATES = 50
OFFER_ACTOR = "waiting_list"


@dataclass(frozen=True)
class WaitlistEntryView:
    """One entry as channels show it (no personal data beyond the name)."""

    id: int
    patient_id: int
    patient_name: str
    specialty_id: int
    specialty: SpecialtyView
    doctor_id: int | None
    preference: str
    status: str
    channel: str
    created_at: datetime  # UTC
    expires_at: datetime  # UTC
    waited: timedelta  # from joining until now (or until the entry closed)
    offer_appointment_id: int | None
    offer_starts_at: datetime | None  # clinic time of the slot offered, while offered
    offer_held_until: datetime | None  # UTC
    booked_appointment_id: int | None

    @property
    def waited_days(self) -> int:
        return self.waited.days


# --- the list -------------------------------------------------------------------------------


def join(cmd: JoinWaitlist, uow: UnitOfWork) -> WaitlistEntryView:
    """Put a patient on the list for a specialty (or one of its doctors).

    The booking rules that do not depend on a slot (age group, referral-only specialty, a
    no-show block for remote channels) are checked now, so no one waits in vain; all of them
    are checked again at offer time.  One active entry per patient and specialty.
    """
    if cmd.preference not in set(TimePreference):
        raise InvalidInput("unknown time preference", field="preference")
    try:
        with uow:
            today = uow.clock.today()
            patient, block = get_patient_and_block(uow, cmd.patient_id, today, lock=True)
            check_actor(cmd.actor, patient.clinic_id, "patient")
            spec = uow.session.get(Specialty, cmd.specialty_id)
            if spec is None:
                raise NotFound("specialty not found")
            if cmd.doctor_id is not None:
                doctor = uow.session.get(Doctor, cmd.doctor_id)
                if doctor is None or doctor.specialty_id != spec.id:
                    raise InvalidInput("doctor is not of this specialty", field="doctor_id")
                if doctor.clinic_id != patient.clinic_id:
                    # Rule 4: freed time is offered by the attached clinic's doctors only,
                    # so an entry for another clinic's doctor would wait in vain.
                    raise WrongClinic("the waiting list serves the attached clinic's doctors")
            check_patient_may_book(uow, patient, spec, cmd.actor.channel, None, on=today,
                                   block=block)
            if _holds_visit(uow, cmd.patient_id, cmd.specialty_id):
                # rule 9 would refuse every offer: move the visit instead
                raise LimitReached("patient already holds a future appointment with this "
                                   "specialty", limit="per_specialty")
            if _active_entry(uow, cmd.patient_id, cmd.specialty_id) is not None:
                raise AlreadyWaiting(
                "patient is already on the waiting list for this specialty") from None
            now = uow.clock.now_utc()
            entry = WaitlistEntry(
                patient_id=cmd.patient_id, specialty_id=cmd.specialty_id,
                doctor_id=cmd.doctor_id, preference=cmd.preference, channel=cmd.actor.channel,
                created_by=cmd.actor.label, created_at=now,
                expires_at=now + timedelta(days=uow.rules.waitlist_days))
            uow.session.add(entry)
            uow.flush()
            audit.record(uow, cmd.actor, "waitlist_join", "waitlist_entry", entry.id, None,
                         audit.snapshot(entry, ENTRY_FIELDS))
            # Said by SMS too, with how to leave the list by reply (rule 19: by phone or SMS).
            notifications.waitlist_joined(uow, patient, spec, entry.id,  # type: ignore[arg-type]
                                          _local(uow, entry.expires_at))
            view = _entry_view(uow, entry, patient)
            uow.commit()
    except IntegrityError as exc:  # a concurrent join of the same patient won
        if is_unique_violation(exc):
            raise AlreadyWaiting(
                "patient is already on the waiting list for this specialty") from None
        raise
    logger.info("waiting list: entry %s joined via %s", view.id, cmd.actor.channel)
    return view


def leave(entry_id: int, actor: Actor, uow: UnitOfWork,
          patient_id: int | None = None) -> WaitlistEntryView:
    """Take an entry off the list; a slot held for it goes to the next entry at once."""
    with uow:
        patient = get_patient(uow, _entry_patient(uow, entry_id), lock=True)
        check_actor(actor, patient.clinic_id, "patient")
        entry = _get_entry(uow, entry_id, patient_id)
        if entry.status not in ACTIVE_ENTRY:
            raise NotFound("waiting-list entry is not active")
        _close(uow, entry, WaitlistStatus.LEFT, actor, "waitlist_leave")
        _release_offer(uow, entry, "waitlist_left")
        view = _entry_view(uow, entry)
        uow.commit()
        return view


def leave_by_sms_in_tx(uow: UnitOfWork, phone: str, actor: Actor) -> int:
    """A reply "0"/«стоп» from ``phone``: take off the list every active entry whose joining
    was texted to that number (a parent's phone may carry several children's entries).
    Inside the caller's transaction; returns how many entries left."""
    texted = select(OutboxMessage.patient_id).where(
        OutboxMessage.to_phone == phone, OutboxMessage.kind == notifications.WAITLIST_JOINED)
    entries = uow.session.exec(
        select(WaitlistEntry).where(col(WaitlistEntry.patient_id).in_(texted),
                                    col(WaitlistEntry.status).in_(ACTIVE_ENTRY))
        .order_by(col(WaitlistEntry.id))).all()
    for entry in entries:
        get_patient(uow, entry.patient_id, lock=True)
        uow.session.refresh(entry)
        if entry.status in ACTIVE_ENTRY:  # unless an offer's answer closed it meanwhile
            _close(uow, entry, WaitlistStatus.LEFT, actor, "waitlist_leave")
            _release_offer(uow, entry, "waitlist_left")
    return len(entries)


def patient_entries(patient_id: int, uow: UnitOfWork) -> list[WaitlistEntryView]:
    """A patient's active entries, oldest first."""
    with uow.reading():
        rows = uow.session.exec(
            select(WaitlistEntry).where(WaitlistEntry.patient_id == patient_id,
                                        col(WaitlistEntry.status).in_(ACTIVE_ENTRY),
                                        WaitlistEntry.expires_at > uow.clock.now_utc())
            .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))).all()
        return [_entry_view(uow, e) for e in rows]


def list_for_specialty(specialty_id: int, uow: UnitOfWork, *, clinic_id: int | None = None,
                       active_only: bool = True, limit: int = 200) -> list[WaitlistEntryView]:
    """The list for agents: entries of a specialty in the order offers go, with their state
    and waiting time.  ``active_only=False`` adds the closed ones (newest closed last)."""
    with uow.reading():
        stmt = (select(WaitlistEntry, Patient)
                .join(Patient, col(Patient.id) == WaitlistEntry.patient_id)
                .where(WaitlistEntry.specialty_id == specialty_id))
        if clinic_id is not None:
            stmt = stmt.where(Patient.clinic_id == clinic_id)
        if active_only:
            stmt = stmt.where(col(WaitlistEntry.status).in_(ACTIVE_ENTRY))
        rows = uow.session.exec(
            stmt.order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id)).limit(limit)
        ).all()
        return [_entry_view(uow, e, p) for e, p in rows]


# --- offers ---------------------------------------------------------------------------------


def offer_slot_in_tx(uow: UnitOfWork, slot_id: int,
                     skip_entry_id: int | None = None) -> int | None:
    """Offer a just-freed slot to the first eligible waiting entry; returns its id or None.

    Runs inside the caller's transaction (the cancellation that freed the slot), each attempt
    in a savepoint: an entry the booking rules refuse now is skipped and stays waiting.
    """
    slot = uow.session.get(Slot, slot_id)
    if slot is None or slot.starts_at <= uow.clock.now_local():
        return None
    doctor = uow.session.get(Doctor, slot.doctor_id)
    if doctor is None or not doctor.active:
        return None
    for entry_id, patient_id in _candidates(uow, slot, doctor, skip_entry_id):
        if _try_offer(uow, entry_id, patient_id, slot.id):  # type: ignore[arg-type]
            return entry_id
    return None


def offer_free_time(uow: UnitOfWork) -> int:
    """Offer free time that appeared otherwise than by a cancellation (the daily slot
    generation, an import, an absence withdrawn) to waiting entries, oldest first.

    Returns how many offers were made.  Safe to run often and on several processes.
    """
    from booking_core.slots import slot_is_taken

    made = 0
    with uow:
        now = uow.clock.now_utc()
        entries = uow.session.exec(
            select(WaitlistEntry).where(WaitlistEntry.status == WaitlistStatus.WAITING,
                                        WaitlistEntry.expires_at > now)
            .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))).all()
        for entry in entries:
            free = select(Slot).join(Doctor, col(Doctor.id) == Slot.doctor_id).where(
                Doctor.specialty_id == entry.specialty_id, col(Doctor.active).is_(True),
                Slot.starts_at > uow.clock.now_local(), ~slot_is_taken(now))
            if entry.doctor_id is not None:
                free = free.where(Slot.doctor_id == entry.doctor_id)
            for slot in uow.session.exec(free.order_by(col(Slot.starts_at)).limit(20)).all():
                if (preference_allows(entry.preference, slot.starts_at)
                        and slot.id != entry.offered_slot_id
                        and _try_offer(uow, entry.id, entry.patient_id, slot.id)):  # type: ignore[arg-type]
                    made += 1
                    break
        uow.commit()
    if made:
        logger.info("waiting list: %d offers of free time", made)
    return made


def _candidates(uow: UnitOfWork, slot: Slot, doctor: Doctor,
                skip_entry_id: int | None) -> list[tuple[int, int]]:
    """(entry id, patient id) of the waiting entries that may want ``slot``, in order."""
    rows = uow.session.exec(
        select(WaitlistEntry.id, WaitlistEntry.patient_id, WaitlistEntry.preference)
        .join(Patient, col(Patient.id) == WaitlistEntry.patient_id)
        .where(WaitlistEntry.specialty_id == doctor.specialty_id,
               WaitlistEntry.status == WaitlistStatus.WAITING,
               WaitlistEntry.expires_at > uow.clock.now_utc(),
               or_(col(WaitlistEntry.doctor_id).is_(None),
                   WaitlistEntry.doctor_id == doctor.id),
               or_(col(WaitlistEntry.offered_slot_id).is_(None),
                   WaitlistEntry.offered_slot_id != slot.id),
               Patient.clinic_id == doctor.clinic_id)
        .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))
        .limit(MAX_CANDIDATES)).all()
    return [(eid, pid) for eid, pid, pref in rows
            if eid != skip_entry_id and preference_allows(pref, slot.starts_at)]


def _try_offer(uow: UnitOfWork, entry_id: int, patient_id: int, slot_id: int) -> bool:
    """Hold ``slot_id`` for one entry and queue the offer SMS; False (nothing changed) if the
    entry is no longer waiting or a booking rule refuses it now."""
    from booking_core.booking import _book_in_tx

    savepoint = uow.session.begin_nested()
    try:
        get_patient(uow, patient_id, lock=True)  # lock order: patient, then entry
        claimed = uow.session.execute(
            update(WaitlistEntry).where(col(WaitlistEntry.id) == entry_id,
                                        WaitlistEntry.status == WaitlistStatus.WAITING)
            .values(status=WaitlistStatus.OFFERED)).rowcount
        if claimed != 1:  # another transaction offered it something, or it was closed
            savepoint.rollback()
            return False
        entry = uow.session.get(WaitlistEntry, entry_id)
        assert entry is not None
        uow.session.refresh(entry)
        actor = Actor("system", OFFER_ACTOR, entry.channel)
        view = _book_in_tx(uow, patient_id, slot_id, actor, None, hold=True,
                           for_waitlist=True)
        held_until = uow.clock.now_utc() + timedelta(minutes=uow.rules.waitlist_offer_minutes)
        appt = uow.session.get(Appointment, view.id)
        assert appt is not None
        appt.hold_expires_at = held_until
        entry.offer_appointment_id, entry.offered_slot_id = view.id, slot_id
        entry.offers += 1
        uow.flush()
        audit.record(uow, Actor.system(OFFER_ACTOR), "waitlist_offer", "waitlist_entry",
                     entry_id, None, audit.snapshot(entry, ENTRY_FIELDS))
        if not notifications.waitlist_offer(uow, view, _local(uow, held_until)):
            # No mobile number: nobody could answer, so the slot goes to the next entry.
            savepoint.rollback()
            logger.info("waiting list: entry %s skipped, no SMS number", entry_id)
            return False
        savepoint.commit()
    except (DomainError, IntegrityError) as exc:
        savepoint.rollback()
        logger.info("waiting list: entry %s not offered slot %s (%s)", entry_id, slot_id,
                    getattr(exc, "code", "conflict"))
        return False
    logger.info("waiting list: slot %s offered to entry %s", slot_id, entry_id)
    return True


def _local(uow: UnitOfWork, at_utc: datetime) -> datetime:
    """A naive UTC moment in the clinic's wall-clock time (what the SMS says)."""
    return at_utc + (uow.clock.now_local() - uow.clock.now_utc())


# --- the patient's answer -------------------------------------------------------------------


def offer_entry(uow: UnitOfWork, appointment_id: int) -> WaitlistEntry | None:
    """The entry an appointment was offered to, while the offer is open."""
    return uow.session.exec(
        select(WaitlistEntry).where(WaitlistEntry.offer_appointment_id == appointment_id,
                                    WaitlistEntry.status == WaitlistStatus.OFFERED)).first()


def take_offer_in_tx(uow: UnitOfWork, appointment_id: int, actor: Actor) -> AppointmentView:
    """"1": the held slot becomes a booking (the usual SMS with the talon number)."""
    from booking_core.booking import confirm_in_tx

    appt = uow.session.get(Appointment, appointment_id)
    if appt is None:
        raise NotFound("appointment not found")
    get_patient(uow, appt.patient_id, lock=True)
    return confirm_in_tx(uow, appt, actor)  # HoldExpired when the offer ran out


def open_offer(appointment_id: int, uow: UnitOfWork) -> bool:
    """Is this appointment a waiting-list offer still held for the patient?"""
    with uow.reading():
        appt = uow.session.get(Appointment, appointment_id)
        return (appt is not None and appt.status == AppointmentStatus.PENDING
                and appt.hold_expires_at is not None
                and appt.hold_expires_at >= uow.clock.now_utc()
                and offer_entry(uow, appointment_id) is not None)


def take_offer(appointment_id: int, actor: Actor, uow: UnitOfWork,
               patient_id: int | None = None) -> AppointmentView:
    """Take an offer outside an SMS reply (the phone's «мои записи», an agent)."""
    with uow:
        _check_owner(uow, appointment_id, patient_id)
        view = take_offer_in_tx(uow, appointment_id, actor)
        uow.commit()
        return view


def decline_offer(appointment_id: int, actor: Actor, uow: UnitOfWork,
                  patient_id: int | None = None) -> None:
    """Decline an offer outside an SMS reply: off the list, the slot to the next entry."""
    with uow:
        _check_owner(uow, appointment_id, patient_id)
        decline_offer_in_tx(uow, appointment_id, actor)
        uow.commit()


def _check_owner(uow: UnitOfWork, appointment_id: int, patient_id: int | None) -> None:
    appt = uow.session.get(Appointment, appointment_id)
    if appt is None or (patient_id is not None and appt.patient_id != patient_id):
        raise NotFound("appointment not found")


def decline_offer_in_tx(uow: UnitOfWork, appointment_id: int, actor: Actor) -> None:
    """"2": the entry leaves the list and the slot goes to the next entry."""
    appt = uow.session.get(Appointment, appointment_id)
    if appt is None:
        raise NotFound("appointment not found")
    get_patient(uow, appt.patient_id, lock=True)
    entry = offer_entry(uow, appointment_id)
    if entry is None:
        raise NotFound("no open offer for this appointment")
    _close(uow, entry, WaitlistStatus.DECLINED, actor, "waitlist_decline")
    _release_offer(uow, entry, "waitlist_declined")


def served_by(uow: UnitOfWork, patient_id: int, specialty_id: int, appointment_id: int,
              actor: Actor) -> None:
    """A booking was made for the patient in the specialty: their entry is served by it —
    the offer taken, or a waiting entry booked some other way (phone, console).  While an
    offer's hold is live the per-specialty limit refuses any other booking, so an offer for
    another slot met here has run out: its slot goes to the next entry."""
    entry = _active_entry(uow, patient_id, specialty_id)
    if entry is None:
        return
    entry.booked_appointment_id = appointment_id
    _close(uow, entry, WaitlistStatus.BOOKED, actor, "waitlist_booked")
    if entry.offer_appointment_id != appointment_id:
        _release_offer(uow, entry, "offer_expired")


def slot_freed_in_tx(uow: UnitOfWork, appt: Appointment) -> None:
    """Called where booking_core cancels an appointment: close an offer it was, and offer its
    slot to the waiting list."""
    entry = offer_entry(uow, appt.id) if appt.id is not None else None  # type: ignore[arg-type]
    if entry is not None:
        _close(uow, entry, WaitlistStatus.DECLINED, Actor.system(OFFER_ACTOR),
               "waitlist_decline")
    if appt.slot_id is not None and _anyone_waiting(uow, appt.specialty_id):
        offer_slot_in_tx(uow, appt.slot_id, skip_entry_id=entry.id if entry else None)


# --- housekeeping ---------------------------------------------------------------------------


def expire(uow: UnitOfWork) -> tuple[int, int]:
    """Offers nobody answered in time go to the next entry (the entry waits again, but is not
    offered the same slot); entries past their days expire.  Returns (offers, entries)."""
    offers = 0
    with uow:
        now = uow.clock.now_utc()
        rows = uow.session.exec(
            select(WaitlistEntry, Appointment)
            .join(Appointment, col(Appointment.id) == WaitlistEntry.offer_appointment_id)
            .where(WaitlistEntry.status == WaitlistStatus.OFFERED,
                   or_(Appointment.status == AppointmentStatus.CANCELLED,
                       (Appointment.status == AppointmentStatus.PENDING)
                       & (col(Appointment.hold_expires_at) < now)))).all()
        for entry, appt in rows:
            _reopen_after_expired_offer(uow, entry, appt)
            offers += 1
        old = uow.session.exec(
            select(WaitlistEntry).where(WaitlistEntry.status == WaitlistStatus.WAITING,
                                        WaitlistEntry.expires_at <= now)).all()
        for entry in old:
            _close(uow, entry, WaitlistStatus.EXPIRED, Actor.system(OFFER_ACTOR),
                   "waitlist_expire")
        uow.commit()
    if offers or old:
        logger.info("waiting list: %d offers ran out, %d entries expired", offers, len(old))
    return offers, len(old)


def _reopen_after_expired_offer(uow: UnitOfWork, entry: WaitlistEntry,
                                appt: Appointment) -> None:
    before = audit.snapshot(entry, ENTRY_FIELDS)
    entry.status = WaitlistStatus.WAITING
    if appt.status == AppointmentStatus.PENDING:
        appt.status = AppointmentStatus.CANCELLED
        appt.cancel_reason = "offer_expired"
        appt.updated_at = uow.clock.now_utc()
    uow.flush()
    audit.record(uow, Actor.system(OFFER_ACTOR), "waitlist_offer_expired", "waitlist_entry",
                 entry.id, before, audit.snapshot(entry, ENTRY_FIELDS))
    if appt.slot_id is not None and appt.cancel_reason == "offer_expired":
        offer_slot_in_tx(uow, appt.slot_id, skip_entry_id=entry.id)


# --- reports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitlistStats:
    """Patients served from the list in a period: booked by taking an offer."""

    served: int
    median_wait: timedelta | None  # joining to booking, over those served

    @property
    def median_wait_days(self) -> float | None:
        if self.median_wait is None:
            return None
        return round(self.median_wait.total_seconds() / 86400, 1)


def served_stats(start_utc: datetime, end_utc: datetime, uow: UnitOfWork) -> WaitlistStats:
    """How many entries an offer served in [start, end) (UTC) and their median wait."""
    with uow.reading():
        rows = uow.session.exec(
            select(WaitlistEntry.created_at, WaitlistEntry.closed_at).where(
                WaitlistEntry.status == WaitlistStatus.BOOKED,
                WaitlistEntry.booked_appointment_id == WaitlistEntry.offer_appointment_id,
                WaitlistEntry.closed_at >= start_utc, WaitlistEntry.closed_at < end_utc)).all()
    waits = sorted(closed - created for created, closed in rows if closed is not None)
    if not waits:
        return WaitlistStats(0, None)
    mid = len(waits) // 2
    median = waits[mid] if len(waits) % 2 else (waits[mid - 1] + waits[mid]) / 2
    return WaitlistStats(len(waits), median)


# --- helpers --------------------------------------------------------------------------------


def _release_offer(uow: UnitOfWork, entry: WaitlistEntry, reason: str) -> None:
    """Cancel the hold of an entry's open offer and offer the slot to the next entry."""
    if entry.offer_appointment_id is None:
        return
    appt = uow.session.get(Appointment, entry.offer_appointment_id)
    if appt is None or appt.status != AppointmentStatus.PENDING:
        return
    appt.status = AppointmentStatus.CANCELLED
    appt.cancel_reason = reason
    appt.updated_at = uow.clock.now_utc()
    uow.flush()  # free the slot before it is offered again
    if appt.slot_id is not None:
        offer_slot_in_tx(uow, appt.slot_id, skip_entry_id=entry.id)


def _close(uow: UnitOfWork, entry: WaitlistEntry, status: WaitlistStatus, actor: Actor,
           action: str) -> None:
    before = audit.snapshot(entry, ENTRY_FIELDS)
    entry.status = status
    entry.closed_at = uow.clock.now_utc()
    uow.flush()
    audit.record(uow, actor, action, "waitlist_entry", entry.id, before,
                 audit.snapshot(entry, ENTRY_FIELDS))


def _active_entry(uow: UnitOfWork, patient_id: int, specialty_id: int) -> WaitlistEntry | None:
    """The patient's waiting or offered entry for the specialty (locked on PostgreSQL)."""
    return uow.session.exec(_active_entry_statement(uow.is_postgres), params={
        "patient_id": patient_id, "specialty_id": specialty_id}).first()


@cache
def _active_entry_statement(lock: bool) -> Select:  # type: ignore[type-arg]
    """Built once: every booking asks (building cost more CPU than running it)."""
    stmt = select(WaitlistEntry).where(WaitlistEntry.patient_id == bindparam("patient_id"),
                                       WaitlistEntry.specialty_id == bindparam("specialty_id"),
                                       col(WaitlistEntry.status).in_(ACTIVE_ENTRY))
    return stmt.with_for_update() if lock else stmt


def _holds_visit(uow: UnitOfWork, patient_id: int, specialty_id: int) -> bool:
    """Does the patient hold a live future appointment (or live hold) with the specialty?"""
    return uow.session.exec(
        select(Appointment.id).where(
            Appointment.patient_id == patient_id, Appointment.specialty_id == specialty_id,
            col(Appointment.status).in_(LIVE_FUTURE),
            Appointment.starts_at > uow.clock.now_local(), hold_in_force(uow.clock.now_utc()))
        .limit(1)).first() is not None


def _anyone_waiting(uow: UnitOfWork, specialty_id: int) -> bool:
    return uow.session.exec(
        select(WaitlistEntry.id).where(WaitlistEntry.specialty_id == specialty_id,
                                       WaitlistEntry.status == WaitlistStatus.WAITING)
        .limit(1)).first() is not None


def _entry_patient(uow: UnitOfWork, entry_id: int) -> int:
    pid = uow.session.exec(
        select(WaitlistEntry.patient_id).where(WaitlistEntry.id == entry_id)).first()
    if pid is None:
        raise NotFound("waiting-list entry not found")
    return pid


def _get_entry(uow: UnitOfWork, entry_id: int, patient_id: int | None) -> WaitlistEntry:
    entry = uow.session.get(WaitlistEntry, entry_id)
    if entry is None or (patient_id is not None and entry.patient_id != patient_id):
        raise NotFound("waiting-list entry not found")
    return entry


def _entry_view(uow: UnitOfWork, entry: WaitlistEntry,
                patient: Patient | None = None) -> WaitlistEntryView:
    patient = patient or uow.session.get(Patient, entry.patient_id)
    spec = uow.session.get(Specialty, entry.specialty_id)
    assert patient is not None and spec is not None and entry.id is not None
    offer = (uow.session.get(Appointment, entry.offer_appointment_id)
             if entry.status == WaitlistStatus.OFFERED and entry.offer_appointment_id else None)
    end = entry.closed_at or uow.clock.now_utc()
    return WaitlistEntryView(
        id=entry.id, patient_id=entry.patient_id,
        patient_name=" ".join(p for p in (patient.last_name, patient.first_name,
                                          patient.middle_name) if p),
        specialty_id=entry.specialty_id, specialty=SpecialtyView.of(spec),
        doctor_id=entry.doctor_id,
        preference=entry.preference, status=entry.status, channel=entry.channel,
        created_at=entry.created_at, expires_at=entry.expires_at,
        waited=max(end - entry.created_at, timedelta(0)),
        offer_appointment_id=entry.offer_appointment_id if offer else None,
        offer_starts_at=offer.starts_at if offer else None,
        offer_held_until=offer.hold_expires_at if offer else None,
        booked_appointment_id=entry.booked_appointment_id)
