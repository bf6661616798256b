"""Clinic scope: which clinic's records a console user may see and change.

A console user attached to a clinic (``Agent.clinic_id``) sees and works for that clinic only;
a regional user (``clinic_id`` None) sees every clinic and may narrow the view with a filter.
Reads take a :class:`ClinicScope`; writes check the actor's ``clinic_id`` here, once, so every
channel that goes through the booking core gets the same answer (``other_clinic``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from booking_core.actors import Actor
from booking_core.errors import NotFound, OtherClinic
from booking_core.uow import UnitOfWork
from models.tables import Appointment, Doctor, Patient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClinicScope:
    """The clinics a reader may see.

    ``own``: the user's clinic (None: regional).  ``chosen``: a regional user's filter (None:
    all clinics).  ``clinic_id`` is what a list is narrowed to (None: not narrowed).
    """

    own: int | None = None
    chosen: int | None = None

    @property
    def regional(self) -> bool:
        return self.own is None

    @property
    def clinic_id(self) -> int | None:
        return self.own if self.own is not None else self.chosen

    @property
    def access(self) -> ClinicScope:
        """Only what the user may see, without the regional filter (opening a card by id)."""
        return ClinicScope(own=self.own)

    def allows(self, clinic_id: int | None) -> bool:
        """May this user see a record of ``clinic_id``?  (Access, not the regional filter.)"""
        return self.own is None or clinic_id == self.own

    def check(self, clinic_id: int | None, what: str = "record") -> None:
        """Raise ``other_clinic`` if the record belongs to a clinic this user may not see."""
        if not self.allows(clinic_id):
            logger.info("clinic scope: %s of another clinic refused", what)
            raise OtherClinic(f"this {what} belongs to another clinic")

    def narrow(self, stmt: Any, column: Any) -> Any:
        """``stmt`` restricted to the filtered clinic (unchanged when not narrowed)."""
        return stmt if self.clinic_id is None else stmt.where(column == self.clinic_id)

    def shows_call(self, clinic_id: int | None) -> bool:
        """Calls a reader sees: their clinic's (or filter's), and those whose clinic is not
        known yet -- an unidentified caller on a regional line belongs to nobody yet and must
        not wait for a regional user who may not be logged in."""
        return clinic_id is None or self.clinic_id is None or clinic_id == self.clinic_id

    def check_call(self, clinic_id: int | None) -> None:
        """Taking or opening a call by id: refused only when it is known to be elsewhere."""
        if clinic_id is not None:
            self.check(clinic_id, "call")

    @classmethod
    def of(cls, actor: Actor) -> ClinicScope:
        return cls(own=actor.clinic_id)


EVERYWHERE = ClinicScope()


def check_actor(actor: Actor, clinic_id: int | None, what: str = "record") -> None:
    """The actor's clinic scope on a write: ``other_clinic`` when it reaches another clinic."""
    ClinicScope.of(actor).check(clinic_id, what)


_Scoped = TypeVar("_Scoped", Patient, Doctor)


def _as_scope(who: Actor | ClinicScope) -> ClinicScope:
    return who if isinstance(who, ClinicScope) else ClinicScope.of(who)


def check_patient(uow: UnitOfWork, actor: Actor | ClinicScope, patient_id: int) -> Patient:
    """The patient, if the actor (or reader) may deal with them; ``not_found`` if none."""
    return _get_in_scope(uow, actor, Patient, patient_id, "patient")


def check_appointment(uow: UnitOfWork, actor: Actor | ClinicScope, appt: Appointment) -> None:
    """An appointment is the clinic's whose doctor it is with, and its patient's: one clinic's
    user deals with it only when both are of their clinic."""
    scope = _as_scope(actor)
    if scope.regional:
        return
    doctor = uow.session.get(Doctor, appt.doctor_id)
    patient = uow.session.get(Patient, appt.patient_id)
    scope.check(doctor.clinic_id if doctor else None, "appointment")
    scope.check(patient.clinic_id if patient else None, "appointment")


def check_doctor(uow: UnitOfWork, actor: Actor | ClinicScope, doctor_id: int) -> Doctor:
    """The doctor, if of the actor's (reader's) clinic; ``not_found`` if none."""
    return _get_in_scope(uow, actor, Doctor, doctor_id, "doctor")


def _get_in_scope(uow: UnitOfWork, actor: Actor | ClinicScope, model: type[_Scoped],
                  row_id: int, what: str) -> _Scoped:
    """The row by id if it is within the actor's clinic scope; ``not_found`` if none."""
    row = uow.session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} not found")
    _as_scope(actor).check(row.clinic_id, what)
    return row
