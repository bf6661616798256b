"""Security hardening of the console: revocable sessions, Secure cookie and HSTS on https,
no-store on the API, login throttling across names and behind proxies, docs behind login."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from agent_console.app import create_app
from agent_console.security import LoginThrottle, SharedLoginThrottle
from booking_core import agents
from booking_core.actors import Actor

PASSWORD = "correct-horse-1"  # conftest's


def shared_throttle(app, **limits):  # type: ignore[no-untyped-def]
    """The app's own kind of throttle (failures in the database), with test-sized limits."""
    container = app.state.container
    return SharedLoginThrottle(container.uow, container.rules.pepper, **limits)


def _copy_cookies(source: TestClient, target: TestClient) -> None:
    for cookie in source.cookies.jar:
        target.cookies.set(cookie.name, cookie.value)


# -- item 4: sessions can be revoked ---------------------------------------------------------


@pytest.mark.parametrize("how", ["api", "form"])
def test_a_copied_cookie_dies_with_logout(make_client, page_token, how):
    client = make_client("agent1")
    thief = make_client()
    _copy_cookies(client, thief)
    assert thief.get("/api/session").status_code == 200
    if how == "api":
        assert client.delete("/api/session").status_code == 204
    else:
        token = page_token(client)
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    r = thief.get("/api/session")
    assert r.status_code == 401 and r.json()["error"]["id"] == "not_authenticated"
    assert thief.get("/queue").status_code == 303


def test_password_reset_and_disabling_end_existing_sessions(console_container, make_client):
    before = make_client("agent1")
    agents.update_agent("agent1", Actor.system("test"), console_container.uow(),
                        password="another-horse-2")
    assert before.get("/api/session").status_code == 401
    again = make_client()
    r = again.post("/api/session", json={"username": "agent1", "password": "another-horse-2"})
    assert r.status_code == 200
    again.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert again.get("/api/session").status_code == 200
    agents.update_agent("agent1", Actor.system("test"), console_container.uow(), active=False)
    agents.update_agent("agent1", Actor.system("test"), console_container.uow(), active=True)
    assert again.get("/api/session").status_code == 401  # re-enabling revives nothing


def test_a_role_change_keeps_the_session(console_container, make_client):
    client = make_client("agent1")
    agents.update_agent("agent1", Actor.system("test"), console_container.uow(),
                        role="observer")
    assert client.get("/api/session").json()["agent"]["role"] == "observer"


def test_revocation_is_stored_in_the_database(console_container, make_client):
    """Another process (a fresh app over the same database) sees the logout as well."""
    client = make_client("agent1")
    other = TestClient(create_app(console_container), follow_redirects=False)
    _copy_cookies(client, other)
    assert other.get("/api/session").status_code == 200
    client.delete("/api/session")
    assert other.get("/api/session").status_code == 401


# -- item 6: Secure cookie and HSTS behind https ----------------------------------------------


def test_https_public_url_makes_the_cookie_secure_and_sends_hsts(console_container):
    console_container.settings.public_base_url = "https://registry.example.org"
    client = TestClient(create_app(console_container), base_url="https://testserver",
                        follow_redirects=False)
    r = client.post("/api/session", json={"username": "agent1", "password": PASSWORD})
    assert r.status_code == 200
    assert "secure" in r.headers["set-cookie"].lower()
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_plain_http_has_no_hsts(make_client):
    r = make_client().post("/api/session", json={"username": "agent1", "password": PASSWORD})
    assert "secure" not in r.headers["set-cookie"].lower()
    assert "strict-transport-security" not in r.headers


# -- item 7: personal data is never cached ----------------------------------------------------


def test_api_responses_are_not_stored(agent):
    for r in (agent.get("/api/patients/1"),
              agent.post("/api/patients/search", json={"name": "Иванов"}),
              agent.get("/api/session")):
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store"


# -- item 10: throttling across names, eviction, proxies --------------------------------------


def test_a_password_spray_over_many_names_is_throttled(app, make_client):
    app.state.login_throttle = shared_throttle(app, limit=5, per_address=8)
    client = make_client()
    for i in range(8):
        r = client.post("/api/session", json={"username": f"user{i}", "password": "Winter2026"})
        assert r.status_code == 401
    r = client.post("/api/session", json={"username": "agent1", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["id"] == "too_many_attempts"


def test_a_flood_of_names_does_not_clear_the_counters():
    throttle = LoginThrottle(limit=3, per_address=10**6, max_keys=100)
    for _ in range(3):
        throttle.failed("10.0.0.1", "agent1")
    for i in range(500):  # another address sprays names to push agent1 out
        throttle.failed("10.0.0.2", f"name{i}")
        throttle.failed("10.0.0.1", "agent1") if i % 40 == 0 else None
    with pytest.raises(Exception, match="too_many_attempts"):
        throttle.check("10.0.0.1", "agent1")


def _login_from(client: TestClient, forwarded: str) -> int:
    return client.post("/api/session", json={"username": "agent1", "password": "bad"},
                       headers={"X-Forwarded-For": forwarded}).status_code


def test_forwarded_addresses_count_only_from_trusted_proxies(console_container):
    # Without trusted proxies a forged X-Forwarded-For changes nothing: one address.
    app = create_app(console_container)
    app.state.login_throttle = shared_throttle(app, limit=2, per_address=100)
    client = TestClient(app, follow_redirects=False)
    assert [_login_from(client, f"203.0.113.{i}") for i in range(3)] == [401, 401, 429]
    # Behind a configured proxy, each real client is counted on its own.
    console_container.settings.trusted_proxies = ["testclient", "127.0.0.1"]
    app = create_app(console_container)
    app.state.login_throttle = shared_throttle(app, limit=2, per_address=100)
    client = TestClient(app, follow_redirects=False)
    assert [_login_from(client, f"203.0.113.{i}") for i in range(3)] == [401, 401, 401]
    assert [_login_from(client, "203.0.113.9") for _ in range(3)] == [401, 401, 429]


# -- item 12: the API map is behind the login -------------------------------------------------


def test_docs_and_schema_need_a_login(make_client):
    anonymous = make_client()
    r = anonymous.get("/openapi.json")
    assert r.status_code == 401 and r.json()["error"]["id"] == "not_authenticated"
    assert anonymous.get("/docs").status_code == 303
    observer = make_client("observer1")
    assert "/api/patients/search" in observer.get("/openapi.json").json()["paths"]
    assert observer.get("/docs").status_code == 200
