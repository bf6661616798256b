"""Sessions, CSRF protection, flash messages and login throttling.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, keyed by the
``secret_key`` setting) holding the user name, a per-session CSRF token and flash messages;
never a password or personal data of patients.

CSRF: every unsafe request to a console router must prove it comes from our own pages:
forms carry the token in the hidden field ``csrf_token``; JSON calls authenticated by the
session cookie send it in the ``X-CSRF-Token`` header.  A foreign ``Origin`` is refused too.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from urllib.parse import urlsplit

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from agent_console.errors import CsrfFailed, TooManyLogins

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


def start_session(request: Request, username: str) -> str:
    """A fresh session for a user who just logged in (new CSRF token: no fixation)."""
    request.session.clear()
    request.session["agent"] = username
    request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


def end_session(request: Request) -> None:
    request.session.clear()


def session_user(request: Request) -> str | None:
    return request.session.get("agent")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc == request.url.netloc


async def csrf_protect(
    request: Request, header_token: str | None = Security(csrf_header_scheme)
) -> None:
    """Router dependency: refuse unsafe requests that can't show the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    if not _same_origin(request):
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


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


class LoginThrottle:
    """At most ``limit`` failed logins per (address, user name) within ``window`` seconds."""

    def __init__(self, limit: int = 10, window: float = 900.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def check(self, address: str, username: str) -> None:
        """Raise :class:`TooManyLogins` if this pair failed too often recently."""
        key = (address, username.strip().lower())
        with self._lock:
            if len(self._recent(key, time.monotonic())) >= self.limit:
                raise TooManyLogins()

    def failed(self, address: str, username: str) -> None:
        key = (address, username.strip().lower())
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())
            if len(self._failures) > 10_000:  # bounded memory under a spray of names
                self._failures.clear()

    def succeeded(self, address: str, username: str) -> None:
        with self._lock:
            self._failures.pop((address, username.strip().lower()), None)
