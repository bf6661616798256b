"""OAuth2 client credentials for the FHIR API: the token endpoint, bearer check, scopes, rate.

Why client credentials rather than bare API keys: the long-lived secret crosses the wire only
to get a token (once an hour), tokens expire and are revocable by disabling the client, and
every FHIR client library speaks it.  Tokens live in the database (as digests), so any process
of an install accepts them.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse

from agent_console.fhir.deps import container_of
from agent_console.fhir.outcome import FhirError
from booking_core import api_clients, shared_limits
from booking_core.actors import Actor
from booking_core.api_clients import ClientView, InsufficientScope, InvalidClient, InvalidToken
from booking_core.uow import UnitOfWork

router = APIRouter(tags=["oauth2"])

BEARER_CHALLENGE = 'Bearer realm="registratura-fhir"'


class RateLimiter:
    """At most ``limit`` requests per client in any 60 s, counted in this process's memory:
    the app's limiter on SQLite, which keeps the console in one process (on PostgreSQL the
    app uses :class:`SharedRateLimiter`)."""

    def __init__(self, window_seconds: float = 60.0) -> None:
        self._window = window_seconds
        self._hits: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client_id: int, limit: int) -> tuple[bool, int]:
        """Count one request; returns (allowed, seconds until the next one would be)."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client_id, deque())
            while hits and hits[0] <= now - self._window:
                hits.popleft()
            if len(hits) >= limit:
                return False, max(1, int(hits[0] + self._window - now) + 1)
            hits.append(now)
            return True, 0


class SharedRateLimiter:
    """At most ``limit`` requests per client in any 60 s, counted in the database across every
    console process (workers or hosts): N processes do not give a client N × its rate."""

    def __init__(self, uow: Callable[[], UnitOfWork], window_seconds: float = 60.0) -> None:
        self.uow = uow
        self._window = window_seconds
        self._swept = time.monotonic()

    def allow(self, client_id: int, limit: int) -> tuple[bool, int]:
        """Count one request; returns (allowed, seconds until the next one would be)."""
        if time.monotonic() - self._swept > self._window:
            # Once a window: every client's requests that have left it (quiet clients too).
            self._swept = time.monotonic()
            shared_limits.sweep_requests(self._window, self.uow())
        return shared_limits.take_request(client_id, limit, self._window, self.uow())


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="registratura-fhir"'} if status == 401 else {}
    return JSONResponse({"error": error, "error_description": description},
                        status_code=status, headers={**headers, "Cache-Control": "no-store"})


@router.post("/auth/token", summary="OAuth2 client-credentials token (RFC 6749 §4.4)")
def token(request: Request,
          grant_type: Annotated[str, Form(max_length=40)] = "",
          client_id: Annotated[str, Form(max_length=64)] = "",
          client_secret: Annotated[str, Form(max_length=200)] = "",
          scope: Annotated[str, Form(max_length=400)] = "") -> JSONResponse:
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "use grant_type=client_credentials")
    basic = _basic_credentials(request)
    if basic:
        client_id, client_secret = basic
    try:
        issued = api_clients.issue_token(client_id, client_secret, container_of(request).uow(),
                                         requested_scope=scope)
    except InvalidClient:
        return _oauth_error(401, "invalid_client", "client authentication failed")
    except InsufficientScope:
        return _oauth_error(400, "invalid_scope", "requested scope exceeds the client's")
    return JSONResponse({"access_token": issued.access_token, "token_type": "bearer",
                         "expires_in": issued.expires_in, "scope": issued.scope},
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def authorized(scope: str) -> Callable[[Request], ClientView]:
    """Dependency: the calling client, holding ``scope`` and within its rate."""

    def dependency(request: Request) -> ClientView:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise FhirError(401, "invalid_token", "a bearer token is required (POST /auth/token)",
                            {"WWW-Authenticate": BEARER_CHALLENGE})
        try:
            client = api_clients.authenticate(header[7:].strip(), container_of(request).uow())
        except InvalidToken as exc:
            raise FhirError(401, "invalid_token", exc.message,
                            {"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'}
                            ) from None
        if not client.allows(scope):
            raise FhirError(403, "insufficient_scope", f"this needs the scope {scope}",
                            {"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="insufficient_scope"'
                                                 f', scope="{scope}"'})
        allowed, retry_after = request.app.state.rate_limiter.allow(client.id,
                                                                    client.requests_per_minute)
        if not allowed:
            raise FhirError(429, "rate_limited", "too many requests from this client",
                            {"Retry-After": str(retry_after)})
        request.state.fhir_client = client
        return client

    return dependency


def client_actor(request: Request, client: ClientView) -> Actor:
    """The client as the booking core's actor (the audit names it, with the peer address)."""
    return client.actor(request.client.host if request.client else "")


SlotReader = Annotated[ClientView, Depends(authorized("system/Slot.read"))]
ScheduleReader = Annotated[ClientView, Depends(authorized("system/Schedule.read"))]
DirectoryReader = Annotated[ClientView, Depends(authorized("system/Practitioner.read"))]
AppointmentReader = Annotated[ClientView, Depends(authorized("system/Appointment.read"))]
AppointmentWriter = Annotated[ClientView, Depends(authorized("system/Appointment.write"))]
PatientSearcher = Annotated[ClientView, Depends(authorized("system/Patient.search"))]
PatientReader = Annotated[ClientView, Depends(authorized("system/Patient.read"))]
