"""An Asterisk Manager Interface (AMI) server simulator over real TCP, test-only code.

It lives under ``tests/support`` so the product package ships no test doubles.

It speaks the AMI wire protocol the way Asterisk 20/22 does (``main/manager.c``,
``apps/app_queue.c``): a banner line ``Asterisk Call Manager/9.0.0``, then messages made of
``Key: Value\\r\\n`` lines ended by an empty line, in both directions.

What it implements, with Asterisk's own wording:

* ``Login`` (``Username``/``Secret``): ``Response: Success`` + ``Message: Authentication
  accepted`` and a ``FullyBooted`` event, or ``Response: Error`` + ``Message: Authentication
  failed`` after which the connection is closed (as Asterisk does).  Any other action before a
  login gets ``Message: Permission denied``.
* ``ActionID`` is echoed in every response and in the events an action produces.
* ``Ping`` -> ``Response: Success``, ``Ping: Pong``, ``Timestamp: <epoch.usec>``.
* ``QueueStatus`` -> ``Response: Success`` + ``EventList: start`` + ``Message: Queue status will
  follow``; ``QueueParams``/``QueueMember``/``QueueEntry`` events; ``QueueStatusComplete`` with
  ``EventList: Complete`` and ``ListItems``.
* ``QueuePause``, ``QueueAdd``, ``QueueRemove`` (with the ``QueueMember*`` events they cause),
  ``Getvar`` on a channel.
* ``Originate``: with ``Async: true`` an immediate ``Message: Originate successfully queued``,
  then an ``OriginateResponse`` event (``Response: Success``/``Failure``, ``Reason``) for the
  same ``ActionID``; without it the answer waits for the outcome.  ``Application=`` originates
  of AGI/System-like applications are refused like for a user without the ``system`` class.
* ``Logoff`` -> ``Response: Goodbye`` and the connection closes.
* Anything else -> ``Response: Error`` + ``Message: Invalid/unknown command: <name>. ...``.

Events carry ``Privilege`` and ``Timestamp`` (``timestampevents = yes``) and, for channel
events, the channel snapshot followed by one ``ChanVariable: NAME=value`` line per
``channelvars`` entry (``DestChanVariable`` for the agent's channel), as ``manager.conf`` of this
project configures.

The test API models a queue: :meth:`AmiSimulator.add_member`, :meth:`AmiSimulator.caller_join`,
:meth:`AmiSimulator.agent_called`, :meth:`AmiSimulator.agent_connect`, ... emit the same event
sequences Asterisk's ``app_queue`` emits and keep the state ``QueueStatus`` reports.  Faults:
:meth:`AmiSimulator.drop_connections` (abrupt reset), :meth:`AmiSimulator.go_silent` (sessions
stop answering, even pings), :meth:`AmiSimulator.refuse_connections` (new connections are reset
at once).  Every action received is kept in :attr:`AmiSimulator.actions`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

BANNER = "Asterisk Call Manager/9.0.0\r\n"
#: ``channelvars`` of dialplans/manager.conf, in order.
CHANNEL_VARS = ("REG_CALL_ID", "REG_REASON", "REG_ESCALATE", "REG_APPOINTMENT_ID",
                "REG_QUEUE_RESULT")
#: Variables an agent's channel inherits from the caller (``__REG_CALL_ID``, ``__REG_REASON``).
INHERITED_VARS = ("REG_CALL_ID", "REG_REASON")
DEFAULT_QUEUE = "registry-agents"
_FORBIDDEN_APPS = ("agi", "eagi", "system", "trysystem", "exec", "execif", "execiftime",
                   "mixmonitor", "shell")
_STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ReceivedAction:
    """One action a client sent, as the simulator parsed it."""

    session: int
    name: str
    headers: dict[str, str]  # last value wins; keys as the client spelled them
    variables: dict[str, str]  # every ``Variable: NAME=value`` line (Originate)
    lines: tuple[tuple[str, str], ...]  # all header lines in order (without ``Action``)

    def get(self, key: str, default: str = "") -> str:
        """Header value by case-insensitive name (as Asterisk's ``astman_get_header``)."""
        for k, v in self.headers.items():
            if k.lower() == key.lower():
                return v
        return default


@dataclass
class SimChannel:
    """A channel the simulated Asterisk knows (caller or agent leg)."""

    uniqueid: str
    name: str
    caller_number: str = "<unknown>"
    caller_name: str = "<unknown>"
    context: str = "registry-queue"
    exten: str = "s"
    priority: int = 1
    state: int = 6
    language: str = "ru"
    linkedid: str = ""
    variables: dict[str, str] = field(default_factory=dict)


@dataclass
class SimMember:
    """A queue member as app_queue keeps it."""

    queue: str
    interface: str
    name: str = ""
    state_interface: str = ""
    membership: str = "dynamic"
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: bool = False
    status: int = 1
    paused: bool = False
    paused_reason: str = ""
    wrapuptime: int = 0
    ringinuse: bool = False


@dataclass
class SimEntry:
    """A caller waiting in a queue."""

    uniqueid: str
    joined: float
    original_position: int


@dataclass
class SimSession:
    """One client connection."""

    id: int
    sock: socket.socket
    peer: tuple[str, int]
    authenticated: bool = False
    username: str = ""
    silent: bool = False
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, text: str) -> bool:
        """Write raw text unless the session is silent or gone; False if not written."""
        if self.silent or self.closed:
            return False
        with self.lock:
            try:
                self.sock.sendall(text.encode("utf-8"))
                return True
            except OSError:
                self.closed = True
                return False


def _message(lines: Iterable[tuple[str, object]]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in lines) + "\r\n"


class AmiSimulator:
    """A small, faithful AMI server.  Use as a context manager or ``start()``/``stop()``."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        queues: Iterable[str] = (DEFAULT_QUEUE,),
        originate_delay: float = 0.02,
    ) -> None:
        self.users = dict(users or {"registratura": "secret"})
        self.originate_delay = originate_delay
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._sessions: list[SimSession] = []
        self._session_ids = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._running = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self._refuse = False
        self._silent_new = False
        self.actions: list[ReceivedAction] = []
        self.connections_accepted = 0
        # Telephony state
        self.queues: dict[str, list[SimEntry]] = {q: [] for q in queues}
        self.members: dict[tuple[str, str], SimMember] = {}
        self.channels: dict[str, SimChannel] = {}
        self._uid = itertools.count(1)
        self._chan_seq = itertools.count(1)
        self._originate_result: tuple[str, int] = ("Success", 4)
        self.started_at = int(time.time())

    # ------------------------------------------------------------------ lifecycle

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> AmiSimulator:
        self._running.set()
        self._accept_thread = threading.Thread(target=self._accept_loop, name="ami-sim-accept",
                                               daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        with contextlib.suppress(OSError):
            self._listener.close()
        for session in self.sessions:
            self._close(session, reset=False)
        if self._accept_thread is not None:
            self._accept_thread.join(2.0)

    def __enter__(self) -> AmiSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ observation

    @property
    def sessions(self) -> list[SimSession]:
        with self._lock:
            return list(self._sessions)

    def active_sessions(self) -> list[SimSession]:
        """Open connections (silent ones included)."""
        return [s for s in self.sessions if not s.closed]

    def logged_in_sessions(self) -> list[SimSession]:
        return [s for s in self.sessions if not s.closed and s.authenticated]

    def received(self, name: str) -> list[ReceivedAction]:
        """Actions named ``name`` (case-insensitive), oldest first."""
        with self._lock:
            return [a for a in self.actions if a.name.lower() == name.lower()]

    def count(self, name: str) -> int:
        return len(self.received(name))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate()`` is true (re-checked whenever something happens)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
            return True

    # ------------------------------------------------------------------ faults

    def drop_connections(self) -> int:
        """Reset every open connection abruptly (TCP RST, no Goodbye); returns how many."""
        dropped = 0
        for session in self.active_sessions():
            self._close(session, reset=True)
            dropped += 1
        return dropped

    def go_silent(self, silent: bool = True, *, new_sessions: bool = False) -> None:
        """Current sessions stop answering anything (pings included) and get no events.

        The sockets stay open, as with a hung Asterisk or a dead NAT mapping.  With
        ``new_sessions=True`` later connections are silent too (not even a banner).
        """
        for session in self.active_sessions():
            session.silent = silent
        self._silent_new = silent and new_sessions

    def refuse_connections(self, refuse: bool = True) -> None:
        """New connections are accepted and reset at once (Asterisk restarting)."""
        self._refuse = refuse

    def set_originate_result(self, response: str = "Success", reason: int = 4) -> None:
        """Outcome of later originates: ``("Success", 4)`` answered, ``("Failure", 5)`` busy,
        ``("Failure", 3)`` no answer, ``("Failure", 8)`` congestion, ``("Failure", 0)``."""
        self._originate_result = (response, reason)

    # ------------------------------------------------------------------ queue model (test API)

    def add_member(self, interface: str, name: str = "", *, paused: bool = False,
                   status: int = 1, queue: str = DEFAULT_QUEUE, reason: str = "",
                   membership: str = "dynamic", emit: bool = True) -> SimMember:
        """An agent logs in (``QueueMemberAdded``)."""
        with self._lock:
            self.queues.setdefault(queue, [])
            member = SimMember(queue=queue, interface=interface, name=name or interface,
                               state_interface=interface, membership=membership, status=status,
                               paused=paused, paused_reason=reason if paused else "",
                               login_time=int(time.time()))
            self.members[(queue, interface)] = member
        if emit:
            self.emit("QueueMemberAdded", self._member_fields(member), privilege="agent,all")
        return member

    def remove_member(self, interface: str, queue: str = DEFAULT_QUEUE) -> None:
        with self._lock:
            member = self.members.pop((queue, interface))
        self.emit("QueueMemberRemoved", self._member_fields(member), privilege="agent,all")

    def set_paused(self, interface: str, paused: bool, reason: str = "",
                   queue: str = DEFAULT_QUEUE) -> None:
        """Pause from the phone (``*53``) or by auto-pause: ``QueueMemberPause``."""
        with self._lock:
            member = self.members[(queue, interface)]
            member.paused = paused
            member.paused_reason = reason if paused else ""
            member.last_pause = int(time.time()) if paused else member.last_pause
        self.emit("QueueMemberPause", self._member_fields(member), privilege="agent,all")

    def set_member_status(self, interface: str, status: int, queue: str = DEFAULT_QUEUE) -> None:
        """Device state change of a member's phone: ``QueueMemberStatus``."""
        with self._lock:
            member = self.members[(queue, interface)]
            member.status = status
        self.emit("QueueMemberStatus", self._member_fields(member), privilege="agent,all")

    def new_channel(self, name: str, caller_number: str = "<unknown>", *,
                    variables: Mapping[str, str] | None = None,
                    context: str = "registry-queue", uniqueid: str | None = None) -> SimChannel:
        """A channel (without any event)."""
        with self._lock:
            uid = uniqueid or f"{self.started_at}.{next(self._uid)}"
            channel = SimChannel(uniqueid=uid, name=name, caller_number=caller_number,
                                 context=context, linkedid=uid, variables=dict(variables or {}))
            self.channels[uid] = channel
            return channel

    def caller_join(self, caller_number: str, *, call_id: str = "", reason: str = "",
                    queue: str = DEFAULT_QUEUE, uniqueid: str | None = None) -> str:
        """A caller escalated by the IVR enters the queue (``QueueCallerJoin``); the uniqueid."""
        variables = {"REG_CALL_ID": call_id, "REG_REASON": reason} if call_id else {}
        if reason and not call_id:
            variables["REG_REASON"] = reason
        name = f"PJSIP/registry-trunk-{next(self._chan_seq):08x}"
        channel = self.new_channel(name, caller_number, variables=variables, uniqueid=uniqueid)
        with self._lock:
            entries = self.queues.setdefault(queue, [])
            entries.append(SimEntry(channel.uniqueid, time.time(), len(entries) + 1))
            position = len(entries)
        self.emit("QueueCallerJoin",
                  [*self._channel_fields(channel), ("Queue", queue), ("Position", position),
                   ("Count", position)], privilege="agent,all")
        return channel.uniqueid

    def agent_called(self, uniqueid: str, interface: str, queue: str = DEFAULT_QUEUE) -> str:
        """The queue rings a member (``AgentCalled``); returns the agent channel's uniqueid."""
        with self._lock:
            caller = self.channels[uniqueid]
            member = self.members[(queue, interface)]
            inherited = {k: caller.variables[k] for k in INHERITED_VARS if k in caller.variables}
        agent = self.new_channel(f"{interface}-{next(self._chan_seq):08x}", interface,
                                 variables=inherited, context="registry-agents-phones")
        agent.state = 5
        agent.linkedid = caller.linkedid
        self.emit("AgentCalled",
                  [*self._channel_fields(caller), *self._channel_fields(agent, prefix="Dest"),
                   ("Queue", queue), ("Interface", interface), ("MemberName", member.name)],
                  privilege="agent,all")
        self.set_member_status(interface, 6, queue)
        return agent.uniqueid

    def agent_ring_no_answer(self, uniqueid: str, agent_uniqueid: str, interface: str,
                             queue: str = DEFAULT_QUEUE, ring_time: int = 15) -> None:
        with self._lock:
            caller = self.channels[uniqueid]
            agent = self.channels.pop(agent_uniqueid)
            member = self.members[(queue, interface)]
        self.emit("AgentRingNoAnswer",
                  [*self._channel_fields(caller), *self._channel_fields(agent, prefix="Dest"),
                   ("Queue", queue), ("Interface", interface), ("MemberName", member.name),
                   ("RingTime", ring_time)], privilege="agent,all")
        self.set_member_status(interface, 1, queue)

    def agent_connect(self, uniqueid: str, agent_uniqueid: str, interface: str,
                      queue: str = DEFAULT_QUEUE) -> None:
        """The agent answers: ``QueueCallerLeave`` then ``AgentConnect`` (app_queue's order)."""
        with self._lock:
            caller = self.channels[uniqueid]
            agent = self.channels[agent_uniqueid]
            agent.state = 6
            member = self.members[(queue, interface)]
            hold = self._hold_time(queue, uniqueid)
        self._leave(queue, uniqueid)
        self.emit("AgentConnect",
                  [*self._channel_fields(caller), *self._channel_fields(agent, prefix="Dest"),
                   ("Queue", queue), ("MemberName", member.name), ("Interface", interface),
                   ("RingTime", 2), ("HoldTime", hold)], privilege="agent,all")
        with self._lock:
            member.in_call = True
        self.set_member_status(interface, 2, queue)

    def agent_complete(self, uniqueid: str, agent_uniqueid: str, interface: str, *,
                       queue: str = DEFAULT_QUEUE, reason: str = "caller",
                       talk_time: int = 60) -> None:
        """The call ends (``AgentComplete``, then both channels hang up)."""
        with self._lock:
            caller = self.channels[uniqueid]
            agent = self.channels[agent_uniqueid]
            member = self.members[(queue, interface)]
        self.emit("AgentComplete",
                  [*self._channel_fields(caller), *self._channel_fields(agent, prefix="Dest"),
                   ("Queue", queue), ("MemberName", member.name), ("Interface", interface),
                   ("HoldTime", 5), ("TalkTime", talk_time), ("Reason", reason)],
                  privilege="agent,all")
        with self._lock:
            member.in_call = False
            member.calls_taken += 1
            member.last_call = int(time.time())
        self.set_member_status(interface, 1, queue)
        self.hangup(agent_uniqueid)
        self.hangup(uniqueid)

    def caller_abandon(self, uniqueid: str, queue: str = DEFAULT_QUEUE) -> None:
        """The caller hangs up while waiting: ``QueueCallerAbandon``, ``QueueCallerLeave``,
        ``Hangup``."""
        with self._lock:
            caller = self.channels[uniqueid]
            entries = self.queues[queue]
            entry = next(e for e in entries if e.uniqueid == uniqueid)
            position = entries.index(entry) + 1
            hold = self._hold_time(queue, uniqueid)
        self.emit("QueueCallerAbandon",
                  [*self._channel_fields(caller), ("Queue", queue), ("Position", position),
                   ("OriginalPosition", entry.original_position), ("HoldTime", hold)],
                  privilege="agent,all")
        self._leave(queue, uniqueid)
        self.hangup(uniqueid)

    def caller_leave(self, uniqueid: str, queue: str = DEFAULT_QUEUE,
                     queue_result: str = "TIMEOUT") -> None:
        """The queue gives up on the caller (timeout, leavewhenempty): ``QueueCallerLeave``;
        the channel carries on in the dialplan with ``REG_QUEUE_RESULT``."""
        self._leave(queue, uniqueid)
        with self._lock:
            self.channels[uniqueid].variables["REG_QUEUE_RESULT"] = queue_result

    def hangup(self, uniqueid: str, cause: int = 16) -> None:
        """A channel hangs up: ``Hangup``."""
        with self._lock:
            channel = self.channels.pop(uniqueid, None)
            for entries in self.queues.values():
                entries[:] = [e for e in entries if e.uniqueid != uniqueid]
        if channel is None:
            return
        text = {16: "Normal Clearing", 17: "User busy", 19: "No answer"}.get(cause, "Unknown")
        self.emit("Hangup", [*self._channel_fields(channel), ("Cause", cause),
                             ("Cause-txt", text)], privilege="call,all")

    def callback_request(self, uniqueid: str, *, via: str = "voicemail",
                         mailbox: str = "registry@registratura", file: str = "") -> None:
        """The dialplan's fallback: ``UserEvent: RegistryCallbackRequest`` on the caller's
        channel (``CallID``, ``CallerIDNum``, ``Reason``, ``QueueResult``, ``Via``, ...)."""
        with self._lock:
            channel = self.channels[uniqueid]
            v = channel.variables
        body: list[tuple[str, object]] = [
            ("UserEvent", "RegistryCallbackRequest"), ("CallID", v.get("REG_CALL_ID", "")),
            ("CallerIDNum", channel.caller_number), ("Reason", v.get("REG_REASON", "")),
            ("QueueResult", v.get("REG_QUEUE_RESULT", "")), ("Via", via)]
        body.append(("Mailbox", mailbox) if via == "voicemail" else ("File", file))
        self.emit("UserEvent", [*self._channel_fields(channel), *body], privilege="user,all")

    # ------------------------------------------------------------------ raw events

    def emit(self, name: str, fields: Iterable[tuple[str, object]], *,
             privilege: str = "call,all", sessions: Sequence[SimSession] | None = None) -> int:
        """Send ``Event: name`` with ``fields`` to logged-in sessions; returns how many got it."""
        lines: list[tuple[str, object]] = [("Event", name), ("Privilege", privilege),
                                           ("Timestamp", _timestamp())]
        lines += list(fields)
        text = _message(lines)
        targets = sessions if sessions is not None else self.logged_in_sessions()
        return sum(1 for s in targets if s.authenticated and s.send(text))

    def push_event(self, name: str, fields: Headers | Mapping[str, object] = (), *,
                   chan_vars: Mapping[str, str] | None = None,
                   dest_chan_vars: Mapping[str, str] | None = None,
                   privilege: str = "agent,all") -> int:
        """Send an arbitrary event; ``chan_vars`` become ``ChanVariable: K=V`` lines (after the
        given fields) and ``dest_chan_vars`` ``DestChanVariable`` lines."""
        items = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        items += [("ChanVariable", f"{k}={v}") for k, v in (chan_vars or {}).items()]
        items += [("DestChanVariable", f"{k}={v}") for k, v in (dest_chan_vars or {}).items()]
        return self.emit(name, items, privilege=privilege)

    # ------------------------------------------------------------------ internals: state

    def _leave(self, queue: str, uniqueid: str) -> None:
        with self._lock:
            entries = self.queues.get(queue, [])
            entry = next((e for e in entries if e.uniqueid == uniqueid), None)
            if entry is None:
                return
            position = entries.index(entry) + 1
            entries.remove(entry)
            count = len(entries)
            caller = self.channels[uniqueid]
        self.emit("QueueCallerLeave", [*self._channel_fields(caller), ("Queue", queue),
                                       ("Count", count), ("Position", position)],
                  privilege="agent,all")

    def _hold_time(self, queue: str, uniqueid: str) -> int:
        entry = next((e for e in self.queues.get(queue, []) if e.uniqueid == uniqueid), None)
        return int(time.time() - entry.joined) if entry else 0

    @staticmethod
    def _channel_fields(channel: SimChannel, prefix: str = "") -> list[tuple[str, object]]:
        fields: list[tuple[str, object]] = [
            ("Channel", channel.name),
            ("ChannelState", channel.state),
            ("ChannelStateDesc", _STATE_DESC.get(channel.state, "Unknown")),
            ("CallerIDNum", channel.caller_number),
            ("CallerIDName", channel.caller_name),
            ("ConnectedLineNum", "<unknown>"),
            ("ConnectedLineName", "<unknown>"),
            ("Language", channel.language),
            ("AccountCode", ""),
            ("Context", channel.context),
            ("Exten", channel.exten),
            ("Priority", channel.priority),
            ("Uniqueid", channel.uniqueid),
            ("Linkedid", channel.linkedid or channel.uniqueid),
        ]
        out: list[tuple[str, object]] = [(f"{prefix}{k}", v) for k, v in fields]
        out += [(f"{prefix}ChanVariable", f"{name}={channel.variables.get(name, '')}")
                for name in CHANNEL_VARS]
        return out

    @staticmethod
    def _member_fields(m: SimMember) -> list[tuple[str, object]]:
        return [("Queue", m.queue), ("MemberName", m.name), ("Interface", m.interface),
                ("StateInterface", m.state_interface), ("Membership", m.membership),
                ("Penalty", m.penalty), ("CallsTaken", m.calls_taken),
                ("LastCall", m.last_call), ("LastPause", m.last_pause),
                ("LoginTime", m.login_time), ("InCall", int(m.in_call)), ("Status", m.status),
                ("Paused", int(m.paused)), ("PausedReason", m.paused_reason),
                ("Ringinuse", int(m.ringinuse)), ("Wrapuptime", m.wrapuptime)]

    # ------------------------------------------------------------------ internals: network

    def _accept_loop(self) -> None:
        while self._running.is_set():
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self.connections_accepted += 1
            if self._refuse:
                _reset(sock)
                continue
            session = SimSession(next(self._session_ids), sock, peer, silent=self._silent_new)
            with self._changed:
                self._sessions.append(session)
                self._changed.notify_all()
            thread = threading.Thread(target=self._serve, args=(session,),
                                      name=f"ami-sim-{session.id}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, session: SimSession) -> None:
        session.send(BANNER)
        buffer = b""
        try:
            while not session.closed:
                try:
                    data = session.sock.recv(4096)
                except OSError:
                    break
                if not data:
                    break
                buffer += data.replace(b"\r\n", b"\n")
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    if raw.strip() and not self._handle(session, raw.decode("utf-8", "replace")):
                        return
        finally:
            self._close(session, reset=False)

    def _close(self, session: SimSession, *, reset: bool) -> None:
        with self._changed:
            already = session.closed
            session.closed = True
            self._changed.notify_all()
        if already and not reset:
            with contextlib.suppress(OSError):
                session.sock.close()
            return
        if reset:
            _reset(session.sock)
        else:
            with contextlib.suppress(OSError):
                session.sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                session.sock.close()

    def _handle(self, session: SimSession, raw: str) -> bool:
        """Process one message; False when the connection must close."""
        lines: list[tuple[str, str]] = []
        for line in raw.split("\n"):
            if not line.strip():
                continue
            key, sep, value = line.partition(":")
            if not sep:
                continue
            lines.append((key.strip(), value.strip()))
        name = next((v for k, v in lines if k.lower() == "action"), "")
        rest = tuple((k, v) for k, v in lines if k.lower() != "action")
        headers = dict(rest)  # Getvar's "Variable" is a plain header: keep the last one too
        variables: dict[str, str] = {}
        for k, v in rest:
            if k.lower() == "variable":
                for item in v.split(","):
                    var, _, val = item.partition("=")
                    variables[var.strip()] = val
        action = ReceivedAction(session.id, name, headers, variables, rest)
        with self._changed:
            self.actions.append(action)
            self._changed.notify_all()
        if session.silent:
            return True
        action_id = action.get("ActionID")

        def reply(status: str, *extra: tuple[str, object], message: str | None = None) -> None:
            out: list[tuple[str, object]] = [("Response", status)]
            if action_id:
                out.append(("ActionID", action_id))
            out += list(extra)
            if message is not None:
                out.append(("Message", message))
            session.send(_message(out))

        lname = name.lower()
        if not name:
            reply("Error", message="Missing action in request")
            return True
        if lname == "login":
            return self._login(session, action, reply)
        if lname == "logoff":
            reply("Goodbye", message="Thanks for all the fish.")
            return False
        if not session.authenticated:
            reply("Error", message="Permission denied")
            return True
        handler = {
            "ping": self._ping,
            "queuestatus": self._queue_status,
            "queuepause": self._queue_pause,
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "originate": self._originate,
            "getvar": self._getvar,
        }.get(lname)
        if handler is None:
            reply("Error", message=f"Invalid/unknown command: {name}. "
                                   "Use Action: ListCommands to show available commands.")
            return True
        handler(session, action, reply)
        return True

    def _login(self, session: SimSession, action: ReceivedAction, reply: _Reply) -> bool:
        if session.authenticated:
            reply("Success", message="Already authenticated")
            return True
        user, secret = action.get("Username"), action.get("Secret")
        if user not in self.users or self.users[user] != secret:
            reply("Error", message="Authentication failed")
            logger.info("ami-sim: session %d: login refused", session.id)
            return False  # Asterisk closes the session after a failed login
        session.username = user
        session.authenticated = True
        reply("Success", message="Authentication accepted")
        session.send(_message([("Event", "FullyBooted"), ("Privilege", "system,all"),
                               ("Uptime", int(time.time()) - self.started_at),
                               ("LastReload", int(time.time()) - self.started_at),
                               ("Status", "Fully Booted")]))
        with self._changed:
            self._changed.notify_all()
        return True

    def _ping(self, session: SimSession, action: ReceivedAction, reply: _Reply) -> None:
        reply("Success", ("Ping", "Pong"), ("Timestamp", _timestamp()))

    def _queue_status(self, session: SimSession, action: ReceivedAction, reply: _Reply) -> None:
        action_id = action.get("ActionID")
        want_queue, want_member = action.get("Queue"), action.get("Member")
        reply("Success", ("EventList", "start"), message="Queue status will follow")
        id_line = [("ActionID", action_id)] if action_id else []
        items = 0
        with self._lock:
            queues = {q: list(e) for q, e in self.queues.items()}
            members = [SimMember(**vars(m)) for m in self.members.values()]
            channels = dict(self.channels)
        for queue, entries in queues.items():
            if want_queue and queue != want_queue:
                continue
            session.send(_message([
                ("Event", "QueueParams"), ("Queue", queue), ("Max", 30),
                ("Strategy", "leastrecent"), ("Calls", len(entries)), ("Holdtime", 0),
                ("TalkTime", 0), ("Completed", 0), ("Abandoned", 0), ("ServiceLevel", 60),
                ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"), ("Weight", 0),
                *id_line]))
            items += 1
            for m in members:
                if m.queue != queue or (want_member and m.interface != want_member):
                    continue
                session.send(_message([
                    ("Event", "QueueMember"), ("Queue", queue), ("Name", m.name),
                    ("Location", m.interface), ("StateInterface", m.state_interface),
                    ("Membership", m.membership), ("Penalty", m.penalty),
                    ("CallsTaken", m.calls_taken), ("LastCall", m.last_call),
                    ("LastPause", m.last_pause), ("LoginTime", m.login_time),
                    ("InCall", int(m.in_call)), ("Status", m.status), ("Paused", int(m.paused)),
                    ("PausedReason", m.paused_reason), ("Wrapuptime", m.wrapuptime),
                    *id_line]))
                items += 1
            for pos, entry in enumerate(entries, start=1):
                ch = channels.get(entry.uniqueid)
                if ch is None:
                    continue
                session.send(_message([
                    ("Event", "QueueEntry"), ("Queue", queue), ("Position", pos),
                    ("Channel", ch.name), ("Uniqueid", ch.uniqueid),
                    ("CallerIDNum", ch.caller_number), ("CallerIDName", ch.caller_name),
                    ("ConnectedLineNum", "<unknown>"), ("ConnectedLineName", "<unknown>"),
                    ("Wait", int(time.time() - entry.joined)), ("Priority", 0), *id_line]))
                items += 1
        session.send(_message([("Event", "QueueStatusComplete"), *id_line,
                               ("EventList", "Complete"), ("ListItems", items)]))

    def _find_members(self, interface: str, queue: str) -> list[SimMember]:
        return [m for (q, i), m in self.members.items()
                if i == interface and (not queue or q == queue)]

    def _queue_pause(self, session: SimSession, action: ReceivedAction, reply: _Reply) -> None:
        interface, paused_s = action.get("Interface"), action.get("Paused")
        queue, reason = action.get("Queue"), action.get("Reason")
        if not interface or not paused_s:
            reply("Error", message="Need 'Interface' and 'Paused' parameters.")
            return
        paused = paused_s.lower() in ("true", "yes", "1", "on", "y", "t")
        with self._lock:
            found = self._find_members(interface, queue)
        if not found:
            reply("Error", message="Interface not found")
            return
        reply("Success", message=f"Interface {'paused' if paused else 'unpaused'} successfully")
        for m in found:
            self.set_paused(m.interface, paused, reason, m.queue)

    def _queue_add(self, session: SimSession, action: ReceivedAction, reply: _Reply) -> None:
        queue, interface = action.get("Queue"), action.get("Interface")
        if not queue:
            reply("Error", message="'Queue' not specified.")
            return
        if not interface:
            reply("Error", message="'Interface' not specified.")
            return
        if queue not in self.queues:
            reply("Error", message="Unable to add interface to queue: No such queue")
            return
        if (queue, interface) in self.members:
            reply("Error", message="Unable to add interface: Already there")
            return
        paused = action.get("Paused").lower() in ("true", "yes", "1")
        reply("Success", message="Added interface to queue")
        self.add_member(interface, action.get("MemberName"), paused=paused, queue=queue,
                        reason=action.get("Reason"))

    def _queue_remove(self, session: SimSession, action: ReceivedAction, reply: _Reply) -> None:
        queue, interface = action.get("Queue"), action.get("Interface")
        if not queue or not interface:
            reply("Error", message="Need 'Queue' and 'Interface' parameters.")
            return
        if queue not in self.queues:
            reply("Error", message="Unable to remove interface from queue: No such queue")
            return
        if (queue, interface) not in self.members:
            reply("Error", message="Unable to remove interface: Not there")
            return
        reply("Success", message="Removed interface from queue")
        self.remove_member(interface, queue)

    def _getvar(self, session: SimSession, action: ReceivedAction, reply: _Reply) -> None:
        name, variable = action.get("Channel"), action.get("Variable")
        if not variable:
            reply("Error", message="No variable specified")
            return
        with self._lock:
            channel = next((c for c in self.channels.values() if c.name == name), None)
        if name and channel is None:
            reply("Error", message="No such channel")
            return
        value = channel.variables.get(variable, "") if channel else ""
        reply("Success", ("Variable", variable), ("Value", value))

    def _originate(self, session: SimSession, action: ReceivedAction, reply: _Reply) -> None:
        channel = action.get("Channel")
        if not channel:
            reply("Error", message="Channel not specified")
            return
        app = action.get("Application")
        if app and app.lower() in _FORBIDDEN_APPS:
            reply("Error", message="Originate Access Forbidden: Application")
            return
        priority = action.get("Priority")
        if not app and priority and not priority.isdigit():
            reply("Error", message="Invalid priority")
            return
        if "/" not in channel:
            reply("Error", message="Invalid channel")
            return
        is_async = action.get("Async").lower() in ("true", "yes", "1", "on")
        response, reason = self._originate_result
        action_id = action.get("ActionID")
        uid = f"{self.started_at}.{next(self._uid)}" if response == "Success" else "<null>"
        fields: list[tuple[str, object]] = [("Response", response), ("Channel", channel),
                                            ("Context", action.get("Context")),
                                            ("Exten", action.get("Exten")),
                                            ("Application", app), ("Data", action.get("Data")),
                                            ("Reason", reason), ("Uniqueid", uid),
                                            ("CallerIDNum", "<unknown>"),
                                            ("CallerIDName", "<unknown>")]
        if action_id:
            fields.insert(0, ("ActionID", action_id))

        def outcome() -> None:
            self.emit("OriginateResponse", fields, privilege="call,all", sessions=[session])

        if not is_async:
            time.sleep(self.originate_delay)
            if response == "Success":
                reply("Success", message="Originate successfully queued")
            else:
                reply("Error", message="Originate failed")
            outcome()
            return
        reply("Success", message="Originate successfully queued")
        timer = threading.Timer(self.originate_delay, outcome)
        timer.daemon = True
        timer.start()


_Reply = Callable[..., None]


def _timestamp() -> str:
    now = time.time()
    return f"{int(now)}.{int((now % 1) * 1_000_000):06d}"


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) so the peer sees a reset, not a polite FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()
