"""The console's link to Asterisk: an AMI client on top of the ``asterisk-ami`` package.

What the package gives and where it falls short (version 0.1.7, read from its source):

* :class:`asterisk.ami.AMIClient` opens a socket, starts ONE daemon reader thread (``listen``)
  and matches responses to actions by ``ActionID`` through ``FutureResponse`` objects; events go
  to listeners *on the reader thread*.
* Its ``timeout`` (default 3 s) is used twice: as the socket timeout and as the response
  timeout.  The reader thread dies on the first ``recv`` that times out — 3 s without traffic —
  and reports it through ``on_disconnect`` but leaves ``finished`` unset and the socket open,
  so the client looks connected while nothing is read any more (DESIGN "Known pitfalls").
* An exception raised by an event listener or response callback kills the reader thread too
  (``FutureResponse.set_response`` even refers to an unimported ``traceback``).
* ``send`` uses ``socket.send`` (may write part of a message) without a lock, and the action
  counter is not thread-safe.
* :class:`asterisk.ami.AutoReconnect` pings at a fixed delay and re-sends ``Login`` through the
  *same* client: after a reader timeout the old socket is still "open", so the new login goes
  into a dead connection and never succeeds; it has no backoff and retries wrong credentials
  every 0.5 s forever.  It is therefore not used.

So this module keeps the package's protocol parsing, action/response matching and listener
machinery, and wraps the rest (:class:`_AmiTransport`):

* the TCP connect has its own timeout; the socket's read timeout is set well above the ping
  interval, so an idle but healthy link never trips it, while the response timeout stays short;
* sends are whole (``sendall``) and serialised; ActionIDs are unique per process;
* every listener is guarded, so no handler error can kill the reader;
* a supervisor thread (:class:`AmiClient`) logs in, reloads the queue state (``QueueStatus`` +
  ``Getvar``), pings every ``ping_interval`` seconds, and on any failure — connection reset,
  reader death, ping timeout of a silent server — throws the connection away and connects a
  *fresh* client with exponential backoff (tenacity).  Wrong credentials are reported as
  :class:`AmiError` ``auth_failed`` and retried only every ``reconnect_max_delay`` seconds.

Events (``QueueCallerJoin`` ... ``UserEvent``) are translated by :func:`feed_board` into calls
on a :class:`~agent_console.live.LiveBoard`; the channel variables ``REG_CALL_ID``/``REG_REASON``
arrive as ``ChanVariable``/``DestChanVariable`` headers (``channelvars`` in manager.conf), which
the package already parses into dicts.

Actions return typed results or raise :class:`AmiError` with a stable ``code``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asterisk.ami import AMIClient, Event, EventListener, LoginAction, Response, SimpleAction
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential,
)

from agent_console.live import DEFAULT_QUEUE, CallerEntry, LiveBoard, MemberEntry
from booking_core.masking import mask_phone

if TYPE_CHECKING:
    from registratura.settings import Settings

logger = logging.getLogger(__name__)

# Stable error codes of AmiError.
NOT_CONNECTED = "not_connected"
CONNECT_FAILED = "connect_failed"
AUTH_FAILED = "auth_failed"
TIMEOUT = "timeout"
ACTION_FAILED = "action_failed"
INVALID_ARGUMENT = "invalid_argument"
PROTOCOL_ERROR = "protocol_error"
STOPPED = "stopped"

#: What the OriginateResponse ``Reason`` numbers mean (the last control frame Asterisk saw).
ORIGINATE_REASONS = {0: "failed", 1: "hangup", 3: "no_answer", 4: "answered", 5: "busy",
                     8: "congestion"}

#: After this many seconds an originate's outcome is given up on.
ORIGINATE_OUTCOME_WAIT = 600.0

CALLBACK_CONTEXT = "registry-agent-callback"
REMINDER_CONTEXT = "registry-reminder"
OUTBOUND_CONTEXT = "registry-outbound"

_INTERFACE = re.compile(r"^PJSIP/[A-Za-z0-9_.\-]{1,64}$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:/\-]{1,64}$")
_NUMBER_NOISE = re.compile(r"[\s()\-.]")
_MEMBER_EVENTS = frozenset({"QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause",
                            "QueueMemberPenalty", "QueueMemberRinginuse"})
_ids = itertools.count(1)
_ID_PREFIX = f"reg-{secrets.token_hex(3)}-"


class AmiError(Exception):
    """An AMI action or the connection failed.

    ``code`` is one of the module constants (``not_connected``, ``connect_failed``,
    ``auth_failed``, ``timeout``, ``action_failed``, ``invalid_argument``, ``protocol_error``,
    ``stopped``); ``message`` is human-readable (Asterisk's own ``Message:`` for
    ``action_failed``); ``action`` names the AMI action if there was one.
    """

    def __init__(self, code: str, message: str, *, action: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.action = action


# ---------------------------------------------------------------------------- typed results


@dataclass(frozen=True)
class ActionResult:
    """A successful ``Response: Success`` (or ``Goodbye``) to an action."""

    action: str
    action_id: str
    message: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class QueueMemberStatus:
    """One ``QueueMember`` of a ``QueueStatus`` dump."""

    queue: str
    interface: str
    name: str
    state_interface: str
    membership: str
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int

    def to_entry(self) -> MemberEntry:
        return MemberEntry(interface=self.interface, queue=self.queue, name=self.name,
                           state_interface=self.state_interface, membership=self.membership,
                           status=self.status, paused=self.paused,
                           paused_reason=self.paused_reason, in_call=self.in_call,
                           calls_taken=self.calls_taken)

    @property
    def available(self) -> bool:
        return self.to_entry().available


@dataclass(frozen=True)
class QueueEntryStatus:
    """One waiting caller (``QueueEntry``) of a ``QueueStatus`` dump."""

    queue: str
    position: int
    channel: str
    uniqueid: str
    caller_number: str
    caller_name: str
    wait_seconds: int


@dataclass(frozen=True)
class QueueStatusResult:
    """What ``QueueStatus`` reported."""

    members: tuple[QueueMemberStatus, ...]
    entries: tuple[QueueEntryStatus, ...]
    queues: tuple[str, ...]

    def agents_available(self, queue: str = DEFAULT_QUEUE) -> bool:
        """Any member of ``queue`` logged in, not paused and with a usable device."""
        return any(m.available for m in self.members if m.queue == queue)


@dataclass(frozen=True)
class OriginateOutcome:
    """The ``OriginateResponse`` event of an asynchronous ``Originate``."""

    response: str  # "Success" / "Failure"
    reason: int
    uniqueid: str
    channel: str

    @property
    def success(self) -> bool:
        return self.response.lower() == "success"

    @property
    def reason_text(self) -> str:
        return ORIGINATE_REASONS.get(self.reason, str(self.reason))


class OriginateHandle:
    """An originate that Asterisk accepted ("successfully queued"); its outcome comes later."""

    def __init__(self, action_id: str, kind: str, channel: str, context: str, exten: str,
                 variables: Mapping[str, str]) -> None:
        self.action_id = action_id
        self.kind = kind
        self.channel = channel
        self.context = context
        self.exten = exten
        self.variables = dict(variables)
        self.created = time.monotonic()
        self._done = threading.Event()
        self._outcome: OriginateOutcome | None = None
        self._error: AmiError | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def outcome(self) -> OriginateOutcome | None:
        return self._outcome

    def wait(self, timeout: float | None = None) -> OriginateOutcome:
        """Block until ``OriginateResponse`` arrives; :class:`AmiError` on timeout or when the
        connection was lost first (the outcome is then unknown)."""
        if not self._done.wait(timeout):
            raise AmiError(TIMEOUT, "no OriginateResponse yet", action="Originate")
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome

    def _resolve(self, outcome: OriginateOutcome) -> None:
        self._outcome = outcome
        self._done.set()

    def _fail(self, error: AmiError) -> None:
        if not self._done.is_set():
            self._error = error
            self._done.set()


# ---------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AmiConfig:
    """Where and how to connect; :meth:`from_settings` reads the product settings."""

    host: str
    port: int = 5038
    username: str = "registratura"
    secret: str = field(default="", repr=False)
    queue: str = DEFAULT_QUEUE
    ping_interval: float = 10.0
    action_timeout: float = 5.0
    connect_timeout: float = 5.0
    reconnect_initial_delay: float = 0.5
    reconnect_max_delay: float = 30.0

    @property
    def read_timeout(self) -> float:
        """Socket read timeout: far above the ping interval (pongs arrive every interval)."""
        return max(3 * self.ping_interval, self.ping_interval + 2 * self.action_timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> AmiConfig:
        if not settings.ami_host:
            raise ValueError("ami_host is not set")
        return cls(host=settings.ami_host, port=settings.ami_port,
                   username=settings.ami_username,
                   secret=settings.ami_secret.get_secret_value(),
                   ping_interval=settings.ami_ping_interval,
                   reconnect_max_delay=settings.ami_reconnect_max_delay,
                   reconnect_initial_delay=min(0.5, settings.ami_reconnect_max_delay))


# ---------------------------------------------------------------------------- transport


class _AmiTransport(AMIClient):
    """``AMIClient`` with the timeouts split, whole and serialised sends, a guarded reader."""

    def __init__(self, host: str, port: int, *, action_timeout: float, connect_timeout: float,
                 read_timeout: float, name: str) -> None:
        super().__init__(address=host, port=port, timeout=action_timeout)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._send_lock = threading.Lock()
        self._name = name

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self._port),
                                        timeout=self._connect_timeout)
        sock.settimeout(self._read_timeout)
        self._socket = sock
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self.listen, name=self._name, daemon=True)
        self._thread.start()

    def listen(self) -> None:
        try:
            super().listen()
        except Exception as exc:  # noqa: BLE001 - banner missing/garbled: report, never crash
            self._fire_on_disconnect(error=exc)
        finally:
            self.finished.set()

    def send_action(self, action: Any, callback: Any = None) -> Any:
        """Register ``callback`` for the response (matched by the package's reader through
        ``ActionID``) and send the action whole.  The package's ``FutureResponse`` is not
        used: its ``set_response`` breaks on a failing callback and blocks on a condition."""
        with self._send_lock:
            action_id = action.keys["ActionID"]
            future = _CallbackFuture(callback)
            self._futures[action_id] = future
            self._fire_on_action(action=action)
            self.send(action)
            return future

    def send(self, pack: Any) -> None:
        self._socket.sendall((str(pack) + "\r\n").encode(self.encoding))

    def forget(self, action_id: str) -> None:
        """Drop the library's future of an action nobody waits for any more."""
        self._futures.pop(action_id, None)

    @property
    def version(self) -> str:
        return self._ami_version or "?"

    def close(self) -> None:
        if self.finished is not None:
            self.finished.set()
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)


class _CallbackFuture:
    """What the package's reader assigns ``future.response = response`` to."""

    def __init__(self, callback: Callable[[Response], None] | None) -> None:
        self._callback = callback
        self._response: Response | None = None

    @property
    def response(self) -> Response | None:
        return self._response

    @response.setter
    def response(self, response: Response) -> None:
        self._response = response
        if self._callback is not None:
            try:
                self._callback(response)
            except Exception:  # must not reach (and kill) the reader thread; logged
                logger.exception("AMI: response callback failed")


class _Pending:
    """A response somebody waits for."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: Response | None = None
        self.error: AmiError | None = None

    def set_response(self, response: Response) -> None:
        self.response = response
        self.event.set()

    def fail(self, error: AmiError) -> None:
        if self.response is None:  # an answer that arrived before the loss still counts
            self.error = error
        self.event.set()


class _ListCollector:
    """Events of a list action (``QueueStatus``) up to its ``...Complete`` event."""

    def __init__(self, complete: str) -> None:
        self.complete = complete
        self.events: list[Event] = []
        self.done = threading.Event()

    def add(self, event: Event) -> None:
        if event.name == self.complete:
            self.done.set()
        else:
            self.events.append(event)


class _Session:
    """One TCP connection and everything waiting on it."""

    def __init__(self, transport: _AmiTransport, number: int) -> None:
        self.transport = transport
        self.number = number
        self.dead = threading.Event()
        self.lock = threading.Lock()
        self.pending: dict[str, _Pending] = {}
        self.collectors: dict[str, _ListCollector] = {}
        self.originates: dict[str, OriginateHandle] = {}

    def mark_dead(self) -> None:
        """The connection is gone: wake everybody who waits on it."""
        self.dead.set()
        error = AmiError(NOT_CONNECTED, "AMI connection lost")
        with self.lock:
            pending, self.pending = list(self.pending.values()), {}
            originates, self.originates = list(self.originates.values()), {}
            for collector in self.collectors.values():
                collector.done.set()
        for p in pending:
            p.fail(error)
        for h in originates:
            h._fail(AmiError(NOT_CONNECTED, "AMI connection lost before the originate outcome",
                             action="Originate"))

    def close(self) -> None:
        self.mark_dead()
        self.transport.close()


class _Stopped(Exception):
    pass


# ---------------------------------------------------------------------------- the client


class AmiClient:
    """A supervised AMI connection feeding a :class:`LiveBoard`, plus the console's actions.

    ``start()`` runs the supervisor thread (connect, log in, reload the queue state, ping,
    reconnect); actions may be called from any thread and raise :class:`AmiError`
    (``not_connected`` while there is no session).
    """

    def __init__(self, config: AmiConfig, board: LiveBoard | None = None) -> None:
        self.config = config
        self.board = board if board is not None else LiveBoard(config.queue)
        self._lock = threading.Lock()
        self._session: _Session | None = None
        self._session_numbers = itertools.count(1)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: AmiError | None = None
        self.connect_attempts = 0
        self.sessions_opened = 0
        self._auth_failures = 0
        self._backoff = wait_exponential(multiplier=config.reconnect_initial_delay,
                                         max=config.reconnect_max_delay)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AmiClient:
        """Start connecting in the background (returns at once)."""
        if self._thread is not None:
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._supervise, name="ami-supervisor",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Log off (best effort), close the connection and stop reconnecting."""
        self._stopping.set()
        session = self._session
        if session is not None and not session.dead.is_set():
            with contextlib.suppress(AmiError):
                self._request(session, SimpleAction("Logoff"), timeout=min(1.0, timeout))
        if session is not None:
            session.close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._connected.clear()
        self.board.set_connected(False)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until logged in and the board reloaded; False on timeout."""
        return self._connected.wait(timeout)

    # ------------------------------------------------------------------ supervisor

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            try:
                session = self._connect_with_backoff()
            except _Stopped:
                break
            except Exception:  # the supervisor must survive any surprise (logged below)
                logger.exception("AMI supervisor: unexpected error while connecting")
                if self._stopping.wait(self.config.reconnect_max_delay):
                    break
                continue
            self._keep_alive(session)
            self._teardown(session)
        logger.debug("AMI supervisor stopped")

    def _connect_with_backoff(self) -> _Session:
        retrying = Retrying(
            retry=retry_if_exception_type(AmiError),
            stop=stop_when_event_set(self._stopping),
            wait=self._retry_wait,
            sleep=self._stopping.wait,
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            return retrying(self._open_session)
        except AmiError as exc:
            raise _Stopped from exc

    def _retry_wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, AmiError) and exc.code == AUTH_FAILED:
            return self.config.reconnect_max_delay  # a wrong password does not heal in 1 s
        return float(self._backoff(state))

    def _before_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        if isinstance(exc, AmiError) and exc.code == AUTH_FAILED:
            self._auth_failures += 1
            if self._auth_failures == 1 or self._auth_failures % 10 == 0:
                logger.error("AMI login to %s:%s refused for user %r (%s); check "
                             "REGISTRATURA_AMI_USERNAME / REGISTRATURA_AMI_SECRET and "
                             "manager.conf; retrying every %.0f s", self.config.host,
                             self.config.port, self.config.username, exc.message, delay)
            return
        logger.warning("AMI %s:%s unavailable (%s); attempt %d, next in %.1f s",
                       self.config.host, self.config.port, exc, state.attempt_number, delay)

    def _open_session(self) -> _Session:
        if self._stopping.is_set():
            raise AmiError(STOPPED, "client stopped")
        self.connect_attempts += 1
        number = next(self._session_numbers)
        transport = _AmiTransport(self.config.host, self.config.port,
                                  action_timeout=self.config.action_timeout,
                                  connect_timeout=self.config.connect_timeout,
                                  read_timeout=self.config.read_timeout,
                                  name=f"ami-reader-{number}")
        session = _Session(transport, number)
        transport.add_listener(on_disconnect=lambda source, error=None: self._on_disconnect(
            session, error))
        transport.add_event_listener(EventListener(
            on_event=lambda event, source=None, **_: self._on_event(session, event)))
        try:
            transport.connect()
        except OSError as exc:
            error = AmiError(CONNECT_FAILED,
                             f"cannot connect to {self.config.host}:{self.config.port}: {exc}")
            self.last_error = error
            raise error from exc
        try:
            response = self._request(session, LoginAction(self.config.username,
                                                          self.config.secret))
        except AmiError as exc:
            session.close()
            if exc.code == NOT_CONNECTED:
                exc = AmiError(PROTOCOL_ERROR, "the server closed the connection before "
                                               "answering Login (is it Asterisk's AMI?)",
                               action="Login")
            self.last_error = exc
            raise exc from None
        except BaseException:
            session.close()
            raise
        if response.is_error():
            session.close()
            message = response.keys.get("Message", "")
            code = AUTH_FAILED if "auth" in message.lower() else ACTION_FAILED
            error = AmiError(code, f"login as {self.config.username!r} refused: "
                                   f"{message or 'no reason given'}", action="Login")
            self.last_error = error
            raise error
        try:
            with self._lock:
                self._session = session
            self._reload(session)
        except AmiError as exc:
            self._teardown(session)
            self.last_error = exc
            raise
        except BaseException:
            self._teardown(session)
            raise
        self.sessions_opened += 1
        self._auth_failures = 0
        self.last_error = None
        self._connected.set()
        self.board.set_connected(True)
        logger.info("AMI connected to %s:%s as %s (Asterisk Call Manager %s)", self.config.host,
                    self.config.port, self.config.username, transport.version)
        return session

    def _keep_alive(self, session: _Session) -> None:
        """Ping every ``ping_interval`` until the session dies or the client stops."""
        while not self._stopping.is_set():
            if session.dead.wait(self.config.ping_interval):
                if self._stopping.is_set():
                    return
                logger.warning("AMI connection to %s:%s lost; reconnecting",
                               self.config.host, self.config.port)
                self.last_error = AmiError(NOT_CONNECTED, "AMI connection lost")
                return
            if self._stopping.is_set():
                return
            try:
                self._request(session, SimpleAction("Ping"))
            except AmiError as exc:
                logger.warning("AMI keep-alive ping failed (%s); reconnecting", exc.code)
                self.last_error = exc
                return

    def _teardown(self, session: _Session) -> None:
        with self._lock:
            current = self._session is session
            if current:
                self._session = None
        session.close()
        if current:
            self._connected.clear()
            self.board.set_connected(False)

    def _on_disconnect(self, session: _Session, error: object = None) -> None:
        """Reader thread ended (EOF, reset, read timeout, garbled banner)."""
        if not session.dead.is_set():
            logger.debug("AMI reader of session %d ended: %r", session.number, error)
        session.mark_dead()

    # ------------------------------------------------------------------ requests

    def _current(self) -> _Session:
        with self._lock:
            session = self._session
        if session is None or session.dead.is_set():
            raise AmiError(NOT_CONNECTED, "not connected to Asterisk (AMI)")
        return session

    def _request(self, session: _Session, action: SimpleAction | LoginAction,
                 timeout: float | None = None,
                 collector: _ListCollector | None = None,
                 handle: OriginateHandle | None = None) -> Response:
        """Send ``action`` and wait for its response (the raw package ``Response``)."""
        if session.dead.is_set():
            raise AmiError(NOT_CONNECTED, "not connected to Asterisk (AMI)", action=action.name)
        action_id = handle.action_id if handle else f"{_ID_PREFIX}{next(_ids)}"
        action.keys["ActionID"] = action_id
        pending = _Pending()
        with session.lock:
            session.pending[action_id] = pending
            if collector is not None:
                session.collectors[action_id] = collector
            if handle is not None:
                session.originates[action_id] = handle
        try:
            session.transport.send_action(action, callback=pending.set_response)
        except OSError as exc:
            self._forget(session, action_id)
            session.mark_dead()
            raise AmiError(NOT_CONNECTED, f"sending {action.name} failed: {exc}",
                           action=action.name) from exc
        wait = self.config.action_timeout if timeout is None else timeout
        if not pending.event.wait(wait):
            self._forget(session, action_id)
            raise AmiError(TIMEOUT, f"no answer to {action.name} within {wait:g} s",
                           action=action.name)
        with session.lock:
            session.pending.pop(action_id, None)
        if pending.response is None and pending.error is not None:
            self._forget(session, action_id)
            raise AmiError(pending.error.code, pending.error.message, action=action.name)
        assert pending.response is not None
        return pending.response

    @staticmethod
    def _forget(session: _Session, action_id: str) -> None:
        with session.lock:
            session.pending.pop(action_id, None)
            session.collectors.pop(action_id, None)
            session.originates.pop(action_id, None)
        session.transport.forget(action_id)

    def action(self, name: str, headers: Mapping[str, object] | None = None, *,
               variables: Mapping[str, str] | None = None,
               timeout: float | None = None) -> ActionResult:
        """Send any AMI action; ``Response: Error`` raises :class:`AmiError` ``action_failed``.

        Header values are checked: a CR or LF would let a value inject headers or actions.
        """
        action = SimpleAction(name, **{k: _header(k, v) for k, v in (headers or {}).items()})
        if variables:
            action.variables = {_header("Variable", k): _header(k, v)
                                for k, v in variables.items()}
        session = self._current()
        response = self._request(session, action, timeout)
        return _result(name, response)

    # ------------------------------------------------------------------ actions

    def ping(self) -> ActionResult:
        """``Ping``: a round trip (``Ping: Pong`` in the headers)."""
        return self.action("Ping")

    def queue_pause(self, interface: str, paused: bool, reason: str = "",
                    queue: str | None = None) -> ActionResult:
        """``QueuePause`` one member (in ``queue``, default the registry queue)."""
        headers: dict[str, object] = {"Interface": _interface(interface),
                                      "Paused": "true" if paused else "false",
                                      "Queue": queue or self.config.queue}
        if reason:
            headers["Reason"] = reason
        result = self.action("QueuePause", headers)
        logger.info("AMI: %s %s", interface, "paused" if paused else "unpaused")
        return result

    def queue_add(self, interface: str, member_name: str = "", *, paused: bool = False,
                  queue: str | None = None, penalty: int = 0) -> ActionResult:
        """``QueueAdd``: log an agent's phone into the queue (dynamic member)."""
        headers: dict[str, object] = {"Queue": queue or self.config.queue,
                                      "Interface": _interface(interface),
                                      "Penalty": int(penalty),
                                      "Paused": "true" if paused else "false"}
        if member_name:
            headers["MemberName"] = member_name
        return self.action("QueueAdd", headers)

    def queue_remove(self, interface: str, queue: str | None = None) -> ActionResult:
        """``QueueRemove``: log the phone out of the queue."""
        return self.action("QueueRemove", {"Queue": queue or self.config.queue,
                                           "Interface": _interface(interface)})

    def getvar(self, channel: str, variable: str) -> str | None:
        """``Getvar`` of a channel variable; ``None`` when the channel is gone."""
        try:
            result = self.action("Getvar", {"Channel": channel, "Variable": variable})
        except AmiError as exc:
            if exc.code == ACTION_FAILED:
                return None
            raise
        return result.headers.get("Value", "")

    def queue_status(self, queue: str | None = None, *,
                     refresh_board: bool = True) -> QueueStatusResult:
        """``QueueStatus`` of ``queue``: members (paused, device state) and waiting callers.

        With ``refresh_board`` the board's state of that queue is replaced by the result.
        """
        session = self._current()
        queue = queue or self.config.queue
        result = self._queue_status(session, queue)
        if refresh_board:
            self._load_board(session, result, queue)
        return result

    def agents_available(self) -> bool | None:
        """Presence from the board (kept current by events): ``None`` while disconnected."""
        return self.board.agents_available(self.config.queue)

    def originate_callback(self, agent_interface: str, patient_number: str, call_id: str, *,
                           timeout_ms: int = 30000,
                           caller_id: str | None = None) -> OriginateHandle:
        """Click-to-call: ring the agent's phone, then dial the patient from
        ``registry-agent-callback`` (dialplans/extensions.conf)."""
        interface = _interface(agent_interface)
        number = normalize_number(patient_number)
        variables = {"REG_CALL_ID": _safe_id(call_id, "call_id")}
        headers: dict[str, object] = {
            "Channel": interface, "Context": CALLBACK_CONTEXT, "Exten": number,
            "Priority": 1, "Timeout": int(timeout_ms), "Async": "true",
            "CallerID": caller_id or f'"Callback" <{number}>',
        }
        handle = self._originate("callback", headers, variables)
        logger.info("AMI: click-to-call %s -> %s queued (call %s)", interface,
                    mask_phone(number), variables["REG_CALL_ID"])
        return handle

    def originate_reminder(self, patient_number: str, appointment_id: int | str, *,
                           call_id: str | None = None, timeout_ms: int = 45000,
                           caller_id: str | None = None) -> OriginateHandle:
        """Reminder call: ``Local/<number>@registry-outbound`` answered into
        ``registry-reminder`` with ``REG_APPOINTMENT_ID``."""
        number = normalize_number(patient_number)
        appointment = str(appointment_id)
        if not appointment.isdigit():
            raise AmiError(INVALID_ARGUMENT, "appointment id must be a number",
                           action="Originate")
        variables = {"REG_APPOINTMENT_ID": appointment}
        if call_id:
            variables["REG_CALL_ID"] = _safe_id(call_id, "call_id")
        headers: dict[str, object] = {
            "Channel": f"Local/{number}@{OUTBOUND_CONTEXT}", "Context": REMINDER_CONTEXT,
            "Exten": "s", "Priority": 1, "Timeout": int(timeout_ms), "Async": "true",
        }
        if caller_id:
            headers["CallerID"] = _header("CallerID", caller_id)
        handle = self._originate("reminder", headers, variables)
        logger.info("AMI: reminder call to %s for appointment %s queued", mask_phone(number),
                    appointment)
        return handle

    # ------------------------------------------------------------------ internals

    def _originate(self, kind: str, headers: dict[str, object],
                   variables: dict[str, str]) -> OriginateHandle:
        session = self._current()
        self._prune_originates(session)
        handle = OriginateHandle(f"{_ID_PREFIX}{next(_ids)}", kind, str(headers["Channel"]),
                                 str(headers["Context"]), str(headers["Exten"]), variables)
        action = SimpleAction("Originate", **{k: _header(k, v) for k, v in headers.items()})
        action.variables = dict(variables)
        response = self._request(session, action, handle=handle)
        if response.is_error():
            self._forget(session, handle.action_id)
            raise AmiError(ACTION_FAILED, response.keys.get("Message", "Originate failed"),
                           action="Originate")
        return handle

    @staticmethod
    def _prune_originates(session: _Session) -> None:
        """Forget originates whose OriginateResponse never came (e.g. no ``call`` read class)."""
        limit = time.monotonic() - ORIGINATE_OUTCOME_WAIT
        with session.lock:
            stale = [h for h in session.originates.values() if h.created < limit]
            for handle in stale:
                session.originates.pop(handle.action_id, None)
        for handle in stale:
            handle._fail(AmiError(TIMEOUT, "no OriginateResponse arrived", action="Originate"))

    def _queue_status(self, session: _Session, queue: str) -> QueueStatusResult:
        collector = _ListCollector("QueueStatusComplete")
        response = self._request(session, SimpleAction("QueueStatus", Queue=queue),
                                 collector=collector)
        if response.is_error():
            self._forget(session, str(response.keys.get("ActionID", "")))
            raise AmiError(ACTION_FAILED, response.keys.get("Message", "QueueStatus failed"),
                           action="QueueStatus")
        action_id = response.keys.get("ActionID", "")
        finished = collector.done.wait(self.config.action_timeout)
        self._forget(session, action_id)
        if session.dead.is_set():
            raise AmiError(NOT_CONNECTED, "AMI connection lost during QueueStatus",
                           action="QueueStatus")
        if not finished:
            raise AmiError(TIMEOUT, "QueueStatus list did not complete", action="QueueStatus")
        members: list[QueueMemberStatus] = []
        entries: list[QueueEntryStatus] = []
        queues: list[str] = []
        for event in collector.events:
            k = event.keys
            if event.name == "QueueParams":
                queues.append(k.get("Queue", ""))
            elif event.name == "QueueMember":
                members.append(QueueMemberStatus(
                    queue=k.get("Queue", ""), interface=k.get("Location", ""),
                    name=k.get("Name", ""), state_interface=k.get("StateInterface", ""),
                    membership=k.get("Membership", ""), status=_int(k.get("Status")),
                    paused=k.get("Paused") == "1", paused_reason=k.get("PausedReason", ""),
                    in_call=k.get("InCall") == "1", calls_taken=_int(k.get("CallsTaken"))))
            elif event.name == "QueueEntry":
                entries.append(QueueEntryStatus(
                    queue=k.get("Queue", ""), position=_int(k.get("Position")),
                    channel=k.get("Channel", ""), uniqueid=k.get("Uniqueid", ""),
                    caller_number=_clean(k.get("CallerIDNum")),
                    caller_name=_clean(k.get("CallerIDName")),
                    wait_seconds=_int(k.get("Wait"))))
        return QueueStatusResult(tuple(members), tuple(entries), tuple(queues))

    def _load_board(self, session: _Session, status: QueueStatusResult, queue: str) -> None:
        now = time.time()
        callers: list[CallerEntry] = []
        for e in status.entries:
            entry = CallerEntry(uniqueid=e.uniqueid, queue=e.queue, channel=e.channel,
                                caller_number=e.caller_number, caller_name=e.caller_name,
                                position=e.position, joined_at=now - e.wait_seconds)
            # QueueEntry carries no channel variables: ask for the IVR's context.
            for var in ("REG_CALL_ID", "REG_REASON"):
                try:
                    response = self._request(session, SimpleAction(
                        "Getvar", Channel=e.channel, Variable=var))
                except AmiError as exc:
                    if exc.code != ACTION_FAILED:
                        raise
                    continue
                if not response.is_error():
                    value = response.keys.get("Value", "")
                    if var == "REG_CALL_ID":
                        entry.call_id = value
                    else:
                        entry.reason = value
            callers.append(entry)
        self.board.load_queue_state([m.to_entry() for m in status.members], callers, [queue])

    def _reload(self, session: _Session) -> None:
        """After a (re)connect: the queue's members and callers as Asterisk has them now."""
        queue = self.config.queue
        self._load_board(session, self._queue_status(session, queue), queue)

    def _on_event(self, session: _Session, event: Event) -> None:
        """Every event of ``session`` (reader thread): never raise from here."""
        try:
            if self._session is not session and session.dead.is_set():
                return
            keys = event.keys
            action_id = keys.get("ActionID")
            if action_id:
                with session.lock:
                    collector = session.collectors.get(action_id)
                    handle = (session.originates.pop(action_id, None)
                              if event.name == "OriginateResponse" else None)
                if collector is not None:
                    collector.add(event)
                    return
                if handle is not None:
                    self._originate_done(handle, keys)
                    return
            feed_board(self.board, event.name, keys)
        except Exception:  # an exception here would kill the reader thread (logged below)
            logger.exception("AMI: could not process event %s", getattr(event, "name", "?"))

    def _originate_done(self, handle: OriginateHandle, keys: Mapping[str, Any]) -> None:
        outcome = OriginateOutcome(response=keys.get("Response", ""),
                                   reason=_int(keys.get("Reason")),
                                   uniqueid=_clean(keys.get("Uniqueid")),
                                   channel=keys.get("Channel", ""))
        handle._resolve(outcome)
        logger.info("AMI: %s originate %s: %s (reason %s)", handle.kind, handle.action_id,
                    outcome.response, outcome.reason_text)
        self.board.notice("originate_result", {
            "action_id": handle.action_id, "kind": handle.kind, "success": outcome.success,
            "reason": outcome.reason, "reason_text": outcome.reason_text,
            "call_id": handle.variables.get("REG_CALL_ID", ""),
            "appointment_id": handle.variables.get("REG_APPOINTMENT_ID", ""),
        })


# ---------------------------------------------------------------------------- events -> board


def feed_board(board: LiveBoard, name: str, keys: Mapping[str, Any]) -> bool:
    """Apply one AMI event to ``board``; False if the event is not one the board follows."""
    uid = str(keys.get("Uniqueid", ""))
    chan = _vars(keys, "ChanVariable")
    if name == "QueueCallerJoin":
        board.caller_joined(CallerEntry(
            uniqueid=uid, queue=keys.get("Queue", DEFAULT_QUEUE),
            channel=keys.get("Channel", ""), caller_number=_clean(keys.get("CallerIDNum")),
            caller_name=_clean(keys.get("CallerIDName")), position=_int(keys.get("Position")),
            joined_at=_timestamp(keys), call_id=chan.get("REG_CALL_ID", ""),
            reason=chan.get("REG_REASON", "")))
    elif name == "QueueCallerLeave":
        board.caller_left_queue(uid)
    elif name == "QueueCallerAbandon":
        board.caller_left_queue(uid, abandoned=True)
    elif name in ("AgentCalled", "AgentConnect", "AgentRingNoAnswer"):
        board.caller_context(uid, call_id=chan.get("REG_CALL_ID", ""),
                             reason=chan.get("REG_REASON", ""))
        interface, member = keys.get("Interface", ""), keys.get("MemberName", "")
        if name == "AgentCalled":
            board.caller_ringing(uid, interface, member)
        elif name == "AgentConnect":
            board.caller_connected(uid, interface, member)
        else:
            board.caller_ring_no_answer(uid)
    elif name == "AgentComplete":
        board.call_ended(uid, "completed")
    elif name == "AgentDump":
        board.call_ended(uid, "dumped")
    elif name == "Hangup":
        board.call_ended(uid, "hangup")
    elif name in _MEMBER_EVENTS:
        board.member_changed(MemberEntry(
            interface=keys.get("Interface", ""), queue=keys.get("Queue", DEFAULT_QUEUE),
            name=keys.get("MemberName", ""), state_interface=keys.get("StateInterface", ""),
            membership=keys.get("Membership", ""), status=_int(keys.get("Status")),
            paused=keys.get("Paused") in ("1", "true"), paused_reason=keys.get("PausedReason", ""),
            in_call=keys.get("InCall") == "1", calls_taken=_int(keys.get("CallsTaken"))))
    elif name == "QueueMemberRemoved":
        board.member_removed(keys.get("Interface", ""), keys.get("Queue", DEFAULT_QUEUE))
    elif name == "UserEvent" and keys.get("UserEvent") == "RegistryCallbackRequest":
        board.callback_requested({
            "call_id": keys.get("CallID", "") or chan.get("REG_CALL_ID", ""),
            "caller_number": _clean(keys.get("CallerIDNum")),
            "reason": keys.get("Reason", ""), "queue_result": keys.get("QueueResult", ""),
            "via": keys.get("Via", ""), "mailbox": keys.get("Mailbox", ""),
            "file": keys.get("File", ""), "uniqueid": uid,
        })
        logger.info("AMI: callback request via %s from %s", keys.get("Via", "?"),
                    mask_phone(_clean(keys.get("CallerIDNum"))) or "unknown")
    elif name == "UserEvent" and keys.get("UserEvent") == "RegistryReminderFailed":
        board.notice("reminder_failed", {"call_id": keys.get("CallID", ""),
                                         "appointment_id": keys.get("AppointmentID", ""),
                                         "agi_status": keys.get("AGIStatus", "")})
    else:
        return False
    return True


# ---------------------------------------------------------------------------- helpers


def normalize_number(number: str) -> str:
    """A Russian number as the dialplan dials it (``7XXXXXXXXXX``), or :class:`AmiError`.

    Accepts ``+7…``, ``7…``, ``8…`` (11 digits) and 10-digit national numbers starting with
    3, 4, 8 or 9 — the same rule as ``registry-sub-normalize`` (a toll-fraud guard).
    """
    compact = _NUMBER_NOISE.sub("", number or "")
    if re.fullmatch(r"\+7\d{10}", compact):
        return compact[1:]
    if re.fullmatch(r"[78]\d{10}", compact):
        return "7" + compact[1:]
    if re.fullmatch(r"[3489]\d{9}", compact):
        return "7" + compact
    raise AmiError(INVALID_ARGUMENT, f"not a Russian phone number: {mask_phone(number) or '-'}",
                   action="Originate")


def _interface(interface: str) -> str:
    if not _INTERFACE.match(interface or ""):
        raise AmiError(INVALID_ARGUMENT,
                       f"agent interface must look like PJSIP/agent101, got {interface!r}")
    return interface


def _safe_id(value: str, what: str) -> str:
    if not _SAFE_ID.match(value or ""):
        raise AmiError(INVALID_ARGUMENT, f"{what} may hold letters, digits and ._:/- only")
    return value


def _header(key: str, value: object) -> str:
    text = str(value)
    if "\r" in text or "\n" in text or "\r" in key or "\n" in key:
        raise AmiError(INVALID_ARGUMENT, f"AMI header {key!r} must not contain line breaks")
    return text


def _result(name: str, response: Response) -> ActionResult:
    keys = dict(response.keys)
    if response.is_error():
        raise AmiError(ACTION_FAILED, keys.get("Message", f"{name} failed"), action=name)
    return ActionResult(action=name, action_id=keys.get("ActionID", ""),
                        message=keys.get("Message", ""), headers=keys)


def _vars(keys: Mapping[str, Any], header: str) -> dict[str, str]:
    value = keys.get(header)
    return value if isinstance(value, dict) else {}


def _clean(value: object) -> str:
    text = str(value or "").strip()
    return "" if text in ("<unknown>", "<null>") else text


def _int(value: object) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0


def _timestamp(keys: Mapping[str, Any]) -> float:
    try:
        return float(keys["Timestamp"])
    except (KeyError, TypeError, ValueError):
        return time.time()


__all__ = [
    "ACTION_FAILED", "AUTH_FAILED", "CONNECT_FAILED", "INVALID_ARGUMENT", "NOT_CONNECTED",
    "PROTOCOL_ERROR", "STOPPED", "TIMEOUT", "ActionResult", "AmiClient", "AmiConfig", "AmiError",
    "OriginateHandle", "OriginateOutcome", "QueueEntryStatus", "QueueMemberStatus",
    "QueueStatusResult", "feed_board", "normalize_number",
]
