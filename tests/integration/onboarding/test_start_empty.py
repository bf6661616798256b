"""Starting empty (no demo, nothing imported): the console says what to do next instead of
showing empty menus, and the IVR does not offer an empty clinic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_console.app import create_app
from booking_core import agents
from booking_core.actors import Actor
from booking_core.clock import FixedClock
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import clinic_name, run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from models.migrate import upgrade
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings

PASSWORD = "empty-clinic-1"


@pytest.fixture
def empty_container(tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    c = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}",  # type: ignore[arg-type]
                           secret_key="test-secret-key-0123456789"), clock=clock)
    upgrade(c.engine)
    for name, role in (("boss", "admin"), ("desk", "agent")):
        agents.create_agent(agents.NewAgent(name, role, PASSWORD, Actor.system("test")), c.uow())
    yield c
    c.dispose()


def _login(container: Container, username: str) -> TestClient:
    client = TestClient(create_app(container, poll_interval=0.05), follow_redirects=False)
    r = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def test_console_on_an_empty_database_points_to_the_setup(empty_container):
    with _login(empty_container, "boss") as admin:
        assert admin.get("/").headers["location"] == "/setup"
        page = admin.get("/setup").text
        assert "Поликлиника ещё не настроена" in page
        assert 'href="/admin/import"' in page and 'href="/admin/doctors"' in page
        assert 'id="setup-needed"' in admin.get("/queue").text  # every page says so
    with _login(empty_container, "desk") as desk:
        page = desk.get("/setup").text
        assert "Обратитесь к администратору" in page and 'href="/admin/import"' not in page


def _add_first_doctor(admin: TestClient) -> None:
    """A clinic, a specialty and one doctor, through the admin API."""
    clinic = admin.post("/api/admin/clinics", json={"code": "C1", "name": "Поликлиника"})
    spec = admin.post("/api/admin/specialties", json={"code": "ther", "name_ru": "Терапевт"})
    r = admin.post("/api/admin/doctors", json={
        "clinic_id": clinic.json()["id"], "specialty_id": spec.json()["id"],
        "last_name": "Белова", "first_name": "Ольга"})
    assert r.status_code == 201


def test_setup_page_goes_away_once_a_doctor_works(empty_container):
    with _login(empty_container, "boss") as admin:
        _add_first_doctor(admin)
        assert admin.get("/").headers["location"] == "/queue"
        assert 'id="setup-needed"' not in admin.get("/queue").text


@pytest.mark.parametrize(("locale_key", "expected"), [
    (None, "Запись по телефону пока не работает"),
    ("9", "Booking by phone is not available yet"),  # English is on 9
])
def test_ivr_does_not_offer_an_empty_clinic(empty_container, locale_key, expected):
    io = ScriptedCallIO([locale_key])
    deps = IvrDeps(uow=empty_container.uow, clinic_name="Поликлиника",
                   opening_time=time(8, 0), closing_time=time(20, 0),
                   now_local=empty_container.clock.now_local)
    run_registry_call(io, deps)
    keys = io.transcript.keys
    assert keys[:3] == ["greeting", "language", "not_set_up"], keys
    assert "main_menu" not in keys
    assert expected in io.transcript.text
    assert io.transcript.escalated
    assert io.transcript.variables["REG_REASON"] == "clinic_not_set_up"


def test_the_first_doctor_is_heard_on_the_next_call_of_the_same_ivr(empty_container):
    """A running IVR reuses a "set up" answer for a while, never a "not yet": the call after
    the first doctor is saved goes on to the menu."""
    deps = IvrDeps(uow=empty_container.uow, clinic_name="Поликлиника",
                   now_local=empty_container.clock.now_local, line_cache_seconds=3600)
    first = ScriptedCallIO([None])
    run_registry_call(first, deps)
    assert first.transcript.keys[:3] == ["greeting", "language", "not_set_up"]
    with _login(empty_container, "boss") as admin:
        _add_first_doctor(admin)
    second = ScriptedCallIO([None, None])
    run_registry_call(second, deps)
    assert "not_set_up" not in second.transcript.keys
    assert "main_menu" in second.transcript.keys, second.transcript.keys


def test_ivr_on_an_empty_install_greets_with_a_capitalised_generic_name(empty_container):
    """No clinic yet: the greeting's second sentence is the generic name, starting a sentence."""
    io = ScriptedCallIO([None, None])
    deps = IvrDeps(uow=empty_container.uow, clinic_name=clinic_name(empty_container.uow),
                   now_local=empty_container.clock.now_local, agents_available=lambda: False)
    run_registry_call(io, deps)
    greeting = next(t for _, k, t in io.transcript.events if k == "greeting")
    assert greeting.startswith("Здравствуйте! Городская поликлиника."), greeting


def test_ivr_after_hours_on_an_empty_clinic_offers_a_callback_then_goodbye(empty_container):
    io = ScriptedCallIO([None, None])
    deps = IvrDeps(uow=empty_container.uow, clinic_name="Поликлиника",
                   now_local=empty_container.clock.now_local, agents_available=lambda: False)
    run_registry_call(io, deps)
    assert io.transcript.keys[2:] == ["not_set_up", "after_hours", "goodbye"]
    assert not io.transcript.escalated and io.transcript.hung_up_by_ivr


def test_serve_without_the_demo_says_what_to_do_next(tmp_path, clock, monkeypatch):
    from rich.console import Console

    from registratura import cli

    container = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}",  # type: ignore[arg-type]
                                   secret_key="test-secret-key-0123456789"), clock=clock)
    out = Console(width=200, record=True)
    monkeypatch.setattr(cli, "console", out)
    try:
        cli._prepare(container, seed=False)  # what `serve --no-seed-demo` runs first
    finally:
        container.dispose()
    text = out.export_text()
    assert "The clinic is not set up yet" in text
    for hint in ("registratura agent add NAME --role admin", "registratura import FILE",
                 "/admin/import", "/admin", "registratura slots generate"):
        assert hint in text, hint


def test_serve_with_a_clinic_says_nothing_more(sqlite_container, monkeypatch):
    from rich.console import Console

    from registratura import cli

    out = Console(width=200, record=True)
    monkeypatch.setattr(cli, "console", out)
    cli._prepare(sqlite_container, seed=False)
    assert "not set up" not in out.export_text()
