"""Admins register the FHIR API's clients in the console; the secret is shown once."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient


def test_admin_registers_a_client_and_sees_the_secret_once(
        admin: TestClient, page_token: Callable[..., str]) -> None:
    token = page_token(admin, "/api-clients")
    r = admin.post("/api-clients", data={
        "csrf_token": token, "client_id": "portal", "name": "Региональный портал",
        "channel": "internet", "scopes": ["system/Slot.read", "system/Appointment.write"]})
    assert r.status_code == 303 and r.headers["location"] == "/api-clients"
    page = admin.get("/api-clients").text
    secret = re.search(r"<p><code>([A-Za-z0-9_\-]{40,})</code></p>", page)
    assert secret, "the new secret is shown"
    assert "Региональный портал" in page and "system/Appointment.write" in page
    again = admin.get("/api-clients").text
    assert secret.group(1) not in again  # shown once only
    # The secret works: the client gets a token.
    r = admin.post("/fhir/R4/auth/token", data={"grant_type": "client_credentials"},
                   auth=("portal", secret.group(1)))
    assert r.status_code == 200 and r.json()["scope"] == "system/Appointment.write system/Slot.read"


def test_api_registration_and_disable(admin: TestClient) -> None:
    r = admin.post("/api/api-clients", json={"client_id": "mis", "channel": "desk",
                                             "scopes": ["system/*.read"]})
    assert r.status_code == 201
    secret = r.json()["client_secret"]
    token = admin.post("/fhir/R4/auth/token", data={"grant_type": "client_credentials"},
                       auth=("mis", secret)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert admin.get("/fhir/R4/HealthcareService", headers=headers).status_code == 200
    assert admin.post("/api/api-clients/mis/disable").status_code == 204
    assert admin.get("/fhir/R4/HealthcareService", headers=headers).status_code == 401
    listed = admin.get("/api/api-clients").json()
    assert listed == [{"client_id": "mis", "name": "mis", "channel": "desk",
                       "scopes": ["system/*.read"], "requests_per_minute": 120,
                       "active": False}]
    assert "secret" not in str(listed)


def test_bad_registrations_are_refused(admin: TestClient) -> None:
    r = admin.post("/api/api-clients", json={"client_id": "x", "channel": "internet"})
    assert r.status_code == 422 and r.json()["error"]["id"] == "invalid_input"
    r = admin.post("/api/api-clients", json={"client_id": "portal2", "channel": "phone"})
    assert r.status_code == 422
    r = admin.post("/api/api-clients", json={"client_id": "portal3", "channel": "internet",
                                             "scopes": ["system/Everything.write"]})
    assert r.status_code == 422


def test_only_admins_manage_clients(agent: TestClient, observer: TestClient) -> None:
    for client in (agent, observer):
        assert client.get("/api/api-clients").status_code == 403
        assert client.post("/api/api-clients", json={"client_id": "evil", "channel": "desk",
                                                     "scopes": ["system/*.read"]}
                           ).status_code == 403
