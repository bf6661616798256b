"""Rule 8 under real concurrency: many threads, each with its own connection, on both DBs."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import col, func, select

from booking_core import booking, slots
from booking_core.commands import BookSlot, FindSlots, Reschedule
from booking_core.errors import DomainError, SlotTaken
from models.tables import Appointment, AppointmentStatus, Channel
from support.world import AGENT, add_patients, specialty_id

THREADS = 50


def _make_patients(container, n: int) -> list[int]:
    return [pid for pid, _ in add_patients(container, n, prefix="99")]


def _live_on_slot(container, slot_id: int) -> int:
    with container.uow().reading() as uow:
        return uow.session.exec(
            select(func.count()).select_from(Appointment).where(
                Appointment.slot_id == slot_id,
                col(Appointment.status) != AppointmentStatus.CANCELLED,
            )
        ).one()


def test_fifty_threads_one_slot_exactly_one_wins(container):
    patients = _make_patients(container, THREADS)
    therapist = specialty_id(container, "therapist")
    slot = slots.find_free_slots(FindSlots(patients[0], therapist, Channel.CONSOLE),
                                 container.uow())[0]
    barrier = threading.Barrier(THREADS)

    def attempt(pid: int) -> str:
        barrier.wait()
        try:
            booking.book(BookSlot(pid, slot.slot_id, AGENT), container.uow())
            return "ok"
        except SlotTaken:
            return "taken"

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(attempt, patients))
    assert results.count("ok") == 1
    assert results.count("taken") == THREADS - 1
    assert _live_on_slot(container, slot.slot_id) == 1


def test_reschedule_racing_bookings_never_doubles_a_slot(container):
    """Patients reschedule onto a slot while others book it directly: one live appointment."""
    patients = _make_patients(container, 20)
    therapist = specialty_id(container, "therapist")
    offers = slots.find_free_slots(FindSlots(patients[0], therapist, Channel.CONSOLE, limit=12),
                                   container.uow())
    target, sources = offers[0], offers[1:11]
    movers = patients[:10]
    bookers = patients[10:20]
    # Each mover first holds an appointment of their own on a different slot.
    originals = [booking.book(BookSlot(pid, s.slot_id, AGENT), container.uow()).id
                 for pid, s in zip(movers, sources, strict=True)]
    barrier = threading.Barrier(len(movers) + len(bookers))

    def move(args: tuple[int, int]) -> str:
        pid, appt_id = args
        barrier.wait()
        try:
            booking.reschedule(Reschedule(appt_id, target.slot_id, AGENT, patient_id=pid),
                               container.uow())
            return "moved"
        except DomainError as exc:
            return exc.code

    def book(pid: int) -> str:
        barrier.wait()
        try:
            booking.book(BookSlot(pid, target.slot_id, AGENT), container.uow())
            return "booked"
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(len(movers) + len(bookers)) as pool:
        moved = pool.map(move, zip(movers, originals, strict=True))
        booked = pool.map(book, bookers)
        results = list(moved) + list(booked)
    wins = [r for r in results if r in ("moved", "booked")]
    assert len(wins) == 1, results
    assert set(results) - {"moved", "booked"} == {"slot_taken"}
    assert _live_on_slot(container, target.slot_id) == 1
    # Losing movers kept their original appointment: nothing half-done.
    live = 0
    for appt_id in originals:
        view = booking.get_appointment(appt_id, container.uow())
        live += view.status == "booked"
    assert live == len(movers) - results[: len(movers)].count("moved")
