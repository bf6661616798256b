"""Several FastAGI IVR processes on one address: a supervisor and its workers.

``registratura ivr --workers N`` (or ``REGISTRATURA_IVR_WORKERS=N``) starts this supervisor.
It launches N worker processes (``registratura ivr-worker``), each of which binds the FastAGI
port with ``SO_REUSEPORT``; the kernel spreads new connections over the listening sockets, so
every call lands in one worker and stays there.  The supervisor itself never touches a call.

Why separate interpreters rather than ``os.fork()`` of a prepared process: a worker builds its
own container (database pool, prompt cache, TTS engine, recognizer) from scratch, so nothing
opened before the fork -- pooled connections, the TTS library's state, threads -- can be shared
by accident.  The cost is a second or two of imports per worker start.  Worker 0 starts
first and renders the static prompts into the shared sounds directory; the others start once
it is ready and find them there.

What the supervisor does:

* restarts a worker that dies, after a back-off that doubles while it keeps dying young
  (``0``, ``0.5``, ``1``, ``2`` ... up to 30 s), logging each death with its exit status;
* gives up -- stops the others and exits non-zero -- when one worker slot died before it was
  ready ``MAX_START_FAILURES`` times in a row (a bad setting, the database unreachable, the
  port taken: restarting forever would only hide it);
* on SIGTERM or SIGINT tells every worker to stop (SIGTERM), waits for them, and SIGKILLs
  those still running after the grace period.

A worker killed mid-call: its sockets close, Asterisk's ``AGI()`` returns with
``AGISTATUS=HANGUP``/``FAILURE`` and without ``REG_IVR_DONE``, and the dialplan queues the
caller for an agent (``dialplans/README.md``).  The other workers' calls go on.  Connections
the kernel had queued for that worker but it had not accepted yet are reset (set
``net.ipv4.tcp_migrate_req=1``, Linux 5.14+, to have them moved to a live worker instead);
Asterisk reports ``FAILURE`` for those, with the same fall-through.

SQLite is refused with more than one worker: it takes one writer at a time through a file
lock, and writers of other processes wait for it by sleeping and retrying (the busy timeout)
rather than queueing, so booking steps would stall behind each other for tens of
milliseconds with nothing gained -- the embedded database is for one polyclinic on one process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from registratura.settings import Settings

logger = logging.getLogger(__name__)

#: A worker slot that dies this many times in a row before being ready makes the supervisor
#: give up (exit status 1).
MAX_START_FAILURES = 5
#: Back-off before restarting a worker that died young: doubles from here...
BACKOFF_INITIAL = 0.5
#: ... up to this many seconds.
BACKOFF_MAX = 30.0
#: A worker that ran this long before dying is restarted at once (its crash streak is over).
STABLE_SECONDS = 30.0
#: Seconds workers get to finish after SIGTERM before they are killed.
STOP_GRACE = 10.0
#: Seconds a stopping worker lets its calls in progress finish.
DRAIN_SECONDS = 2.0
#: How often the supervisor looks at its workers.
POLL_SECONDS = 0.1


class WorkersRefused(ValueError):
    """The configuration cannot run several workers (the message says why)."""


def check_workers(settings: Settings, workers: int) -> None:
    """Raise :class:`WorkersRefused` for ``workers > 1`` on SQLite (see the module docstring)."""
    if workers < 1:
        raise WorkersRefused("--workers must be at least 1")
    if workers > 1 and settings.is_sqlite:
        raise WorkersRefused(
            "several IVR workers need PostgreSQL: SQLite lets one process write at a time and "
            "the others wait for its file lock by sleeping, so more processes would only make "
            "booking steps wait. Use --workers 1 with SQLite, or set "
            "REGISTRATURA_DATABASE_URL=postgresql+psycopg://...")


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (bound without ``SO_REUSEPORT``, so a
    running IVR on the same port -- whose workers we would silently join -- is detected)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class _Slot:
    """One worker place: the process now in it and its history."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    ready_fd: int | None = None
    ready: bool = False
    started_at: float = 0.0
    restart_at: float | None = 0.0
    start_failures: int = 0
    streak: int = 0
    pids: list[int] = field(default_factory=list)


#: Builds a worker's command line from its index and the descriptor it reports ready on.
WorkerCommand = Callable[[int, int], Sequence[str]]


class IvrSupervisor:
    """Starts, watches and restarts ``workers`` processes made by ``command``.

    ``command(index, ready_fd)`` is the worker's argv; the worker writes one byte to
    ``ready_fd`` once it listens.  The first worker starts alone (it renders the prompts);
    the others once it is ready.  :meth:`run` blocks until :meth:`stop` (or SIGTERM/SIGINT
    when run in the main thread) and returns the exit status.
    """

    def __init__(self, command: WorkerCommand, workers: int, *,
                 max_start_failures: int = MAX_START_FAILURES,
                 backoff_initial: float = BACKOFF_INITIAL, backoff_max: float = BACKOFF_MAX,
                 stop_grace: float = STOP_GRACE, env: dict[str, str] | None = None,
                 first_index: int = 0) -> None:
        self.command = command
        # Worker indexes start at first_index (1 under `serve`, whose own process is 0).
        self.slots = [_Slot(first_index + i, restart_at=0.0 if i == 0 else None)
                      for i in range(workers)]
        self.max_start_failures = max_start_failures
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stop_grace = stop_grace
        self.env = env
        self.restarts = 0
        self._stop = threading.Event()

    # -- public ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to stop the workers and return."""
        self._stop.set()

    def live_pids(self) -> list[int]:
        """Pids of the workers running now."""
        return [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None]

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Supervise until stopped: 0 after a clean stop, 1 when workers keep dying at start.

        ``on_ready`` is called once, when every worker has reported ready for the first time.
        """
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self._stop.set())
        announced = False
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for slot in self.slots:
                    self._reap(slot, now)
                    self._check_ready(slot)
                    if slot.start_failures >= self.max_start_failures:
                        logger.error("ivr worker %d failed %d times before it was ready; "
                                     "giving up (see its log lines above)",
                                     slot.index, slot.start_failures)
                        return 1
                    if slot.proc is None and slot.restart_at is not None \
                            and slot.restart_at <= now:
                        self._spawn(slot)
                if self.slots[0].ready:  # the prompts are rendered: the others may start
                    for slot in self.slots[1:]:
                        if slot.proc is None and slot.restart_at is None:
                            slot.restart_at = now
                if not announced and all(s.ready for s in self.slots):
                    announced = True
                    logger.info("ivr: %d workers ready (pids %s)", len(self.slots),
                                ", ".join(map(str, self.live_pids())))
                    if on_ready is not None:
                        on_ready()
                self._stop.wait(POLL_SECONDS)
        finally:
            self._stop_all()
        return 0

    # -- one slot --------------------------------------------------------------------------

    def _spawn(self, slot: _Slot) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        argv = list(self.command(slot.index, write_fd))
        try:
            slot.proc = subprocess.Popen(argv, pass_fds=(write_fd,), env=self.env)
        except OSError as exc:
            os.close(read_fd)
            logger.error("ivr worker %d could not be started: %s", slot.index, exc)
            slot.start_failures += 1
            slot.streak += 1
            slot.restart_at = time.monotonic() + self._backoff(slot)
            return
        finally:
            os.close(write_fd)
        slot.ready_fd, slot.ready = read_fd, False
        slot.started_at, slot.restart_at = time.monotonic(), None
        slot.pids.append(slot.proc.pid)
        logger.info("ivr worker %d started (pid %d)", slot.index, slot.proc.pid)

    def _check_ready(self, slot: _Slot) -> None:
        if slot.ready or slot.ready_fd is None:
            return
        try:
            data = os.read(slot.ready_fd, 16)
        except BlockingIOError:
            return
        if data:
            slot.ready = True
            slot.start_failures = 0
            self._close_ready(slot)
            logger.info("ivr worker %d ready (pid %d)", slot.index,
                        slot.proc.pid if slot.proc else -1)

    def _reap(self, slot: _Slot, now: float) -> bool:
        """True if the slot's process just died (a restart is then scheduled, unless the slot
        has now failed at start too often: the caller gives up then)."""
        if slot.proc is None or slot.proc.poll() is None or self._stop.is_set():
            return False  # (stopping: a worker that ended on the same Ctrl-C is no news)
        self._check_ready(slot)  # it may have said "ready" just before dying
        code = slot.proc.returncode
        uptime = now - slot.started_at
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        if not slot.ready:
            slot.start_failures += 1
        slot.streak = slot.streak + 1 if (uptime < STABLE_SECONDS or not slot.ready) else 0
        delay = self._backoff(slot)
        then = ("; not restarted" if slot.start_failures >= self.max_start_failures
                else f"; restarting in {delay:.2f} s")
        logger.warning("ivr worker %d (pid %d) died after %.1f s (%s)%s%s", slot.index,
                       slot.proc.pid, uptime, how,
                       "" if slot.ready else " before it was ready", then)
        self._close_ready(slot)
        slot.proc, slot.ready = None, False
        slot.restart_at = now + delay
        self.restarts += 1
        return True

    def _backoff(self, slot: _Slot) -> float:
        if slot.streak <= 0:
            return 0.0
        return float(min(self.backoff_max, self.backoff_initial * 2 ** (slot.streak - 1)))

    @staticmethod
    def _close_ready(slot: _Slot) -> None:
        if slot.ready_fd is not None:
            with contextlib.suppress(OSError):
                os.close(slot.ready_fd)
            slot.ready_fd = None

    def _stop_all(self) -> None:
        procs = [s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("ivr worker pid %d did not stop in %.0f s; killing it",
                               proc.pid, self.stop_grace)
                proc.kill()
                proc.wait()
        for slot in self.slots:
            self._close_ready(slot)
        if procs:
            logger.info("ivr: %d workers stopped", len(procs))


def worker_command(index: int, ready_fd: int) -> list[str]:
    """The product's worker: ``python -m registratura ivr-worker`` (settings come from the
    environment it inherits)."""
    return [sys.executable, "-m", "registratura", "ivr-worker", "--index", str(index),
            "--ready-fd", str(ready_fd)]


def worker_settings(settings: Settings, index: int) -> Settings:
    """A worker's settings: its own AudioSocket port (``audiosocket_port + index``), because
    Asterisk's AudioSocket connection must reach the worker that holds the call."""
    if index == 0 or not settings.audiosocket_port:
        return settings
    update: dict[str, object] = {"audiosocket_port": settings.audiosocket_port + index}
    if settings.audiosocket_advertise:
        host, _, port = settings.audiosocket_advertise.rpartition(":")
        update["audiosocket_advertise"] = f"{host}:{int(port) + index}"
    return settings.model_copy(update=update)


def wait_for_stop(parent_pid: int, stop: threading.Event) -> None:
    """Block until SIGTERM/SIGINT, or until the supervisor is gone (then this worker is an
    orphan nobody would stop or restart: it stops too)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            logger.warning("ivr worker: the supervisor (pid %d) is gone; stopping", parent_pid)
            return


def report_ready(ready_fd: int | None) -> None:
    """Tell the supervisor this worker listens (one byte on the inherited pipe)."""
    if ready_fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(ready_fd, b"R")
        os.close(ready_fd)
