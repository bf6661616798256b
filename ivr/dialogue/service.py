"""Wiring of the IVR: dependencies from the container, one call = one flow run."""

from __future__ import annotations

import logging

from booking_core import admin
from booking_core.uow import UnitOfWorkFactory
from ivr.dialogue.call import Call, IvrDeps
from ivr.dialogue.flows import queue_callback_call, registry_call, system_error
from ivr.dialogue.recording import CallRecorder
from ivr.io import CallerHangup, CallIO
from models.tables import Clinic

logger = logging.getLogger(__name__)


# Said right after «Здравствуйте!» (and shown by the terminal and browser phones), so capitalised
# like a real clinic's short name.
DEFAULT_CLINIC_NAME = "Городская поликлиника"


def clinic_name(uow: UnitOfWorkFactory) -> str:
    """The name the greeting says (the first clinic of the installation).

    The IVR must come up even while the database is away: then the greeting uses a generic
    name and every call that needs the database escalates.
    """
    try:
        clinic_id = admin.first_clinic_id(uow())
        if clinic_id is None:
            return DEFAULT_CLINIC_NAME
        with uow().reading() as u:
            clinic = u.session.get(Clinic, clinic_id)
            return clinic.short_name if clinic else DEFAULT_CLINIC_NAME
    except Exception:  # noqa: BLE001 - degrade, the calls will escalate
        logger.warning("database unavailable at IVR start-up; greeting with a generic name")
        return DEFAULT_CLINIC_NAME


def run_registry_call(io: CallIO, deps: IvrDeps, *, locale: str = "ru") -> Call:
    """Run the registry line's dialogue on ``io`` until the caller or the IVR is done.

    A caller hangup ends quietly; anything unexpected escalates so no caller is stranded.
    """
    return _run(io, deps, locale, registry_call)


def run_queue_callback(io: CallIO, deps: IvrDeps, *, call_id: str, reason: str,
                       locale: str = "ru") -> Call:
    """``/callback``: the queue found no agent; offer a callback request."""
    return _run(io, deps, locale, lambda call: queue_callback_call(call, reason), call_id)


def _run(io: CallIO, deps: IvrDeps, locale: str, flow, call_id: str = "") -> Call:  # type: ignore[no-untyped-def]
    recorder = CallRecorder(deps.uow, call_id="", uniqueid=io.info.call_uid,
                            caller_number=io.info.caller_number, channel=io.info.channel)
    call = Call(io, deps, recorder, locale=locale)
    recorder.data.call_id = call.state.call_id
    if call_id:
        # A follow-up leg of an earlier call (the queue's /callback): keep the original id for
        # what the agents see, record this leg beside the first one instead of over it.
        call.state.call_id = call_id[:24]
        recorder.data.call_id = f"{call.state.call_id}/callback"
    try:
        flow(call)
    except CallerHangup:
        logger.info("call %s: caller hung up", call.state.call_id)
    except Exception:
        logger.exception("call %s: flow crashed", call.state.call_id)
        system_error(call)
    return call
