"""Drill: several IVR worker processes on one FastAGI port (``registratura ivr --workers 2``).

Real processes: the product's command line starts the supervisor, which starts two workers
binding the port with ``SO_REUSEPORT``.  Which worker serves a call is read from the worker's
log line ``[ivr-N pid P] ... agi <uniqueid>: call from ...``.  A worker killed (SIGKILL) while
it holds calls: its callers see the socket close without ``REG_IVR_DONE`` -- the dialplan
queues them (dialplans/README.md) -- and nothing of theirs is booked; the calls held by the
other worker go on and book; the supervisor starts a new worker, which serves later calls.

PostgreSQL only: several workers on SQLite are refused (tested at the end).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from booking_core.slots import generate_slots
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings
from support.world import add_patients

from .helpers import ROOT, ConfirmHook, appointments_of, booked, dial, pending_count

#: The tests with workers run on PostgreSQL only.
on_postgres = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)

SECRET = "test-secret-key-0123456789"
#: Seconds any one wait here may take before the test fails (a guard, not a measurement).
PATIENCE = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(db_url: str, port: int, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRATURA_")}
    env.update({
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "REGISTRATURA_DATABASE_URL": db_url, "REGISTRATURA_SECRET_KEY": SECRET,
        "REGISTRATURA_AGI_HOST": "127.0.0.1", "REGISTRATURA_AGI_PORT": str(port),
        "REGISTRATURA_SOUNDS_DIR": str(tmp / "sounds"),
        "REGISTRATURA_RECORD_DIR": str(tmp / "recordings"),
        "REGISTRATURA_LOG_LEVEL": "INFO", "REGISTRATURA_DB_POOL_SIZE": "4",
    })
    return env


class Workers:
    """``python -m registratura ivr --workers N`` with its whole log in one file."""

    def __init__(self, db_url: str, tmp: Path, count: int, *, serve: bool = False) -> None:
        self.port = _free_port()
        self.log = tmp / "ivr.log"
        self.sounds = tmp / "sounds"
        self._out = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        env = _env(db_url, self.port, tmp)
        command = ["ivr", "--workers", str(count)]
        if serve:  # the console too; its own process is IVR worker 0
            env.update(REGISTRATURA_IVR_WORKERS=str(count), REGISTRATURA_HTTP_PORT=str(
                _free_port()))
            command = ["serve", "--no-seed-demo"]
        self.proc = subprocess.Popen([sys.executable, "-m", "registratura", *command],
                                     cwd=tmp, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT)
        ready = f"{count - 1 if serve else count} workers ready"
        self.wait_for(lambda text: ready in text)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, found: Callable[[str], object]) -> object:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            result = found(self.text())
            if result:
                return result
            if self.proc.poll() is not None:
                raise AssertionError(f"the IVR exited ({self.proc.returncode}):\n{self.text()}")
            time.sleep(0.05)
        raise AssertionError(f"not seen in the IVR log within {PATIENCE} s:\n{self.text()}")

    def pid_of(self, uniqueid: str) -> int:
        """The pid of the worker serving the call (its "call from" log line)."""
        pattern = re.compile(rf"pid (\d+)\] \S+: agi {re.escape(uniqueid)}: call from")

        def look(text: str) -> int | None:
            match = pattern.search(text)
            return int(match.group(1)) if match else None

        return int(self.wait_for(look))  # type: ignore[arg-type]

    def worker_pids(self) -> set[int]:
        return {int(p) for p in re.findall(r"ivr worker \d+ started \(pid (\d+)\)", self.text())}

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode


@pytest.fixture
def real_now_container(db_url: str) -> Iterator[Container]:
    """The database the workers use, with slots for today: the workers run on the real
    clock (the test template's slots are for the tests' fixed day)."""
    c = bootstrap(Settings(database_url=db_url, secret_key=SECRET))  # type: ignore[arg-type]
    generate_slots(c.uow())
    yield c
    c.dispose()


@pytest.fixture
def workers(db_url: str, tmp_path: Path, real_now_container: Container) -> Iterator[Workers]:
    w = Workers(db_url, tmp_path, 2)
    yield w
    assert w.stop() == 0, "the supervisor did not stop cleanly on SIGTERM"
    assert not [p for p in w.worker_pids() if _alive(p)], "a worker outlived the supervisor"


def _alive(pid: int) -> bool:
    """Running (a zombie -- dead, not yet reaped by whoever inherited it -- is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _script(policy: str) -> list[str | None]:
    """Greeting (silence), book, policy, date of birth (the adult's), confirm, therapist,
    take the offer -- and, as a caller would, the next one when another caller took that time
    first (callers released together race for the nearest slots; on a loaded machine more of
    them meet at the same one)."""
    from .helpers import DOB

    return [None, "1", policy, DOB, "1", "1", "1", "1", "1", "1"]


def _phone(prefix: str, index: int) -> str:
    return f"+7{prefix}{index:08d}"  # what support.world.add_patients gives them


def _calls_until_both_serve(workers: Workers, container: Container) -> dict[int, int]:
    """Booking calls until two processes have served one each: pid -> calls served."""
    patients = add_patients(container, 24, prefix="93")
    served: dict[int, int] = {}
    for i, (_pid, policy) in enumerate(patients):
        uid = f"1700000100.{i}"
        t = dial("127.0.0.1", workers.port, workers.sounds,
                 ConfirmHook(_script(policy), hook=lambda: None),
                 caller_number=_phone("93", i), uniqueid=uid)
        assert booked(t), t.said
        pid = workers.pid_of(uid)
        served[pid] = served.get(pid, 0) + 1
        if len(served) == 2:
            break
    return served


@on_postgres
def test_workers_share_the_port_and_each_serves_calls(workers, real_now_container):
    served = _calls_until_both_serve(workers, real_now_container)
    # The kernel spreads connections by a hash of their addresses: two dozen calls all landing
    # on one of two workers would happen once in eight million runs.
    assert len(served) == 2, served
    assert set(served) <= workers.worker_pids()


@on_postgres
def test_killed_worker_queues_its_callers_others_book_and_it_is_replaced(
        workers, real_now_container):
    patients = add_patients(real_now_container, 40, prefix="94")
    release = threading.Event()
    transcripts: dict[str, object] = {}
    calls: list[tuple[str, int, int, threading.Thread]] = []  # uid, patient id, worker pid

    def place(i: int, policy: str, uid: str) -> None:
        caller = ConfirmHook(_script(policy), hook=lambda: release.wait(PATIENCE))
        transcripts[uid] = dial("127.0.0.1", workers.port, workers.sounds, caller,
                                caller_number=_phone("94", i), uniqueid=uid,
                                idle_timeout=PATIENCE)

    # Calls that stop at the offer (the worker waits for the key that books) until both
    # workers hold at least one.
    for i, (patient, policy) in enumerate(patients[:20]):
        uid = f"1700000200.{i}"
        thread = threading.Thread(target=place, args=(i, policy, uid), daemon=True)
        thread.start()
        calls.append((uid, patient, workers.pid_of(uid), thread))
        if len({pid for _, _, pid, _ in calls}) == 2 and len(calls) >= 3:
            break
    by_worker = {pid for _, _, pid, _ in calls}
    assert len(by_worker) == 2
    victim = calls[0][2]
    os.kill(victim, signal.SIGKILL)
    workers.wait_for(lambda text: f"(pid {victim}) died" in text)
    release.set()
    for *_, thread in calls:
        thread.join(PATIENCE)

    for uid, patient, pid, _ in calls:
        t = transcripts[uid]
        if pid == victim:
            # What extensions.conf sees: the socket closed, no REG_IVR_DONE -> the queue.
            assert t.variables.get("REG_IVR_DONE") != "1"  # type: ignore[attr-defined]
            assert t.agistatus in ("SUCCESS", "FAILURE")  # type: ignore[attr-defined]
            assert appointments_of(real_now_container, patient) == []
        else:
            assert booked(t), t.said  # type: ignore[attr-defined]
            assert len(appointments_of(real_now_container, patient)) == 1
    assert pending_count(real_now_container) == 0

    # The supervisor replaced the dead worker; the new one serves calls.
    newcomer = workers.wait_for(lambda text: (re.search(
        r"ivr worker \d+ ready \(pid (\d+)\)", text[text.index(f"(pid {victim}) died"):])))
    new_pid = int(newcomer.group(1))  # type: ignore[attr-defined]
    assert new_pid != victim and _alive(new_pid)
    for j, (_patient, policy) in enumerate(patients[20:]):
        i = 20 + j
        uid = f"1700000300.{i}"
        t = dial("127.0.0.1", workers.port, workers.sounds,
                 ConfirmHook(_script(policy), hook=lambda: None),
                 caller_number=_phone("94", i), uniqueid=uid)
        assert booked(t), t.said
        if workers.pid_of(uid) == new_pid:
            break
    else:
        pytest.fail("twenty calls and none reached the new worker")


@on_postgres
def test_serve_runs_the_console_and_ivr_workers_on_one_port(db_url, tmp_path,
                                                           real_now_container):
    """``serve`` with ``REGISTRATURA_IVR_WORKERS=2``: its own process and one worker process
    both take calls on the FastAGI port; SIGTERM stops both."""
    serve = Workers(db_url, tmp_path, 2, serve=True)
    try:
        served = _calls_until_both_serve(serve, real_now_container)
        assert len(served) == 2, served
        assert serve.proc.pid in served  # the console's process is one of them
    finally:
        serve.proc.send_signal(signal.SIGTERM)
        serve.proc.wait(60)
        serve._out.close()
    assert not [p for p in serve.worker_pids() if _alive(p)], serve.text()[-3000:]


def test_several_workers_on_sqlite_are_refused(tmp_path):
    env = _env(f"sqlite:///{tmp_path / 'one.db'}", _free_port(), tmp_path)
    done = subprocess.run([sys.executable, "-m", "registratura", "ivr", "--workers", "2"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "need PostgreSQL" in " ".join(done.stdout.split())
