"""Clinic administration use cases: restrictions, absences, attachment, callbacks (4, 13, 14)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from booking_core import audit, notifications
from booking_core.actors import Actor
from booking_core.commands import Attach, CloseChannel, FindSlots, RegisterAbsence, RequestCallback
from booking_core.errors import AttachmentTooSoon, InvalidInput, NotFound
from booking_core.rules import booking_window
from booking_core.scope import check_actor, check_doctor
from booking_core.slots import _query_free, within_age
from booking_core.uow import UnitOfWork, is_unique_violation
from booking_core.views import AppointmentView, SlotOffer
from models.tables import (
    Appointment,
    AppointmentStatus,
    CallbackRequest,
    CallRecord,
    Channel,
    ChannelRestriction,
    Clinic,
    District,
    Doctor,
    DoctorAbsence,
    Patient,
    Specialty,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AffectedAppointment:
    appointment: AppointmentView
    patient_phone: str
    substitute: SlotOffer | None
    # The substitute slot is held for the patient until then (clinic time), as a "pending"
    # appointment; None when there is no substitute.
    held_until: datetime | None = None
    hold_id: int | None = None


@dataclass(frozen=True)
class AbsenceReport:
    absence_id: int
    affected: list[AffectedAppointment]


def close_channel(cmd: CloseChannel, uow: UnitOfWork) -> int:
    """Close a remote channel for a specialty or doctor for a period (rule 13)."""
    if cmd.ends_on < cmd.starts_on:
        raise InvalidInput("restriction ends before it starts")
    if cmd.specialty_id is None and cmd.doctor_id is None:
        raise InvalidInput("a restriction names a specialty or a doctor")
    with uow:
        check_actor(cmd.actor, cmd.clinic_id, "clinic")
        if cmd.doctor_id is not None:
            check_doctor(uow, cmd.actor, cmd.doctor_id)
        r = ChannelRestriction(
            clinic_id=cmd.clinic_id, channel=cmd.channel, specialty_id=cmd.specialty_id,
            doctor_id=cmd.doctor_id, starts_on=cmd.starts_on, ends_on=cmd.ends_on,
            reason=cmd.reason, created_by=cmd.actor.label, created_at=uow.clock.now_utc(),
        )
        uow.session.add(r)
        uow.flush()
        audit.record(uow, cmd.actor, "restrict", "channel_restriction", r.id, None,
                     audit.snapshot(r, ("channel", "specialty_id", "doctor_id", "starts_on",
                                        "ends_on", "reason")))
        uow.commit()
        assert r.id is not None
        return r.id


def lift_restriction(restriction_id: int, actor: Actor, uow: UnitOfWork) -> None:
    """Reopen a channel by deleting its restriction."""
    with uow:
        r = uow.session.get(ChannelRestriction, restriction_id)
        if r is None:
            raise NotFound("restriction not found")
        check_actor(actor, r.clinic_id, "restriction")
        before = audit.snapshot(r, ("channel", "specialty_id", "doctor_id", "starts_on", "ends_on"))
        uow.session.delete(r)
        audit.record(uow, actor, "unrestrict", "channel_restriction", restriction_id, before)
        uow.commit()


def register_absence(cmd: RegisterAbsence, uow: UnitOfWork) -> AbsenceReport:
    """Rule 14: record an absence, flag the affected visits still ahead, and hold for each
    patient a different substitute slot they can still reach, then tell them by SMS.

    A visit whose time has already passed when the absence is registered is left alone: the
    patient was seen, or was not, and texting them now would only confuse.
    """
    from booking_core.booking import LIVE_FUTURE, _view

    if cmd.ends_on < cmd.starts_on:
        raise InvalidInput("absence ends before it starts")
    with uow:
        doctor = check_doctor(uow, cmd.actor, cmd.doctor_id)
        if cmd.substitute_doctor_id is not None:
            check_doctor(uow, cmd.actor, cmd.substitute_doctor_id)
        absence = DoctorAbsence(
            doctor_id=cmd.doctor_id, starts_on=cmd.starts_on, ends_on=cmd.ends_on,
            reason=cmd.reason, substitute_doctor_id=cmd.substitute_doctor_id,
            created_by=cmd.actor.label, created_at=uow.clock.now_utc(),
        )
        uow.session.add(absence)
        uow.flush()
        lo = datetime.combine(cmd.starts_on, time.min)
        hi = datetime.combine(cmd.ends_on + timedelta(days=1), time.min)
        hit = uow.session.exec(
            select(Appointment).where(
                Appointment.doctor_id == cmd.doctor_id,
                col(Appointment.status).in_(LIVE_FUTURE),
                col(Appointment.substitute_for_id).is_(None),
                Appointment.starts_at >= lo, Appointment.starts_at < hi,
                Appointment.starts_at > uow.clock.now_local(),
            ).order_by(col(Appointment.starts_at))
        ).all()
        for appt in hit:
            appt.absence_id = absence.id
        audit.record(uow, cmd.actor, "absence", "doctor", cmd.doctor_id, None,
                     audit.snapshot(absence, ("starts_on", "ends_on", "reason",
                                              "substitute_doctor_id")) | {"affected": len(hit)})
        uow.flush()
        affected = []
        spec = uow.session.get(Specialty, doctor.specialty_id)
        assert spec is not None and absence.id is not None
        for appt in hit:
            patient = uow.session.get(Patient, appt.patient_id)
            assert patient is not None
            view = _view(uow, appt)
            held = _hold_substitute(uow, cmd.actor, appt, patient, spec, doctor,
                                    cmd.substitute_doctor_id)
            if held is None:
                affected.append(AffectedAppointment(view, patient.phone, None))
            else:
                offer, hold = held
                affected.append(AffectedAppointment(
                    view, patient.phone, offer, _local(uow, hold.hold_expires_at), hold.id))
        notifications.absence_notices(uow, absence.id, cmd.starts_on, cmd.ends_on, affected)
        uow.commit()
        logger.info("absence %s: %d appointments affected", absence.id, len(hit))
        return AbsenceReport(absence.id, affected)


def _local(uow: UnitOfWork, at_utc: datetime | None) -> datetime | None:
    """A naive UTC time of the database as the clinic's naive local time."""
    if at_utc is None:
        return None
    return at_utc + (uow.clock.now_local() - uow.clock.now_utc())


def _hold_substitute(
    uow: UnitOfWork, actor: Actor, appt: Appointment, patient: Patient, spec: Specialty,
    absent: Doctor, substitute_id: int | None,
) -> tuple[SlotOffer, Appointment] | None:
    """Hold the nearest reachable substitute slot for the patient of ``appt``.

    The hold is a "pending" appointment (rule 10) that the free-slot search already treats as
    taken, so the next affected patient is offered another slot; when nobody takes it in
    time the hold expiry returns it to the pool.  A slot someone books in between is skipped.
    """
    from booking_core.booking import AUDIT_FIELDS, _unique_code

    tried: set[int] = set()
    for _ in range(5):  # each lost race removes one slot; give up after a few
        offer = _substitute_slot(uow, patient, spec, absent, substitute_id, tried)
        if offer is None:
            return None
        tried.add(offer.slot_id)
        now_utc, now = uow.clock.now_utc(), uow.clock.now_local()
        # Held for the setting's time, but not past the lead time before the visit itself.
        reach = offer.starts_at - now - timedelta(minutes=uow.rules.lead_time_minutes)
        hold = Appointment(
            slot_id=offer.slot_id, patient_id=appt.patient_id, doctor_id=offer.doctor.id,
            specialty_id=appt.specialty_id, starts_at=offer.starts_at,
            status=AppointmentStatus.PENDING, channel=actor.channel,
            confirmation_code=_unique_code(uow), created_by=actor.label, created_at=now_utc,
            updated_at=now_utc, referral_id=appt.referral_id, substitute_for_id=appt.id,
            hold_expires_at=now_utc + min(
                timedelta(minutes=uow.rules.substitute_hold_minutes), reach),
        )
        try:
            with uow.session.begin_nested():
                uow.session.add(hold)
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            continue  # booked by someone else a moment ago: the next one
        audit.record(uow, actor, "hold", "appointment", hold.id, None,
                     audit.snapshot(hold, AUDIT_FIELDS) | {"substitute_for": appt.id})
        return offer, hold
    return None


def _substitute_slot(
    uow: UnitOfWork, patient: Patient, spec: Specialty, absent: Doctor,
    substitute_id: int | None, skip: set[int],
) -> SlotOffer | None:
    """The nearest free slot of the named substitute, else of any colleague of the specialty,
    that the patient can reach: inside the phone line's window (the lead time ahead, within
    the horizon) and on a day their age admits them."""
    start, end = booking_window(Channel.IVR, uow.clock.now_local(), uow.rules)
    start, end = within_age(patient, spec, start, end)
    if start >= end:
        return None
    assert patient.id is not None and spec.id is not None and absent.id is not None
    for doctor_id in ([substitute_id] if substitute_id else []) + [None]:
        q = FindSlots(patient.id, spec.id, Channel.CONSOLE, doctor_id=doctor_id,
                      exclude_doctor_ids=(absent.id,), limit=len(skip) + 1)
        found = _query_free(uow, q, absent.clinic_id, patient.district_id, spec, start, end)
        found = [o for o in found if o.slot_id not in skip]
        if found:
            return found[0]
    return None


def absence_worklist(uow: UnitOfWork) -> list[AppointmentView]:
    """Live appointments flagged by a doctor absence, the doctor leaving or a schedule change:
    the agents' list of patients to call."""
    from booking_core.booking import LIVE_FUTURE, _view

    with uow.reading():
        rows = uow.session.exec(
            select(Appointment).where(
                or_(col(Appointment.absence_id).is_not(None), col(Appointment.flag).is_not(None)),
                col(Appointment.status).in_(LIVE_FUTURE),
                Appointment.starts_at > uow.clock.now_local(),
            ).order_by(col(Appointment.starts_at))
        ).all()
        return [_view(uow, a) for a in rows]


def attach_patient(cmd: Attach, uow: UnitOfWork) -> None:
    """Rule 4: attach to a clinic; at most once per period unless the patient moved."""
    with uow:
        patient = uow.session.get(Patient, cmd.patient_id)
        clinic = uow.session.get(Clinic, cmd.clinic_id)
        if patient is None or clinic is None:
            raise NotFound("patient or clinic not found")
        # One clinic's user attaches to their clinic (an unattached patient too) and moves
        # districts within it; moving a patient between clinics is a regional user's job.
        if patient.clinic_id is not None:
            check_actor(cmd.actor, patient.clinic_id, "patient")
        check_actor(cmd.actor, cmd.clinic_id, "clinic")
        if cmd.district_id is not None:
            district = uow.session.get(District, cmd.district_id)
            if district is None or district.clinic_id != cmd.clinic_id:
                raise InvalidInput("the district belongs to another clinic")
        today = uow.clock.today()
        period = timedelta(days=uow.rules.attachment_change_period_days)
        changing = patient.clinic_id is not None and patient.clinic_id != cmd.clinic_id
        if (changing and patient.attached_on and today - patient.attached_on < period
                and not cmd.change_of_residence):
            raise AttachmentTooSoon("attachment may change once per period",
                                    next_allowed=patient.attached_on + period)
        before = audit.snapshot(patient, ("clinic_id", "district_id", "attached_on"))
        if changing or patient.clinic_id is None:
            patient.attached_on = today
        patient.clinic_id = cmd.clinic_id
        patient.district_id = cmd.district_id
        audit.record(uow, cmd.actor, "attach", "patient", patient.id, before,
                     audit.snapshot(patient, ("clinic_id", "district_id", "attached_on")))
        uow.commit()


def request_callback(cmd: RequestCallback, uow: UnitOfWork) -> int:
    """Store a callback request (after hours, or no agent free)."""
    with uow:
        req = CallbackRequest(
            clinic_id=cmd.clinic_id, caller_number=cmd.caller_number, patient_id=cmd.patient_id,
            call_id=cmd.call_id, reason=cmd.reason, created_at=uow.clock.now_utc(),
        )
        uow.session.add(req)
        uow.flush()
        if cmd.call_id:  # the escalated call became this request: it waits no more
            uow.session.execute(
                update(CallRecord)
                .where(col(CallRecord.call_id) == cmd.call_id,
                       col(CallRecord.outcome).in_(("escalated", "abandoned")),
                       col(CallRecord.answered_by).is_(None))
                .values(outcome="callback", ended_at=uow.clock.now_utc()))
        audit.record(uow, cmd.actor, "callback_request", "callback", req.id, None,
                     {"reason": cmd.reason, "patient_id": cmd.patient_id})
        uow.commit()
        assert req.id is not None
        return req.id


def complete_callback(callback_id: int, actor: Actor, uow: UnitOfWork, note: str = "") -> None:
    """An agent called the patient back."""
    with uow:
        req = uow.session.get(CallbackRequest, callback_id)
        if req is None:
            raise NotFound("callback request not found")
        patient = uow.session.get(Patient, req.patient_id) if req.patient_id else None
        clinic = patient.clinic_id if patient else req.clinic_id
        if clinic is not None:
            check_actor(actor, clinic, "callback request")
        req.status, req.done_by, req.note = "done", actor.label, note
        req.done_at = uow.clock.now_utc()
        audit.record(uow, actor, "callback_done", "callback", callback_id, {"status": "open"},
                     {"status": "done"})
        uow.commit()


def first_clinic_id(uow: UnitOfWork) -> int | None:
    """The clinic a single-clinic installation serves (the first one)."""
    with uow.reading():
        return uow.session.exec(select(Clinic.id).order_by(col(Clinic.id))).first()
