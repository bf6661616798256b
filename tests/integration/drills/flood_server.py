"""The product as ``registratura serve`` runs it (console + API over uvicorn, FastAGI IVR, SMS
worker, upkeep), in a process of its own for the flood drill.

Settings come from the environment like in production; two things differ for the test: the
clinic clock is the tests' fixed Monday (the database is the seeded test template) and the TTS
engine renders silence.  Run as ``python tests/integration/drills/flood_server.py`` with
``PYTHONPATH`` holding the project and ``tests``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import ivr.runtime
from booking_core.clock import FixedClock
from registratura import cli
from registratura.bootstrap import bootstrap
from registratura.logging_setup import configure_logging
from registratura.settings import load_settings
from support.fakes import QuietEngine

TEST_NOW = datetime(2026, 9, 7, 10, 0)  # tests/conftest.py's


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    ivr.runtime.create_engine = lambda _name, **_kw: QuietEngine()  # type: ignore[assignment]
    container = bootstrap(settings, clock=FixedClock(TEST_NOW))
    asyncio.run(cli._serve(container))


if __name__ == "__main__":
    main()
