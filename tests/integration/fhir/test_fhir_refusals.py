"""Every refusal of the FHIR API is an OperationOutcome carrying the stable error id, with the
HTTP status the console uses for it; scopes, tokens, rate limits and rules are enforced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from booking_core import admin, api_clients
from booking_core.actors import Actor
from booking_core.commands import CloseChannel, FindSlots
from booking_core.slots import find_free_slots
from models.tables import Channel
from registratura.bootstrap import Container
from support.fhir_api import POLICY_SYSTEM, ApiClientCreds, get_token, parameters, requested
from support.world import demo, patient_id, specialty_id

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def error_id(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/fhir+json"), r.text
    outcome = OperationOutcome.model_validate(r.json())
    return outcome.issue[0].details.coding[0].code  # type: ignore[no-any-return]


@pytest.fixture
def api(fhir_base: str, register: Callable[..., ApiClientCreds]) -> Callable[..., httpx.Client]:
    """``api(name, channel=..., scopes=..., per_minute=...)``: an httpx client with a token."""

    def make(name: str = "portal", **kwargs: object) -> httpx.Client:
        token = get_token(fhir_base, register(name, **kwargs))
        return httpx.Client(base_url=fhir_base, headers={"Authorization": f"Bearer {token}"})

    return make


def _first_free(api_client: httpx.Client, specialty: str, pid: int) -> str:
    found = api_client.post("/Appointment/$find", headers=FHIR_JSON, json=parameters(
        specialty=specialty, patient=f"Patient/{pid}", _count=1)).json()
    return found["entry"][0]["resource"]["slot"][0]["reference"]  # type: ignore[no-any-return]


def test_no_or_bad_token(fhir_base: str) -> None:
    r = httpx.get(f"{fhir_base}/Slot", params={"service-type": "therapist"})
    assert r.status_code == 401 and error_id(r) == "invalid_token"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(f"{fhir_base}/Slot", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401 and error_id(r) == "invalid_token"


def test_token_endpoint_refuses_bad_credentials(fhir_base: str,
                                                register: Callable[..., ApiClientCreds]) -> None:
    creds = register("portal")
    wrong = httpx.post(f"{fhir_base}/auth/token", data={
        "grant_type": "client_credentials", "client_id": creds.client_id,
        "client_secret": "wrong"})
    unknown = httpx.post(f"{fhir_base}/auth/token", data={
        "grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "invalid_client",
                                              "error_description": "client authentication failed"}
    grant = httpx.post(f"{fhir_base}/auth/token", data={"grant_type": "password"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


def test_disabled_client_loses_its_tokens(container: Container, fhir_base: str,
                                          register: Callable[..., ApiClientCreds]) -> None:
    creds = register("infomat1", channel="infomat")
    token = get_token(fhir_base, creds)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{fhir_base}/HealthcareService", headers=headers).status_code == 200
    api_clients.set_client_active("infomat1", False, Actor.agent("admin1"), container.uow())
    r = httpx.get(f"{fhir_base}/HealthcareService", headers=headers)
    assert r.status_code == 401 and error_id(r) == "invalid_token"


def test_scope_is_required(api: Callable[..., httpx.Client]) -> None:
    reader = api("reader", scopes=("system/Slot.read",))
    r = reader.post("/Appointment/$book", headers=FHIR_JSON,
                    json=requested("Slot/1", "Patient/1"))
    assert r.status_code == 403 and error_id(r) == "insufficient_scope"
    assert 'scope="system/Appointment.write"' in r.headers["www-authenticate"]
    r = reader.get("/Patient/1")
    assert r.status_code == 403 and error_id(r) == "insufficient_scope"


def test_rate_limit_per_client(api: Callable[..., httpx.Client]) -> None:
    slow = api("slow", per_minute=3)
    codes = [slow.get("/HealthcareService").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = slow.get("/HealthcareService")
    assert error_id(r) == "rate_limited" and int(r.headers["retry-after"]) >= 1
    assert api("other").get("/HealthcareService").status_code == 200  # others unaffected


def test_patient_search_answers_uniformly_and_keeps_data_out_of_urls(
        container: Container, api: Callable[..., httpx.Client]) -> None:
    portal = api()
    adult = demo("adult")
    r = portal.get("/Patient", params={"identifier": adult.policy_number})
    assert r.status_code == 400 and error_id(r) == "invalid_request"
    wrong_dob = portal.post("/Patient/_search", data={
        "identifier": f"{POLICY_SYSTEM}|{adult.policy_number}", "birthdate": "1985-03-06"})
    unknown = portal.post("/Patient/_search", data={
        "identifier": demo("unknown policy").policy_number, "birthdate": "1990-01-01"})
    assert wrong_dob.status_code == unknown.status_code == 200
    assert wrong_dob.json()["total"] == unknown.json()["total"] == 0
    assert wrong_dob.headers["cache-control"] == "no-store"
    right = portal.post("/Patient/_search", data={
        "identifier": f"{POLICY_SYSTEM}|{adult.policy_number}",
        "birthdate": adult.birth_date.isoformat()})
    assert right.json()["total"] == 1
    # Failures count against the policy as on the phone: the limit then refuses even the truth.
    for _ in range(container.rules.id_failures_per_policy):
        portal.post("/Patient/_search", data={"identifier": adult.policy_number,
                                              "birthdate": "2000-01-01"})
    r = portal.post("/Patient/_search", data={"identifier": adult.policy_number,
                                              "birthdate": adult.birth_date.isoformat()})
    assert r.status_code == 429 and error_id(r) == "too_many_attempts"


def test_booking_rules_come_back_as_outcomes(container: Container,
                                             api: Callable[..., httpx.Client]) -> None:
    portal = api()
    adult = patient_id(container, "adult")
    slot = _first_free(portal, "therapist", adult)
    assert portal.post("/Appointment/$book", headers=FHIR_JSON,
                       json=requested(slot, f"Patient/{adult}")).status_code == 201
    taken = portal.post("/Appointment/$book", headers=FHIR_JSON,
                        json=requested(slot, f"Patient/{patient_id(container, 'elderly')}"))
    assert taken.status_code == 409 and error_id(taken) == "slot_taken"

    blocked = patient_id(container, "3 no-shows")
    r = portal.post("/Appointment/$find", headers=FHIR_JSON, json=parameters(
        specialty="dentist", patient=f"Patient/{blocked}"))
    assert r.status_code == 403 and error_id(r) == "booking_blocked"

    r = portal.post("/Appointment/$find", headers=FHIR_JSON, json=parameters(
        specialty="neurologist", patient=f"Patient/{adult}"))
    assert r.status_code == 422 and error_id(r) == "referral_required"

    r = portal.post("/Appointment/$book", headers=FHIR_JSON, json={"resourceType": "Nonsense"})
    assert r.status_code == 400 and error_id(r) == "invalid_request"
    r = portal.get("/Appointment/999999")
    assert r.status_code == 404 and error_id(r) == "not_found"
    r = portal.get("/NoSuchResource")
    assert r.status_code == 404 and error_id(r) == "not_found"


def test_internet_restriction_closes_the_portal_not_the_phone(
        container: Container, api: Callable[..., httpx.Client]) -> None:
    portal = api()
    adult = patient_id(container, "adult")
    slot = _first_free(portal, "therapist", adult)
    today = container.clock.today()
    admin.close_channel(CloseChannel(
        clinic_id=1, channel=Channel.INTERNET, starts_on=today,
        ends_on=today + timedelta(days=60), specialty_id=specialty_id(container, "therapist"),
        reason="грипп", actor=Actor.agent("admin1")), container.uow())
    listed = portal.get("/Slot", params={"service-type": "therapist"}).json()
    assert listed.get("entry", []) == []
    r = portal.post("/Appointment/$book", headers=FHIR_JSON,
                    json=requested(slot, f"Patient/{adult}"))
    assert r.status_code == 403 and error_id(r) == "channel_closed"
    phone = find_free_slots(FindSlots(adult, specialty_id(container, "therapist"), Channel.IVR),
                            container.uow())
    assert phone  # the phone still books the therapist
    infomat = api("hall", channel="infomat").get("/Slot", params={"service-type": "therapist"})
    assert infomat.json()["entry"]  # and so does the infomat, another channel


def test_a_retried_book_returns_the_first_appointment(
        container: Container, api: Callable[..., httpx.Client]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    portal = api()
    adult = patient_id(container, "adult")
    slot = _first_free(portal, "surgeon", adult)
    body = requested(slot, f"Patient/{adult}")
    headers = {**FHIR_JSON, "Idempotency-Key": "order-42"}
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: portal.post("/Appointment/$book", headers=headers,
                                                       json=body), range(8)))
    assert {r.status_code for r in results} <= {200, 201}
    assert len({r.json()["id"] for r in results}) == 1
    other = _first_free(portal, "dentist", adult)
    reuse = portal.post("/Appointment/$book", headers=headers,
                        json=requested(other, f"Patient/{adult}"))
    assert reuse.status_code == 422 and error_id(reuse) == "invalid_input"
