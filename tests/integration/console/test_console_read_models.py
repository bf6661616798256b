"""The console's booking-core read models on both databases (SQL that differs between SQLite
and PostgreSQL: case of Cyrillic names, hour extraction, LIKE escaping, EXISTS as a column)."""

from __future__ import annotations

from datetime import date, time

import pytest

from booking_core import audit_query, booking, call_queue, patients, reports, schedule
from booking_core.actors import Actor
from booking_core.commands import BookSlot
from booking_core.patients import PatientQuery
from booking_core.schedule import GridQuery
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from support.world import AGENT, demo, own_phone, patient_id, specialty_id

TZ = "Europe/Moscow"


def call(container, script: list) -> ScriptedCallIO:  # type: ignore[no-untyped-def]
    io = ScriptedCallIO(script)
    io.info.caller_number = own_phone(script)  # the patient's own phone: no consent code
    run_registry_call(io, IvrDeps(uow=container.uow, clinic_name="Поликлиника",
                                  opening_time=time(8, 0), closing_time=time(20, 0),
                                  now_local=container.clock.now_local))
    return io


@pytest.mark.parametrize("name", ["иванов", "ИВАНОВ С", "Иванов Сергей П"])
def test_search_by_name_in_any_case(container, name):
    hits = patients.search_patients(PatientQuery(name=name), container.uow())
    assert [h.full_name for h in hits] == ["Иванов Сергей Петрович"]


def test_grid_queue_reports_and_audit(container):
    uow = container.uow
    therapist = specialty_id(container, "therapist")
    grid = schedule.schedule_grid(GridQuery(date(2026, 9, 8), date(2026, 9, 8),
                                            specialty_id=therapist), uow())
    free = [s for d in grid.days for doc in d.doctors for s in doc.free]
    booking.book(BookSlot(patient_id(container, "adult"), free[0].slot_id, AGENT), uow())
    again = schedule.schedule_grid(GridQuery(date(2026, 9, 8), date(2026, 9, 8),
                                             specialty_id=therapist), uow())
    assert again.free == grid.free - 1 and sum(d.taken for d in again.days[0].doctors) == 1

    blocked = demo("3 no-shows")
    io = call(container, [None, "1", blocked.policy_number,
                          blocked.birth_date.strftime("%d%m%Y"), "1", "1"])
    call_id = io.transcript.variables["REG_CALL_ID"]
    (waiting,) = call_queue.waiting_calls(uow())
    assert waiting.call_id == call_id and waiting.patient_name == blocked.full_name
    call_queue.take_call(call_id, Actor.agent("a1"), uow())
    with pytest.raises(call_queue.CallTaken):
        call_queue.take_call(call_id, Actor.agent("a2"), uow())
    assert call_queue.waiting_calls(uow()) == []

    stats = reports.dashboard(date(2026, 9, 7), date(2026, 9, 7), uow(), TZ)
    assert stats.calls_total == 1 and stats.calls_per_hour[10] == 1
    assert stats.escalation_reasons == [("booking_blocked", 1)]
    assert dict(stats.bookings_by_channel) == {"console": 1}

    page = audit_query.search_audit(audit_query.AuditQuery(actor="registrar1"), uow(), TZ)
    assert [e.action for e in page.entries] == ["book"]
    none = audit_query.search_audit(audit_query.AuditQuery(actor="%"), uow(), TZ)
    assert none.total == 0  # LIKE wildcards are taken literally
    facets = audit_query.audit_facets(uow())
    assert {"book", "take_call"} <= set(facets.actions)
