"""Fixtures for the FastAGI transport tests: a fake prompt renderer, a server factory and a
raw line-level IVR peer for testing the simulator without the real server."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ivr.io import Prompt
from ivr.transports.agi.server import AgiServer, Route


class FakeAudio:
    """Maps each prompt part to ``test/<locale>/<key>_<n>`` and writes ``.txt`` sidecars."""

    def __init__(self, sounds_dir: Path) -> None:
        self.sounds_dir = sounds_dir

    def files_for(self, prompt: Prompt) -> list[str]:
        names = []
        for index, part in enumerate(prompt.parts):
            name = f"test/{prompt.locale}/{prompt.key}_{index}"
            sidecar = self.sounds_dir / f"{name}.txt"
            if not sidecar.exists() or sidecar.read_text(encoding="utf-8") != part:
                # Atomic, so concurrent calls never read a half-written sidecar.
                sidecar.parent.mkdir(parents=True, exist_ok=True)
                tmp = sidecar.with_name(f"{sidecar.name}.{threading.get_ident()}.tmp")
                tmp.write_text(part, encoding="utf-8")
                os.replace(tmp, sidecar)
            names.append(name)
        return names


@pytest.fixture
def sounds_dir(tmp_path: Path) -> Path:
    path = tmp_path / "sounds"
    path.mkdir()
    return path


@pytest.fixture
def audio(sounds_dir: Path) -> FakeAudio:
    return FakeAudio(sounds_dir)


@pytest.fixture
def agi_server() -> Iterator[Callable[..., AgiServer]]:
    """Factory: ``agi_server({"registry": route}, env_timeout=...)`` -> a started server."""
    servers: list[AgiServer] = []

    def make(routes: dict[str, Route], **kwargs: object) -> AgiServer:
        kwargs.setdefault("env_timeout", 2.0)
        kwargs.setdefault("reply_timeout", 10.0)
        server = AgiServer(routes, "127.0.0.1", 0, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.shutdown(wait_for_calls=2.0)


class RawIvr:
    """A line-level FastAGI peer: accepts one connection and runs ``script(conn)`` on it."""

    def __init__(self, script: Callable[[RawIvr], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.env_lines: list[str] = []
        self.error: BaseException | None = None
        self._file = None
        self._conn: socket.socket | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.listener.settimeout(10)
            conn, _ = self.listener.accept()
            conn.settimeout(10)
            self._conn = conn
            self._file = conn.makefile("rb")
            while True:
                line = self._file.readline().decode()
                self.env_lines.append(line)
                if line == "\n":
                    break
            self.script(self)
        except BaseException as exc:  # noqa: BLE001 - re-raised by join()
            self.error = exc
        finally:
            if self._file is not None:
                self._file.close()
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.shutdown(socket.SHUT_RDWR)
                self._conn.close()
            self.listener.close()

    def line(self) -> str:
        assert self._file is not None
        return self._file.readline().decode()

    def send(self, command: str) -> list[str]:
        """Send one command; return the reply lines (a 520 block as several lines)."""
        assert self._conn is not None
        self._conn.sendall(command.encode() + b"\n")
        first = self.line()
        lines = [first]
        if first.startswith("520-"):
            while not lines[-1].startswith("520 "):
                lines.append(self.line())
        return [entry.rstrip("\n") for entry in lines]

    def join(self) -> None:
        self.thread.join(15)
        if self.error is not None:
            raise self.error


@pytest.fixture
def raw_ivr() -> Callable[[Callable[[RawIvr], None]], RawIvr]:
    return RawIvr
