"""The call's log of steps, saved through booking_core so the console can show it."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from booking_core.calls import CallData, save_call
from booking_core.uow import UnitOfWorkFactory

logger = logging.getLogger(__name__)


class CallRecorder:
    """Collects steps (prompt keys, masked inputs) and persists them best-effort.

    Saving never breaks a call: if the database is down, the failure is logged and the caller
    is still escalated by the flow's own error handling.
    """

    def __init__(self, uow: UnitOfWorkFactory | None, call_id: str, *, uniqueid: str = "",
                 caller_number: str = "", channel: str = "ivr") -> None:
        self.uow = uow
        self.data = CallData(call_id=call_id, uniqueid=uniqueid, caller_number=caller_number,
                             channel=channel)
        self._t0 = time.monotonic()
        self.data.started_at = self.now_utc()

    @property
    def locale(self) -> str:
        return self.data.locale

    @locale.setter
    def locale(self, value: str) -> None:
        self.data.locale = value

    def step(self, name: str, value: str | None = None) -> None:
        """Note a step; ``value`` must already be masked (a choice, a digit count)."""
        entry: dict[str, object] = {"t": round(time.monotonic() - self._t0, 2), "step": name}
        if value is not None:
            entry["input"] = value
        self.data.steps.append(entry)

    def save(self, **changes: object) -> bool:
        """Apply ``changes`` to the record and persist it; False if that failed."""
        for key, value in changes.items():
            setattr(self.data, key, value)
        if self.uow is None:
            return True
        try:
            save_call(self.data, self.uow())
            return True
        except Exception:
            logger.exception("call %s: could not save the call record", self.data.call_id)
            return False

    def now_utc(self) -> datetime:
        if self.uow is not None:
            return self.uow.clock.now_utc()
        from models.tables import utcnow

        return utcnow()
