"""A ``registratura`` command run as a real process for the length of a test."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def registratura_serving(args: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """``python -m registratura ARGS`` until the block ends, once its FastAGI port
    (``REGISTRATURA_AGI_PORT`` in ``env``) accepts connections; the test fails with the log
    if it exits or does not listen within 240 s.  Stopped with SIGTERM (SIGKILL after 30 s)."""
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "registratura", *args], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection(
                        ("127.0.0.1", int(env["REGISTRATURA_AGI_PORT"])), timeout=1):
                    break
                time.sleep(0.5)
            else:
                pytest.fail(f"{args[0]} did not start: " + log.read_text())
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
