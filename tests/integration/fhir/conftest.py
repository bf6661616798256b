"""A live FHIR API (uvicorn on a free loopback port) over the demo clinic, on SQLite and
PostgreSQL, and API clients registered the way an admin registers them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from fhirpy import SyncFHIRClient

from agent_console.app import create_app
from booking_core import api_clients
from booking_core.actors import Actor
from registratura.bootstrap import Container
from support.fhir_api import ALL_SCOPES, ApiClientCreds, get_token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fhir_base(container: Container) -> Iterator[str]:
    """The console app (FHIR mounted at /fhir/R4) served by uvicorn; yields the FHIR base."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name="fhir-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/fhir/R4"
    server.should_exit = True
    thread.join(timeout=15)


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
