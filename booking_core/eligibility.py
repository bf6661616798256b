"""Who may book what, where, through which channel (rules 4-6, 11, 13)."""

from __future__ import annotations

from datetime import date
from enum import Enum
from functools import cache

from sqlalchemy import ColumnElement, Date, and_, bindparam, exists
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import col, or_, select
from sqlmodel.sql.expression import Select

from booking_core.errors import (
    AgeMismatch,
    BookingBlocked,
    NotFound,
    ReferralRequired,
    WrongClinic,
)
from booking_core.rules import age_group_days, is_remote
from booking_core.uow import UnitOfWork
from models.tables import (
    Appointment,
    AppointmentStatus,
    BookingMode,
    ChannelRestriction,
    Doctor,
    NoShowBlock,
    Patient,
    Referral,
    Specialty,
)

ALL_CHANNELS = "*"


class _Lookup(Enum):
    """Marker: the caller has not loaded the no-show block, so look it up."""

    LOOKUP = "lookup"


LOOKUP_BLOCK = _Lookup.LOOKUP


def get_patient(uow: UnitOfWork, patient_id: int, *, lock: bool = False) -> Patient:
    """Load a patient; with ``lock`` the row is locked (PostgreSQL) to serialise their bookings."""
    stmt = select(Patient).where(Patient.id == patient_id)
    if lock and uow.is_postgres:
        stmt = stmt.with_for_update()
    patient = uow.session.exec(stmt).first()
    if patient is None:
        raise NotFound("patient not found")
    return patient


def get_patient_and_block(
    uow: UnitOfWork, patient_id: int, on: date, *, lock: bool = False
) -> tuple[Patient, NoShowBlock | None]:
    """A patient and their no-show block in force on ``on`` (rule 11), in one round trip.

    The use cases that check eligibility need both; one statement instead of two matters on
    the IVR's hot path.  With ``lock`` the patient row (only) is locked as in :func:`get_patient`.
    """
    stmt = _patient_and_block(lock and uow.is_postgres)
    row = uow.session.exec(stmt, params={"patient_id": patient_id, "on": on}).first()
    if row is None:
        raise NotFound("patient not found")
    return row[0], row[1]


@cache
def _patient_and_block(lock: bool) -> Select:  # type: ignore[type-arg]
    """:func:`get_patient_and_block`'s statement, built once (building cost more CPU than
    running it); ``patient_id`` and ``on`` are bound at execution."""
    stmt = with_block(select(Patient, NoShowBlock), bindparam("on", type_=Date())).where(
        Patient.id == bindparam("patient_id")).limit(1)
    return stmt.with_for_update(of=Patient) if lock else stmt  # type: ignore[arg-type]


def with_block(stmt: Select, on: date | BindParameter) -> Select:  # type: ignore[type-arg]
    """``stmt`` (selecting from patient) outer-joined to the no-show block in force on ``on``."""
    return stmt.outerjoin(
        NoShowBlock, and_(NoShowBlock.patient_id == Patient.id, *_block_in_force(on)))


def _block_in_force(on: date | BindParameter) -> tuple:  # type: ignore[type-arg]
    return (
        NoShowBlock.blocked_from <= on,
        NoShowBlock.blocked_until >= on,
        col(NoShowBlock.lifted_at).is_(None),
    )


def active_block(uow: UnitOfWork, patient_id: int, on: date) -> NoShowBlock | None:
    """The no-show block in force on ``on``, if any (rule 11)."""
    return uow.session.exec(
        select(NoShowBlock).where(NoShowBlock.patient_id == patient_id, *_block_in_force(on))
    ).first()


def channel_restriction_at(clinic_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    """SQL: a restriction of the clinic ``clinic_id`` on the bound ``channel`` or on every
    channel (rule 13); the dates and the specialty or doctor are the caller's conditions."""
    return and_(ChannelRestriction.clinic_id == clinic_id,
                or_(ChannelRestriction.channel == bindparam("channel"),
                    ChannelRestriction.channel == ALL_CHANNELS))


def window_restrictions(
    uow: UnitOfWork, clinic_id: int, channel: str, first: date, last: date,
    specialty_ids: tuple[int, ...], *, with_doctors: bool = False,
) -> list[ChannelRestriction]:
    """Restrictions of ``channel`` overlapping [first, last] for any of ``specialty_ids`` and,
    ``with_doctors``, for any doctor of those specialties: one query where the search used to
    run one per specialty and one more for the doctors (callers filter the rows in Python)."""
    if not specialty_ids:
        return []
    params = {"clinic_id": clinic_id, "channel": channel, "first": first, "last": last,
              "specialty_ids": list(specialty_ids)}
    return list(uow.session.exec(_window_restrictions(with_doctors), params=params))


@cache
def _window_restrictions(with_doctors: bool) -> Select:  # type: ignore[type-arg]
    """:func:`window_restrictions`' statement, built once; values bound at execution."""
    specialty_ids = bindparam("specialty_ids", expanding=True)
    targets = [col(ChannelRestriction.specialty_id).in_(specialty_ids)]
    if with_doctors:
        doctors = select(Doctor.id).where(col(Doctor.specialty_id).in_(specialty_ids))
        targets.append(col(ChannelRestriction.doctor_id).in_(doctors))
    return (
        select(ChannelRestriction)
        .where(
            channel_restriction_at(bindparam("clinic_id")),
            ChannelRestriction.starts_on <= bindparam("last", type_=Date()),
            ChannelRestriction.ends_on >= bindparam("first", type_=Date()),
            or_(*targets),
        )
        .order_by(col(ChannelRestriction.id))
    )


def valid_referral(
    uow: UnitOfWork, patient_id: int, specialty_id: int, on: date, referral_id: int | None
) -> Referral | None:
    """An unused referral for this patient and specialty valid on ``on``."""
    stmt = select(Referral).where(
        Referral.patient_id == patient_id,
        Referral.specialty_id == specialty_id,
        Referral.valid_until >= on,
        or_(  # unused, or used by an appointment that was cancelled (or rescheduled)
            col(Referral.used_by_appointment_id).is_(None),
            exists().where(
                Appointment.id == Referral.used_by_appointment_id,
                Appointment.status == AppointmentStatus.CANCELLED,
            ),
        ),
    )
    if referral_id is not None:
        stmt = stmt.where(Referral.id == referral_id)
    return uow.session.exec(stmt.order_by(col(Referral.valid_until))).first()


def check_static_eligibility(
    patient: Patient, specialty: Specialty, channel: str, first: date, last: date | None = None,
) -> None:
    """The checks of :func:`check_patient_may_book` that need no database, in its order:
    attached clinic, age group, and referral-only specialties on remote channels.

    Age is judged on the visit day (rule 21): ``first`` is that day, or with ``last`` the
    first and last days a visit may fall on; the age group must admit the patient on one of
    them.
    """
    if patient.clinic_id is None:
        raise WrongClinic("patient is not attached to a clinic")
    if age_days(patient, specialty, first, last or first) is None:
        raise AgeMismatch("specialty is not for this age group", age_group=specialty.age_group)
    if specialty.booking_mode == BookingMode.REFERRAL_ONLY and is_remote(channel):
        raise ReferralRequired("referral-only specialty: book through a doctor or the registry")


def age_days(
    patient: Patient, specialty: Specialty, first: date, last: date
) -> tuple[date, date] | None:
    """The part of [first, last] on which the specialty's age group admits the patient."""
    lo, hi = age_group_days(specialty.age_group, patient.birth_date)
    first, last = max(first, lo or first), min(last, hi or last)
    return (first, last) if first <= last else None


def check_patient_may_book(
    uow: UnitOfWork, patient: Patient, specialty: Specialty, channel: str,
    referral_id: int | None = None, on: date | None = None,
    block: NoShowBlock | _Lookup | None = LOOKUP_BLOCK, last: date | None = None,
) -> Referral | None:
    """Raise the domain error that forbids this booking, or return the referral it will use.

    ``on`` is the day of the visit (today if not given): the age group must admit the patient
    and a referral must still be valid then.  A search passes the first and ``last`` day it
    looks at.  ``block`` is the patient's no-show block in force today when the caller already
    loaded it (:func:`get_patient_and_block`); by default it is looked up.
    """
    today = uow.clock.today()
    visit = on or today
    check_static_eligibility(patient, specialty, channel, visit, last)
    referral = None
    if specialty.booking_mode == BookingMode.REFERRAL_ONLY:
        assert patient.id is not None and specialty.id is not None
        referral = valid_referral(uow, patient.id, specialty.id, visit, referral_id)
        if referral is None:
            raise ReferralRequired("no valid referral for this specialty")
    if is_remote(channel):
        assert patient.id is not None
        if block is LOOKUP_BLOCK:
            block = active_block(uow, patient.id, today)
        if block is not None:
            raise BookingBlocked("remote booking blocked after no-shows", until=block.blocked_until)
    return referral
