"""The live queue feed behind ``/events`` (Server-Sent Events).

One poller per app reads the waiting calls from the database (every ``interval`` seconds, or
at once after :meth:`QueueFeed.poke`) and tells every subscriber when the queue changed; calls
escalated by an IVR in another process show up within a second.  When Asterisk is connected,
the :class:`agent_console.live.LiveBoard` that the AMI side keeps in
``container.extras["live_board"]`` is merged in: its snapshot rides along with the queue and
its events are forwarded as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from agent_console import labels
from booking_core import call_queue
from booking_core.call_queue import QueuedCall
from booking_core.masking import mask_phone, scrub
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 100
EXPIRE_EVERY_S = 60.0


CALLER_STATES = {"waiting": "ждёт в очереди", "ringing": "звонит оператору",
                 "connected": "разговаривает"}


@dataclass
class QueueState:
    """What the queue page shows: waiting calls, the Asterisk view, a version to diff on."""

    calls: list[QueuedCall]
    live: list[dict[str, str]] = field(default_factory=list)  # callers Asterisk sees
    members: list[dict[str, str]] = field(default_factory=list)  # agents' phones
    asterisk: bool = False  # AMI configured
    connected: bool | None = None  # AMI session up (None: not configured)
    version: str = ""

    def answered_by(self, interface: str | None) -> str | None:
        """The IVR call (REG_CALL_ID) that Asterisk just connected to this agent's phone."""
        if not interface:
            return None
        calls = {c.call_id for c in self.calls}
        for entry in self.live:
            if (entry.get("state") == "connected" and entry.get("agent_interface") == interface
                    and entry.get("call_id") in calls):
                return entry["call_id"]
        return None

    @property
    def live_by_call(self) -> dict[str, dict[str, str]]:
        """Asterisk's view of each IVR call, by REG_CALL_ID (to annotate the queue rows)."""
        return {c["call_id"]: c for c in self.live if c.get("call_id")}


@dataclass(eq=False)  # hashed by identity: kept in a set
class Subscription:
    queue: asyncio.Queue[tuple[str, Any]]


def _text(value: object, limit: int = 80) -> str:
    return "" if value is None else scrub(str(value), limit=limit)


def _call_id(value: object) -> str:
    """A REG_CALL_ID as an identifier, not scrubbed like free text: a random hex id can hold
    a long run of digits, and masking it would break matching the IVR's call record."""
    text = "" if value is None else str(value)
    return text[:64] if re.fullmatch(r"[A-Za-z0-9._/-]*", text) else ""


def _caller(entry: dict[str, Any]) -> dict[str, str]:
    """One caller of the LiveBoard for display: number masked, words in Russian."""
    state = str(entry.get("state", ""))
    return {
        "call_id": _call_id(entry.get("call_id")),
        "caller": mask_phone(str(entry.get("caller_number") or "")) or "—",
        "caller_name": _text(entry.get("caller_name")),
        "queue": _text(entry.get("queue")),
        "position": _text(entry.get("position")),
        "state": state,
        "state_text": CALLER_STATES.get(state, state),
        "agent": _text(entry.get("agent_name") or entry.get("agent_interface")),
        "agent_interface": _text(entry.get("agent_interface")),
        "reason": _text(entry.get("reason")),
        "joined_at": _text(entry.get("joined_at")),
    }


def _member(entry: dict[str, Any]) -> dict[str, str]:
    return {
        "name": _text(entry.get("name") or entry.get("interface")),
        "status": labels.device_state(_text(entry.get("status_text") or entry.get("status"))),
        "paused": "да" if entry.get("paused") else "",
        "in_call": "да" if entry.get("in_call") else "",
        "available": "да" if entry.get("available") else "нет",
        "calls_taken": _text(entry.get("calls_taken")),
    }


def read_board(board: Any) -> tuple[list[dict[str, str]], list[dict[str, str]], bool,
                                    bool | None]:
    """(callers, members, configured, connected) from ``LiveBoard.snapshot()``.

    Accepts the board's dict (``callers``/``members``/``configured``/``connected``) or a bare
    list of callers; anything odd is ignored rather than breaking the queue page.
    """
    snap = board.snapshot()
    if isinstance(snap, dict):
        callers, members = snap.get("callers") or [], snap.get("members") or []
        configured = bool(snap.get("configured", True))
        connected = snap.get("connected") if configured else None
    elif isinstance(snap, list):
        callers, members, configured, connected = snap, [], True, True
    else:
        return [], [], False, None
    return ([_caller(c) for c in callers[:QUEUE_LIMIT] if isinstance(c, dict)],
            [_member(m) for m in members[:QUEUE_LIMIT] if isinstance(m, dict)],
            configured, None if connected is None else bool(connected))


def _event_summary(event: object) -> dict[str, str]:
    """A LiveBoard event reduced to its flat fields (numbers masked, nested data dropped)."""
    if not isinstance(event, dict):
        return {"type": _text(event)}
    return {str(k): _text(v) for k, v in event.items()
            if v is not None and not isinstance(v, dict | list)}


class QueueFeed:
    """Shared change detection for every open queue page."""

    def __init__(self, container: Container, *, interval: float = 1.0,
                 max_wait_minutes: int = call_queue.DEFAULT_MAX_WAIT_MINUTES) -> None:
        self.container = container
        self.interval = interval
        self.max_wait_minutes = max_wait_minutes
        self._subscribers: set[Subscription] = set()
        self._state: QueueState | None = None
        self._poller: asyncio.Task[None] | None = None
        self._live_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._expired_at = -EXPIRE_EVERY_S

    @property
    def live_board(self) -> Any:
        return self.container.extras.get("live_board")

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _expire_stale(self) -> None:
        """Age out records nobody can still be waiting on (at most once a minute)."""
        now = time.monotonic()
        if now - self._expired_at < EXPIRE_EVERY_S:
            return
        self._expired_at = now
        try:
            call_queue.expire_stale_calls(self.container.uow(),
                                          max_wait_minutes=self.max_wait_minutes)
        except Exception:  # the queue page must not fail on this housekeeping
            logger.warning("queue feed: ageing out stale calls failed", exc_info=True)

    def snapshot(self) -> QueueState:
        """Read the queue now (blocking: call from a thread in async code)."""
        self._expire_stale()
        board = self.live_board
        live_ids = None
        if board is not None and hasattr(board, "live_call_ids"):
            live_ids = board.live_call_ids()
        calls = call_queue.waiting_calls(self.container.uow(),
                                         max_wait_minutes=self.max_wait_minutes,
                                         limit=QUEUE_LIMIT, live_call_ids=live_ids)
        live: list[dict[str, str]] = []
        members: list[dict[str, str]] = []
        configured, connected = False, None
        if board is not None:
            try:
                live, members, configured, connected = read_board(board)
            except Exception:  # the AMI side must not break the queue page
                logger.warning("LiveBoard.snapshot() failed", exc_info=True)
        key = json.dumps([[c.call_id, c.answered_by, c.reason, c.patient_id] for c in calls]
                         + [live, members, configured, connected], sort_keys=True, default=str)
        return QueueState(calls, live, members, configured, connected,
                          hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest())

    def poke(self) -> None:
        """Re-read the queue now (thread-safe; e.g. after an agent took a call)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def subscribe(self) -> tuple[Subscription, QueueState]:
        """Join the feed; returns the subscription and the current state to show first."""
        sub = Subscription(asyncio.Queue(maxsize=50))
        self._subscribers.add(sub)
        self._loop = asyncio.get_running_loop()
        if self._wake is None:
            self._wake = asyncio.Event()
        state = await asyncio.to_thread(self.snapshot)
        self._state = state
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="queue-feed")
        board = self.live_board
        if board is not None and (self._live_task is None or self._live_task.done()):
            self._live_task = asyncio.create_task(self._follow_live(board), name="live-board")
        return sub, state

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        if not self._subscribers and self._wake is not None:
            self._wake.set()  # let the poller notice and stop

    def _broadcast(self, item: tuple[str, Any]) -> None:
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(item)
            except asyncio.QueueFull:
                logger.warning("queue feed subscriber is not reading; dropping an event")

    async def _poll(self) -> None:
        assert self._wake is not None
        try:
            while self._subscribers:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                self._wake.clear()
                if not self._subscribers:
                    break
                try:
                    state = await asyncio.to_thread(self.snapshot)
                except Exception:  # a DB hiccup must not end the feed
                    logger.warning("queue feed: reading the queue failed", exc_info=True)
                    continue
                if self._state is None or state.version != self._state.version:
                    self._state = state
                    self._broadcast(("queue", state))
        finally:
            if self._live_task is not None:
                self._live_task.cancel()
                self._live_task = None

    async def _follow_live(self, board: Any) -> None:
        try:
            events = board.subscribe()
            if inspect.isawaitable(events):  # "async def subscribe()" returning an iterator
                events = await events
            async for event in events:
                self._broadcast(("live", _event_summary(event)))
                if self._wake is not None:
                    self._wake.set()  # the snapshot changed too
        except asyncio.CancelledError:
            raise
        except Exception:  # AMI trouble degrades to DB polling
            logger.warning("LiveBoard.subscribe() ended with an error", exc_info=True)
