"""The web console on several worker processes sharing one listening socket.

One Python process serves the console's requests on one core (the GIL), so a busy call centre
runs ``REGISTRATURA_CONSOLE_WORKERS`` (``--console-workers N``) of them.  The parent binds the
address once and starts N *spawned* (not forked: the parent may already run IVR threads)
processes that each serve that socket with their own uvicorn server, the limits of
:mod:`registratura.http_server` applying per worker; the kernel hands each new connection to
whichever worker accepts it first.  A worker that dies is started again.

Nothing a request needs lives in one worker's memory only: sessions are signed cookies checked
against the user's ``session_version`` in the database, CSRF tokens ride in the session, the
login throttle and the API rate limit are counted in the database
(:mod:`booking_core.shared_limits`) and the live queue is polled from the database
(:mod:`agent_console.feed`).  Each worker keeps its own AMI connection for the Asterisk side of
the live queue (:func:`registratura.telephony.start_telephony`): Asterisk sends every session
the same events, so each worker's board is complete by itself and no worker depends on another.

Each worker also has the browser phone (an IVR runtime without its own FastAGI listener).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess

from registratura.settings import Settings

logger = logging.getLogger(__name__)

#: A worker that exits sooner than this after its start is restarted only after a pause, so a
#: worker that cannot start (say, the database is down) does not spin.
MIN_UPTIME_S = 5.0
RESTART_PAUSE_S = 2.0


def bind_console_socket(settings: Settings) -> socket.socket:
    """The console's listening socket, bound once in the parent and shared by the workers."""
    family = socket.AF_INET6 if ":" in settings.http_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.http_host, settings.http_port))
    sock.listen(max(64, settings.http_limit_concurrency // 2))
    sock.set_inheritable(True)
    return sock


def serve_console(settings: Settings, sock: socket.socket | None = None) -> None:
    """Run one console process until it is told to stop (SIGINT/SIGTERM).

    The process has its own container (engine and pool), AMI connection and browser phone;
    with ``sock`` it serves that already bound socket, otherwise it binds the configured
    address itself.
    """
    import uvicorn

    from agent_console.app import create_app
    from registratura.bootstrap import bootstrap
    from registratura.http_server import raise_open_files_limit, uvicorn_config
    from registratura.telephony import start_telephony

    raise_open_files_limit()
    container = bootstrap(settings)
    telephony = start_telephony(container)
    container.extras["ivr_runtime"] = _phone_runtime(container)
    server = uvicorn.Server(uvicorn_config(create_app(container), settings))
    try:
        server.run(sockets=[sock] if sock is not None else None)
    finally:
        if telephony is not None:
            telephony.stop()
        container.dispose()


def _phone_runtime(container):  # type: ignore[no-untyped-def]
    """An IVR runtime for the browser phone only: the FastAGI and AudioSocket listeners belong
    to the IVR process, so this one's are closed (or never opened) at once."""
    from ivr.runtime import IvrRuntime

    try:
        container.settings = container.settings.model_copy(update={"audiosocket_port": None})
        runtime = IvrRuntime(container, host="127.0.0.1", port=0)
    except Exception:  # the console works without its phone (TTS engine missing, ...)
        logger.warning("browser phone unavailable in this console process", exc_info=True)
        return None
    runtime.server.shutdown()  # never served: just closes its listening socket
    return runtime


def _worker_main(settings: Settings, sock: socket.socket, index: int) -> None:
    """Entry point of a spawned worker."""
    from registratura.logging_setup import configure_logging

    configure_logging(settings.log_level)
    # Its own process group: a Ctrl-C in the terminal reaches the parent only, which stops
    # the workers in order (and does not mistake their exit for a crash).
    os.setpgrp()
    _exit_with_parent(os.getppid())
    logger.info("console worker %d started (pid %d)", index, os.getpid())
    serve_console(settings, sock)


def _exit_with_parent(parent: int) -> None:
    """Stop this worker if its parent goes away without stopping it (killed with -9)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ConsoleWorkers:
    """N console worker processes on one socket, restarted when they die."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.sock = bind_console_socket(settings)
        self._context = multiprocessing.get_context("spawn")
        self._procs: list[BaseProcess | None] = [None] * count
        self._started: list[float] = [0.0] * count
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._monitor = threading.Thread(target=self._watch, name="console-workers",
                                         daemon=True)
        self.restarts = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    def pids(self) -> list[int]:
        """The running workers' process ids."""
        with self._lock:
            return [p.pid for p in self._procs if p is not None and p.pid and p.is_alive()]

    def start(self) -> ConsoleWorkers:
        for index in range(self.count):
            self._spawn(index)
        self._monitor.start()
        return self

    def _spawn(self, index: int) -> None:
        proc = self._context.Process(target=_worker_main, name=f"console-worker-{index}",
                                     args=(self.settings, self.sock, index), daemon=False)
        proc.start()
        with self._lock:
            self._procs[index] = proc
            self._started[index] = time.monotonic()

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for index, proc in enumerate(list(self._procs)):
                if proc is None or proc.is_alive() or self._stopping.is_set():
                    continue
                logger.warning("console worker %d (pid %s) exited with %s: starting it again",
                               index, proc.pid, proc.exitcode)
                if time.monotonic() - self._started[index] < MIN_UPTIME_S:
                    time.sleep(RESTART_PAUSE_S)
                if not self._stopping.is_set():
                    self.restarts += 1
                    self._spawn(index)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to finish its requests and exit; kill those that do not."""
        self._stopping.set()
        procs = [p for p in self._procs if p is not None]
        for proc in procs:
            if proc.is_alive() and proc.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                logger.warning("console worker pid %s did not stop: killed", proc.pid)
                proc.kill()
                proc.join(2.0)
        self.sock.close()


def effective_workers(settings: Settings, requested: int | None) -> int:
    """How many console processes to run: SQLite is one process's database, so it keeps one."""
    count = requested or settings.console_workers
    if count > 1 and settings.is_sqlite:
        logger.warning("SQLite keeps the console in one process (%d workers asked): use "
                       "PostgreSQL for several", count)
        return 1
    return count


def stop_requested() -> threading.Event:
    """An event set by SIGINT or SIGTERM (call from the main thread)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
