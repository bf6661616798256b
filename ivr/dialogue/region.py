"""One line for many polyclinics, as the caller hears it: the dialled number's greeting, the
clinic that serves the caller (theirs by attachment, rule 4) and the clinic named in offers
when the line may end up at more than one.  The look-up is booking_core's
(:mod:`booking_core.lines`); this module only decides what is said."""

from __future__ import annotations

import logging

from booking_core.views import AppointmentView, PatientView, SlotOffer
from ivr.dialogue.call import Call

logger = logging.getLogger(__name__)


def greet(call: Call) -> None:
    """The greeting of the dialled number: the region's on a regional line, else a clinic's
    name (a clinic's own number on a multi-clinic install names that clinic; one clinic keeps
    the name it was configured with)."""
    answer_line(call)
    line = call.state.line
    if line is not None and line.regional:
        call.play("greeting_regional")
        return
    name = (line.clinic_name if line is not None and line.several_clinics and line.clinic_name
            else call.deps.clinic_name)
    call.play("greeting", clinic=call.phrase.name(name))


def answer_line(call: Call) -> None:
    """Look up the dialled number: whose greeting plays, and the clinic the call's record
    starts with (the console filters on it).  With the database away the configured greeting
    plays and the call escalates at its first real step, as before."""
    number = call.io.info.called_number
    call.record.data.dialled_number = number[:32]
    try:
        line = call.deps.answer_line(number)
    except Exception:  # noqa: BLE001 - greet anyway; the next step escalates
        logger.warning("call %s: could not look up the dialled line", call.state.call_id)
        return
    call.state.line = line
    call.record.data.clinic_id = line.clinic_id


def clinic_said(call: Call, clinic_id: int | None) -> str | None:
    """The clinic's name as said, when the line serves several clinics (else None: a
    one-clinic line never names it)."""
    line = call.state.line
    if line is None or not line.several_clinics or clinic_id is None:
        return None
    name = line.clinic_names.get(clinic_id)
    return call.phrase.name(name) if name else None


def said_slot(call: Call, offer: SlotOffer | AppointmentView) -> str:
    """A slot or appointment as said, with its clinic and cabinet on a line of several."""
    return call.phrase.slot(offer, clinic=clinic_said(call, offer.doctor.clinic_id))


def tell_attachment(call: Call, patient: PatientView) -> None:
    """On a line of several clinics, say once which clinic serves the caller: theirs by
    attachment (rule 4), which may not be the one whose number they dialled."""
    call.record.data.clinic_id = patient.clinic_id
    line = call.state.line
    clinic = clinic_said(call, patient.clinic_id)
    if line is None or clinic is None:
        return
    if line.regional:
        call.play("attached_clinic", clinic=clinic)
    elif patient.clinic_id != line.clinic_id:
        call.play("attached_elsewhere_book" if call.state.intent == "book"
                  else "attached_elsewhere", clinic=clinic)


def visit_clinic_name(call: Call, appt: AppointmentView) -> str:
    """Who calls about a visit (the reminder): the visit's clinic when the installation has
    several, else the name the IVR was configured with."""
    call.record.data.clinic_id = appt.doctor.clinic_id
    names = call.deps.answer_line("").clinic_names
    return names.get(appt.doctor.clinic_id or 0) or call.deps.clinic_name
