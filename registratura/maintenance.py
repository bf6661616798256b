"""Background upkeep while the product runs: daily slot window, expired holds."""

from __future__ import annotations

import logging
import threading

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
        if created or expired:
            logger.info("maintenance: %d slots added, %d holds expired", created, expired)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                logger.exception("maintenance round failed")
