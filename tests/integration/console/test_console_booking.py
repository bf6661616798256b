"""Booking, cancelling, rescheduling and visit outcomes through the console API and forms."""

from __future__ import annotations

import pytest


@pytest.fixture
def ids(agent):  # type: ignore[no-untyped-def]
    specs = {s["code"]: s["id"] for s in agent.get("/api/specialties").json()}
    people = {name: agent.post("/api/patients/search", json={"name": name}).json()[0]["id"]
              for name in ("Иванов", "Петрова", "Кузнецов", "Соколов")}
    return specs, people


def free_slots(client, specialty_id: int, day: str = "2026-09-08", **kw) -> list[dict]:  # type: ignore[no-untyped-def]
    r = client.get("/api/schedule", params={"specialty_id": specialty_id, "date_from": day,
                                            "date_to": day, **kw})
    assert r.status_code == 200, r.text
    return [s for d in r.json()["days"] for doc in d["doctors"] for s in doc["free"]]


def test_book_cancel_and_the_slot_comes_back(agent, ids):
    specs, people = ids
    slots = free_slots(agent, specs["therapist"])
    slot = slots[0]
    r = agent.post("/api/appointments", json={"patient_id": people["Иванов"],
                                              "slot_id": slot["slot_id"]})
    assert r.status_code == 201, r.text
    appt = r.json()
    assert appt["status"] == "booked" and appt["channel"] == "console"
    assert len(appt["confirmation_code"]) == 6
    after = free_slots(agent, specs["therapist"])
    assert slot["slot_id"] not in {s["slot_id"] for s in after}
    assert len(after) == len(slots) - 1
    r = agent.post(f"/api/appointments/{appt['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert slot["slot_id"] in {s["slot_id"] for s in free_slots(agent, specs["therapist"])}
    r = agent.post(f"/api/appointments/{appt['id']}/cancel")
    assert r.status_code == 409 and r.json()["error"]["id"] == "not_cancellable"


def test_taken_slot_is_409(agent, make_client, ids):
    specs, people = ids
    slot = free_slots(agent, specs["dentist"])[0]
    other = make_client("agent2")
    assert agent.post("/api/appointments", json={"patient_id": people["Иванов"],
                                                 "slot_id": slot["slot_id"]}).status_code == 201
    r = other.post("/api/appointments", json={"patient_id": people["Петрова"],
                                              "slot_id": slot["slot_id"]})
    assert r.status_code == 409 and r.json()["error"]["id"] == "slot_taken"


def test_reschedule_moves_in_one_step(agent, ids):
    specs, people = ids
    first, second = free_slots(agent, specs["therapist"])[:2]
    appt = agent.post("/api/appointments", json={"patient_id": people["Петрова"],
                                                 "slot_id": first["slot_id"]}).json()
    r = agent.post(f"/api/appointments/{appt['id']}/reschedule",
                   json={"slot_id": second["slot_id"]})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["slot_id"] == second["slot_id"] and moved["id"] != appt["id"]
    assert agent.get(f"/api/appointments/{appt['id']}").json()["status"] == "cancelled"
    free = {s["slot_id"] for s in free_slots(agent, specs["therapist"])}
    assert first["slot_id"] in free and second["slot_id"] not in free
    surgeon = free_slots(agent, specs["surgeon"])[0]
    r = agent.post(f"/api/appointments/{moved['id']}/reschedule",
                   json={"slot_id": surgeon["slot_id"]})
    assert r.status_code == 409 and r.json()["error"]["id"] == "slot_unavailable"


def test_blocked_patient_is_booked_at_the_desk(agent, ids):
    specs, people = ids
    slot = free_slots(agent, specs["therapist"])[0]
    r = agent.post("/api/appointments", json={"patient_id": people["Кузнецов"],
                                              "slot_id": slot["slot_id"]})
    assert r.status_code == 201  # the no-show block stops only remote channels


def test_rules_refuse_with_their_ids(agent, ids):
    specs, people = ids
    neuro = free_slots(agent, specs["neurologist"])[0]
    r = agent.post("/api/appointments", json={"patient_id": people["Петрова"],
                                              "slot_id": neuro["slot_id"]})
    assert r.status_code == 422 and r.json()["error"]["id"] == "referral_required"
    r = agent.post("/api/appointments", json={"patient_id": people["Иванов"],
                                              "slot_id": neuro["slot_id"]})
    assert r.status_code == 201  # the adult has a referral
    ped = free_slots(agent, specs["pediatrician"])[0]
    r = agent.post("/api/appointments", json={"patient_id": people["Иванов"],
                                              "slot_id": ped["slot_id"]})
    assert r.status_code == 422 and r.json()["error"]["id"] == "age_mismatch"
    r = agent.post("/api/appointments", json={"patient_id": people["Иванов"], "slot_id": 10**8})
    assert r.status_code == 404 and r.json()["error"]["id"] == "not_found"
    r = agent.post("/api/appointments", json={"patient_id": "x"})
    assert r.status_code == 422 and r.json()["error"]["id"] == "invalid_input"


def test_arrived_no_show_and_out_of_schedule(agent, ids, console_container):
    specs, people = ids
    today = free_slots(agent, specs["therapist"], day="2026-09-07")
    a = agent.post("/api/appointments", json={"patient_id": people["Иванов"],
                                              "slot_id": today[0]["slot_id"]}).json()
    b = agent.post("/api/appointments", json={"patient_id": people["Петрова"],
                                              "slot_id": today[1]["slot_id"]}).json()
    r = agent.post(f"/api/appointments/{b['id']}/no-show")
    assert r.status_code == 409 and r.json()["error"]["id"] == "invalid_transition"
    console_container.clock.advance(hours=2)
    assert agent.post(f"/api/appointments/{a['id']}/arrived").json()["status"] == "walk_in"
    assert agent.post(f"/api/appointments/{b['id']}/no-show").json()["status"] == "no_show"
    surgeon = agent.get("/api/doctors", params={"specialty_id": specs["surgeon"]}).json()[0]
    r = agent.post(f"/api/patients/{people['Соколов']}/out-of-schedule",
                   json={"doctor_id": surgeon["id"]})
    assert r.status_code == 201 and r.json()["status"] == "out_of_schedule"


def test_grid_page_books_by_form_and_the_slot_disappears(agent, ids, page_token):
    specs, people = ids
    grid_url = f"/schedule?patient={people['Иванов']}&specialty={specs['therapist']}&days=3"
    page = agent.get(grid_url)
    assert page.status_code == 200 and "Иванов Сергей Петрович" in page.text
    slot = free_slots(agent, specs["therapist"])[0]
    marker = f'data-slot="{slot["slot_id"]}"'
    assert marker in page.text
    token = page_token(agent, grid_url)
    r = agent.post("/appointments", data={"csrf_token": token, "patient_id": people["Иванов"],
                                          "slot_id": slot["slot_id"]},
                   headers={"Referer": f"http://testserver{grid_url}"})
    assert r.status_code == 303 and r.headers["location"] == grid_url
    page = agent.get(grid_url)
    assert "Записан:" in page.text and marker not in page.text
    # the same slot again (a second registrar's stale grid): refused, said plainly
    r = agent.post("/appointments", data={"csrf_token": token, "patient_id": people["Петрова"],
                                          "slot_id": slot["slot_id"]},
                   headers={"Referer": f"http://testserver{grid_url}"})
    assert r.status_code == 303
    page = agent.get(grid_url)
    assert "slot_taken" in page.text and "уже занято" in page.text


def test_grid_shows_an_absent_doctor(admin, ids):
    specs, _ = ids
    doctor = admin.get("/api/doctors", params={"specialty_id": specs["surgeon"]}).json()[0]
    admin.post("/api/absences", json={"doctor_id": doctor["id"], "starts_on": "2026-09-08",
                                      "ends_on": "2026-09-08", "reason": "болезнь"})
    grid = admin.get("/api/schedule", params={"doctor_id": doctor["id"],
                                              "date_from": "2026-09-08",
                                              "date_to": "2026-09-08"}).json()
    (row,) = grid["days"][0]["doctors"]
    assert row["absent_reason"] == "болезнь" and row["free"] == []
    assert "Врач отсутствует: болезнь" in admin.get(f"/schedule?doctor={doctor['id']}"
                                                    "&start=2026-09-08&days=1").text
    r = admin.get("/api/schedule", params={"specialty_id": specs["surgeon"],
                                           "date_from": "2026-09-08", "date_to": "2026-10-08"})
    assert r.status_code == 422 and r.json()["error"]["id"] == "invalid_input"
