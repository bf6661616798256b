"""«Пришёл» only around the visit time, and an audited undo (the clock stands at Monday
2026-09-07 10:00; Кашинцева works 08:00-14:00 on weekdays)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from booking_core import booking
from booking_core.commands import BookSlot
from booking_core.errors import ArrivalOutsideWindow, InvalidTransition
from booking_core.rules import arrival_open
from models.tables import Appointment, AuditLog, Slot
from support.world import AGENT, doctor_ids, patient_id

VISIT = datetime(2026, 9, 11, 9, 0)  # four days ahead


def book_kashintseva(container, at: datetime) -> int:  # type: ignore[no-untyped-def]
    with container.uow().reading() as uow:
        slot = uow.session.exec(select(Slot).where(
            Slot.doctor_id == doctor_ids(container, "therapist")[0], Slot.starts_at == at)).one()
    return booking.book(BookSlot(patient_id(container, "adult"), slot.id, AGENT),
                        container.uow()).id


def status(container, appointment_id: int) -> str:  # type: ignore[no-untyped-def]
    with container.uow().reading() as uow:
        return uow.session.get(Appointment, appointment_id).status


def test_the_window_rule():
    assert arrival_open(VISIT, VISIT - timedelta(minutes=120), 120)
    assert arrival_open(VISIT, VISIT + timedelta(minutes=120), 120)
    assert not arrival_open(VISIT, VISIT - timedelta(minutes=121), 120)
    assert not arrival_open(VISIT, VISIT - timedelta(days=4), 120)


def test_a_visit_four_days_ahead_cannot_be_marked_arrived(sqlite_container):
    appt = book_kashintseva(sqlite_container, VISIT)
    with pytest.raises(ArrivalOutsideWindow):
        booking.mark_arrived(appt, AGENT, sqlite_container.uow())
    assert status(sqlite_container, appt) == "booked"


def test_arrival_is_accepted_near_the_time_and_undone_with_an_audit_trail(sqlite_container,
                                                                          clock):
    appt = book_kashintseva(sqlite_container, VISIT)
    clock.set(VISIT - timedelta(minutes=20))
    assert booking.mark_arrived(appt, AGENT, sqlite_container.uow()).status == "completed"
    undone = booking.undo_arrival(appt, AGENT, sqlite_container.uow())
    assert undone.status == "booked"
    with sqlite_container.uow().reading() as uow:
        row = uow.session.get(Appointment, appt)
        assert row.arrived_at is None
        trail = uow.session.exec(select(AuditLog).where(AuditLog.entity_id == str(appt))
                                 .order_by(col(AuditLog.id))).all()
    assert [e.action for e in trail][-2:] == ["arrived", "arrival_undone"]
    assert trail[-1].before["status"] == "completed" and trail[-1].after["status"] == "booked"
    assert trail[-1].before["arrived_at"] and trail[-1].after["arrived_at"] is None
    # and the patient can be marked again when they really come
    assert booking.mark_arrived(appt, AGENT, sqlite_container.uow()).status == "completed"


def test_undo_needs_a_recorded_arrival_and_an_open_window(sqlite_container, clock):
    appt = book_kashintseva(sqlite_container, VISIT)
    with pytest.raises(InvalidTransition):
        booking.undo_arrival(appt, AGENT, sqlite_container.uow())
    clock.set(VISIT)
    booking.mark_arrived(appt, AGENT, sqlite_container.uow())
    clock.set(VISIT + timedelta(days=1))
    with pytest.raises(ArrivalOutsideWindow):
        booking.undo_arrival(appt, AGENT, sqlite_container.uow())
