"""The SMS worker: moves outbox rows to the provider, with retries, and runs the reminders.

``OutboxWorker(container, provider).run_once()`` does one round: claim due rows (see
``booking_core.outbox``), send each, record the outcome.  ``start()`` runs rounds on a daemon
thread every ``sms_worker_interval_seconds`` (at once again while there is a backlog) and, once a
minute, queues the day-before reminders and places reminder calls; ``stop()`` ends it.

Retries are persistent, not in-process: a failed attempt sets the row's ``next_attempt_at``
(exponential backoff from 30 s to an hour, or the provider's ``Retry-After``), so a restart or
another worker picks the row up at the right time and no thread sleeps on a message.  tenacity
is used for the one thing that must happen in-process: writing "sent" to the database right
after the provider took the message, through a short database outage.  If even that fails, the
row's lease expires and the next claim asks the provider before sending (no duplicate).

Several workers may run against PostgreSQL (rows are claimed ``FOR UPDATE SKIP LOCKED``); on
SQLite run one per database file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from booking_core import outbox, reminders
from booking_core.outbox import ClaimedMessage
from booking_core.reminders import ReminderDialer, ReminderPolicy
from sms.providers import (
    PermanentFailure,
    SendReceipt,
    SmsProvider,
    TemporaryFailure,
    UncertainOutcome,
    provider_from_settings,
)

if TYPE_CHECKING:
    from registratura.bootstrap import Container

logger = logging.getLogger(__name__)

#: Leave this much of the lease unused: a request started later could outlive the lease.
LEASE_MARGIN_SECONDS = 5.0


@dataclass
class RoundResult:
    """What one round did."""

    claimed: int = 0
    sent: int = 0
    reconciled: int = 0  # found at the provider after an uncertain attempt: not sent again
    retried: int = 0
    dead: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)


class OutboxWorker:
    """Sends the outbox through ``provider`` (default: the one the settings name)."""

    def __init__(self, container: Container, provider: SmsProvider | None = None, *,
                 batch: int = 10, dialer: ReminderDialer | None = None,
                 reminders_enabled: bool = True, worker_id: str | None = None,
                 interval: float | None = None, reminder_every: float = 60.0,
                 request_timeout: float | None = None) -> None:
        settings = container.settings
        self.container = container
        self.provider = provider or provider_from_settings(settings)
        self.batch = batch
        self.dialer = dialer
        self.reminders_enabled = reminders_enabled
        self.worker_id = worker_id or f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.interval = interval if interval is not None else settings.sms_worker_interval_seconds
        self.reminder_every = reminder_every
        self.locale = settings.sms_locale or settings.default_locale
        self.sender_name = settings.sms_sender_name
        self.lease_seconds = float(settings.sms_lease_seconds)
        self.max_attempts = settings.sms_max_attempts
        self.request_timeout = (request_timeout if request_timeout is not None
                                else settings.twilio_timeout_seconds)
        self.policy = ReminderPolicy(hour=settings.reminder_hour, calls=settings.reminder_calls,
                                     call_hour=settings.reminder_call_hour)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reminders = float("-inf")

    # --- one round ------------------------------------------------------------------------

    def run_once(self) -> RoundResult:
        """Claim due messages and send them; returns what happened."""
        uow = self.container.uow
        result = RoundResult()
        claimed = outbox.claim(uow(), worker_id=self.worker_id, limit=self.batch,
                               lease_seconds=self.lease_seconds, locale=self.locale,
                               sender_name=self.sender_name)
        result.claimed = len(claimed)
        started = time.monotonic()
        # An uncertain row costs two requests (the lookup, then maybe the send).
        budget = self.lease_seconds - 2 * self.request_timeout - LEASE_MARGIN_SECONDS
        for message in claimed:
            if time.monotonic() - started > budget:
                # Lease nearly spent: another worker could take the row while we still send.
                if outbox.release(uow(), message.id, message.token):
                    result.released += 1
                continue
            self._deliver(message, result)
        return result

    def _deliver(self, message: ClaimedMessage, result: RoundResult) -> None:
        uow = self.container.uow
        provider = self.provider
        try:
            if message.uncertain:
                found = provider.find_sent(message)
                if found is not None:
                    self._record_sent(message, found, reconciled=True)
                    result.reconciled += 1
                    return
            receipt = provider.send(message)
        except TemporaryFailure as exc:
            status = outbox.mark_retry(uow(), message.id, message.token, error=str(exc),
                                       retry_after=exc.retry_after, uncertain=message.uncertain,
                                       max_attempts=self.max_attempts)
            self._count(result, status, str(exc))
            return
        except UncertainOutcome as exc:
            status = outbox.mark_retry(uow(), message.id, message.token, error=str(exc),
                                       uncertain=True, max_attempts=self.max_attempts)
            self._count(result, status, str(exc))
            return
        except PermanentFailure as exc:
            outbox.mark_dead(uow(), message.id, message.token, error=str(exc))
            result.dead += 1
            result.errors.append(str(exc))
            return
        except Exception as exc:  # a provider bug must not kill the worker
            logger.exception("sms %s: provider %s failed unexpectedly", message.id,
                             provider.name)
            status = outbox.mark_retry(uow(), message.id, message.token,
                                       error=f"unexpected {type(exc).__name__}", uncertain=True,
                                       max_attempts=self.max_attempts)
            self._count(result, status, type(exc).__name__)
            return
        self._record_sent(message, receipt)
        result.sent += 1

    def _record_sent(self, message: ClaimedMessage, receipt: SendReceipt,
                     reconciled: bool = False) -> None:
        """Write "sent" through short database hiccups; if it still fails, the lease expiry
        and the provider lookup take over (the message is not sent again)."""
        retrying = Retrying(stop=stop_after_attempt(4),
                            wait=wait_exponential(multiplier=0.2, max=2.0),
                            retry=retry_if_exception_type(SQLAlchemyError), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    outbox.mark_sent(self.container.uow(), message.id, message.token,
                                     provider=self.provider.name,
                                     provider_id=receipt.provider_id,
                                     provider_status=receipt.status, reconciled=reconciled)
        except SQLAlchemyError:
            logger.exception("sms %s was sent as %s but could not be recorded; it will be "
                             "reconciled when its lease expires", message.id,
                             receipt.provider_id)

    @staticmethod
    def _count(result: RoundResult, status: str, error: str) -> None:
        if status == "dead":
            result.dead += 1
        else:
            result.retried += 1
        result.errors.append(error)

    # --- reminders ------------------------------------------------------------------------

    def run_reminders(self) -> tuple[int, int]:
        """Queue due reminder SMS and place due reminder calls; (queued, calls placed)."""
        queued = reminders.enqueue_due_reminders(self.container.uow(), self.policy)
        placed = 0
        if self.dialer is not None and self.policy.calls:
            placed = reminders.place_reminder_calls(self.container.uow, self.policy, self.dialer)
        return queued, placed

    # --- background thread ----------------------------------------------------------------

    def start(self) -> None:
        """Run rounds on a daemon thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"sms-{self.worker_id}",
                                        daemon=True)
        self._thread.start()
        logger.info("SMS worker %s started (provider %s)", self.worker_id, self.provider.name)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish its current message and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                if self.reminders_enabled and (
                        time.monotonic() - self._last_reminders >= self.reminder_every):
                    self._last_reminders = time.monotonic()
                    self.run_reminders()
                result = self.run_once()
                busy = result.claimed >= self.batch
            except Exception:  # the database may be away: try again next round
                logger.exception("SMS worker round failed")
            if not busy:
                self._stop.wait(self.interval)
