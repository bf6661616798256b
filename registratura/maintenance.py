"""Background upkeep while the product runs: daily slot window, expired holds, the waiting
list (offers nobody answered, old entries, free time new slots brought)."""

from __future__ import annotations

import logging
import threading

from booking_core import waiting_list
from booking_core.booking import expire_holds
from booking_core.slots import generate_slots
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)


class Maintenance:
    """Runs the idempotent upkeep jobs every ``interval`` seconds on a daemon thread."""

    def __init__(self, container: Container, interval: float = 600.0) -> None:
        self.container = container
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="maintenance", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> None:
        uow = self.container.uow
        created = generate_slots(uow())
        expired = expire_holds(uow())
        # Offers that ran out go to the next entry first, then new time goes to whoever waits.
        offers_out, entries_out = waiting_list.expire(uow())
        offered = waiting_list.offer_free_time(uow())
        if created or expired or offers_out or entries_out or offered:
            logger.info("maintenance: %d slots added, %d holds expired; waiting list: %d offers "
                        "ran out, %d entries expired, %d new offers", created, expired,
                        offers_out, entries_out, offered)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                logger.exception("maintenance round failed")
