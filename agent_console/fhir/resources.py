"""Domain read models as FHIR R4 resources, validated by ``fhir.resources`` (R4B models, which
read and write R4 JSON for these resources).

Ids: Practitioner, PractitionerRole and Schedule share the doctor's id; HealthcareService is
the specialty (its code also in ``type``); Location is a clinic (``clinic-N``) or one of its
cabinets (``cab-N-HEX``, the cabinet's name in hex so any name makes a valid id).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot

from booking_core.directory import ClinicEntry, DoctorEntry
from booking_core.exchange import AppointmentRecord
from booking_core.views import PatientView, SlotOffer, SpecialtyView

SPECIALTY_SYSTEM = "urn:registratura:specialty"
TALON_SYSTEM = "urn:registratura:talon"
DOCTOR_ID_SYSTEM = "urn:registratura:mis-doctor-id"
BOOKING_MODE_SYSTEM = "urn:registratura:booking-mode"
HOLD_EXPIRES_URL = "urn:registratura:fhir:hold-expires"
CHANNEL_URL = "urn:registratura:fhir:channel"

# Registratura status -> FHIR AppointmentStatus.
APPOINTMENT_STATUS = {"pending": "pending", "booked": "booked", "cancelled": "cancelled",
                      "completed": "fulfilled", "no_show": "noshow", "walk_in": "arrived",
                      "out_of_schedule": "arrived"}


def instant(local: datetime, tz: ZoneInfo) -> str:
    """A clinic-local naive time as a FHIR instant with its offset."""
    return local.replace(tzinfo=tz).isoformat()


def utc_instant(naive_utc: datetime) -> str:
    return naive_utc.replace(tzinfo=UTC).isoformat()


def cabinet_location_id(clinic_id: int, cabinet: str) -> str:
    return f"cab-{clinic_id}-{cabinet.encode().hex()}"


def _specialty_concept(spec: SpecialtyView) -> dict:  # type: ignore[type-arg]
    return {"coding": [{"system": SPECIALTY_SYSTEM, "code": spec.code,
                        "display": spec.name_ru}], "text": spec.name_ru}


def _human_name(last: str, first: str, middle: str) -> dict:  # type: ignore[type-arg]
    return {"use": "official", "family": last, "given": [g for g in (first, middle) if g],
            "text": " ".join(p for p in (last, first, middle) if p)}


def practitioner(d: DoctorEntry) -> Practitioner:
    data: dict = {"resourceType": "Practitioner", "id": str(d.id), "active": d.active,  # type: ignore[type-arg]
                  "name": [_human_name(d.last_name, d.first_name, d.middle_name)]}
    if d.external_id:
        data["identifier"] = [{"system": DOCTOR_ID_SYSTEM, "value": d.external_id}]
    return Practitioner.model_validate(data)


def practitioner_role(d: DoctorEntry) -> PractitionerRole:
    data = {"resourceType": "PractitionerRole", "id": str(d.id), "active": d.active,
            "practitioner": {"reference": f"Practitioner/{d.id}", "display": _short(d)},
            "organization": {"display": f"clinic-{d.clinic_id}"},
            "specialty": [_specialty_concept(d.specialty)],
            "healthcareService": [{"reference": f"HealthcareService/{d.specialty.id}"}],
            "location": [{"reference": f"Location/clinic-{d.clinic_id}"}]}
    if d.cabinet:
        data["location"].append(  # type: ignore[attr-defined]
            {"reference": f"Location/{cabinet_location_id(d.clinic_id, d.cabinet)}",
             "display": f"кабинет {d.cabinet}"})
    return PractitionerRole.model_validate(data)


def healthcare_service(spec: SpecialtyView) -> HealthcareService:
    return HealthcareService.model_validate({
        "resourceType": "HealthcareService", "id": str(spec.id), "active": True,
        "name": spec.name_ru, "comment": spec.name_en,
        "type": [_specialty_concept(spec)], "specialty": [_specialty_concept(spec)],
        "characteristic": [{"coding": [{"system": BOOKING_MODE_SYSTEM,
                                        "code": spec.booking_mode}]},
                           {"coding": [{"system": "urn:registratura:age-group",
                                        "code": spec.age_group}]}],
        "referralMethod": [{"text": "referral required" if spec.booking_mode == "referral_only"
                            else "self-referral"}],
    })


def clinic_location(c: ClinicEntry) -> Location:
    data: dict = {"resourceType": "Location", "id": f"clinic-{c.id}", "status": "active",  # type: ignore[type-arg]
                  "name": c.name, "alias": [c.short_name], "mode": "instance"}
    if c.address:
        data["address"] = {"text": c.address}
    if c.phone:
        data["telecom"] = [{"system": "phone", "value": c.phone}]
    return Location.model_validate(data)


def cabinet_location(clinic_id: int, cabinet: str) -> Location:
    return Location.model_validate({
        "resourceType": "Location", "id": cabinet_location_id(clinic_id, cabinet),
        "status": "active", "name": f"Кабинет {cabinet}", "mode": "instance",
        "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                               "location-physical-type", "code": "ro"}]},
        "partOf": {"reference": f"Location/clinic-{clinic_id}"}})


def schedule(d: DoctorEntry, horizon: tuple[datetime, datetime], tz: ZoneInfo) -> Schedule:
    return Schedule.model_validate({
        "resourceType": "Schedule", "id": str(d.id), "active": d.active,
        "serviceType": [_specialty_concept(d.specialty)],
        "specialty": [_specialty_concept(d.specialty)],
        "actor": [{"reference": f"Practitioner/{d.id}", "display": _short(d)},
                  {"reference": f"PractitionerRole/{d.id}"}],
        "planningHorizon": {"start": instant(horizon[0], tz), "end": instant(horizon[1], tz)}})


def slot(offer: SlotOffer, spec: SpecialtyView, free: bool, tz: ZoneInfo) -> Slot:
    return Slot.model_validate({
        "resourceType": "Slot", "id": str(offer.slot_id),
        "schedule": {"reference": f"Schedule/{offer.doctor.id}"},
        "status": "free" if free else "busy",
        "start": instant(offer.starts_at, tz), "end": instant(offer.ends_at, tz),
        "serviceType": [_specialty_concept(spec)], "specialty": [_specialty_concept(spec)],
        "comment": f"{offer.doctor.full_name}, кабинет {offer.cabinet}" if offer.cabinet
        else offer.doctor.full_name})


def proposed_appointment(offer: SlotOffer, spec: SpecialtyView, patient_id: int | None,
                         tz: ZoneInfo) -> Appointment:
    """What ``$find`` returns: an appointment that could be held or booked on this slot."""
    participants = [{"actor": {"reference": f"Practitioner/{offer.doctor.id}",
                               "display": offer.doctor.full_name},
                     "required": "required", "status": "needs-action"}]
    if patient_id is not None:
        participants.insert(0, {"actor": {"reference": f"Patient/{patient_id}"},
                                "required": "required", "status": "needs-action"})
    if offer.cabinet and offer.doctor.clinic_id is not None:
        participants.append({"actor": {"reference": "Location/" + cabinet_location_id(
                                           offer.doctor.clinic_id, offer.cabinet),
                                       "display": f"кабинет {offer.cabinet}"},
                             "required": "required", "status": "accepted"})
    return Appointment.model_validate({
        "resourceType": "Appointment", "status": "proposed",
        "serviceType": [_specialty_concept(spec)], "specialty": [_specialty_concept(spec)],
        "start": instant(offer.starts_at, tz), "end": instant(offer.ends_at, tz),
        "slot": [{"reference": f"Slot/{offer.slot_id}"}], "participant": participants})


def appointment(r: AppointmentRecord, tz: ZoneInfo) -> Appointment:
    v = r.view
    status = APPOINTMENT_STATUS.get(v.status, "booked")
    accepted = "declined" if status == "cancelled" else "accepted"
    participants = [
        {"actor": {"reference": f"Patient/{v.patient_id}"}, "required": "required",
         "status": accepted},
        {"actor": {"reference": f"Practitioner/{v.doctor.id}", "display": v.doctor.full_name},
         "required": "required", "status": accepted}]
    if v.cabinet and v.doctor.clinic_id is not None:
        participants.append({"actor": {"reference": "Location/" + cabinet_location_id(
                                           v.doctor.clinic_id, v.cabinet),
                                       "display": f"кабинет {v.cabinet}"},
                             "required": "required", "status": accepted})
    extensions = [{"url": CHANNEL_URL, "valueCode": v.channel}]
    if v.status == "pending" and r.hold_expires_at is not None:
        extensions.append({"url": HOLD_EXPIRES_URL,
                           "valueInstant": utc_instant(r.hold_expires_at)})
    data: dict = {  # type: ignore[type-arg]
        "resourceType": "Appointment", "id": str(v.id), "status": status,
        "meta": {"lastUpdated": utc_instant(r.updated_at)},
        "identifier": [{"system": TALON_SYSTEM, "value": v.confirmation_code}],
        "serviceType": [_specialty_concept(v.specialty)],
        "specialty": [_specialty_concept(v.specialty)],
        "start": instant(v.starts_at, tz), "created": utc_instant(r.created_at),
        "participant": participants, "extension": extensions}
    if r.ends_at is not None:
        data["end"] = instant(r.ends_at, tz)
    if v.slot_id is not None:
        data["slot"] = [{"reference": f"Slot/{v.slot_id}"}]
    return Appointment.model_validate(data)


def patient(p: PatientView, policy_system: str, policy: str | None) -> Patient:
    """A patient: names and birth date; the policy only when the caller gave it or may read it."""
    data: dict = {"resourceType": "Patient", "id": str(p.id), "active": True,  # type: ignore[type-arg]
                  "name": [_human_name(p.last_name, p.first_name, p.middle_name)],
                  "birthDate": p.birth_date.isoformat()}
    if policy:
        data["identifier"] = [{"system": policy_system, "value": policy,
                               "type": {"text": "Полис ОМС"}}]
    return Patient.model_validate(data)


def _short(d: DoctorEntry) -> str:
    initials = "".join(f"{p[0]}." for p in (d.first_name, d.middle_name) if p)
    return f"{d.last_name} {initials}".strip()
