"""The registry desk: register a patient who came with passport and policy (rule 2 ends here),
change their phone, change their district and attachment (rule 4, via
:func:`booking_core.admin.attach_patient`).

Validation follows rule 1: a Luhn-valid 16-digit policy, a SNILS whose control digits fit, a
birth date that is neither in the future nor impossible.  A phone that is not a Russian mobile
is kept for calls but marked as not reachable by SMS.  Errors name the field, never its value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlmodel import select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.admin import attach_patient
from booking_core.commands import Attach
from booking_core.errors import (
    Duplicate,
    InvalidBirthDate,
    InvalidInput,
    InvalidPhone,
    InvalidPolicy,
    InvalidSnils,
    NotFound,
)
from booking_core.masking import mask_phone
from booking_core.notifications import normalize_phone
from booking_core.rules import (
    birth_date_problem,
    is_russian_mobile,
    only_digits,
    policy_valid,
    snils_valid,
)
from booking_core.scope import EVERYWHERE, ClinicScope, check_actor, check_patient
from booking_core.uow import UnitOfWork
from models.tables import Clinic, District, Patient

logger = logging.getLogger(__name__)

# What the audit log keeps of a registration: no policy, SNILS or birth date in clear.
AUDIT_FIELDS = ("clinic_id", "district_id", "attached_on", "sms_reachable")


@dataclass(frozen=True)
class NewPatient:
    last_name: str
    first_name: str
    policy_number: str
    birth_date: date
    clinic_id: int
    middle_name: str = ""
    snils: str = ""
    phone: str = ""
    district_id: int | None = None


def checked_phone(raw: str) -> tuple[str, bool]:
    """``(E.164 number or "", reachable by SMS)``; a number that is no number at all is refused."""
    if not raw.strip():
        return "", False
    phone = normalize_phone(raw)
    if not phone:
        raise InvalidPhone("the phone number is not a phone number")
    return phone, is_russian_mobile(phone)


def register_patient(cmd: NewPatient, actor: Actor, uow: UnitOfWork) -> int:
    """Add a patient to the registry, attached to ``cmd.clinic_id`` from today."""
    policy = only_digits(cmd.policy_number)
    if not policy_valid(policy):
        raise InvalidPolicy("the policy number is not 16 digits passing the Luhn check")
    snils = only_digits(cmd.snils)
    if cmd.snils.strip() and not snils_valid(snils):
        raise InvalidSnils("the SNILS control digits do not match")
    if not cmd.last_name.strip() or not cmd.first_name.strip():
        raise InvalidInput("a patient needs a last and a first name")
    phone, reachable = checked_phone(cmd.phone)
    with uow:
        if birth_date_problem(cmd.birth_date, uow.clock.today()):
            raise InvalidBirthDate("the date of birth is in the future or impossible")
        if uow.session.get(Clinic, cmd.clinic_id) is None:
            raise NotFound("clinic not found")
        check_actor(actor, cmd.clinic_id, "clinic")
        _check_district(uow, cmd.clinic_id, cmd.district_id)
        if uow.session.exec(select(Patient.id).where(Patient.policy_number == policy)).first():
            raise Duplicate("a patient with this policy is already registered")
        patient = Patient(last_name=cmd.last_name.strip(), first_name=cmd.first_name.strip(),
                          middle_name=cmd.middle_name.strip(), policy_number=policy,
                          birth_date=cmd.birth_date, snils=snils or None, phone=phone,
                          sms_reachable=reachable, clinic_id=cmd.clinic_id,
                          district_id=cmd.district_id, attached_on=uow.clock.today(),
                          created_at=uow.clock.now_utc())
        uow.session.add(patient)
        uow.flush()
        audit.record(uow, actor, "patient_register", "patient", patient.id, None,
                     audit.snapshot(patient, AUDIT_FIELDS))
        uow.commit()
        assert patient.id is not None
        logger.info("patient %s registered at the desk", patient.id)
        return patient.id


def change_phone(patient_id: int, raw_phone: str, actor: Actor, uow: UnitOfWork) -> bool:
    """Replace the patient's phone; returns whether SMS can reach the new number.

    The audit keeps only whether a number was on file and whether it takes SMS.
    """
    phone, reachable = checked_phone(raw_phone)
    with uow:
        patient = check_patient(uow, actor, patient_id)
        before = {"has_phone": bool(patient.phone), "sms_reachable": patient.sms_reachable}
        patient.phone, patient.sms_reachable = phone, reachable
        audit.record(uow, actor, "patient_phone", "patient", patient_id, before,
                     {"has_phone": bool(phone), "sms_reachable": reachable})
        uow.commit()
    return reachable


def change_representative_phone(patient_id: int, raw_phone: str, actor: Actor,
                                uow: UnitOfWork) -> None:
    """Register (or, with an empty value, remove) a parent's or guardian's phone: calls from it
    may book for the patient while a child without the patient's SMS code (rule 20).

    The audit keeps only whether a number was on file.
    """
    phone = checked_phone(raw_phone)[0] if raw_phone.strip() else ""
    with uow:
        patient = check_patient(uow, actor, patient_id)
        before = {"has_representative_phone": bool(patient.representative_phone)}
        patient.representative_phone = phone
        audit.record(uow, actor, "patient_representative_phone", "patient", patient_id, before,
                     {"has_representative_phone": bool(phone)})
        uow.commit()


def representative_phone_masked(patient_id: int, uow: UnitOfWork,
                                scope: ClinicScope = EVERYWHERE) -> str:
    """The registered representative's phone, masked for the page ("" if none)."""
    with uow.reading() as u:
        patient = check_patient(u, scope, patient_id)
        return mask_phone(patient.representative_phone) if patient.representative_phone else ""


def change_attachment(patient_id: int, clinic_id: int, district_id: int | None, actor: Actor,
                      uow: UnitOfWork, *, change_of_residence: bool = False) -> None:
    """Change district and/or clinic: the once-a-period rule with the change-of-residence
    exception lives in :func:`booking_core.admin.attach_patient`."""
    attach_patient(Attach(patient_id, clinic_id, district_id, actor,
                          change_of_residence=change_of_residence), uow)


def _check_district(uow: UnitOfWork, clinic_id: int, district_id: int | None) -> None:
    if district_id is None:
        return
    district = uow.session.get(District, district_id)
    if district is None or district.clinic_id != clinic_id:
        raise InvalidInput("the district belongs to another clinic")
