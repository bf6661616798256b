"""Drill: one client tries to starve the IVR and the console.

The whole product runs in a child process as ``registratura serve`` runs it, with the common
open-files limit (soft 512 raised by the server itself to the hard 1024).  The flood: 1,500
FastAGI connections that send their environment and then stay silent, and 1,100 HTTP
connections that send half a request head.  While the flood connections are held, a normal
booking call over FastAGI and ``GET /healthz`` must succeed, the server must not exhaust its
descriptors, and its log must stay small.  Loopback only; every wait is bounded; the child is
stopped at the end whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.transports.terminal import ScriptedCaller

from .helpers import BOOK_NEAREST, ROOT, booked, dial

AGI_FLOOD = 1500
HTTP_FLOOD = 1100
SOFT_LIMIT, HARD_LIMIT = 512, 1024
AGI_ENV = (b"agi_network: yes\nagi_network_script: registry\nagi_request: agi://x/registry\n"
           b"agi_channel: PJSIP/flood\nagi_uniqueid: 1700000000.%d\nagi_callerid: unknown\n\n")
HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _limit_files() -> None:  # runs in the child only
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT_LIMIT, HARD_LIMIT))


class Server:
    def __init__(self, db: Path, work: Path) -> None:
        self.http_port, self.agi_port = _free_port(), _free_port()
        self.sounds = work / "sounds"
        self.log = work / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRATURA_")}
        env.update({
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "REGISTRATURA_DATABASE_URL": f"sqlite:///{db}",
            "REGISTRATURA_SECRET_KEY": "flood-drill-secret",
            "REGISTRATURA_HTTP_PORT": str(self.http_port),
            "REGISTRATURA_AGI_PORT": str(self.agi_port),
            "REGISTRATURA_SOUNDS_DIR": str(self.sounds),
            "REGISTRATURA_RECORD_DIR": str(work / "recordings"),
            "REGISTRATURA_SEED_DEMO_ON_FIRST_RUN": "false",
            "REGISTRATURA_AGI_MAX_CALLS": "50",
            "REGISTRATURA_HTTP_LIMIT_CONCURRENCY": "200",
            "COLUMNS": "200",
        })
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("flood_server.py"))],
                cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=_limit_files)

    def wait_ready(self, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
            with contextlib.suppress(OSError):
                if healthz(self.http_port, timeout=2) == 200:
                    with socket.create_connection(("127.0.0.1", self.agi_port), timeout=2):
                        return
            time.sleep(0.3)
        raise AssertionError("server did not start:\n" + self.log.read_text()[-3000:])

    def open_files_limit(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        raise AssertionError("no open files limit")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def healthz(port: int, timeout: float) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as r:
        return r.status


@pytest.fixture
def enough_files_here() -> Iterator[None]:
    """The flood's own sockets need descriptors in the test process (restored after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = AGI_FLOOD + HTTP_FLOOD + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-files limit ({hard}) is too low for the flood")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def server(sqlite_template: Path, tmp_path: Path) -> Iterator[Server]:
    db = tmp_path / "flood.db"
    shutil.copy(sqlite_template, db)
    srv = Server(db, tmp_path)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _flood(port: int, count: int, payload: bytes | None, held: list[socket.socket]) -> int:
    """Open ``count`` connections that send ``payload`` and then say nothing; returns how
    many connected (the rest were refused or timed out: the server's choice)."""
    connected = 0
    for n in range(count):
        sock = socket.socket()
        sock.settimeout(1.0)
        try:
            sock.connect(("127.0.0.1", port))
            if payload:
                sock.sendall(payload % n if b"%d" in payload else payload)
        except OSError:
            sock.close()
            continue
        connected += 1
        held.append(sock)
    return connected


def test_a_flood_of_silent_and_half_sent_connections_starves_nobody(
        enough_files_here: None, server: Server) -> None:
    assert server.open_files_limit() == HARD_LIMIT  # raised from the soft 512 at start
    held: list[socket.socket] = []
    try:
        agi_flood = threading.Thread(
            target=_flood, args=(server.agi_port, AGI_FLOOD, AGI_ENV, held))
        http_flood = threading.Thread(
            target=_flood, args=(server.http_port, HTTP_FLOOD, HALF_REQUEST, held))
        agi_flood.start()
        http_flood.start()
        agi_flood.join(300)
        http_flood.join(300)
        # The flood is held open.  A real call and the load balancer's check get through.
        transcript = dial("127.0.0.1", server.agi_port, server.sounds,
                          ScriptedCaller(BOOK_NEAREST), idle_timeout=30.0)
        status = healthz(server.http_port, timeout=30)
        files = server.open_files()
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
    assert booked(transcript), transcript.said[-3:]
    assert status == 200
    assert files < HARD_LIMIT - 100, f"{files} descriptors open"
    assert server.proc.poll() is None, "the server died"
    server.stop()
    log = server.log.read_bytes()
    assert len(log) < 2_000_000, f"{len(log)} bytes of log for one flood"
    exhausted = [line for line in log.decode(errors="replace").splitlines()
                 if "out of system resource" in line or "cannot accept" in line
                 or "Too many open files" in line]
    assert not exhausted, exhausted[:5]
