"""A live FHIR API (uvicorn on a free loopback port) over the demo clinic, on SQLite and
PostgreSQL, and API clients registered the way an admin registers them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fhirpy import SyncFHIRClient

from booking_core import api_clients
from booking_core.actors import Actor
from registratura.bootstrap import Container
from support.fhir_api import ALL_SCOPES, ApiClientCreds, get_token
from support.live_console import serving


@pytest.fixture
def fhir_base(container: Container) -> Iterator[str]:
    """The console app (FHIR mounted at /fhir/R4) served by uvicorn; yields the FHIR base."""
    with serving(container) as base:
        yield f"{base}/fhir/R4"


@pytest.fixture
def register(container: Container) -> Callable[..., ApiClientCreds]:
    """``register(name, channel="internet", scopes=ALL_SCOPES)``: a new API client."""

    def make(name: str, channel: str = "internet",
             scopes: tuple[str, ...] = ALL_SCOPES, per_minute: int = 600) -> ApiClientCreds:
        client, secret = api_clients.register_client(api_clients.NewClient(
            name, name, channel, scopes, Actor.agent("admin1"), per_minute), container.uow())
        return ApiClientCreds(client.client_id, secret)

    return make


@pytest.fixture
def fhir_client(fhir_base: str, register: Callable[..., ApiClientCreds]
                ) -> Callable[..., SyncFHIRClient]:
    """``fhir_client(name="portal", channel="internet", scopes=...)``: an authorised fhirpy
    client of a newly registered API client."""

    def make(name: str = "portal", **kwargs: object) -> SyncFHIRClient:
        token = get_token(fhir_base, register(name, **kwargs))
        return SyncFHIRClient(fhir_base, authorization=f"Bearer {token}")

    return make
