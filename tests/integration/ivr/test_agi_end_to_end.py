"""The phone line over real TCP: the Asterisk simulator calls the product's FastAGI server."""

from __future__ import annotations

import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, func, select

from booking_core import booking, slots
from booking_core.commands import FindSlots
from ivr.runtime import IvrRuntime
from ivr.transports.terminal import AsteriskCall, ScriptedCaller
from models.tables import Appointment, AppointmentStatus, Channel, Doctor, Slot
from registratura.bootstrap import bootstrap
from support.fakes import QuietEngine
from support.world import add_patients, demo, patient_id, specialty_id

TEST_NOW = datetime(2026, 9, 7, 10, 0)

ADULT = demo("adult")
# Silence at the language offer, 1 = book, policy, date of birth, confirm both, therapist,
# 1 = take (and book) the nearest slot; the call ends after the code.
BOOK_NEAREST = [None, "1", ADULT.policy_number, ADULT.birth_date.strftime("%d%m%Y"), "1",
                "1", "1"]


def _call(rt: IvrRuntime, script, caller="+79161234567"):
    host, port = rt.server.server_address
    return AsteriskCall(host, port, caller_number=caller, sounds_dir=rt.cache.sounds_dir,
                        caller=ScriptedCaller(script)).run()


def test_booking_over_fastagi_with_real_speech(container, runtime_factory):
    """Asterisk's side of a real call books the nearest therapist slot; audio is 8 kHz WAV."""
    rt = runtime_factory(container)
    rt.prerender()
    transcript = _call(rt, BOOK_NEAREST)
    appts = booking.patient_appointments(patient_id(container, "adult"), container.uow())
    assert len(appts) == 1 and appts[0].specialty.code == "therapist"
    said = " ".join(transcript.said)
    assert "Вы записаны" in said and "Кашинцева" in said
    assert transcript.variables.get("REG_IVR_DONE") == "1"
    assert "REG_ESCALATE" not in transcript.variables
    played = [f for e in transcript.of("play") for f in e[1]]
    with wave.open(played[0] + ".wav", "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)


def test_operator_request_sets_escalation_variables(container, runtime_factory):
    rt = runtime_factory(container, QuietEngine())
    transcript = _call(rt, [None, "0"])
    assert transcript.variables["REG_ESCALATE"] == "1"
    assert transcript.variables["REG_REASON"] == "caller_request"
    assert transcript.variables["REG_CALL_ID"]


def test_database_down_escalates_instead_of_dead_air(container, runtime_factory, tmp_path):
    """The IVR's database URL points nowhere: the caller is queued with reason system_error."""
    broken = bootstrap(container.settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path}/missing/dir/x.db"}), clock=container.clock)
    broken.settings.sounds_dir = tmp_path / "sounds"
    broken.settings.record_dir = tmp_path / "recordings"
    rt = IvrRuntime(broken, engine=QuietEngine(), host="127.0.0.1", port=0)
    rt.start()
    try:
        transcript = _call(rt, [None, "1", ADULT.policy_number,
                                ADULT.birth_date.strftime("%d%m%Y"), "1"])
    finally:
        rt.shutdown()
    assert transcript.variables["REG_ESCALATE"] == "1"
    assert transcript.variables["REG_REASON"] == "system_error"


def _patients(container, n: int) -> list[str]:
    return [policy for _, policy in add_patients(container, n, prefix="55")]


def _keep_only_slots(container, keep: int) -> list[int]:
    """Leave just ``keep`` free therapist slots in the remote window."""
    pid = patient_id(container, "adult")
    therapist = specialty_id(container, "therapist")
    offers = slots.find_free_slots(FindSlots(pid, therapist, Channel.IVR, limit=keep),
                                   container.uow())
    kept = [o.slot_id for o in offers]
    with container.uow() as uow:
        doctors = select(Doctor.id).where(Doctor.specialty_id == therapist)
        booked = select(Appointment.slot_id).where(col(Appointment.slot_id).is_not(None))
        uow.session.execute(delete(Slot).where(col(Slot.doctor_id).in_(doctors),
                                               col(Slot.id).not_in(kept),
                                               col(Slot.id).not_in(booked)))
        uow.commit()
    return kept


def test_hundred_simultaneous_calls_never_double_book(container, runtime_factory):
    callers = 100
    policies = _patients(container, callers)
    kept = _keep_only_slots(container, 3)
    rt = runtime_factory(container, QuietEngine())
    start = threading.Barrier(callers)

    def one_call(i: int):
        start.wait()
        # Press 1 at every question: take whatever is offered, as often as asked.
        script = [None, "1", policies[i], "1", ADULT.birth_date.strftime("%d%m%Y"), "1",
                  "1", *["1"] * 8]
        # Each from the patient's own phone (add_patients' numbering): no consent code asked.
        return _call(rt, script, caller=f"+755{i:08d}")

    with ThreadPoolExecutor(callers) as pool:
        transcripts = list(pool.map(one_call, range(callers)))
    with container.uow().reading() as uow:
        live = uow.session.exec(
            select(Appointment.slot_id, func.count()).where(
                Appointment.status != AppointmentStatus.CANCELLED,
                Appointment.channel == Channel.IVR, col(Appointment.starts_at) > TEST_NOW)
            .group_by(Appointment.slot_id)).all()
    assert sorted(s for s, _ in live) == sorted(kept)
    assert all(n == 1 for _, n in live)
    winners = [t for t in transcripts if any("Вы записаны" in said for said in t.said)]
    assert len(winners) == 3
    losers = [t for t in transcripts if t not in winners]
    # Everyone else heard that the time was taken or gone and was queued for an agent.
    assert {t.variables.get("REG_REASON") for t in losers} == {"no_slots"}


def test_queue_without_agent_takes_a_callback_request(container, runtime_factory):
    """The dialplan's /callback leg: 1 (or silence) stores a request, 0 asks for the queue."""
    from booking_core import calls
    from models.tables import CallbackRequest

    rt = runtime_factory(container, QuietEngine())
    host, port = rt.server.server_address
    variables = {"REG_CALL_ID": "abc123", "REG_REASON": "caller_request",
                 "REG_QUEUE_RESULT": "TIMEOUT"}
    t = AsteriskCall(host, port, script="callback", variables=dict(variables),
                     sounds_dir=rt.cache.sounds_dir, caller=ScriptedCaller(["1"])).run()
    assert t.variables.get("REG_IVR_DONE") == "1"
    with container.uow().reading() as uow:
        req = uow.session.exec(select(CallbackRequest)).one()
    assert (req.call_id, req.reason, req.caller_number) == ("abc123", "caller_request",
                                                            "+79161234567")
    assert calls.get_call("abc123/callback", container.uow()).outcome == "callback"
    again = AsteriskCall(host, port, script="callback", variables=dict(variables),
                         sounds_dir=rt.cache.sounds_dir, caller=ScriptedCaller(["0"])).run()
    assert again.variables.get("REG_ESCALATE") == "1"


def test_terminal_phone_speech_stand_in_books_by_voice(container, runtime_factory):
    """'say:' answers travel as transcripts beside RECORD FILE recordings (registry?speech=text)
    and go through the same parsers as recognised speech."""
    rt = runtime_factory(container, QuietEngine())
    host, port = rt.server.server_address
    words = "семь семь " + "ноль " * 11 + "один два три"
    script = [None, "say:записаться", f"say:{words}", "say:да",
              "say:пятое марта тысяча девятьсот восемьдесят пятого года", "say:да",
              "say:терапевт", "say:да", "say:да", None]
    t = AsteriskCall(host, port, script="registry?speech=text", sounds_dir=rt.cache.sounds_dir,
                     caller=ScriptedCaller(script)).run()
    assert any("Вы записаны" in s for s in t.said), t.said
    assert [e for e in t.of("record") if e[3] == "text"]
    assert not list(container.settings.record_dir.glob("*")), "recordings must be deleted"


def test_keys_typed_while_the_ivr_listens(container, runtime_factory):
    """A key stops the recording and the whole number still arrives."""
    rt = runtime_factory(container, QuietEngine())
    host, port = rt.server.server_address
    t = AsteriskCall(host, port, script="registry?speech=text", sounds_dir=rt.cache.sounds_dir,
                     caller=ScriptedCaller([None, "1", ADULT.policy_number,
                                            ADULT.birth_date.strftime("%d%m%Y"),
                                            "hangup"])).run()
    assert any(s.startswith("Полис:") for s in t.said)
    assert [e for e in t.of("record") if e[3] == "1"]  # "1" pressed during the recording
