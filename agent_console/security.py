"""Sessions, CSRF protection, flash messages and login throttling.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, ``Secure`` when the public
URL is https, keyed by the ``secret_key`` setting) holding the user name, the user's session
generation, a per-session CSRF token and flash messages; never a password or personal data of
patients.  A signed cookie cannot be recalled, so each console user has a ``session_version``
in the database: the cookie carries the value it was issued with, and logout, a password
change or reset and disabling the account raise it -- every older cookie stops working at once,
in every process.

CSRF: every unsafe request to a console router must prove it comes from our own pages:
forms carry the token in the hidden field ``csrf_token``; JSON calls authenticated by the
session cookie send it in the ``X-CSRF-Token`` header.  A foreign ``Origin`` is refused too.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import Request, Security
from fastapi.security import APIKeyHeader
from starlette.requests import HTTPConnection

from agent_console.errors import CsrfFailed, TooManyLogins
from booking_core import shared_limits
from booking_core.rules import personal_key
from booking_core.uow import UnitOfWork

logger = logging.getLogger(__name__)

SESSION_COOKIE = "registratura_session"
SESSION_MAX_AGE = 12 * 3600  # one working day
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

csrf_header_scheme = APIKeyHeader(name=CSRF_HEADER, auto_error=False,
                                  description="The session's CSRF token (GET /api/session). "
                                              "Required for POST/PUT/PATCH/DELETE.")


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def start_session(request: Request, username: str, generation: int = 0) -> str:
    """A fresh session for a user who just logged in (new CSRF token: no fixation).

    ``generation`` is the user's ``session_version``: the session is valid while they match.
    """
    request.session.clear()
    request.session["agent"] = username
    request.session["gen"] = generation
    request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


def end_session(conn: HTTPConnection) -> None:
    conn.session.clear()


def session_user(conn: HTTPConnection) -> str | None:
    return conn.session.get("agent")


def session_generation(conn: HTTPConnection) -> int | None:
    """The ``session_version`` this session was issued with (None: an unversioned cookie)."""
    value = conn.session.get("gen")
    return value if isinstance(value, int) else None


def same_origin(conn: HTTPConnection) -> bool:
    """False when the browser says the request comes from another site (or an opaque one).

    Browsers always send ``Origin`` on cross-site POSTs and on WebSocket handshakes; a
    request without it comes from a non-browser client, which cannot carry a victim's cookie.
    """
    origin = conn.headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc == conn.url.netloc



async def csrf_protect(
    request: Request, header_token: str | None = Security(csrf_header_scheme)
) -> None:
    """Router dependency: refuse unsafe requests that can't show the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise CsrfFailed("foreign origin")
    expected = request.session.get("csrf", "")
    if request.url.path.startswith("/api/"):
        if not session_user(request):
            return  # not cookie-authenticated: the auth dependency decides (login is allowed)
        sent = header_token or ""
    else:
        content_type = request.headers.get("content-type", "")
        sent = ""
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else ""
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        logger.info("CSRF check failed for %s %s", request.method, request.url.path)
        raise CsrfFailed()


def flash(request: Request, text: str, *, kind: str = "ok", code: str = "") -> None:
    """A message for the next page this browser shows (after a redirect)."""
    items = list(request.session.get("flash", []))[-4:]
    items.append({"kind": kind, "text": text, "id": code})
    request.session["flash"] = items


def pop_flashes(request: Request) -> list[dict[str, str]]:
    return list(request.session.pop("flash", []) or [])


def client_ip(conn: HTTPConnection) -> str:
    """The client's address.  Behind a configured reverse proxy this is already the
    forwarded address (see ``trusted_proxies``: uvicorn's proxy-headers middleware rewrites
    it only for requests that come from one of those proxies)."""
    return conn.client.host if conn.client else ""


class LoginThrottle:
    """Failed logins in one process's memory (tests; the app uses :class:`SharedLoginThrottle`)
    within ``window`` seconds: at most ``limit`` per (address, user name) and
    at most ``per_address`` per address across all names (a password spray over many names).

    Memory is bounded: past ``max_keys`` tracked keys the least recently failed one is
    forgotten first, so a flood of names never wipes the counters of an ongoing attack.
    """

    def __init__(self, limit: int = 10, window: float = 900.0, *, per_address: int = 30,
                 max_keys: int = 10_000) -> None:
        self.limit = limit
        self.per_address = per_address
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(address: str, username: str) -> tuple[tuple[str, str], tuple[str, str]]:
        # The address-wide key has a prefix no user name can have (names are [a-z0-9_.-]).
        return (address, "u:" + username.strip().lower()), (address, "*")

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def check(self, address: str, username: str) -> None:
        """Raise :class:`TooManyLogins` if this pair or this address failed too often."""
        pair, whole = self._keys(address, username)
        now = time.monotonic()
        with self._lock:
            if (len(self._recent(pair, now)) >= self.limit
                    or len(self._recent(whole, now)) >= self.per_address):
                logger.info("login throttled")
                raise TooManyLogins()

    def failed(self, address: str, username: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in self._keys(address, username):
                q = self._recent(key, now)
                q.append(now)
                self._failures[key] = q
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)  # the least recently failed first

    def succeeded(self, address: str, username: str) -> None:
        """A good password clears that name's counter (not the address-wide one)."""
        pair, _ = self._keys(address, username)
        with self._lock:
            self._failures.pop(pair, None)


class SharedLoginThrottle:
    """:class:`LoginThrottle`'s rules with the failures kept in the database, so every console
    process (worker or host) counts the same attempts: N processes give an attacker no more
    guesses than one.  The keys are keyed hashes (``pepper``: the install's secret key)."""

    def __init__(self, uow: Callable[[], UnitOfWork], pepper: str, *, limit: int = 10,
                 window: float = 900.0, per_address: int = 30, max_keys: int = 10_000) -> None:
        self.uow = uow
        self.pepper = pepper
        self.limit = limit
        self.per_address = per_address
        self.window = window
        self.max_keys = max_keys

    def _keys(self, address: str, username: str) -> tuple[str, str]:
        pair, whole = LoginThrottle._keys(address, username)
        return (personal_key("login", "|".join(pair), self.pepper),
                personal_key("login", "|".join(whole), self.pepper))

    def check(self, address: str, username: str) -> None:
        """Raise :class:`TooManyLogins` if this pair or this address failed too often."""
        pair, whole = self._keys(address, username)
        if shared_limits.too_many_failures([(pair, self.limit), (whole, self.per_address)],
                                           self.window, self.uow()):
            logger.info("login throttled")
            raise TooManyLogins()

    def failed(self, address: str, username: str) -> None:
        shared_limits.record_failure(list(self._keys(address, username)), self.window,
                                     self.max_keys, self.uow())

    def succeeded(self, address: str, username: str) -> None:
        """A good password clears that name's counter (not the address-wide one)."""
        pair, _ = self._keys(address, username)
        shared_limits.forget_failures(pair, self.uow())
