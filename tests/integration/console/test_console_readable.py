"""No internal ids where people read: refused-action messages, the audit log (actions in
Russian, actors by name, before/after as a diff), agents' phone states."""

from __future__ import annotations

import re

from support.world import patient_id


def _visible(html: str) -> str:
    """The page's text as a reader sees it (tags and attributes dropped)."""
    return re.sub(r"<[^>]+>", " ", html)


def test_a_refusal_reads_as_russian_without_its_id(agent, page_token, console_container):
    child = patient_id(console_container, "child")
    specs = {s["code"]: s["id"] for s in agent.get("/api/specialties").json()}
    grid = agent.get("/api/schedule", params={"specialty_id": specs["therapist"],
                                              "date_from": "2026-09-08",
                                              "date_to": "2026-09-08"}).json()
    slot = next(d for d in grid["days"][0]["doctors"] if d["free"])["free"][0]
    r = agent.post("/appointments", data={"csrf_token": page_token(agent), "patient_id": child,
                                          "slot_id": slot["slot_id"]},
                   headers={"Referer": f"/patients/{child}"})
    assert r.status_code == 303
    page = agent.get(f"/patients/{child}").text
    text = _visible(page)
    assert "Специальность не соответствует возрасту пациента." in text
    assert "age_mismatch" not in text


def test_audit_log_is_readable(admin, agent, console_container):
    specs = {s["code"]: s["id"] for s in agent.get("/api/specialties").json()}
    grid = agent.get("/api/schedule", params={"specialty_id": specs["therapist"],
                                              "date_from": "2026-09-08",
                                              "date_to": "2026-09-08"}).json()
    slot = next(d for d in grid["days"][0]["doctors"] if d["free"])["free"][0]
    pid = patient_id(console_container, "adult")
    appt = agent.post("/api/appointments", json={"patient_id": pid,
                                                 "slot_id": slot["slot_id"]}).json()
    agent.post(f"/api/appointments/{appt['id']}/cancel")
    text = _visible(admin.get("/audit").text)
    for expected in ("Отмена записи", "Запись", "Тест agent1", "Иванов Сергей Петрович",
                     "Статус", "Записан", "Отменена", f"Запись № {appt['id']}"):
        assert expected in text, expected
    for raw in ("agent:agent1", "cancel ", '"status"', "booked", "appointment "):
        assert raw not in text, raw
