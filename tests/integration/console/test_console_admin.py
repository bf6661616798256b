"""Worklists and administration: callbacks, restrictions, absences, audit log, dashboard,
users."""

from __future__ import annotations

import pytest


def first_slot(client, specialty_code: str, day: str = "2026-09-08") -> dict:  # type: ignore[no-untyped-def]
    specs = {s["code"]: s["id"] for s in client.get("/api/specialties").json()}
    grid = client.get("/api/schedule", params={"specialty_id": specs[specialty_code],
                                               "date_from": day, "date_to": day}).json()
    doc = next(d for d in grid["days"][0]["doctors"] if d["free"])
    return {"doctor_id": doc["doctor"]["id"], **doc["free"][0]}


def patient_id(client, name: str) -> int:  # type: ignore[no-untyped-def]
    return client.post("/api/patients/search", json={"name": name}).json()[0]["id"]


def test_callbacks_worklist_and_done(agent, ivr_call, identify_keys, page_token):
    ivr_call([None, "3", *identify_keys("adult"), None], agents_online=False)
    ivr_call([None, "0", "1"], caller="+79035550011", agents_online=False)
    items = agent.get("/api/callbacks").json()
    assert [i["reason"] for i in items] == ["home_visit", "caller_request"]
    assert items[0]["patient_name"] == "Иванов Сергей Петрович"
    assert items[1]["caller_number"] == "+79035550011" and items[1]["patient_id"] is None
    page = agent.get("/callbacks").text
    assert "+79035550011" in page and "Вызов врача на дом" in page
    token = page_token(agent, "/callbacks")
    r = agent.post(f"/callbacks/{items[1]['id']}/done",
                   data={"csrf_token": token, "note": "записан на завтра"})
    assert r.status_code == 303
    assert agent.post(f"/api/callbacks/{items[0]['id']}/done",
                      json={"note": "передано"}).status_code == 204
    assert agent.get("/api/callbacks").json() == []
    done = agent.get("/api/callbacks", params={"status": "done"}).json()
    assert {d["done_by"] for d in done} == {"agent:agent1"}
    assert "записан на завтра" in agent.get("/callbacks?status=done").text
    assert agent.post("/api/callbacks/999/done").json()["error"]["id"] == "not_found"


def test_restrictions_list_create_lift(admin, agent, ivr_call, identify_keys):
    specs = {s["code"]: s["id"] for s in admin.get("/api/specialties").json()}
    r = admin.post("/api/restrictions", json={
        "channel": "ivr", "starts_on": "2026-09-01", "ends_on": "2026-12-31",
        "specialty_id": specs["therapist"], "reason": "Идёт эпидемия гриппа."})
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["specialty_name"] == "Терапевт" and item["in_force"] is True
    assert [i["id"] for i in agent.get("/api/restrictions").json()] == [item["id"]]
    io = ivr_call([None, "1", *identify_keys("adult"), "1"])
    assert io.transcript.variables["REG_REASON"] == "channel_closed"
    page = agent.get("/restrictions").text
    assert "Идёт эпидемия гриппа." in page and "Закрыть запись" not in page  # agents: read only
    assert "Закрыть запись" in admin.get("/restrictions").text
    bad = admin.post("/api/restrictions", json={"channel": "fax", "starts_on": "2026-09-01",
                                                "ends_on": "2026-09-02", "specialty_id": 1})
    assert bad.status_code == 422 and bad.json()["error"]["id"] == "invalid_input"
    neither = admin.post("/api/restrictions", json={"channel": "ivr", "starts_on": "2026-09-01",
                                                    "ends_on": "2026-09-02"})
    assert neither.json()["error"]["id"] == "invalid_input"
    assert admin.delete(f"/api/restrictions/{item['id']}").status_code == 204
    assert agent.get("/api/restrictions").json() == []
    assert admin.delete(f"/api/restrictions/{item['id']}").status_code == 404


def test_restriction_form(admin, page_token):
    token = page_token(admin, "/restrictions")
    r = admin.post("/restrictions", data={"csrf_token": token, "channel": "*",
                                          "specialty_id": "", "doctor_id": "1",
                                          "starts_on": "2026-09-10", "ends_on": "2026-09-11",
                                          "reason": "Врач на учёбе."})
    assert r.status_code == 303
    page = admin.get("/restrictions").text
    assert "Врач на учёбе." in page and "Все каналы" in page and "впереди" in page


def test_absence_flags_bookings_and_fills_the_worklist(admin, agent):
    slot = first_slot(agent, "therapist")
    appt = agent.post("/api/appointments", json={"patient_id": patient_id(agent, "Иванов"),
                                                 "slot_id": slot["slot_id"]}).json()
    r = admin.post("/api/absences", json={"doctor_id": slot["doctor_id"],
                                          "starts_on": "2026-09-08", "ends_on": "2026-09-09",
                                          "reason": "больничный"})
    assert r.status_code == 201, r.text
    report = r.json()
    (affected,) = report["affected"]
    assert affected["appointment"]["id"] == appt["id"]
    assert affected["substitute"] is not None
    (todo,) = agent.get("/api/absences/worklist").json()
    assert todo["patient_name"] == "Иванов Сергей Петрович" and todo["phone"] == "+79161234567"
    (absence,) = agent.get("/api/absences").json()
    assert absence["affected_live"] == 1 and absence["reason"] == "больничный"
    page = agent.get("/absences").text
    assert "+79161234567" in page and f"/schedule?reschedule={appt['id']}" in page
    assert "Записать отсутствие" not in page and "Записать отсутствие" in admin.get(
        "/absences").text
    other = first_slot(agent, "therapist", day="2026-09-10")
    moved = agent.post(f"/api/appointments/{appt['id']}/reschedule",
                       json={"slot_id": other["slot_id"]})
    assert moved.status_code == 200
    assert agent.get("/api/absences/worklist").json() == []


def test_absence_form_and_bad_range(admin, page_token):
    token = page_token(admin, "/absences")
    r = admin.post("/absences", data={"csrf_token": token, "doctor_id": "1",
                                      "starts_on": "2026-09-09", "ends_on": "2026-09-08"})
    assert r.status_code == 303
    assert "invalid_input" in admin.get("/absences").text
    r = admin.post("/absences", data={"csrf_token": token, "doctor_id": "1",
                                      "starts_on": "2026-09-08", "ends_on": "2026-09-08",
                                      "reason": "отпуск", "substitute_doctor_id": "2"})
    assert r.status_code == 303
    page = admin.get("/absences").text
    assert "Отсутствие записано" in page and "отпуск" in page


def test_audit_filters_and_pages(admin, agent, observer):
    slot = first_slot(agent, "dentist")
    appt = agent.post("/api/appointments", json={"patient_id": patient_id(agent, "Петрова"),
                                                 "slot_id": slot["slot_id"]}).json()
    agent.post(f"/api/appointments/{appt['id']}/cancel")
    booked = admin.get("/api/audit", params={"action": "book"}).json()
    assert booked["total"] == 1
    (entry,) = booked["entries"]
    assert entry["actor"] == "agent:agent1" and entry["channel"] == "console"
    assert entry["entity"] == "appointment" and entry["entity_id"] == str(appt["id"])
    assert entry["after"]["status"] == "booked" and entry["source"] == "testclient"
    by_entity = admin.get("/api/audit", params={"entity": "appointment",
                                                "entity_id": appt["id"]}).json()
    assert [e["action"] for e in by_entity["entries"]] == ["cancel", "book"]
    mine = admin.get("/api/audit", params={"actor": "agent1"}).json()
    assert {e["action"] for e in mine["entries"]} >= {"login", "book", "cancel"}
    assert admin.get("/api/audit", params={"date_from": "2026-09-08"}).json()["total"] == 0
    assert admin.get("/api/audit", params={"date_from": "2026-09-07",
                                           "date_to": "2026-09-07"}).json()["total"] >= 3
    everything = admin.get("/api/audit").json()["total"]
    page = admin.get("/api/audit", params={"per_page": 2, "page": 2}).json()
    assert page["pages"] == -(-everything // 2) and len(page["entries"]) == 2
    html = admin.get("/audit?action=book").text
    assert "agent:agent1" in html and 'id="audit-total">1<' in html
    assert observer.get("/audit").status_code == 403


def test_dashboard_numbers(agent, observer, ivr_call, identify_keys):
    ivr_call([None, "1", *identify_keys("adult"), "1", "1"])  # books by itself
    ivr_call([None, "1", *identify_keys("3 no-shows"), "1"])  # escalated: blocked
    ivr_call([None, "0"])  # escalated: asked for an agent
    ivr_call([None, "0", "1"], agents_online=False)  # callback request
    slot = first_slot(agent, "dentist")
    agent.post("/api/appointments", json={"patient_id": patient_id(agent, "Петрова"),
                                          "slot_id": slot["slot_id"]})
    s = observer.get("/api/dashboard").json()
    assert s["calls_total"] == 4 and s["self_served"] == 1 and s["escalated"] == 3
    assert s["self_service_rate"] == pytest.approx(0.25)
    assert s["escalation_reasons"] == {"booking_blocked": 1, "caller_request": 2}
    assert s["bookings_by_channel"] == {"ivr": 1, "console": 1}
    assert s["calls_per_hour"][10] == 4 and sum(s["calls_per_hour"]) == 4
    assert s["open_callbacks"] == 1
    assert s["outcomes"]["booked"] == 1 and s["outcomes"]["escalated"] == 2
    empty = observer.get("/api/dashboard", params={"date_from": "2026-09-01",
                                                   "date_to": "2026-09-06"}).json()
    assert empty["calls_total"] == 0 and empty["self_service_rate"] is None
    page = observer.get("/dashboard").text
    assert page.count("<svg") >= 4 and "25%" in page
    assert 'id="kpi-calls">4<' in page and "Запись заблокирована за неявки" in page


def test_users_admin(admin, agent, make_client, page_token):
    r = admin.post("/api/agents", json={"username": "Ivanova", "role": "agent",
                                        "password": "long-enough-1", "full_name": "Иванова"})
    assert r.status_code == 201 and r.json()["username"] == "ivanova"
    dup = admin.post("/api/agents", json={"username": "ivanova", "role": "agent",
                                          "password": "long-enough-1"})
    assert dup.status_code == 409 and dup.json()["error"]["id"] == "already_exists"
    short = admin.post("/api/agents", json={"username": "x1", "role": "agent",
                                            "password": "short"})
    assert short.status_code == 422
    role = admin.post("/api/agents", json={"username": "x2", "role": "king",
                                           "password": "long-enough-1"})
    assert role.status_code == 422 and role.json()["error"]["id"] == "invalid_input"
    assert admin.patch("/api/agents/admin1", json={"role": "agent"}).json()["error"]["id"] == (
        "forbidden")
    r = admin.patch("/api/agents/ivanova", json={"role": "observer"})
    assert r.json()["role"] == "observer"
    token = page_token(admin, "/users")
    r = admin.post("/users/ivanova", data={"csrf_token": token, "role": "observer",
                                           "password": ""})  # unchecked "active": disabled
    assert r.status_code == 303
    assert not next(u for u in admin.get("/api/agents").json()
                    if u["username"] == "ivanova")["active"]
    r = admin.post("/users", data={"csrf_token": token, "username": "petrova",
                                   "role": "agent", "password": "long-enough-2"})
    assert r.status_code == 303 and "petrova" in admin.get("/users").text
    assert make_client("agent1").get("/users").status_code == 403


def test_visit_after_a_doctors_last_day_is_on_the_worklist(admin, agent, console_container):
    from datetime import date

    from booking_core import schedules
    from booking_core.actors import Actor

    slot = first_slot(agent, "therapist", day="2026-09-10")
    appt = agent.post("/api/appointments", json={"patient_id": patient_id(agent, "Иванов"),
                                                 "slot_id": slot["slot_id"]}).json()
    assert agent.get("/api/absences/worklist").json() == []
    with console_container.uow() as uow:
        schedules.doctor_leaves(uow, slot["doctor_id"], date(2026, 9, 9), Actor.system("test"))
        uow.commit()
    (todo,) = agent.get("/api/absences/worklist").json()
    assert (todo["appointment"]["id"], todo["flag"]) == (appt["id"], "doctor_left")
    assert todo["absence_reason"] == ("Врач больше не работает в поликлинике "
                                      "(последний рабочий день — 09.09.2026)")
    page = agent.get("/absences").text
    assert "последний рабочий день — 09.09.2026" in page
    card = agent.get(f"/patients/{appt['patient_id']}").text
    assert "врач больше не работает" in card
    assert agent.get(f"/api/appointments/{appt['id']}").json()["flag"] == "doctor_left"
    assert f"/schedule?reschedule={appt['id']}" in page
    other = first_slot(agent, "therapist", day="2026-09-10")
    assert other["doctor_id"] != slot["doctor_id"]  # the leaver's free slots are gone
    moved = agent.post(f"/api/appointments/{appt['id']}/reschedule",
                       json={"slot_id": other["slot_id"]})
    assert moved.status_code == 200
    assert agent.get("/api/absences/worklist").json() == []
