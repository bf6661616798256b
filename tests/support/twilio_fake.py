"""A local stand-in for Twilio's Messages API, for driving the real ``twilio`` client in tests.

``FakeTwilio`` is an ``http.server`` on 127.0.0.1 (a free port, a thread per request) that
speaks the part of the REST API the SMS provider uses:

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` — form fields ``To``, ``From`` or
  ``MessagingServiceSid``, ``Body``, ``StatusCallback``; HTTP basic auth with the account SID
  and auth token; answers 201 with the message resource (``sid``, ``status``: ``queued``);
* ``GET  .../Messages.json`` — the list, newest first, filtered by ``To`` / ``From``, paged by
  ``PageSize``;
* ``GET  .../Messages/{Sid}.json`` — one message.

Failures are scripted per create request: ``fail_next(429, retry_after=7)``, ``fail_next(500,
times=3)``, ``fail_next(400, code=21211)``, or ``slow_next(seconds)`` — the message *is* created
but the answer comes late, so a client with a shorter timeout can't know it was (the ambiguous
case the outbox must not turn into a duplicate).  Every request is recorded.

Point the provider at it with ``twilio_base_url=fake.base_url`` (``sms.providers`` rewrites
``https://api.twilio.com`` to it).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sms.segments import count_segments

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-auth-token"

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages(?:/(?P<sid>\w+))?\.json$")


@dataclass
class Scripted:
    """What to do with one create request."""

    status: int = 201
    code: int | None = None
    retry_after: str | None = None
    delay: float = 0.0  # with status 201: create, then answer this late


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    query: dict[str, str]
    authorized: bool
    answered: int = 0


@dataclass
class FakeTwilio:
    """The fake server; ``with FakeTwilio() as fake: ...`` starts and stops it."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    script: deque[Scripted] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ----------------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-twilio")
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTwilio:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None,
                  code: int | None = None) -> None:
        """The next ``times`` create requests fail with ``status`` (nothing is created)."""
        for _ in range(times):
            self.script.append(Scripted(status=status, code=code,
                                        retry_after=None if retry_after is None
                                        else str(retry_after)))

    def slow_next(self, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` create requests create the message but answer ``seconds`` late."""
        for _ in range(times):
            self.script.append(Scripted(delay=seconds))

    def set_status(self, sid: str, status: str) -> None:
        with self._lock:
            for m in self.messages:
                if m["sid"] == sid:
                    m["status"] = status

    # --- what happened ----------------------------------------------------------------------

    def sent_to(self, phone: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m["to"] == phone]

    @property
    def creates(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    # --- the API ----------------------------------------------------------------------------

    def _resource(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        created = format_datetime(self.now().replace(tzinfo=UTC), usegmt=True)
        return {
            "sid": sid, "account_sid": self.account_sid, "api_version": "2010-04-01",
            "to": form.get("To", ""), "from": form.get("From") or None,
            "messaging_service_sid": form.get("MessagingServiceSid") or None,
            "body": form.get("Body", ""), "status": "queued", "direction": "outbound-api",
            "num_segments": str(count_segments(form.get("Body", ""))), "num_media": "0",
            "date_created": created, "date_updated": created, "date_sent": None,
            "price": None, "price_unit": "USD", "error_code": None, "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {}, "status_callback": form.get("StatusCallback"),
        }

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str],
               auth: str) -> tuple[int, dict[str, str], dict[str, Any], float]:
        """(status, headers, JSON body, delay before answering)."""
        authorized = auth == "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()).decode()
        record = Recorded(method, path, form, query, authorized)
        with self._lock:
            self.requests.append(record)
        match = _PATH.match(path)
        if match is None:
            return _error(404, 20404, "The requested resource was not found")
        if not authorized or match["account"] != self.account_sid:
            return _error(401, 20003, "Authenticate")
        if method == "POST" and match["sid"] is None:
            return self._create(form, record)
        if method == "GET" and match["sid"] is None:
            return self._list(query)
        if method == "GET":
            with self._lock:
                found = next((m for m in self.messages if m["sid"] == match["sid"]), None)
            if found is None:
                return _error(404, 20404, "The requested resource was not found")
            return 200, {}, _public(found), 0.0
        return _error(405, 20004, "Method not allowed")

    def _create(self, form: dict[str, str], record: Recorded
                ) -> tuple[int, dict[str, str], dict[str, Any], float]:
        with self._lock:
            step = self.script.popleft() if self.script else Scripted()
        if step.status != 201:
            headers = {"Retry-After": step.retry_after} if step.retry_after else {}
            status, _, body, _ = _error(step.status, step.code or step.status * 100 + 1,
                                        "scripted failure")
            record.answered = status
            return status, headers, body, 0.0
        if not form.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        message = self._resource(form)
        with self._lock:
            self.messages.append(message)
        record.answered = 201
        return 201, {}, _public(message), step.delay

    def _list(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any], float]:
        with self._lock:
            found = [m for m in reversed(self.messages)
                     if (not query.get("To") or m["to"] == query["To"])
                     and (not query.get("From") or m["from"] == query["From"])]
        size = int(query.get("PageSize") or 50)
        page = [_public(m) for m in found[:size]]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return 200, {}, {
            "messages": page, "first_page_uri": uri, "next_page_uri": None,
            "previous_page_uri": None, "page": 0, "page_size": size, "start": 0,
            "end": max(0, len(page) - 1), "uri": uri,
        }, 0.0


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """The resource as the API shows it (no status callback URL: Twilio doesn't show it)."""
    return {k: v for k, v in message.items() if k != "status_callback"}


def _error(status: int, code: int, message: str
           ) -> tuple[int, dict[str, str], dict[str, Any], float]:
    return status, {}, {"code": code, "message": message, "status": status,
                        "more_info": f"https://www.twilio.com/docs/errors/{code}"}, 0.0


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeTwilio
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the test output stays readable

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        status, headers, body, delay = self.server_fake.handle(
            method, parts.path, query, form, self.headers.get("Authorization", ""))
        if delay:
            time.sleep(delay)
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a scripted slow answer)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")
