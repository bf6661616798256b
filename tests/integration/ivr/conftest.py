"""Fixtures for IVR flow tests: dependencies over the demo clinic and a scripted caller."""

from __future__ import annotations

from datetime import time

import pytest

from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.transports.scripted import ScriptedCallIO
from support.world import own_phone


@pytest.fixture
def make_deps():
    def build(container, *, agents: bool | None = None, **kw) -> IvrDeps:
        kw.setdefault("opening_time", time(8, 0))
        kw.setdefault("closing_time", time(20, 0))
        return IvrDeps(uow=container.uow, clinic_name="Городская поликлиника № 3",
                       now_local=container.clock.now_local,
                       agents_available=lambda: agents, **kw)
    return build


@pytest.fixture
def dial(make_deps):
    """Run one scripted call: ``dial(container, script, **deps) -> (io, call)``."""
    def run(container, script, *, caller=None, **deps_kw):
        io = ScriptedCallIO(script)
        io.info.caller_number = caller or own_phone(script)
        call = run_registry_call(io, make_deps(container, **deps_kw))
        return io, call
    return run
