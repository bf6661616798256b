"""Agents per clinic or regional: a per-clinic user sees and books for their own clinic only
(another clinic's patients are not listed, and every route by id answers 403 other_clinic);
a regional user sees every clinic and narrows the queue, schedule and search with a filter.
Both databases; two clinics built with the booking core's admin use cases."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import time, timedelta

import pytest
from fastapi.testclient import TestClient

from agent_console.app import create_app
from booking_core import call_queue
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from registratura.bootstrap import Container
from support.two_clinics import BORN_B, PHONE_B, POLICY_B, SecondClinic, add_second_clinic, add_user
from support.world import demo, doctor_ids, own_phone, patient_id, specialty_id

PASSWORD = "correct-horse-2"
ADULT = demo("adult")


@pytest.fixture
def region(container: Container) -> SecondClinic:
    world = add_second_clinic(container)
    add_user(container, "gp3", "agent", PASSWORD, world.demo_clinic_id)
    add_user(container, "gp5", "agent", PASSWORD, world.clinic_id)
    add_user(container, "region", "agent", PASSWORD, None)
    add_user(container, "gp3admin", "admin", PASSWORD, world.demo_clinic_id)
    add_user(container, "regadmin", "admin", PASSWORD, None)
    return world


@pytest.fixture
def login(container: Container, region: SecondClinic) -> Iterator[Callable[[str], TestClient]]:
    app = create_app(container, poll_interval=0.05, sse_max_seconds=10)
    clients: list[TestClient] = []

    def build(username: str) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        r = client.post("/api/session", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def escalate(c: Container, keys: list, caller: str = "+79990001122") -> str:  # type: ignore[type-arg]
    """An IVR call that ends with the caller asking for an agent; returns REG_CALL_ID."""
    io = ScriptedCallIO([None, *keys, "0"])
    io.info.caller_number = caller
    deps = IvrDeps(uow=c.uow, clinic_name="Регистратура", opening_time=time(8, 0),
                   closing_time=time(20, 0), now_local=c.clock.now_local,
                   agents_available=lambda: True)
    run_registry_call(io, deps)
    assert io.transcript.escalated
    return io.transcript.variables["REG_CALL_ID"]


def identify(policy: str, born) -> list[str]:  # type: ignore[no-untyped-def]
    return ["1", policy, born.strftime("%d%m%Y"), "1"]


def test_per_clinic_agent_does_not_find_another_clinics_patient(login, region):
    gp3, gp5, regional = login("gp3"), login("gp5"), login("region")
    by_policy = {"policy": POLICY_B}
    assert gp3.post("/api/patients/search", json=by_policy).json() == []
    assert [p["id"] for p in gp5.post("/api/patients/search", json=by_policy).json()] == [
        region.patient_id]
    assert len(regional.post("/api/patients/search", json=by_policy).json()) == 1
    # the browser form: not listed either (no redirect to the card, nothing found)
    token = gp3.get("/patients").text.split('name="csrf_token" value="')[1].split('"')[0]
    page = gp3.post("/patients/search", data={"csrf_token": token, "policy": POLICY_B})
    assert page.status_code == 200 and "Найдено: 0" in page.text and "Зимина" not in page.text


def test_every_route_by_id_refuses_another_clinic(container, login, region):
    gp3 = login("gp3")
    adult = patient_id(container, "adult")  # the demo clinic's patient

    def refused(r) -> None:  # type: ignore[no-untyped-def]
        assert r.status_code == 403, r.text
        assert r.json()["error"]["id"] == "other_clinic"

    refused(gp3.get(f"/api/patients/{region.patient_id}"))
    refused(gp3.post("/api/appointments", json={"patient_id": region.patient_id,
                                                "slot_id": region.slot_id}))
    # a slot of the other clinic's doctor for the user's own patient
    refused(gp3.post("/api/appointments", json={"patient_id": adult,
                                                "slot_id": region.slot_id}))
    refused(gp3.get("/api/schedule", params={"date_from": "2026-09-08", "date_to": "2026-09-08",
                                             "doctor_id": region.doctor_id}))
    # booked by the clinic's own agent: the other clinic's agent can neither read nor cancel it
    gp5 = login("gp5")
    booked = gp5.post("/api/appointments", json={"patient_id": region.patient_id,
                                                 "slot_id": region.slot_id})
    assert booked.status_code == 201, booked.text
    appt = booked.json()["id"]
    refused(gp3.get(f"/api/appointments/{appt}"))
    refused(gp3.post(f"/api/appointments/{appt}/cancel"))
    assert gp5.get(f"/api/appointments/{appt}").json()["status"] == "booked"
    # the page says so in words, with the stable id
    page = gp3.get(f"/patients/{region.patient_id}")
    assert page.status_code == 403 and "other_clinic" in page.text
    assert "другой поликлиники" in page.text and "Зимина" not in page.text
    # a regional agent opens and cancels it
    regional = login("region")
    assert regional.get(f"/api/patients/{region.patient_id}").status_code == 200
    assert regional.post(f"/api/appointments/{appt}/cancel").json()["status"] == "cancelled"


def test_schedule_and_doctors_are_the_own_clinics(container, login, region):
    gp3, regional = login("gp3"), login("region")
    demo_doctors = set(doctor_ids(container, "therapist")) - {region.doctor_id}
    assert {d["id"] for d in gp3.get("/api/doctors").json()}.isdisjoint({region.doctor_id})
    assert region.doctor_id in {d["id"] for d in regional.get("/api/doctors").json()}
    day = (container.clock.today() + timedelta(days=1)).isoformat()
    params = {"date_from": day, "date_to": day}
    spec = next(d["specialty_id"] for d in regional.get("/api/doctors").json()
                if d["id"] == region.doctor_id)

    def grid_doctors(client: TestClient, **extra: object) -> set[int]:
        r = client.get("/api/schedule", params={**params, "specialty_id": spec, **extra})
        assert r.status_code == 200, r.text
        return {d["doctor"]["id"] for day in r.json()["days"] for d in day["doctors"]}

    assert region.doctor_id not in grid_doctors(gp3)
    assert grid_doctors(gp3) & demo_doctors
    both = grid_doctors(regional)
    assert region.doctor_id in both and both & demo_doctors
    # the regional filter: one clinic at a time, remembered for the next request
    assert grid_doctors(regional, clinic=region.clinic_id) == {region.doctor_id}
    assert grid_doctors(regional) == {region.doctor_id}
    assert grid_doctors(regional, clinic="") == both


def test_regional_agent_filters_the_search(login, region):
    regional = login("region")
    by_birth = {"birth_date": BORN_B.isoformat()}
    assert len(regional.post("/api/patients/search", json=by_birth).json()) == 1
    regional.get("/api/doctors", params={"clinic": region.demo_clinic_id})  # choose a clinic
    assert regional.post("/api/patients/search", json=by_birth).json() == []
    page = regional.get("/patients").text
    assert 'id="clinic-filter"' in page and "Поликлиника № 5" in page
    assert 'id="clinic-filter"' not in login("gp3").get("/patients").text


def test_queue_shows_own_clinics_calls_and_unidentified_ones(container, login, region):
    other = escalate(container, identify(POLICY_B, BORN_B), PHONE_B)
    own = escalate(container, identify(ADULT.policy_number, ADULT.birth_date),
                   own_phone(identify(ADULT.policy_number, ADULT.birth_date)))
    anonymous = escalate(container, [])
    gp3, gp5, regional = login("gp3"), login("gp5"), login("region")

    def waiting(client: TestClient) -> set[str]:
        return {c["call_id"] for c in client.get("/api/calls/waiting").json()["calls"]}

    assert waiting(gp3) == {own, anonymous}
    assert waiting(gp5) == {other, anonymous}
    assert waiting(regional) == {own, other, anonymous}
    clinics = {c["call_id"]: c["clinic_id"]
               for c in regional.get("/api/calls/waiting").json()["calls"]}
    assert clinics == {own: region.demo_clinic_id, other: region.clinic_id, anonymous: None}
    assert "Зимина" not in gp3.get("/queue").text
    r = gp3.post(f"/api/calls/{other}/take")
    assert r.status_code == 403 and r.json()["error"]["id"] == "other_clinic"
    assert gp3.get(f"/api/calls/{other}").status_code == 403
    assert call_queue.get_call(other, container.uow()).answered_by is None
    regional.get("/queue", params={"clinic": region.clinic_id})
    assert waiting(regional) == {other, anonymous}
    assert gp5.post(f"/api/calls/{other}/take").status_code == 200


def read_queue_event(lines) -> dict:  # type: ignore[no-untyped-def]
    kind = ""
    for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind == "queue":
            return json.loads(line[6:])
    raise AssertionError("stream ended")


def test_sse_of_a_per_clinic_agent_does_not_carry_another_clinics_call(container, login,
                                                                       region):
    """The other clinic's call comes first: a feed that did not filter would send it (and a
    feed that filtered only the rows would still send a change); the next event is the own
    clinic's call alone."""
    gp3 = login("gp3")
    with gp3.stream("GET", "/events") as r:
        lines = r.iter_lines()
        assert read_queue_event(lines)["count"] == 0
        other = escalate(container, identify(POLICY_B, BORN_B), PHONE_B)
        own = escalate(container, identify(ADULT.policy_number, ADULT.birth_date),
                       own_phone(identify(ADULT.policy_number, ADULT.birth_date)))
        update = read_queue_event(lines)
        assert [c["call_id"] for c in update["calls"]] == [own]
        assert other not in json.dumps(update) and "Зимина" not in update["html"]
    assert {c["call_id"] for c in login("region").get("/api/calls/waiting").json()["calls"]} == {
        own, other}


def test_users_get_a_clinic_and_a_clinic_admin_manages_only_theirs(container, login, region):
    regadmin, gp3admin = login("regadmin"), login("gp3admin")
    r = regadmin.post("/api/agents", json={"username": "gp5new", "role": "agent",
                                           "password": PASSWORD, "clinic_id": region.clinic_id})
    assert r.status_code == 201 and r.json()["clinic_id"] == region.clinic_id
    # one clinic's admin: users of their clinic only, listed and created
    assert {u["clinic_id"] for u in gp3admin.get("/api/agents").json()} == {
        region.demo_clinic_id}
    r = gp3admin.post("/api/agents", json={"username": "gp3new", "role": "agent",
                                           "password": PASSWORD})
    assert r.status_code == 201 and r.json()["clinic_id"] == region.demo_clinic_id
    for body in ({"clinic_id": region.clinic_id}, {"clinic_id": None}):
        r = gp3admin.post("/api/agents", json={"username": "sneaky", "role": "agent",
                                               "password": PASSWORD, **body})
        assert r.status_code == 403 and r.json()["error"]["id"] == "other_clinic"
    r = gp3admin.patch("/api/agents/gp5new", json={"active": False})
    assert r.status_code == 403 and r.json()["error"]["id"] == "other_clinic"
    r = gp3admin.patch("/api/agents/gp3new", json={"clinic_id": region.clinic_id})
    assert r.status_code == 403
    # the regional admin moves a user to the other clinic: audited before and after
    r = regadmin.patch("/api/agents/gp3new", json={"clinic_id": region.clinic_id})
    assert r.status_code == 200 and r.json()["clinic_id"] == region.clinic_id
    entries = regadmin.get("/api/audit", params={"action": "agent_update"}).json()["entries"]
    change = next(e for e in entries if e["actor"] == "agent:regadmin")
    assert change["before"]["clinic_id"] == region.demo_clinic_id
    assert change["after"]["clinic_id"] == region.clinic_id
    page = regadmin.get("/users").text
    assert "Поликлиника № 5" in page and "все (регион)" in page
    assert "все (регион)" not in gp3admin.get("/users").text


def test_worklists_admin_and_exports_stay_in_the_clinic(container, login, region):
    gp3admin, gp5, regadmin = login("gp3admin"), login("gp5"), login("regadmin")
    day = (container.clock.today() + timedelta(days=3)).isoformat()

    def refused(r) -> None:  # type: ignore[no-untyped-def]
        assert r.status_code == 403, r.text
        assert r.json()["error"]["id"] == "other_clinic"

    spec = specialty_id(container, "therapist")
    r = gp5.post("/api/waitlist", json={"patient_id": region.patient_id, "specialty_id": spec})
    assert r.status_code == 201, r.text
    assert [e["patient_id"] for e in gp5.get("/api/waitlist",
                                             params={"specialty_id": spec}).json()] == [
        region.patient_id]
    assert gp3admin.get("/api/waitlist", params={"specialty_id": spec}).json() == []
    refused(gp3admin.delete(f"/api/waitlist/{r.json()['id']}"))
    refused(gp3admin.post("/api/restrictions", json={
        "channel": "ivr", "starts_on": day, "ends_on": day, "doctor_id": region.doctor_id}))
    refused(gp3admin.post("/api/absences", json={
        "doctor_id": region.doctor_id, "starts_on": day, "ends_on": day}))
    refused(gp3admin.get("/api/admin/exports/day-list",
                         params={"doctor_id": region.doctor_id, "day": day}))
    refused(gp3admin.get(f"/api/admin/doctors/{region.doctor_id}/templates"))
    assert region.doctor_id not in {d["id"] for d in gp3admin.get("/api/admin/doctors").json()}
    # the regional admin closes the other clinic's doctor: listed there, not in the first one
    r = regadmin.post("/api/restrictions", json={
        "channel": "ivr", "starts_on": day, "ends_on": day, "doctor_id": region.doctor_id})
    assert r.status_code == 201, r.text
    assert gp3admin.get("/api/restrictions").json() == []
    assert [x["id"] for x in login("gp5").get("/api/restrictions").json()] == [r.json()["id"]]


def test_audit_of_one_clinic_shows_that_clinics_entries(login, region):
    gp3admin, regadmin = login("gp3admin"), login("regadmin")

    def registered(client: TestClient) -> set[str]:
        page = client.get("/api/audit", params={"action": "patient_register"}).json()
        return {e["entity_id"] for e in page["entries"]}

    assert str(region.patient_id) in registered(regadmin)
    assert str(region.patient_id) not in registered(gp3admin)
    logins = gp3admin.get("/api/audit", params={"action": "login"}).json()["entries"]
    assert {e["actor"] for e in logins} == {"agent:gp3admin"}  # not regadmin's login


def test_browser_phone_operator_of_one_clinic_cannot_book_another(container, region):
    """The browser phone books as its console user (an IVR-channel actor with their clinic)."""
    from booking_core import booking
    from booking_core.actors import Actor
    from booking_core.commands import BookSlot
    from booking_core.errors import OtherClinic
    from models.tables import Channel

    operator = Actor.agent("gp3", "127.0.0.1", channel=Channel.IVR,
                           clinic_id=region.demo_clinic_id)
    with pytest.raises(OtherClinic):
        booking.book(BookSlot(region.patient_id, region.slot_id, operator), container.uow())
    own = Actor.agent("gp5", "127.0.0.1", channel=Channel.IVR, clinic_id=region.clinic_id)
    assert booking.book(BookSlot(region.patient_id, region.slot_id, own),
                        container.uow()).status == "booked"


def test_imports_and_api_clients_are_regional(login, region):
    gp3admin, regadmin = login("gp3admin"), login("regadmin")
    for path in ("/api/api-clients", "/admin/import", "/api-clients"):
        r = gp3admin.get(path)
        assert r.status_code == 403 and "other_clinic" in r.text, path
        assert regadmin.get(path).status_code == 200, path
