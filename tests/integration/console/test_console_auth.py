"""Logging in and out, roles, CSRF, security headers: every refusal carries a stable id."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from agent_console.routers import (
    absences,
    appointments,
    audit,
    auth,
    callbacks,
    dashboard,
    patients,
    queue,
    restrictions,
    schedule,
    users,
)
from agent_console.security import SharedLoginThrottle
from booking_core import agents
from booking_core.actors import Actor

PASSWORD = "correct-horse-1"  # conftest's
ROUTER_MODULES = (absences, appointments, audit, auth, callbacks, dashboard, patients, queue,
                  restrictions, schedule, users)


def shared_throttle(app, **limits):  # type: ignore[no-untyped-def]
    """The app's own kind of throttle (failures in the database), with test-sized limits."""
    container = app.state.container
    return SharedLoginThrottle(container.uow, container.rules.pepper, **limits)


@pytest.fixture
def form_login(page_token):  # type: ignore[no-untyped-def]
    def login(client, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        token = page_token(client, "/login")
        return client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token, "next": "/patients"})
    return login


def test_login_page_then_logout(make_client, form_login, page_token):
    client = make_client()
    assert client.get("/queue").headers["location"] == "/login?next=/queue"
    r = form_login(client, "agent1")
    assert r.status_code == 303 and r.headers["location"] == "/patients"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = client.get("/queue")
    assert page.status_code == 200 and "Тест agent1" in page.text and "Регистратор" in page.text
    token = page_token(client)
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/queue").status_code == 303
    assert client.get("/api/calls/waiting").json()["error"]["id"] == "not_authenticated"


def test_wrong_password_is_refused_alike_for_unknown_users(make_client, form_login):
    client = make_client()
    r = form_login(client, "agent1", "wrong-password")
    assert r.status_code == 401 and "invalid_credentials" in r.text
    r = client.post("/api/session", json={"username": "agent1", "password": "nope"})
    assert r.status_code == 401 and r.json()["error"]["id"] == "invalid_credentials"
    r2 = client.post("/api/session", json={"username": "nobody", "password": "nope"})
    assert r2.json() == r.json()


def test_repeated_failures_are_throttled(app, make_client):
    app.state.login_throttle = shared_throttle(app, limit=2)
    client = make_client()
    for _ in range(2):
        client.post("/api/session", json={"username": "agent1", "password": "bad"})
    r = client.post("/api/session", json={"username": "agent1", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["id"] == "too_many_attempts"


def test_session_api_and_disabled_account(console_container, make_client):
    client = make_client("agent1")
    me = client.get("/api/session").json()
    assert me["agent"]["username"] == "agent1" and me["agent"]["role"] == "agent"
    agents.update_agent("agent1", Actor.system("test"), console_container.uow(), active=False)
    r = client.get("/api/session")
    assert r.status_code == 401 and r.json()["error"]["id"] == "not_authenticated"


def test_api_logout(make_client):
    client = make_client("agent1")
    assert client.delete("/api/session").status_code == 204
    assert client.get("/api/session").status_code == 401


@pytest.mark.parametrize(("who", "method", "path", "body"), [
    ("observer1", "post", "/api/appointments", {"patient_id": 1, "slot_id": 1}),
    ("observer1", "post", "/api/patients/search", {"name": "Иванов"}),
    ("observer1", "get", "/api/patients/1", None),
    ("observer1", "get", "/api/audit", None),
    ("agent1", "get", "/api/audit", None),
    ("agent1", "post", "/api/restrictions",
     {"channel": "ivr", "starts_on": "2026-09-08", "ends_on": "2026-09-09", "specialty_id": 1}),
    ("agent1", "post", "/api/absences",
     {"doctor_id": 1, "starts_on": "2026-09-08", "ends_on": "2026-09-09"}),
    ("agent1", "get", "/api/agents", None),
])
def test_roles_refuse_with_forbidden(make_client, who, method, path, body):
    client = make_client(who)
    r = client.request(method.upper(), path, json=body)
    assert r.status_code == 403
    assert r.json()["error"]["id"] == "forbidden"


def test_observer_sees_queue_and_dashboard_only(observer):
    assert observer.get("/queue").status_code == 200
    assert observer.get("/dashboard").status_code == 200
    assert observer.get("/api/calls/waiting").status_code == 200
    page = observer.get("/patients")
    assert page.status_code == 403 and "forbidden" in page.text
    nav = observer.get("/queue").text
    assert 'href="/dashboard"' in nav and 'href="/patients"' not in nav


def test_form_post_without_csrf_token_is_refused(agent):
    r = agent.post("/patients/search", data={"name": "Иванов"},
                   headers={"X-CSRF-Token": ""})
    assert r.status_code == 403 and "csrf_failed" in r.text
    r = agent.post("/patients/search", data={"name": "Иванов", "csrf_token": "forged"})
    assert r.status_code == 403 and "csrf_failed" in r.text


def test_json_post_needs_the_csrf_header(make_client):
    client = make_client("agent1")
    token = client.headers.pop("X-CSRF-Token")
    r = client.post("/api/patients/search", json={"name": "Иванов"})
    assert r.status_code == 403 and r.json()["error"]["id"] == "csrf_failed"
    r = client.post("/api/patients/search", json={"name": "Иванов"},
                    headers={"X-CSRF-Token": token, "Origin": "http://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["id"] == "csrf_failed"
    r = client.post("/api/patients/search", json={"name": "Иванов"},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 200


def test_every_console_form_route_checks_csrf(admin):
    """No unsafe page route of the console is reachable without the form token."""
    checked = 0
    page_routes = [r for m in ROUTER_MODULES for r in m.router.routes]
    for route in page_routes:
        if not isinstance(route, APIRoute) or not (route.methods & {"POST", "PUT", "DELETE"}):
            continue
        path = route.path.replace("{call_id}", "x").replace("{username}", "agent1")
        for name in ("patient_id", "appointment_id", "callback_id", "restriction_id",
                     "block_id"):
            path = path.replace("{" + name + "}", "1")
        r = admin.post(path, data={"anything": "1"})
        assert r.status_code == 403 and "csrf_failed" in r.text, path
        checked += 1
    assert checked >= 15


def test_security_headers_and_no_store(agent):
    r = agent.get("/queue")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"


def test_health_docs_and_openapi(make_client):
    assert make_client().get("/healthz").json() == {"status": "ok", "database": "ok"}
    client = make_client("agent1")  # the API map is behind the login
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert client.get("/swagger-ui/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/appointments" in spec["paths"] and "/api/patients/search" in spec["paths"]
    assert not any(p.startswith("/patients") for p in spec["paths"])  # pages stay out
