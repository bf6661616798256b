"""Console processes started the way an operator starts them (``registratura console``), on
a free loopback port, for tests of several console processes over one database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.live_console import free_port

SECRET = "test-secret-key-0123456789"


@contextmanager
def console_process(db_url: str, workdir: Path, *, workers: int = 1,
                    args: tuple[str, ...] = (),
                    **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``(base URL, process)`` of ``registratura console --workers N`` while it runs
    (``args``: another command line instead, e.g. ``("serve", "--console-workers", "2")``)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"console-{port}.log"
    environ = {**os.environ, "REGISTRATURA_DATABASE_URL": db_url,
               "REGISTRATURA_SECRET_KEY": SECRET, "REGISTRATURA_HTTP_HOST": "127.0.0.1",
               "REGISTRATURA_HTTP_PORT": str(port), "REGISTRATURA_LOG_LEVEL": "WARNING",
               "REGISTRATURA_SOUNDS_DIR": str(workdir / "sounds"),
               "REGISTRATURA_RECORD_DIR": str(workdir / "recordings"),
               "REGISTRATURA_AMI_HOST": "", **env}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "registratura",
             *(args or ("console", "--workers", str(workers)))],
            cwd=workdir, env=environ, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, log)
        yield base, proc
    finally:
        stop(proc)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # serve renders its prompts first
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"console exited ({proc.returncode}):\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"console did not come up:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops it; killed if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def worker_pids(parent: int) -> list[int]:
    """The console worker processes of a ``--workers N`` parent (its spawned children)."""
    pids: list[int] = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        with contextlib.suppress(OSError):
            pids += [int(p) for p in (task / "children").read_text().split()]
    return [p for p in pids if b"spawn_main" in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
