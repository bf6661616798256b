"""Logging format for every process: time, level, logger, message (personal data is masked
by the code that logs it)."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Alembic announces every plugin at INFO; only its migration lines are worth reading.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
