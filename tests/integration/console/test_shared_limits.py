"""The login throttle and the API rate counter kept in the database (both backends): the same
window and eviction rules as one process's memory, and two containers (two engines, as two
processes would have) see one count."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from agent_console.fhir.auth import SharedRateLimiter
from agent_console.security import SharedLoginThrottle
from booking_core import shared_limits
from booking_core.clock import FixedClock
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings


@pytest.fixture
def second(db_url: str, clock: FixedClock, container: Container) -> Container:
    """Another container on the same database: what a second console process holds."""
    other = bootstrap(Settings(database_url=db_url, secret_key=container.rules.pepper),  # type: ignore[arg-type]
                      clock=clock)
    yield other  # type: ignore[misc]
    other.dispose()


def _throttle(container: Container, **limits: int) -> SharedLoginThrottle:
    return SharedLoginThrottle(container.uow, container.rules.pepper, **limits)


def test_failures_count_across_processes_and_expire_with_the_window(
        container: Container, second: Container, clock: FixedClock) -> None:
    one, two = _throttle(container, limit=3), _throttle(second, limit=3)
    one.failed("10.0.0.1", "agent1")
    two.failed("10.0.0.1", "Agent1 ")  # the same name, however typed
    one.check("10.0.0.1", "agent1")  # two failures: still allowed
    two.failed("10.0.0.1", "agent1")
    for throttle in (one, two):
        with pytest.raises(Exception, match="too_many_attempts"):
            throttle.check("10.0.0.1", "agent1")
    one.check("10.0.0.2", "agent1")  # another address is not affected
    clock.advance(seconds=901)  # the 15-minute window has passed
    two.check("10.0.0.1", "agent1")


def test_a_good_password_clears_the_name_not_the_address(container: Container,
                                                         second: Container) -> None:
    one, two = (_throttle(c, limit=2, per_address=3) for c in (container, second))
    one.failed("10.0.0.1", "agent1")
    one.failed("10.0.0.1", "agent1")
    two.succeeded("10.0.0.1", "agent1")
    one.check("10.0.0.1", "agent1")
    two.failed("10.0.0.1", "agent2")  # third failure from the address
    with pytest.raises(Exception, match="too_many_attempts"):
        one.check("10.0.0.1", "agent3")


def test_a_flood_of_names_does_not_clear_the_counters(container: Container) -> None:
    throttle = _throttle(container, limit=3, per_address=10**6, max_keys=100)
    for _ in range(3):
        throttle.failed("10.0.0.1", "agent1")
    for i in range(300):  # another address sprays names to push agent1 out
        throttle.failed("10.0.0.2", f"name{i}")
        throttle.failed("10.0.0.1", "agent1") if i % 40 == 0 else None
    with pytest.raises(Exception, match="too_many_attempts"):
        throttle.check("10.0.0.1", "agent1")
    with container.engine.connect() as conn:
        keys = conn.execute(text("SELECT COUNT(DISTINCT key) FROM loginfailure")).scalar_one()
    assert keys <= 100  # the table stays bounded: the least recently failed keys went first


def test_an_api_client_rate_counts_across_processes(container: Container, second: Container,
                                                    clock: FixedClock) -> None:
    one, two = SharedRateLimiter(container.uow), SharedRateLimiter(second.uow)
    assert [one.allow(7, 4)[0], two.allow(7, 4)[0], one.allow(7, 4)[0],
            two.allow(7, 4)[0]] == [True] * 4
    allowed, retry_after = one.allow(7, 4)
    assert not allowed and retry_after == 61  # the oldest of the four leaves the window in 60 s
    assert two.allow(8, 4) == (True, 0)  # another client has its own count
    clock.advance(seconds=30)
    assert two.allow(7, 4) == (False, 31)
    clock.advance(seconds=31)
    assert one.allow(7, 4) == (True, 0)
    # The sweep drops every client's requests that left the window, and nothing younger.
    assert shared_limits.sweep_requests(60, container.uow()) == 5
    assert shared_limits.sweep_requests(60, container.uow()) == 0
