"""Fixtures for the AMI tests: the simulator on a real TCP port and fast-reconnecting clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from agent_console.ami import AmiClient, AmiConfig
from agent_console.live import LiveBoard
from support.ami_sim import AmiSimulator

USER, SECRET = "registratura", "s3cret"


def _wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until it is truthy (never asserts on elapsed time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


@pytest.fixture
def wait_until() -> Callable[..., bool]:
    """``wait_until(predicate, timeout=5.0) -> bool``."""
    return _wait_until


@pytest.fixture
def credentials() -> tuple[str, str]:
    return USER, SECRET


@pytest.fixture
def sim() -> Iterator[AmiSimulator]:
    server = AmiSimulator({USER: SECRET}, originate_delay=0.01).start()
    yield server
    server.stop()


@pytest.fixture
def make_client(sim: AmiSimulator) -> Iterator[Callable[..., AmiClient]]:
    """``make_client(**config)`` -> a started client with short timers (not yet connected)."""
    clients: list[AmiClient] = []

    def make(board: LiveBoard | None = None, **overrides: object) -> AmiClient:
        values: dict[str, object] = {
            "host": sim.host, "port": sim.port, "username": USER, "secret": SECRET,
            "ping_interval": 0.2, "action_timeout": 1.0, "connect_timeout": 1.0,
            "reconnect_initial_delay": 0.05, "reconnect_max_delay": 0.4,
        }
        values.update(overrides)
        client = AmiClient(AmiConfig(**values), board or LiveBoard())  # type: ignore[arg-type]
        clients.append(client)
        return client.start()

    yield make
    for client in clients:
        client.stop(timeout=2.0)


@pytest.fixture
def client(make_client: Callable[..., AmiClient]) -> AmiClient:
    """A connected client."""
    c = make_client()
    assert c.wait_connected(5.0)
    return c
