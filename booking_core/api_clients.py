"""API clients of the FHIR scheduling API: registration, client-credentials tokens, scopes.

A client (the regional portal, an infomat, the MIS) is registered by an admin with a channel and
scopes.  It authenticates with the OAuth2 client-credentials grant (RFC 6749 §4.4): client id and
secret for a short-lived bearer token.  Secrets are argon2-hashed like console passwords and shown
once; tokens are random and stored as SHA-256 digests, so a leaked table signs in nobody, and every
process of an install sees the same tokens (no in-memory session state).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, delete, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.agents import hash_secret, verify_secret
from booking_core.errors import DomainError, InvalidInput, NotFound
from booking_core.uow import UnitOfWork
from models.tables import ApiClient, ApiToken, Channel

logger = logging.getLogger(__name__)

# The program's channel is what the booking core judges: the portal books as "internet" and
# the hall's infomat as "infomat" (remote channels: horizon, restrictions, no-show block); the
# MIS books for the registry desk ("desk").
CLIENT_CHANNELS: tuple[str, ...] = (Channel.INTERNET, Channel.INFOMAT, Channel.DESK)
# SMART-style system scopes this API knows.  "Patient.search" finds a patient by policy and date
# of birth (what a portal needs); "Patient.read" reads any patient by id (the MIS only).
KNOWN_SCOPES: tuple[str, ...] = (
    "system/Slot.read", "system/Schedule.read", "system/Practitioner.read",
    "system/Appointment.read", "system/Appointment.write",
    "system/Patient.search", "system/Patient.read",
)
TOKEN_LIFETIME = timedelta(hours=1)
CLIENT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")


class InvalidClient(DomainError):
    """Unknown client, wrong secret or a disabled client: deliberately the same answer."""

    code = "invalid_client"


class InvalidToken(DomainError):
    code = "invalid_token"


class InsufficientScope(DomainError):
    code = "insufficient_scope"


@dataclass(frozen=True)
class ClientView:
    id: int
    client_id: str
    name: str
    channel: str
    scopes: frozenset[str]
    requests_per_minute: int
    active: bool

    def actor(self, source: str = "") -> Actor:
        """The client as the author of what it does (audit: "client:<client_id>")."""
        return Actor("client", self.client_id, self.channel, source)

    def allows(self, scope: str) -> bool:
        """True when ``scope`` ("system/Slot.read") is granted, also through wildcards."""
        resource, _, access = scope.removeprefix("system/").partition(".")
        return bool({scope, f"system/*.{access}", f"system/{resource}.*", "system/*.*"}
                    & self.scopes)


@dataclass(frozen=True)
class NewClient:
    client_id: str
    name: str
    channel: str
    scopes: tuple[str, ...]
    actor: Actor
    requests_per_minute: int = 120


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def _view(c: ApiClient) -> ClientView:
    return ClientView(c.id or 0, c.client_id, c.name, c.channel, frozenset(c.scopes.split()),
                      c.requests_per_minute, c.active)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_scopes(scopes: tuple[str, ...]) -> None:
    for scope in scopes:
        resource, _, access = scope.removeprefix("system/").partition(".")
        known = any(scope == k or (resource == "*" and k.endswith(f".{access}"))
                    or (access == "*" and k.startswith(f"system/{resource}."))
                    for k in KNOWN_SCOPES) or scope == "system/*.*"
        if not scope.startswith("system/") or not known:
            raise InvalidInput("unknown scope", field="scopes", allowed=KNOWN_SCOPES)


def register_client(cmd: NewClient, uow: UnitOfWork) -> tuple[ClientView, str]:
    """Register a client; returns it with its secret, which is shown this once only."""
    client_id = cmd.client_id.strip().lower()
    if not CLIENT_ID_RE.match(client_id):
        raise InvalidInput("client id: 3-64 latin letters, digits, '.', '_' or '-'",
                           field="client_id")
    if cmd.channel not in CLIENT_CHANNELS:
        raise InvalidInput("unknown channel", field="channel", allowed=CLIENT_CHANNELS)
    _check_scopes(cmd.scopes)
    secret = secrets.token_urlsafe(32)
    row = ApiClient(client_id=client_id, name=cmd.name.strip() or client_id, channel=cmd.channel,
                    scopes=" ".join(sorted(set(cmd.scopes))), secret_hash=hash_secret(secret),
                    requests_per_minute=cmd.requests_per_minute, created_by=cmd.actor.label,
                    created_at=uow.clock.now_utc())
    with uow:
        if uow.session.exec(select(ApiClient.id).where(ApiClient.client_id == client_id)).first():
            raise InvalidInput("a client with this id exists", field="client_id")
        uow.session.add(row)
        uow.flush()
        audit.record(uow, cmd.actor, "register_client", "api_client", row.id, None,
                     {"client_id": client_id, "channel": row.channel, "scopes": row.scopes})
        uow.commit()
        return _view(row), secret


def set_client_active(client_id: str, active: bool, actor: Actor, uow: UnitOfWork) -> None:
    """Enable or disable a client; disabling also ends its tokens at once."""
    with uow:
        row = uow.session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
        if row is None:
            raise NotFound("no such API client")
        before = {"active": row.active}
        row.active = active
        if not active:
            uow.session.exec(delete(ApiToken).where(col(ApiToken.client_id) == row.id))
        audit.record(uow, actor, "enable_client" if active else "disable_client", "api_client",
                     row.id, before, {"active": active})
        uow.commit()


def list_clients(uow: UnitOfWork) -> list[ClientView]:
    with uow.reading():
        rows = uow.session.exec(select(ApiClient).order_by(col(ApiClient.client_id))).all()
        return [_view(r) for r in rows]


def issue_token(client_id: str, secret: str, uow: UnitOfWork,
                requested_scope: str = "") -> IssuedToken:
    """The client-credentials grant: a bearer token for a valid, active client.

    Unknown client and wrong secret cost the same (argon2 against a dummy hash) and get the same
    answer.  A requested scope narrows nothing here but must be within what the client has.
    """
    with uow:
        row = uow.session.exec(
            select(ApiClient).where(ApiClient.client_id == client_id.strip().lower())).first()
        ok = verify_secret(secret, row.secret_hash if row else None)
        if row is None or not ok or not row.active:
            raise InvalidClient("client authentication failed")
        view = _view(row)
        wanted = frozenset(requested_scope.split()) or view.scopes
        if not all(view.allows(s) for s in wanted):
            raise InsufficientScope("requested scope exceeds the client's scopes")
        now = uow.clock.now_utc()
        token = secrets.token_urlsafe(32)
        uow.session.exec(delete(ApiToken).where(col(ApiToken.expires_at) < now))
        uow.session.add(ApiToken(token_hash=_digest(token), client_id=row.id,
                                 expires_at=now + TOKEN_LIFETIME, created_at=now))
        uow.commit()
    logger.info("API token issued to client %s", view.client_id)
    return IssuedToken(token, int(TOKEN_LIFETIME.total_seconds()), " ".join(sorted(view.scopes)))


def authenticate(token: str, uow: UnitOfWork) -> ClientView:
    """The active client behind a bearer token, or :class:`InvalidToken`."""
    with uow.reading():
        found = uow.session.exec(
            select(ApiClient, ApiToken.expires_at)
            .join(ApiToken, col(ApiToken.client_id) == ApiClient.id)
            .where(ApiToken.token_hash == _digest(token or ""))).first()
    if found is None:
        raise InvalidToken("unknown or revoked token")
    client, expires_at = found
    if expires_at <= uow.clock.now_utc():
        raise InvalidToken("token expired")
    if not client.active:
        raise InvalidToken("client disabled")
    return _view(client)
