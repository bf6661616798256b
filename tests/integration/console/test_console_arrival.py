"""The arrival API: refused far from the visit time with a stable id, undone when recorded."""

from __future__ import annotations

from datetime import datetime


def test_arrival_api_window_and_undo(agent, clock):
    specs = {s["code"]: s["id"] for s in agent.get("/api/specialties").json()}
    grid = agent.get("/api/schedule", params={"specialty_id": specs["therapist"],
                                              "date_from": "2026-09-11",
                                              "date_to": "2026-09-11"}).json()
    slot = next(d for d in grid["days"][0]["doctors"] if d["free"])["free"][0]
    pid = agent.post("/api/patients/search", json={"name": "Иванов"}).json()[0]["id"]
    appt = agent.post("/api/appointments", json={"patient_id": pid,
                                                 "slot_id": slot["slot_id"]}).json()
    early = agent.post(f"/api/appointments/{appt['id']}/arrived")
    assert early.status_code == 409
    assert early.json()["error"]["id"] == "arrival_outside_window"
    assert agent.get(f"/api/appointments/{appt['id']}").json()["status"] == "booked"

    clock.set(datetime.fromisoformat(appt["starts_at"]))
    assert agent.post(f"/api/appointments/{appt['id']}/arrived").json()["status"] == "completed"
    undone = agent.post(f"/api/appointments/{appt['id']}/arrived/undo")
    assert undone.status_code == 200 and undone.json()["status"] == "booked"
