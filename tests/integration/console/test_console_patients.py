"""Patient search (POST only) and the patient card."""

from __future__ import annotations

from datetime import date

import pytest

from models.tables import Patient
from registratura.demo import policy
from support.world import demo

ADULT = demo("adult")


@pytest.mark.parametrize("query", [
    {"policy": ADULT.policy_number},
    {"policy": "0123"},  # the visible last digits
    {"name": "иванов"},
    {"name": "Иванов С П"},
    {"name": "ИВАНОВ сергей"},
    {"phone": "8 (916) 123-45-67"},
    {"birth_date": "1985-03-05"},
    {"name": "Иванов", "birth_date": "1985-03-05"},
])
def test_search_finds_the_adult(agent, query):
    r = agent.post("/api/patients/search", json=query)
    assert r.status_code == 200, r.text
    hits = r.json()
    assert [h["full_name"] for h in hits] == [ADULT.full_name]
    assert hits[0]["policy_masked"] == "**** **** **** 0123"
    assert ADULT.policy_number not in r.text and "+79161234567" not in r.text


def test_search_combines_criteria_and_needs_one(agent):
    r = agent.post("/api/patients/search", json={"name": "Иванов", "birth_date": "1990-01-01"})
    assert r.json() == []
    r = agent.post("/api/patients/search", json={})
    assert r.status_code == 422 and r.json()["error"]["id"] == "invalid_input"
    r = agent.post("/api/patients/search", json={"policy": "12"})
    assert r.status_code == 422 and r.json()["error"]["id"] == "invalid_input"


def test_search_form_goes_straight_to_a_single_match(agent, page_token):
    token = page_token(agent, "/patients")
    r = agent.post("/patients/search", data={"csrf_token": token, "birth_date": "05.03.1985"})
    assert r.status_code == 303 and r.headers["location"].startswith("/patients/")
    assert "1985" not in r.headers["location"]
    r = agent.post("/patients/search", data={"csrf_token": token, "phone": "+7"})
    assert r.status_code == 303  # too short: refused with a flash message, back to the form
    page = agent.get("/patients")
    assert "invalid_input" in page.text


def test_search_form_lists_namesakes(agent, page_token, console_container):
    with console_container.uow() as uow:
        uow.session.add(Patient(last_name="Петров", first_name="Иван", middle_name="",
                                policy_number=policy("770000000000555"),
                                birth_date=date(1990, 2, 2), phone="+79000000001"))
        uow.commit()
    token = page_token(agent, "/patients")
    r = agent.post("/patients/search", data={"csrf_token": token, "name": "петров"})
    assert r.status_code == 200
    assert "Петрова Анна Ивановна" in r.text and "Петров Иван" in r.text
    assert "Найдено: 2" in r.text
    r = agent.post("/patients/search", data={"csrf_token": token, "name": "Никто"})
    assert "Никого не нашли" in r.text


def test_card_shows_block_no_shows_and_referrals(agent):
    blocked = agent.post("/api/patients/search", json={"name": "Кузнецов"}).json()[0]
    card = agent.get(f"/api/patients/{blocked['id']}").json()
    assert card["no_shows"] == 3 and card["block"]["blocked_until"] == "2026-09-22"
    assert len(card["past"]) == 3 and {a["status"] for a in card["past"]} == {"no_show"}
    page = agent.get(f"/patients/{blocked['id']}").text
    assert "заблокирована до 22.09.2026" in page and "Неявка" in page
    adult = agent.post("/api/patients/search", json={"name": "Иванов"}).json()[0]
    card = agent.get(f"/api/patients/{adult['id']}").json()
    assert [r["specialty_name"] for r in card["referrals"]] == ["Невролог"]
    assert card["patient"]["phone"] == "+79161234567" and card["block"] is None


def test_card_lists_calls_and_callbacks(agent, ivr_call, identify_keys):
    ivr_call([None, "1", *identify_keys("adult"), "hangup"])
    ivr_call([None, "3", *identify_keys("adult"), None], agents_online=False)  # home visit
    adult = agent.post("/api/patients/search", json={"name": "Иванов"}).json()[0]
    card = agent.get(f"/api/patients/{adult['id']}").json()
    assert {c["outcome"] for c in card["calls"]} >= {"hangup"}
    assert [cb["reason"] for cb in card["callbacks"]] == ["home_visit"]
    page = agent.get(f"/patients/{adult['id']}").text
    assert "Положил трубку" in page and "Вызов врача на дом" in page


def test_unknown_patient_is_404(agent):
    r = agent.get("/api/patients/9999")
    assert r.status_code == 404 and r.json()["error"]["id"] == "not_found"
    page = agent.get("/patients/9999")
    assert page.status_code == 404 and "not_found" in page.text
