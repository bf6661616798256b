"""The live board: what the agents' queue looks like right now, fed by AMI events.

:class:`LiveBoard` is plain in-memory state guarded by one lock, so the AMI reader thread can
update it while request handlers read it.  It knows nothing about the AMI wire format
(:mod:`agent_console.ami` translates events into the calls below); it only knows callers,
queue members and connection state:

* **callers** — channels waiting in a queue, ringing an agent or talking to one, keyed by the
  caller channel's ``Uniqueid``, with the IVR's context (``REG_CALL_ID``, ``REG_REASON``) so the
  console can show what the caller already did;
* **members** — queue members (agents' phones): interface, name, device status, paused, in call;
* **connected** — whether the AMI session is up; everything else is stale while it is not, and
  :meth:`LiveBoard.agents_available` answers ``None`` ("unknown").

Browsers follow the board through :meth:`LiveBoard.subscribe`, an async iterator of JSON-ready
change events (the first one is a full snapshot).  Each subscriber has its own ``asyncio.Queue``
fed from whatever thread changed the board via ``loop.call_soon_threadsafe``; a subscriber that
cannot keep up gets a fresh snapshot instead of an unbounded backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "registry-agents"

#: Device states (``Status`` of queue members) as Asterisk numbers them (``ast_device_state``).
DEVICE_STATES = {
    0: "unknown",
    1: "not_in_use",
    2: "in_use",
    3: "busy",
    4: "invalid",
    5: "unavailable",
    6: "ringing",
    7: "ring_in_use",
    8: "on_hold",
}
#: States ``queues.conf`` (``joinempty``/``leavewhenempty`` = unknown,invalid,unavailable) counts
#: as "nobody there"; a member in any other state and not paused can take calls sooner or later.
UNUSABLE_STATES = frozenset({0, 4, 5})

#: Caller states on the board.
WAITING, RINGING, CONNECTED = "waiting", "ringing", "connected"

#: How many callback requests / notices the board remembers for the snapshot.
RECENT_LIMIT = 50


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class CallerEntry:
    """One caller channel the queue knows about."""

    uniqueid: str
    queue: str = DEFAULT_QUEUE
    channel: str = ""
    caller_number: str = ""
    caller_name: str = ""
    position: int = 0
    joined_at: float | None = None  # epoch seconds
    call_id: str = ""  # REG_CALL_ID: the IVR's record of this call
    reason: str = ""  # REG_REASON: why the IVR handed the caller over
    state: str = WAITING
    agent_interface: str = ""
    agent_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "uniqueid": self.uniqueid,
            "queue": self.queue,
            "channel": self.channel,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "position": self.position,
            "joined_at": _iso(self.joined_at),
            "call_id": self.call_id,
            "reason": self.reason,
            "state": self.state,
            "agent_interface": self.agent_interface,
            "agent_name": self.agent_name,
        }


@dataclass
class MemberEntry:
    """One queue member (an agent's phone in the queue)."""

    interface: str
    queue: str = DEFAULT_QUEUE
    name: str = ""
    state_interface: str = ""
    membership: str = ""
    status: int = 0
    paused: bool = False
    paused_reason: str = ""
    in_call: bool = False
    calls_taken: int = 0

    @property
    def available(self) -> bool:
        """Logged in, not paused and with a usable device (the queue would ring it)."""
        return not self.paused and self.status not in UNUSABLE_STATES

    def to_dict(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "queue": self.queue,
            "name": self.name or self.interface,
            "state_interface": self.state_interface,
            "membership": self.membership,
            "status": self.status,
            "status_text": DEVICE_STATES.get(self.status, str(self.status)),
            "paused": self.paused,
            "paused_reason": self.paused_reason,
            "in_call": self.in_call,
            "calls_taken": self.calls_taken,
            "available": self.available,
        }


@dataclass(eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]]
    #: Events up to this sequence number are covered by a snapshot already delivered.
    min_seq: int = field(default=0)


class LiveBoard:
    """Thread-safe live state of the agents' queue(s).

    ``queue`` is the queue presence is judged on (``registry-agents``); callers and members of
    other queues are kept too and shown with their queue name.  ``configured=False`` marks a
    board of an installation without AMI (the snapshot says so, so the UI can explain it).
    """

    def __init__(self, queue: str = DEFAULT_QUEUE, *, configured: bool = True,
                 subscriber_queue_size: int = 256) -> None:
        self.queue = queue
        self.configured = configured
        self._subscriber_queue_size = subscriber_queue_size
        self._lock = threading.RLock()
        self._connected = False
        self._callers: dict[str, CallerEntry] = {}
        self._members: dict[tuple[str, str], MemberEntry] = {}
        self._callbacks: deque[dict[str, Any]] = deque(maxlen=RECENT_LIMIT)
        self._seq = 0
        self._subscribers: set[_Subscriber] = set()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    # ------------------------------------------------------------------ reading

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._connected

    def snapshot(self) -> dict[str, Any]:
        """Everything on the board as plain JSON-serialisable data."""
        with self._lock:
            return self._snapshot_locked()

    def caller(self, uniqueid: str) -> dict[str, Any] | None:
        """One caller as a dict, or ``None``."""
        with self._lock:
            entry = self._callers.get(uniqueid)
            return entry.to_dict() if entry else None

    def member(self, interface: str, queue: str | None = None) -> dict[str, Any] | None:
        """One member as a dict, or ``None``."""
        with self._lock:
            entry = self._members.get((queue or self.queue, interface))
            return entry.to_dict() if entry else None

    def agents_available(self, queue: str | None = None) -> bool | None:
        """Is any agent logged in to ``queue``, not paused and reachable?

        ``None`` while AMI is not connected: the caller of this (the IVR) then falls back to
        opening hours.
        """
        queue = queue or self.queue
        with self._lock:
            if not self._connected:
                return None
            return any(m.available for (q, _), m in self._members.items() if q == queue)

    def _snapshot_locked(self) -> dict[str, Any]:
        callers = sorted(self._callers.values(),
                         key=lambda c: (c.queue, c.state != WAITING, c.position, c.uniqueid))
        members = sorted(self._members.values(), key=lambda m: (m.queue, m.interface))
        available = (any(m.available for m in members if m.queue == self.queue)
                     if self._connected else None)
        return {
            "configured": self.configured,
            "connected": self._connected,
            "seq": self._seq,
            "queue": self.queue,
            "agents_available": available,
            "callers": [c.to_dict() for c in callers],
            "members": [m.to_dict() for m in members],
            "callback_requests": list(self._callbacks),
        }

    # ------------------------------------------------------------------ connection

    def set_connected(self, connected: bool) -> None:
        """The AMI session came up (after its state was reloaded) or went away."""
        with self._lock:
            if self._connected == connected:
                return
            self._connected = connected
            self._publish_locked({"type": "connection", "connected": connected})

    # ------------------------------------------------------------------ callers

    def caller_joined(self, entry: CallerEntry) -> None:
        """``QueueCallerJoin``: a caller entered a queue."""
        with self._lock:
            old = self._callers.get(entry.uniqueid)
            if old is not None:
                entry.call_id = entry.call_id or old.call_id
                entry.reason = entry.reason or old.reason
            self._callers[entry.uniqueid] = entry
            self._publish_locked({"type": "caller_joined", "caller": entry.to_dict()})

    def caller_context(self, uniqueid: str, *, call_id: str = "", reason: str = "") -> None:
        """Channel variables learned later (a later event, or ``Getvar`` after a reconnect)."""
        with self._lock:
            entry = self._callers.get(uniqueid)
            if entry is None:
                return
            changed = False
            if call_id and call_id != entry.call_id:
                entry.call_id, changed = call_id, True
            if reason and reason != entry.reason:
                entry.reason, changed = reason, True
            if changed:
                self._publish_locked({"type": "caller_updated", "caller": entry.to_dict()})

    def caller_ringing(self, uniqueid: str, interface: str, name: str = "") -> None:
        """``AgentCalled``: the queue rings an agent for this caller."""
        self._set_caller_state(uniqueid, RINGING, interface, name)

    def caller_ring_no_answer(self, uniqueid: str) -> None:
        """``AgentRingNoAnswer``: the agent did not pick up; the caller waits on."""
        self._set_caller_state(uniqueid, WAITING, "", "")

    def caller_connected(self, uniqueid: str, interface: str, name: str = "") -> None:
        """``AgentConnect``: an agent answered and talks to the caller."""
        self._set_caller_state(uniqueid, CONNECTED, interface, name)
        with self._lock:
            for (_, iface), member in self._members.items():
                if iface == interface and not member.in_call:
                    member.in_call = True
                    self._publish_locked({"type": "member_updated", "member": member.to_dict()})

    def caller_left_queue(self, uniqueid: str, *, abandoned: bool = False) -> None:
        """``QueueCallerLeave``/``QueueCallerAbandon``: the caller is no longer waiting.

        A caller who leaves *because an agent answers* stays on the board (ringing, then
        connected); one who hung up, timed out or abandoned is removed.  Positions of the
        callers behind close up, as Asterisk does.
        """
        with self._lock:
            entry = self._callers.get(uniqueid)
            if entry is None:
                return
            if abandoned or entry.state == WAITING:
                del self._callers[uniqueid]
                self._close_up_locked(entry)
                self._publish_locked({"type": "caller_left", "uniqueid": uniqueid,
                                      "queue": entry.queue, "abandoned": abandoned,
                                      "call_id": entry.call_id})
            elif entry.position:
                self._close_up_locked(entry)
                entry.position = 0
                self._publish_locked({"type": "caller_updated", "caller": entry.to_dict()})

    def call_ended(self, uniqueid: str, why: str = "hangup") -> None:
        """``AgentComplete``/``AgentDump``/``Hangup`` of a caller channel: off the board."""
        with self._lock:
            entry = self._callers.pop(uniqueid, None)
            if entry is None:
                return
            if entry.state == WAITING:
                self._close_up_locked(entry)
            if entry.state == CONNECTED and entry.agent_interface:
                for (_, iface), member in self._members.items():
                    if iface == entry.agent_interface and member.in_call:
                        member.in_call = False
                        self._publish_locked({"type": "member_updated",
                                              "member": member.to_dict()})
            self._publish_locked({"type": "call_ended", "uniqueid": uniqueid,
                                  "queue": entry.queue, "why": why, "call_id": entry.call_id,
                                  "state": entry.state, "agent_name": entry.agent_name,
                                  "agent_interface": entry.agent_interface})

    def _set_caller_state(self, uniqueid: str, state: str, interface: str, name: str) -> None:
        with self._lock:
            entry = self._callers.get(uniqueid)
            if entry is None:
                return
            entry.state = state
            entry.agent_interface = interface
            entry.agent_name = name
            self._publish_locked({"type": "caller_updated", "caller": entry.to_dict()})

    def _close_up_locked(self, gone: CallerEntry) -> None:
        if gone.position <= 0:
            return
        for other in self._callers.values():
            if other.queue == gone.queue and other.position > gone.position:
                other.position -= 1

    # ------------------------------------------------------------------ members

    def member_changed(self, member: MemberEntry) -> None:
        """``QueueMemberAdded``/``Status``/``Pause``: a member's state (insert or replace)."""
        with self._lock:
            self._members[(member.queue, member.interface)] = member
            self._publish_locked({"type": "member_updated", "member": member.to_dict()})

    def member_paused(self, interface: str, paused: bool, reason: str = "",
                      queue: str | None = None) -> None:
        """Pause state only (when an event carries nothing else)."""
        with self._lock:
            key = (queue or self.queue, interface)
            member = self._members.get(key)
            if member is None:
                return
            self._members[key] = replace(member, paused=paused, paused_reason=reason)
            self._publish_locked({"type": "member_updated",
                                  "member": self._members[key].to_dict()})

    def member_removed(self, interface: str, queue: str | None = None) -> None:
        """``QueueMemberRemoved``: the agent logged out of the queue."""
        with self._lock:
            if self._members.pop((queue or self.queue, interface), None) is None:
                return
            self._publish_locked({"type": "member_removed", "interface": interface,
                                  "queue": queue or self.queue})

    # ------------------------------------------------------------------ bulk reload

    def load_queue_state(self, members: Iterable[MemberEntry], callers: Iterable[CallerEntry],
                         queues: Iterable[str] | None = None) -> None:
        """Replace the state of ``queues`` (default: those present) with a fresh dump.

        Used after every (re)connect with the result of ``QueueStatus``: events missed while the
        connection was down are thereby forgotten.  The IVR context of callers still on the line
        is kept when the dump lacks it (``QueueEntry`` carries no channel variables).
        """
        members = list(members)
        callers = list(callers)
        with self._lock:
            scope = set(queues) if queues is not None else (
                {m.queue for m in members} | {c.queue for c in callers} | {self.queue})
            old_callers = self._callers
            self._members = {k: m for k, m in self._members.items() if k[0] not in scope}
            self._callers = {u: c for u, c in old_callers.items() if c.queue not in scope}
            for m in members:
                self._members[(m.queue, m.interface)] = m
            for c in callers:
                previous = old_callers.get(c.uniqueid)
                if previous is not None:
                    c.call_id = c.call_id or previous.call_id
                    c.reason = c.reason or previous.reason
                    if c.joined_at is None:
                        c.joined_at = previous.joined_at
                    if c.state == WAITING and previous.state != WAITING:
                        c.state = previous.state
                        c.agent_interface = previous.agent_interface
                        c.agent_name = previous.agent_name
                self._callers[c.uniqueid] = c
            # Callers already talking to an agent are not queue entries any more; keep those
            # whose agent the dump still shows in a call (the Hangup event removes them later).
            busy = {(m.queue, m.interface) for m in members if m.in_call}
            for uid, old in old_callers.items():
                if (old.queue in scope and uid not in self._callers and old.state == CONNECTED
                        and (old.queue, old.agent_interface) in busy):
                    self._callers[uid] = old
            self._publish_locked({"type": "snapshot", "data": self._snapshot_locked()})

    # ------------------------------------------------------------------ notices

    def callback_requested(self, request: dict[str, Any]) -> None:
        """``UserEvent: RegistryCallbackRequest`` (the dialplan's voicemail/record fallback).

        A later request with the same ``call_id`` supersedes the earlier one (voicemail failed,
        the recording followed).
        """
        with self._lock:
            call_id = request.get("call_id")
            if call_id:
                for old in list(self._callbacks):
                    if old.get("call_id") == call_id:
                        self._callbacks.remove(old)
            entry = dict(request)
            entry.setdefault("received_at", _iso(time.time()))
            self._callbacks.append(entry)
            self._publish_locked({"type": "callback_request", "request": entry})

    def notice(self, kind: str, data: dict[str, Any]) -> None:
        """Any other change worth telling the browsers (originate results, reminder failures)."""
        with self._lock:
            self._publish_locked({"type": kind, **data})

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        """Change events, starting with ``{"type": "snapshot", "data": ...}``.

        Use as ``async for event in board.subscribe(): ...``; leaving the loop unsubscribes.
        Every event carries ``seq`` (increasing); a ``snapshot`` replaces all earlier state.
        """
        loop = asyncio.get_running_loop()
        sub = _Subscriber(loop, asyncio.Queue(maxsize=self._subscriber_queue_size))
        with self._lock:
            self._subscribers.add(sub)
            first = {"type": "snapshot", "seq": self._seq, "data": self._snapshot_locked()}
            sub.min_seq = self._seq
        try:
            yield first
            while True:
                yield await sub.queue.get()
        finally:
            with self._lock:
                self._subscribers.discard(sub)

    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener(event)`` with every change, in the thread that made it, under the
        board's lock: it must only hand the event on (e.g. put it in a queue)."""
        with self._lock:
            self._listeners.append(listener)

    def live_call_ids(self) -> set[str] | None:
        """REG_CALL_IDs of the callers Asterisk has now; ``None`` while AMI is not connected."""
        with self._lock:
            if not self._connected:
                return None
            return {c.call_id for c in self._callers.values() if c.call_id}

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _publish_locked(self, event: dict[str, Any]) -> None:
        self._seq += 1
        event["seq"] = self._seq
        for listener in self._listeners:
            try:
                listener(dict(event))
            except Exception:  # a listener must not break the board
                logger.exception("live board listener failed")
        dead: list[_Subscriber] = []
        for sub in self._subscribers:
            try:
                sub.loop.call_soon_threadsafe(self._deliver, sub, dict(event))
            except RuntimeError:  # the subscriber's loop is closed
                dead.append(sub)
        for sub in dead:
            self._subscribers.discard(sub)

    def _deliver(self, sub: _Subscriber, event: dict[str, Any]) -> None:
        """Runs in the subscriber's event loop."""
        if event.get("seq", 0) <= sub.min_seq:
            return  # already part of a snapshot this subscriber got
        if sub.queue.full():
            # Too slow a reader: drop the backlog, send the whole state instead.
            while not sub.queue.empty():
                with contextlib.suppress(asyncio.QueueEmpty):
                    sub.queue.get_nowait()
            with self._lock:
                snap = {"type": "snapshot", "seq": self._seq, "data": self._snapshot_locked()}
            logger.warning("live board: a subscriber fell behind; sending a fresh snapshot")
            sub.min_seq = snap["seq"]
            sub.queue.put_nowait(snap)
            return
        sub.queue.put_nowait(event)
