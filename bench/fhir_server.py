"""The console app (with ``/fhir/R4``) in its own process for the ``fhir`` benchmark.

``python -m bench.fhir_server --db-url URL --now ISO`` prints ``READY <port>`` once serving,
and stops on ``quit`` (or end of input) on standard input.  The benchmark's client runs in
another process, so the figures are the server's work plus loopback HTTP, not a shared GIL.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
from datetime import datetime

import uvicorn

from agent_console.app import create_app
from bench.common import bench_settings
from booking_core.clock import FixedClock
from registratura.bootstrap import bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    container = bootstrap(bench_settings(args.db_url, db_pool_size=args.pool_size),
                          clock=FixedClock(datetime.fromisoformat(args.now)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
        if not thread.is_alive():
            return 1
    print(f"READY {port}", flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    server.should_exit = True
    thread.join(10)
    container.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
