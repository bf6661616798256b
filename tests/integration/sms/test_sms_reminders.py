"""Reminders the day before: SMS at the configured hour, once; reminder calls; the IVR side."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select

from booking_core import booking, reminders
from booking_core.actors import Actor
from booking_core.commands import Cancel
from booking_core.reminders import ReminderPolicy
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.reminder_flow import run_reminder_call
from ivr.transports.scripted import ScriptedCallIO
from models.tables import AppointmentReminder, CallRecord, OutboxMessage
from sms.providers import LocalOutboxProvider
from sms.worker import OutboxWorker
from support.sms_world import ADULT_PHONE, book, tomorrow

POLICY = ReminderPolicy(hour=18, calls=True, call_hour=19)


def at(container, hour: int, minute: int = 0) -> None:
    container.clock.set(datetime.combine(container.clock.today(), time(hour, minute)))


def reminder_rows(container) -> list[OutboxMessage]:
    with container.uow().reading() as uow:
        return list(uow.session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "reminder")).all())


def test_reminders_are_queued_once_per_appointment_at_the_reminder_hour(container):
    due = book(container, on=tomorrow(container))
    later = book(container, "elderly", on=tomorrow(container) + timedelta(days=1))
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 0  # 10:00: too early
    at(container, 17, 59)
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 0
    at(container, 18)
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 1
    at(container, 18, 1)
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 0  # once
    [row] = reminder_rows(container)
    assert (row.appointment_id, row.idempotency_key) == (due.id, f"reminder:{due.id}")
    assert later.id not in {r.appointment_id for r in reminder_rows(container)}
    provider = LocalOutboxProvider()
    OutboxWorker(container, provider).run_once()
    text = next(s.body for s in provider.sent if s.key == row.idempotency_key)
    assert "Ответьте 1 — подтвердить, 2 — отменить" in text
    assert "завтра" in text and due.starts_at.strftime("%d.%m в %H:%M") in text


def test_no_reminders_in_the_quiet_hours(container):
    book(container, on=tomorrow(container))
    at(container, 21, 30)
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 0


def test_booked_after_the_reminder_hour_gets_no_separate_reminder(container):
    at(container, 18, 30)
    book(container, on=tomorrow(container))
    at(container, 19)
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 0
    # ... unless someone queues reminders by hand.
    assert reminders.enqueue_due_reminders(container.uow(), POLICY, force=True) == 1


def test_cancelled_appointments_are_not_reminded(container):
    from booking_core.commands import Cancel
    from support.world import AGENT

    appt = book(container, on=tomorrow(container))
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    at(container, 18)
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 0


def test_a_visit_that_will_not_happen_gets_no_reminder(container):
    from booking_core import schedules

    gone = book(container, on=tomorrow(container))
    kept = book(container, "elderly", on=tomorrow(container), code="dentist")
    with container.uow() as uow:  # the therapist's last day is today
        schedules.doctor_leaves(uow, gone.doctor.id, container.clock.today(), Actor.system("t"))
        uow.commit()
    at(container, 18)
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 1
    assert [r.appointment_id for r in reminder_rows(container)] == [kept.id]
    at(container, 19)
    assert [c.appointment_id for c in reminders.due_reminder_calls(container.uow(), POLICY)] \
        == [kept.id]


def test_worker_thread_runs_the_reminders(container):
    container.settings = container.settings.model_copy(update={"reminder_hour": 18})
    book(container, on=tomorrow(container))
    at(container, 18)
    worker = OutboxWorker(container, LocalOutboxProvider())
    assert worker.run_reminders() == (1, 0)  # no dialer: no calls
    assert worker.run_once().sent == 2  # the booking SMS and the reminder


class RecordingDialer:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail = fail

    def dial(self, phone: str, appointment_id: int) -> None:
        self.calls.append((phone, appointment_id))
        if self.fail:
            raise ConnectionError("AMI is down")


def test_unanswered_reminders_get_one_call(container):
    silent = book(container, on=tomorrow(container))
    answered = book(container, "elderly", on=tomorrow(container))
    at(container, 18)
    reminders.enqueue_due_reminders(container.uow(), POLICY)
    reminders.confirm_attendance(answered.id, Actor.system("test"), container.uow(),
                                 via="sms")
    dialer = RecordingDialer()
    assert reminders.place_reminder_calls(container.uow, POLICY, dialer) == 0  # 18:00: early
    at(container, 19)
    assert reminders.place_reminder_calls(container.uow, POLICY, dialer) == 1
    assert dialer.calls == [(ADULT_PHONE, silent.id)]
    assert reminders.place_reminder_calls(container.uow, POLICY, dialer) == 0  # only once
    assert reminders.place_reminder_calls(
        container.uow, ReminderPolicy(hour=18, calls=False, call_hour=19), dialer) == 0


def test_a_failed_dial_never_touches_the_booking(container):
    appt = book(container, on=tomorrow(container))
    at(container, 18)
    reminders.enqueue_due_reminders(container.uow(), POLICY)
    at(container, 19)
    dialer = RecordingDialer(fail=True)
    assert reminders.place_reminder_calls(container.uow, POLICY, dialer) == 0
    assert len(dialer.calls) == 1
    assert booking.get_appointment(appt.id, container.uow()).status == "booked"
    assert reminders.place_reminder_calls(container.uow, POLICY, RecordingDialer()) == 0


def test_callable_dialer_adapts_an_ami_style_function(container):
    seen = []
    reminders.CallableDialer(lambda number, appt: seen.append((number, appt))).dial("+7", 5)
    assert seen == [("+7", 5)]


# --- the reminder call (IVR) ------------------------------------------------------------------


def reminder_call(container, appointment_id: int, script):
    io = ScriptedCallIO(script)
    io.info.caller_number = ADULT_PHONE
    deps = IvrDeps(uow=container.uow, clinic_name="Городская поликлиника № 3",
                   now_local=container.clock.now_local, agents_available=lambda: True)
    run_reminder_call(io, deps, appointment_id=appointment_id)
    return io


def test_reminder_call_1_confirms(container):
    appt = book(container, on=tomorrow(container))
    io = reminder_call(container, appt.id, ["1"])
    intro = next(t for _, k, t in io.transcript.events if k == "reminder_intro")
    assert intro.startswith("Здравствуйте! Это Городская поликлиника № 3. Напоминаем о вашей "
                            "записи:")
    assert "Кашинцева Галина Вячеславовна" in intro
    assert "Нажмите 1, если придёте. Нажмите 2, чтобы отменить запись." in io.transcript.text
    assert io.transcript.keys[-1] == "reminder_confirmed" and io.transcript.hung_up_by_ivr
    assert booking.get_appointment(appt.id, container.uow()).status == "booked"
    with container.uow().reading() as uow:
        marker = uow.session.exec(select(AppointmentReminder)).one()
        assert (marker.kind, marker.answer) == ("call", "confirmed")
        record = uow.session.exec(select(CallRecord)).one()
        assert (record.intent, record.outcome, record.appointment_id) == (
            "reminder", "confirmed", appt.id)


def test_reminder_call_2_then_yes_cancels_and_confirms_by_sms(container):
    appt = book(container, on=tomorrow(container))
    io = reminder_call(container, appt.id, ["2", "1"])
    assert "reminder_cancelled" in io.transcript.keys
    assert booking.get_appointment(appt.id, container.uow()).status == "cancelled"
    with container.uow().reading() as uow:
        kinds = uow.session.exec(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert kinds == ["booked", "cancelled"]


def test_reminder_call_2_then_no_keeps_the_booking(container):
    appt = book(container, on=tomorrow(container))
    io = reminder_call(container, appt.id, ["2", "2"])
    assert "reminder_kept" in io.transcript.keys
    assert booking.get_appointment(appt.id, container.uow()).status == "booked"


def test_silence_or_hangup_never_cancels(container):
    appt = book(container, on=tomorrow(container))
    silent = reminder_call(container, appt.id, [None, None])
    assert silent.transcript.keys[-1] == "reminder_no_answer"
    reminder_call(container, appt.id, ["hangup"])
    unsure = reminder_call(container, appt.id, ["2", None, None])
    assert "reminder_kept" in unsure.transcript.keys and not unsure.transcript.escalated
    assert booking.get_appointment(appt.id, container.uow()).status == "booked"


def test_reminder_call_about_a_cancelled_appointment(container):
    from booking_core.commands import Cancel
    from support.world import AGENT

    appt = book(container, on=tomorrow(container))
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    io = reminder_call(container, appt.id, ["1"])
    assert io.transcript.keys == ["reminder_gone"]


def test_reminder_call_0_goes_to_an_agent(container):
    appt = book(container, on=tomorrow(container))
    io = reminder_call(container, appt.id, ["0"])
    assert io.transcript.escalated
    assert booking.get_appointment(appt.id, container.uow()).status == "booked"


def test_reminder_call_in_english(container):
    appt = book(container, on=tomorrow(container))
    io = ScriptedCallIO(["*", "1"])
    deps = IvrDeps(uow=container.uow, clinic_name="City Clinic 3",
                   now_local=container.clock.now_local)
    run_reminder_call(io, deps, appointment_id=appt.id, locale="en")
    assert io.transcript.keys.count("reminder_intro") == 2  # "*" repeats it
    assert "Press 1 if you will come." in io.transcript.text
    assert io.transcript.keys[-1] == "reminder_confirmed"


# --- a doctor's absence (rule 14): the reminder does not ask to confirm ------------------------


def _absent(container, appt):
    from booking_core import admin
    from booking_core.commands import RegisterAbsence
    from support.world import AGENT

    day = appt.starts_at.date()
    (item,) = admin.register_absence(
        RegisterAbsence(appt.doctor.id, day, day, AGENT), container.uow()).affected
    return item


def test_reminder_sms_of_an_absent_doctor_offers_the_held_substitute(container):
    appt = book(container, on=tomorrow(container))
    item = _absent(container, appt)
    at(container, 18)
    assert reminders.enqueue_due_reminders(container.uow(), POLICY) == 1
    [row] = reminder_rows(container)
    assert row.appointment_id == appt.id  # the flagged visit, not the hold
    provider = LocalOutboxProvider()
    OutboxWorker(container, provider).run_once()
    text = next(s.body for s in provider.sent if s.key == row.idempotency_key)
    assert "подтвердить" not in text
    assert "не примет" in text or "не сможет принять" in text
    assert item.substitute.starts_at.strftime("%d.%m в %H:%M") in text
    assert "1 — записаться" in text


def test_reminder_sms_of_an_absent_doctor_without_a_hold_offers_to_rebook(container):
    appt = book(container, on=tomorrow(container))
    item = _absent(container, appt)
    booking.cancel(Cancel(item.hold_id, Actor.system("test")), container.uow())
    at(container, 18)
    reminders.enqueue_due_reminders(container.uow(), POLICY)
    provider = LocalOutboxProvider()
    OutboxWorker(container, provider).run_once()
    text = next(s.body for s in provider.sent if s.key == f"reminder:{appt.id}")
    assert "подтвердить" not in text and "Перенести" in text and "+74951234567" in text


def test_reminder_call_of_an_absent_doctor_offers_the_substitute_and_takes_it(container):
    appt = book(container, on=tomorrow(container))
    item = _absent(container, appt)
    io = reminder_call(container, appt.id, ["1"])
    said = io.transcript.text
    assert "Нажмите 1, если придёте" not in said
    assert "врач отсутствует и не сможет принять вас" in said
    assert "Для вас отложено другое время: завтра" in said
    assert io.transcript.keys[-1] == "reminder_substitute_taken"
    assert booking.get_appointment(appt.id, container.uow()).status == "cancelled"
    moved = booking.get_appointment(item.hold_id, container.uow())
    assert moved.status == "booked"
    with container.uow().reading() as uow:
        assert not uow.session.exec(select(AppointmentReminder).where(
            AppointmentReminder.answer == "confirmed")).all()


def test_reminder_call_of_an_absent_doctor_without_a_hold_offers_an_agent(container):
    appt = book(container, on=tomorrow(container) + timedelta(days=1))  # after the hold ends
    item = _absent(container, appt)
    container.clock.set(item.held_until + timedelta(minutes=1))  # nobody took it in time
    assert booking.expire_holds(container.uow()) == 1
    io = reminder_call(container, appt.id, ["1"])
    assert "Нажмите 1, если придёте" not in io.transcript.text
    assert "врач отсутствует и не сможет принять вас" in io.transcript.text
    assert "reminder_to_agent" in io.transcript.keys
    assert io.transcript.escalated  # 1: an agent reschedules
    assert booking.get_appointment(appt.id, container.uow()).status == "booked"
    assert booking.get_appointment(item.hold_id, container.uow()).status == "cancelled"


def test_reminder_call_of_an_absent_doctor_never_says_the_visit_stays(container):
    appt = book(container, on=tomorrow(container))
    _absent(container, appt)
    declined = reminder_call(container, appt.id, ["2", "2"])
    silent = reminder_call(container, appt.id, [None, None])
    for io in (declined, silent):
        assert "остаётся в силе" not in io.transcript.text and "Ждём вас" not in io.transcript.text
        assert "«мои записи»" in io.transcript.text
    assert booking.get_appointment(appt.id, container.uow()).status == "booked"
