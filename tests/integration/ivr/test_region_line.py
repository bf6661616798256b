"""One line for many polyclinics, on the phone: the dialled number picks the greeting, the
caller is served by the clinic they are attached to, and the offer names it.

Real TCP FastAGI: the Asterisk simulator dials the IVR with ``agi_dnid`` and the dialplan's
``${REG_DID}`` argument; what the caller hears is read in order from the transcript.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from booking_core import booking, lines
from booking_core.actors import Actor
from booking_core.calls import get_call
from booking_core.notifications import render
from booking_core.slots import generate_slots
from ivr.transports.terminal import AsteriskCall, ScriptedCaller
from models.tables import Clinic, Doctor, OutboxMessage, Patient
from registratura.demo import DEMO_PATIENTS, REGION_PATIENTS, seed_region_demo
from support.fakes import QuietEngine

LINE_3, LINE_7, REGIONAL = "4951230003", "4951230007", "4951230000"
IVANOV = next(p for p in DEMO_PATIENTS if p.role == "adult")  # attached to № 3
VOLKOVA = REGION_PATIENTS[0]  # attached to № 7, district 1


def book_nearest(patient) -> list:  # type: ignore[no-untyped-def]
    """Silence at the language offer, book, policy, birth date, confirm, therapist, take."""
    return [None, "1", patient.policy_number, patient.birth_date.strftime("%d%m%Y"), "1", "1",
            "1"]


@pytest.fixture
def region(sqlite_container):  # type: ignore[no-untyped-def]
    assert seed_region_demo(sqlite_container.uow())
    generate_slots(sqlite_container.uow())
    return sqlite_container


@pytest.fixture
def ivr(region, runtime_factory):  # type: ignore[no-untyped-def]
    return runtime_factory(region, QuietEngine())


def dial(rt, number: str, script: list, *, caller: str, language: str = "ru",  # type: ignore[no-untyped-def]
         as_argument: bool = True):
    host, port = rt.server.server_address
    return AsteriskCall(host, port, caller_number=caller, sounds_dir=rt.cache.sounds_dir,
                        dnid=number, agi_args=[number] if as_argument else (),
                        language=language, caller=ScriptedCaller(script)).run()


def clinic_id(c, code: str) -> int:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        return uow.session.exec(select(Clinic.id).where(Clinic.code == code)).one()


def heard(transcript, *phrases: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Where each phrase is first heard (index into what was said), asserting it is."""
    said = transcript.said
    found = []
    for phrase in phrases:
        at = next((i for i, text in enumerate(said) if phrase in text), None)
        assert at is not None, f"{phrase!r} not heard in {said}"
        found.append(at)
    return found


def booked_doctor(c, patient) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    with c.uow().reading() as uow:
        pid = uow.session.exec(select(Patient.id).where(
            Patient.policy_number == patient.policy_number)).one()
    (appt,) = booking.patient_appointments(pid, c.uow())
    with c.uow().reading() as uow:
        doctor = uow.session.get(Doctor, appt.doctor.id)
        return doctor.last_name, doctor.clinic_id


def test_clinic_line_greets_with_its_clinic_and_books_its_own_schedule(region, ivr):
    t = dial(ivr, LINE_7, book_nearest(VOLKOVA), caller=VOLKOVA.phone)
    greeting, found, offer, booked = heard(
        t, "Здравствуйте! Городская поликлиника № 7.", "Карта найдена",
        "Ближайшее: завтра в восемь ноль-ноль, врач Соловьёв, Городская поликлиника № 7, "
        "кабинет сто четыре.",
        "Вы записаны: терапевт Соловьёв, завтра в восемь ноль-ноль, Городская поликлиника № 7, "
        "кабинет сто четыре. Талон:")
    assert greeting == 0 and greeting < found < offer < booked
    assert not any("другой поликлинике" in s for s in t.said)  # her own clinic's line
    assert booked_doctor(region, VOLKOVA) == ("Соловьёв", clinic_id(region, "gp7"))
    record = get_call(t.variables["REG_CALL_ID"], region.uow())
    assert (record.dialled_number, record.clinic_id) == (LINE_7, clinic_id(region, "gp7"))


def test_patient_of_clinic_3_calling_clinic_7_is_booked_at_clinic_3_and_told_so_once(region, ivr):
    t = dial(ivr, LINE_7, book_nearest(IVANOV), caller=IVANOV.phone)
    greeting, found, told, offer, booked = heard(
        t, "Городская поликлиника № 7", "Карта найдена",
        "Вы прикреплены к другой поликлинике: Городская поликлиника № 3. Записываю вас туда.",
        "врач Кашинцева, Городская поликлиника № 3, кабинет пятнадцать",
        "Вы записаны: терапевт Кашинцева, завтра в восемь ноль-ноль, Городская поликлиника "
        "№ 3, кабинет пятнадцать.")
    assert greeting < found < told < offer < booked
    assert sum("другой поликлинике" in s for s in t.said) == 1
    assert not any("Соловьёв" in s or "Романова" in s for s in t.said)  # № 7's therapists
    assert booked_doctor(region, IVANOV) == ("Кашинцева", clinic_id(region, "gp3"))
    # The SMS is signed by the clinic the visit is at, not by the number dialled.
    with region.uow().reading() as uow:
        sms = uow.session.exec(select(OutboxMessage).where(OutboxMessage.kind == "booked")).one()
    assert render(sms.kind, sms.payload).text.startswith("Городская поликлиника № 3: ")
    record = get_call(t.variables["REG_CALL_ID"], region.uow())
    # The line's clinic until identified, then the patient's: the console of № 3 sees it.
    assert (record.dialled_number, record.clinic_id) == (LINE_7, clinic_id(region, "gp3"))


def test_regional_line_greets_for_the_region_and_names_the_callers_clinic(region, ivr):
    # As the provider may send it (+7...), and only as agi_dnid: no dialplan argument.
    t = dial(ivr, "+7" + REGIONAL, book_nearest(VOLKOVA), caller=VOLKOVA.phone,
             as_argument=False)
    greeting, found, clinic, offer = heard(
        t, "Здравствуйте! Единая регистратура поликлиник.", "Карта найдена",
        "Ваша поликлиника: Городская поликлиника № 7.", "Городская поликлиника № 7, кабинет")
    assert greeting == 0 and greeting < found < clinic < offer
    assert not any("Здравствуйте! Городская" in s for s in t.said)
    record = get_call(t.variables["REG_CALL_ID"], region.uow())
    assert record.dialled_number == "+74951230000"
    assert record.clinic_id == clinic_id(region, "gp7")


def test_unknown_number_gets_the_regional_greeting_then_the_first_clinic_without_one(region,
                                                                                    ivr):
    t = dial(ivr, "4959999999", [None, "0"], caller="+79160000001")
    assert t.said[0].startswith("Здравствуйте! Единая регистратура поликлиник.")
    assert t.variables["REG_ESCALATE"] == "1"  # the escalation contract is unchanged
    assert get_call(t.variables["REG_CALL_ID"], region.uow()).clinic_id is None
    lines.remove_line(REGIONAL, Actor.system("test"), region.uow())
    ivr.deps.line_cache_seconds = 0  # the test changed the lines a moment ago
    t = dial(ivr, "4959999999", [None, "0"], caller="+79160000001")
    assert t.said[0].startswith("Здравствуйте! Городская поликлиника № 3.")


def test_english_offer_names_the_clinic_in_latin_letters(region, ivr):
    t = dial(ivr, REGIONAL, book_nearest(IVANOV)[1:], caller=IVANOV.phone, language="en")
    heard(t, "joint registry of the city polyclinics",
          "Your clinic is Gorodskaya poliklinika No. 3.",
          "doctor Kashintseva, Gorodskaya poliklinika No. 3, room fifteen",
          "You are booked: general practitioner, doctor Kashintseva, tomorrow, at eight a.m., "
          "Gorodskaya poliklinika No. 3, room fifteen.")


def test_reminder_call_is_made_in_the_name_of_the_visits_clinic(region, make_deps):
    """The IVR is configured with № 3's name; Волкова's visit is at № 7, so № 7 calls."""
    from booking_core.commands import BookSlot, FindSlots
    from booking_core.slots import find_free_slots
    from ivr.dialogue.reminder_flow import run_reminder_call
    from ivr.transports.scripted import ScriptedCallIO
    from support.world import specialty_id

    with region.uow().reading() as uow:
        pid = uow.session.exec(select(Patient.id).where(
            Patient.policy_number == VOLKOVA.policy_number)).one()
    offer = find_free_slots(FindSlots(pid, specialty_id(region, "therapist"), "ivr"),
                            region.uow())[0]
    appt = booking.book(BookSlot(pid, offer.slot_id, Actor.patient(pid, "ivr")), region.uow())
    io = ScriptedCallIO(["1"])
    io.info.caller_number = VOLKOVA.phone
    call = run_reminder_call(io, make_deps(region), appointment_id=appt.id)
    intro = next(t for _, k, t in io.transcript.events if k == "reminder_intro")
    assert intro.startswith("Здравствуйте! Это Городская поликлиника № 7."), intro
    assert call.record.data.clinic_id == clinic_id(region, "gp7")
