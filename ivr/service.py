"""Wiring of the IVR: dependencies from the container, one call = one flow run."""

from __future__ import annotations

import logging

from booking_core import admin
from booking_core.uow import UnitOfWorkFactory
from ivr.call import Call, IvrDeps
from ivr.flows import registry_call, system_error
from ivr.io import CallerHangup, CallIO
from ivr.recording import CallRecorder
from models.tables import Clinic

logger = logging.getLogger(__name__)


def clinic_name(uow: UnitOfWorkFactory) -> str:
    """The name the greeting says (the first clinic of the installation)."""
    clinic_id = admin.first_clinic_id(uow())
    if clinic_id is None:
        return "поликлиника"
    with uow().reading() as u:
        clinic = u.session.get(Clinic, clinic_id)
        return clinic.short_name if clinic else "поликлиника"


def run_registry_call(io: CallIO, deps: IvrDeps, *, locale: str = "ru") -> Call:
    """Run the registry line's dialogue on ``io`` until the caller or the IVR is done.

    A caller hangup ends quietly; anything unexpected escalates so no caller is stranded.
    """
    recorder = CallRecorder(deps.uow, call_id="", uniqueid=io.info.call_uid,
                            caller_number=io.info.caller_number, channel=io.info.channel)
    call = Call(io, deps, recorder, locale=locale)
    recorder.data.call_id = call.state.call_id
    try:
        registry_call(call)
    except CallerHangup:
        logger.info("call %s: caller hung up", call.state.call_id)
    except Exception:
        logger.exception("call %s: flow crashed", call.state.call_id)
        system_error(call)
    return call
