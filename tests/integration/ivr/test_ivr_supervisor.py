"""The IVR worker supervisor with real child processes: restart with back-off, giving up on
workers that die at start, the order workers start in, stopping them."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

import pytest

from registratura.ivr_workers import IvrSupervisor, WorkersRefused, check_workers
from registratura.settings import Settings

PATIENCE = 30.0

#: A worker that says it is ready, then waits to be stopped.
GOOD = ("import os, signal, sys, time; fd = int(sys.argv[1]); os.write(fd, b'R'); "
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); time.sleep(600)")
#: A worker that dies before it is ready (a bad setting, an unreachable port...).
BAD = "import sys; sys.exit(3)"


def _command(code: str):  # type: ignore[no-untyped-def]
    return lambda index, fd: [sys.executable, "-c", code, str(fd)]


def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _run(supervisor: IvrSupervisor) -> tuple[threading.Thread, list[int]]:
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(supervisor.run()), daemon=True)
    thread.start()
    return thread, status


def test_workers_dying_at_start_make_it_give_up(caplog):
    caplog.set_level(logging.INFO, logger="registratura.ivr_workers")
    supervisor = IvrSupervisor(_command(BAD), 2, backoff_initial=0.01, max_start_failures=3)
    thread, status = _run(supervisor)
    thread.join(PATIENCE)
    assert status == [1]
    deaths = [r.getMessage() for r in caplog.records if "died after" in r.getMessage()]
    assert len(deaths) == 3
    assert all("exit status 3" in d and "before it was ready" in d for d in deaths)
    assert deaths[-1].endswith("not restarted")
    assert any("giving up" in r.getMessage() for r in caplog.records)
    # Back-off doubles while the slot keeps dying young.
    delays = [float(d.rsplit("restarting in ", 1)[1].split()[0]) for d in deaths[:-1]]
    assert delays[1] == 2 * delays[0]
    # Worker 1 never starts while worker 0 (who renders the prompts) is not ready.
    assert len(supervisor.slots[1].pids) == 0


def test_a_dead_worker_is_replaced_and_stop_ends_them_all():
    supervisor = IvrSupervisor(_command(GOOD), 2, backoff_initial=0.01)
    thread, status = _run(supervisor)
    _until(lambda: len(supervisor.live_pids()) == 2 and all(s.ready for s in supervisor.slots),
           "two workers ready")
    first = supervisor.live_pids()
    os.kill(first[1], signal.SIGKILL)
    _until(lambda: supervisor.restarts == 1 and len(supervisor.live_pids()) == 2,
           "the killed worker replaced")
    now = supervisor.live_pids()
    assert first[0] in now and first[1] not in now
    supervisor.stop()
    thread.join(PATIENCE)
    assert status == [0]
    assert supervisor.live_pids() == []


@pytest.mark.parametrize("url, workers, refused", [
    ("sqlite:///x.db", 1, False), ("sqlite:///x.db", 2, True),
    ("postgresql+psycopg://u@h/db", 4, False)])
def test_sqlite_runs_one_worker_only(url, workers, refused):
    settings = Settings(database_url=url, secret_key="test-secret-key-0123456789")  # type: ignore[arg-type]
    if refused:
        with pytest.raises(WorkersRefused, match="PostgreSQL"):
            check_workers(settings, workers)
    else:
        check_workers(settings, workers)


def test_a_worker_that_cannot_even_be_started_makes_it_give_up(tmp_path):
    missing = str(tmp_path / "no-such-python")
    supervisor = IvrSupervisor(lambda index, fd: [missing], 1, backoff_initial=0.01,
                               max_start_failures=3)
    thread, status = _run(supervisor)
    thread.join(PATIENCE)
    assert status == [1]
    assert supervisor.slots[0].pids == []
