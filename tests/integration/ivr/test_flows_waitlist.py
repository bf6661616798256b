"""The waiting list by phone (rule 19): offered on «нет свободного времени» with the time of
day on keys 1/2/3, and left again from «мои записи»."""

from __future__ import annotations

from booking_core import slots, waiting_list
from models.tables import Channel, WaitlistStatus
from support.world import demo, fill_specialty, patient_id, specialty_id

ADULT = demo("adult")
IDENT = [ADULT.policy_number, ADULT.birth_date.strftime("%d%m%Y"), "1"]


def _digit(container, code: str) -> str:
    pid = patient_id(container, "adult")
    options = slots.bookable_specialties(pid, Channel.IVR, container.uow())[:9]
    return str(next(i for i, o in enumerate(options, 1) if o.specialty.code == code))


def _said(io, key: str) -> str:
    return next(t for _, k, t in io.transcript.events if k == key)


def test_no_free_time_offers_the_list_and_the_caller_joins_for_mornings(container, dial):
    fill_specialty(container, "ophthalmologist")
    io, _ = dial(container, [None, "1", *IDENT, _digit(container, "ophthalmologist"), "1"])
    keys = io.transcript.keys
    assert keys[keys.index("no_slots") + 1] == "waitlist_offer"
    assert keys[-2:] == ["waitlist_joined", "goodbye"]  # done: no "anything else?"
    assert _said(io, "waitlist_joined") == (
        "Готово, вы в листе ожидания к специалисту «Офтальмолог» на тридцать дней. Когда "
        "освободится время, придёт SMS: ответьте 1, чтобы записаться.")
    pid = patient_id(container, "adult")
    [entry] = waiting_list.patient_entries(pid, container.uow())
    assert (entry.specialty.code, entry.preference, entry.channel) == (
        "ophthalmologist", "morning", "ivr")


def test_joining_twice_is_told_and_4_goes_to_an_agent(container, dial):
    fill_specialty(container, "ophthalmologist")
    digit = _digit(container, "ophthalmologist")
    dial(container, [None, "1", *IDENT, digit, "3"])
    io, _ = dial(container, [None, "1", *IDENT, digit, "2"])
    assert "waitlist_already" in io.transcript.keys
    pid = patient_id(container, "adult")
    [entry] = waiting_list.patient_entries(pid, container.uow())
    assert entry.preference == "any"  # the first answer stands
    io, _ = dial(container, [None, "1", *IDENT, digit, "4"])
    assert io.transcript.variables.get("REG_REASON") == "no_slots"


def test_leaving_the_list_from_my_appointments(container, dial):
    fill_specialty(container, "ophthalmologist")
    digit = _digit(container, "ophthalmologist")
    dial(container, [None, "1", *IDENT, digit, "3"])
    io, _ = dial(container, [None, "2", *IDENT, "1"])
    assert _said(io, "waitlist_item") == (
        "Вы в листе ожидания к специалисту «Офтальмолог». Выйти из листа ожидания — 1, "
        "дальше — 2.")
    assert io.transcript.keys[-2:] == ["waitlist_left", "goodbye"]
    pid = patient_id(container, "adult")
    assert waiting_list.patient_entries(pid, container.uow()) == []
    rows = waiting_list.list_for_specialty(specialty_id(container, "ophthalmologist"),
                                           container.uow(), active_only=False)
    assert [r.status for r in rows] == [WaitlistStatus.LEFT]


def test_english_caller_hears_the_offer_in_english(container, dial):
    fill_specialty(container, "ophthalmologist")
    io, _ = dial(container, ["9", "1", *IDENT, _digit(container, "ophthalmologist"), "2"])
    assert _said(io, "waitlist_offer").startswith("We can put you on the waiting list")
    assert "for thirty days" in _said(io, "waitlist_joined")


def _offered_with(container, dial):
    """The adult waits for the ophthalmologist; another patient's cancellation offers the
    adult the freed time (held, SMS queued)."""
    from booking_core import booking
    from booking_core.commands import BookSlot, Cancel
    from support.world import AGENT

    [slot] = fill_specialty(container, "ophthalmologist", keep=1)
    appt = booking.book(BookSlot(patient_id(container, "elderly"), slot, AGENT),
                        container.uow())
    dial(container, [None, "1", *IDENT, _digit(container, "ophthalmologist"), "3"])
    booking.cancel(Cancel(appt.id, AGENT), container.uow())
    return appt


def test_an_offer_can_be_taken_by_phone_from_my_appointments(container, dial):
    from booking_core import booking

    _offered_with(container, dial)
    io, _ = dial(container, [None, "2", *IDENT, "1"])
    assert _said(io, "appointment_offer").startswith(
        "Офтальмолог: для вас из листа ожидания отложено время:")
    assert io.transcript.keys[-2:] == ["booked", "goodbye"]
    pid = patient_id(container, "adult")
    [mine] = booking.patient_appointments(pid, container.uow())
    assert mine.status == "booked"
    assert waiting_list.patient_entries(pid, container.uow()) == []


def test_an_offer_declined_by_phone_leaves_the_list(container, dial):
    from booking_core import booking

    _offered_with(container, dial)
    io, _ = dial(container, [None, "2", *IDENT, "2"])
    assert io.transcript.keys[-2:] == ["waitlist_left", "goodbye"]
    pid = patient_id(container, "adult")
    assert booking.patient_appointments(pid, container.uow()) == []
    assert waiting_list.patient_entries(pid, container.uow()) == []
