"""Fault drills: the IVR process, the database and the Asterisk peer fail mid-call.

No drill asserts a wall-clock time; the simulator's idle timeout only keeps a hung IVR from
hanging the test run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ivr.runtime import IvrRuntime
from registratura.bootstrap import Container
from support.fakes import QuietEngine
from support.world import patient_id

from .helpers import IvrChild


@pytest.fixture
def runtime(runtime_factory: Callable[..., IvrRuntime]) -> Callable[[Container], IvrRuntime]:
    """Factory: an in-process IVR (FastAGI on a free port) over a container, silent prompts."""
    return lambda container: runtime_factory(container, QuietEngine())


@pytest.fixture
def ivr_child(tmp_path: Path) -> Iterator[Callable[..., IvrChild]]:
    """Factory: ``ivr_child(db_url, *extra_args)`` -> a started child IVR (stopped after)."""
    children: list[IvrChild] = []

    def start(db_url: str, *extra: str) -> IvrChild:
        child = IvrChild(db_url, tmp_path / "sounds", tmp_path / f"ivr-{len(children)}.log",
                         *extra)
        children.append(child)
        return child

    yield start
    for child in children:
        child.stop()


@pytest.fixture
def adult_id(container: Container) -> int:
    return patient_id(container, "adult")
