"""SMS providers: Twilio (the real ``twilio`` client) and the local outbox log (embedded default).

A provider does two things for the worker:

* ``send(message)`` — hand one message over and return the provider's id, or raise
  :class:`TemporaryFailure` (try again later, maybe after ``retry_after`` seconds),
  :class:`PermanentFailure` (the provider will never take it: invalid or blocked number) or
  :class:`UncertainOutcome` (the request may have been processed: a read timeout, a connection
  dropped after the request went out);
* ``find_sent(message)`` — after an uncertain attempt, say whether the provider already has the
  message, so it is recorded instead of sent a second time.  Twilio does not deduplicate
  requests, so :class:`TwilioProvider` lists the recent messages to that number and compares
  the text (unique in practice: it carries the confirmation code and the time).

Pointing the real Twilio client somewhere else (tests, a local stand-in): the client always
builds ``https://api.twilio.com/2010-04-01/...`` URLs; :class:`TwilioHttpClient` — a subclass of
the library's own ``twilio.http.http_client.TwilioHttpClient`` passed as ``http_client=`` —
rewrites the scheme and host of every ``*.twilio.com`` URL to ``twilio_base_url`` (e.g.
``http://127.0.0.1:8765``) and leaves everything else (auth, form encoding, error parsing,
paging) to the library.  Region/edge settings can't do this: they only rename the Twilio host.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient as _LibraryHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NameResolutionError, NewConnectionError

from booking_core.masking import mask_phone, scrub
from booking_core.outbox import SECRET_KINDS, ClaimedMessage

logger = logging.getLogger(__name__)

#: How far back (before the row was written) a message found at the provider may have been
#: created and still count as ours: clock skew between us and the provider.
FIND_SKEW = timedelta(minutes=5)
#: Twilio error codes that arrive with a 4xx status but mean "later", not "never":
#: 20429 too many requests, 21611 the sender's queue is full.
TEMPORARY_CODES = frozenset({20429, 21611})


class ProviderError(Exception):
    """The provider did not take the message."""


class TemporaryFailure(ProviderError):
    """Not sent; try again later (after ``retry_after`` seconds if the provider said so)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(ProviderError):
    """The provider refuses this message for good."""


class UncertainOutcome(ProviderError):
    """The request may or may not have been processed."""


@dataclass(frozen=True)
class SendReceipt:
    provider_id: str
    status: str = "queued"


class SmsProvider(Protocol):
    """What the worker needs of an SMS provider."""

    name: str

    def send(self, message: ClaimedMessage) -> SendReceipt: ...

    def find_sent(self, message: ClaimedMessage) -> SendReceipt | None: ...


# --- local ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalSms:
    """A message the local provider "sent" (kept in memory)."""

    key: str
    to: str
    body: str
    provider_id: str
    at: datetime


class LocalOutboxProvider:
    """The embedded default: records messages instead of sending them.

    Nothing leaves the machine; the outbox table (``registratura sms outbox``) shows the texts,
    the log shows one line per message with the number masked.  Keyed by idempotency key, so it
    is itself idempotent.
    """

    name = "local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, LocalSms] = {}
        self.sent: list[LocalSms] = []

    def send(self, message: ClaimedMessage) -> SendReceipt:
        with self._lock:
            known = self._by_key.get(message.key)
            if known is None:
                known = LocalSms(message.key, message.to_phone, message.body,
                                 f"LO{uuid.uuid4().hex}", datetime.now(UTC))
                self._by_key[message.key] = known
                self.sent.append(known)
        logger.info("SMS (local outbox, not sent) %s to %s, %d chars", message.kind,
                    mask_phone(message.to_phone), len(message.body))
        if message.kind not in SECRET_KINDS:  # a one-time code is never logged
            logger.debug("SMS text: %s", message.body)
        return SendReceipt(known.provider_id, "sent")

    def find_sent(self, message: ClaimedMessage) -> SendReceipt | None:
        with self._lock:
            known = self._by_key.get(message.key)
        return SendReceipt(known.provider_id, "sent") if known else None


# --- Twilio -----------------------------------------------------------------------------


class TwilioHttpClient(_LibraryHttpClient):
    """The library's HTTP client, optionally aimed at another base URL, quiet about personal
    data, and remembering each thread's last response headers (for ``Retry-After``)."""

    def __init__(self, base_url: str = "", timeout: float | None = None) -> None:
        super().__init__(timeout=timeout, logger=logger)
        self.base_url = base_url.rstrip("/")
        self._local = threading.local()

    def rewrite(self, url: str) -> str:
        """``https://api.twilio.com/x`` → ``<base_url>/x`` (when a base URL is set)."""
        if not self.base_url:
            return url
        parts = urlsplit(url)
        if not parts.hostname or not parts.hostname.endswith("twilio.com"):
            return url
        base = urlsplit(self.base_url)
        return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path,
                           parts.query, parts.fragment))

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        self._local.headers = {}
        response = super().request(method, self.rewrite(url), params=params, data=data,
                                   headers=headers, auth=auth, timeout=timeout,
                                   allow_redirects=allow_redirects)
        self._local.headers = dict(response.headers or {})
        return response

    def last_headers(self) -> Mapping[str, str]:
        """Headers of this thread's last response (empty if none arrived)."""
        return getattr(self._local, "headers", {})

    # The library logs query strings (``To=+7...`` when listing) at INFO: keep it to the path.
    def log_request(self, kwargs: dict[str, Any]) -> None:
        self.logger.debug("twilio %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Any) -> None:
        self.logger.debug("twilio response %s", status_code)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _never_connected(exc: BaseException) -> bool:
    """True if the request certainly never reached the server (refused, no DNS, connect
    timeout); False when it may have been sent (read timeout, connection dropped midway)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, NewConnectionError | NameResolutionError):
            return True
        todo += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
        for attr in ("reason", "__cause__", "__context__"):
            nxt = getattr(e, attr, None)
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return False


class TwilioProvider:
    """Sends through Twilio's Messages API with the official client.

    ``status_callback_url`` (``<public_base_url>/webhooks/twilio/status``) gets our idempotency
    key as ``?key=...``, so a delivery report finds its row even before the worker recorded the
    message SID.
    """

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, *, from_: str = "",
                 messaging_service_sid: str = "", status_callback_url: str = "",
                 base_url: str = "", timeout: float = 10.0, lookup_limit: int = 20) -> None:
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        if not from_ and not messaging_service_sid:
            raise ValueError("Twilio needs a sender: a From number or a messaging service SID")
        self.http = TwilioHttpClient(base_url, timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        self.from_ = from_
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_url = status_callback_url
        self.lookup_limit = lookup_limit

    def _callback(self, key: str) -> str | None:
        if not self.status_callback_url:
            return None
        return f"{self.status_callback_url}?key={quote(key, safe='')}"

    def send(self, message: ClaimedMessage) -> SendReceipt:
        kwargs: dict[str, Any] = {"to": message.to_phone, "body": message.body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        if self.from_:
            kwargs["from_"] = self.from_
        callback = self._callback(message.key)
        if callback:
            kwargs["status_callback"] = callback
        try:
            created = self.client.messages.create(**kwargs)
        except Exception as exc:
            raise self._translate(exc) from exc
        if not created.sid:
            raise UncertainOutcome("Twilio answered without a message SID")
        return SendReceipt(created.sid, str(created.status or "queued"))

    def find_sent(self, message: ClaimedMessage) -> SendReceipt | None:
        since = message.created_at.replace(tzinfo=UTC) - FIND_SKEW
        try:
            recent = self.client.messages.list(to=message.to_phone, limit=self.lookup_limit)
        except Exception as exc:
            raise self._translate(exc, lookup=True) from exc
        for m in recent:
            created = m.date_created
            if created is not None and created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            if created is not None and created < since:
                continue
            if m.body and (m.body == message.body or m.body.endswith(message.body)) and m.sid:
                return SendReceipt(m.sid, str(m.status or "sent"))
        return None

    def _translate(self, exc: Exception, lookup: bool = False) -> ProviderError:
        """Map a client exception to what the worker should do about it."""
        if isinstance(exc, TwilioRestException | TwilioServiceException):
            status = int(exc.status or 0)
            code = getattr(exc, "code", None)
            text = scrub(f"Twilio {status} code {code}: {getattr(exc, 'msg', '')}", limit=200)
            if status == 429:
                return TemporaryFailure(text, _retry_after(self.http.last_headers()))
            if (status >= 500 or status in (0, 401, 403, 404, 408) or code in TEMPORARY_CODES
                    or lookup):
                # 5xx: Twilio trouble; 401/403/404: our configuration, fixable without
                # losing the message.
                return TemporaryFailure(text, _retry_after(self.http.last_headers()))
            return PermanentFailure(text)
        if isinstance(exc, requests.exceptions.RequestException):
            if _never_connected(exc):
                return TemporaryFailure(f"Twilio unreachable: {type(exc).__name__}")
            if lookup:
                return TemporaryFailure(f"Twilio lookup failed: {type(exc).__name__}")
            return UncertainOutcome(f"Twilio request outcome unknown: {type(exc).__name__}")
        if isinstance(exc, TwilioException):
            return TemporaryFailure(scrub(f"Twilio client error: {exc}", limit=200))
        logger.exception("unexpected error from the Twilio client")
        return UncertainOutcome(f"unexpected {type(exc).__name__}")


def provider_from_settings(settings: Any) -> SmsProvider:
    """The provider the settings ask for (``sms_provider``: "local" or "twilio")."""
    if settings.sms_provider == "twilio":
        callback = ""
        if settings.public_base_url:
            callback = settings.public_base_url.rstrip("/") + "/webhooks/twilio/status"
        return TwilioProvider(
            settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
            from_=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback_url=callback, base_url=settings.twilio_base_url,
            timeout=settings.twilio_timeout_seconds,
        )
    return LocalOutboxProvider()
