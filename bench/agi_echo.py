"""A bare FastAGI server: the protocol floor that ``bench calls`` measures the IVR against.

``python -m bench.agi_echo --script FILE [--port P --reuse-port]`` serves every connection the
same way: it reads the AGI environment, then sends the command lines of FILE (recorded from a
real booking call of the product in the same run) one by one, each as soon as the reply to the
previous one has arrived, and closes the connection.  No database, no dialogue, no prompt
cache: what is left is the socket work and the thread hand-offs of a Python FastAGI server of
the product's shape (``socketserver``, one thread per call), driven by the same paced callers.

The gap from a reply line read to the next command written is recorded exactly as
:mod:`bench.ivr_server` records it (same sample tuples), so the two are comparable; the
stdin/stdout protocol is the same too (``READY <host> <port> <pid>``, ``stats``, ``quit``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import socketserver
import sys
import threading
import time
from pathlib import Path
from typing import Any

SAMPLES: list[tuple[float, float, float, str, str, int, float]] = []
COUNTERS = {"calls_started": 0, "calls_failed": 0}
_lock = threading.Lock()


def _read_reply(rfile: Any) -> str | None:
    """The next reply line (skipping an asynchronous ``HANGUP`` and a 520 usage body)."""
    while True:
        raw = rfile.readline(65536)
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "HANGUP":
            continue
        if line.startswith("520-"):
            while raw and not raw.startswith(b"520 "):
                raw = rfile.readline(65536)
            return "520"
        return line


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        with _lock:
            COUNTERS["calls_started"] += 1
        sock: socket.socket = self.request
        while True:  # the environment, up to its blank line
            raw = self.rfile.readline(65536)
            if not raw:
                return
            if raw in (b"\n", b"\r\n"):
                break
        mark, previous = time.monotonic(), "ENV"
        for command in self.server.script:
            sock.sendall(command.encode() + b"\n")
            now = time.monotonic()
            SAMPLES.append((now, now - mark, 0.0, previous, command, 0, 0.0))
            reply = _read_reply(self.rfile)
            if reply is None:
                return
            mark, previous = time.monotonic(), command
            if " result=-1" in reply or reply.startswith("511"):
                return  # the caller hung up: the product would stop here too


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], script: list[str], reuse_port: bool) -> None:
        self.script = script
        self.reuse_port = reuse_port
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        if self.reuse_port:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def _proc_status() -> dict[str, int]:
    """VmHWM / VmRSS (kB) of this process from /proc (Linux); nothing of the product is
    imported here, so the echo's memory is the bare server's."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _stats() -> dict[str, Any]:
    times = os.times()
    return {"samples": SAMPLES[:], "proc": _proc_status(), "cpu_user_s": times.user,
            "cpu_system_s": times.system, **COUNTERS, "connections_rejected": 0,
            "active_calls": 0, "db_connects": 0,
            "cache": {"hits": 0, "misses": 0, "failures": 0, "render_seconds": 0.0},
            "monotonic": time.monotonic()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agi_echo")
    parser.add_argument("--script", required=True, type=Path,
                        help="the command lines to send, one per line")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reuse-port", action="store_true")
    args, _ = parser.parse_known_args(argv)  # accepts the IVR child's options and ignores them
    script = [line for line in args.script.read_text(encoding="utf-8").splitlines() if line]
    server = _Server((args.host, args.port), script, args.reuse_port)
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    host, port = server.server_address[:2]
    print(f"READY {host} {port} {os.getpid()}", flush=True)
    for line in sys.stdin:
        command = line.strip().lower()
        if command == "stats":
            print("STATS " + json.dumps(_stats()), flush=True)
        elif command == "quit":
            break
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
