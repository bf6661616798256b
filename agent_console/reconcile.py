"""Keeps the escalated-call records in step with what Asterisk reports over AMI.

The IVR writes a call record when it hands a caller to the agents' queue; what happens next
happens in Asterisk.  :class:`CallReconciler` listens to the :class:`~agent_console.live.LiveBoard`
and closes a record when its caller (matched by ``REG_CALL_ID``) hangs up or leaves the queue
(``QueueCallerLeave``, ``QueueCallerAbandon``, ``Hangup``), and marks it answered by the agent
when an answered call ends.  While an agent talks to the caller (``AgentConnect``) the record
stays listed, with Asterisk's «разговаривает — Иванова» beside it, so the agent who picked up
can open the card with what the IVR learned.  The board's lock is held while it reports a
change, so the database work happens on a thread of its own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from agent_console.live import CONNECTED, LiveBoard
from booking_core import call_queue
from booking_core.uow import UnitOfWork

logger = logging.getLogger(__name__)

_STOP: dict[str, Any] = {"type": "_stop"}


def decision(event: dict[str, Any]) -> tuple[str, str | None] | None:
    """What a board event means for the call record: ``(call_id, answered_by)`` — answered by
    that agent when set, hung up / left the queue when ``None`` — or nothing to do."""
    kind = event.get("type")
    call_id = event.get("call_id")
    if not call_id:
        return None
    if kind == "caller_left":
        return call_id, None
    if kind == "call_ended":
        if event.get("state") == CONNECTED:
            return call_id, event.get("agent_name") or event.get("agent_interface") or "agent"
        return call_id, None
    return None


class CallReconciler:
    """Applies :func:`decision` of every board event to the database, in the background."""

    def __init__(self, board: LiveBoard, uow: Callable[[], UnitOfWork]) -> None:
        self.board = board
        self.uow = uow
        self._events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.applied = 0  # records changed, for tests and logs

    def start(self) -> CallReconciler:
        self.board.add_listener(self._events.put)
        self._thread = threading.Thread(target=self._run, name="call-reconciler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._events.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            event = self._events.get()
            if event is _STOP or event.get("type") == "_stop":
                return
            what = decision(event)
            if what is None:
                continue
            call_id, answered_by = what
            try:
                if call_queue.close_waiting_call(call_id, self.uow(), answered_by=answered_by):
                    self.applied += 1
            except Exception:  # a database hiccup must not stop the reconciler
                logger.exception("call %s: could not update the call record", call_id)
