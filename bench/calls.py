"""``calls``: N concurrent simulated Asterisk channels running DTMF booking calls over FastAGI.

The IVR runs in child processes (``python -m bench.ivr_server``: the product's IvrRuntime with
a fast fake TTS engine and the static prompts pre-rendered), so its memory and CPU are measured
alone: one, or with ``--workers N`` N of them sharing the port with ``SO_REUSEPORT`` as
``registratura ivr --workers N`` runs them.  Asterisk's side is one thread per channel, each an
:class:`ivr.transports.terminal.AsteriskCall` driven by a :class:`BookingCaller` who books the
nearest slot of a specialty (and tries again when someone else took it first); with
``--caller-procs K`` (default one per 1,000 calls) the channels are spread over K processes so
the callers are not the bottleneck (their CPU is reported).

The floor: right after the IVR's run the same callers (same patients, keys, start offsets and
pacing) call a bare FastAGI server (:mod:`bench.agi_echo`, as many processes as IVR workers)
that replays the command lines of one real booking call recorded from the IVR in the same run,
each as soon as the previous reply arrived.  The IVR's p99 divided by the echo's is the
product's cost over the protocol floor, a ratio that travels between machines.

Hundreds of concurrent calls are a regional registry line, not one polyclinic: the bench region
has one demo-shaped polyclinic (ten doctors, three districts) per 50 callers, every caller a
patient attached to one of them.  (With all 500 callers in one 50-doctor clinic, every caller
of a specialty is offered the same nearest slot at the same moment and most confirmations lose
the race; calls then loop for many minutes — see bench/README.md.)

Pacing: a real caller listens to the prompts and presses keys at human speed, so the load of N
concurrent calls is N times one call's command rate, not N clients replying instantly.  Each
simulated caller waits, before answering, the audio length of what was played (text length at
16 characters a second: `bench tts` measures 15.5 for the static prompts and 13.6 for slot
phrases at the product's 175 wpm, so these callers are a little faster than real ones) plus
1 s to think and 0.3 s per key, or the question's timeout when silent; every wait is
multiplied by a random 0.7-1.3 (so calls do not march in step) and by ``--time-scale``
(1 = real time; 0 = flat out, a saturation test).  Calls start spread over ``--ramp`` seconds.

Measured inside the server (see :mod:`bench.ivr_server`): the gap from a reply line received to
the next command written, for every reply ("any reply") and for the replies carrying caller
input (``GET DATA``: "after input", the DESIGN's step latency).  On-demand renders of dynamic
prompt texts (slot phrases) with the fake engine are timed and subtracted ("TTS excluded");
the raw figure is reported too.  Latency percentiles are taken over the plateau, the time when
at least 90 % of the N calls were in progress at once.

Callers of one specialty are all offered the same nearest slot, so concurrent callers race for
it (the loser hears "this time was just taken" and gets the next offer); to keep that realistic
rather than a stampede, a caller takes an offered time with probability 0.6 and otherwise asks
for the next one.  The races are counted ("slot races").
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_NOW,
    RESULTS_DIR,
    ROOT,
    BenchPatient,
    ClinicRef,
    DbHost,
    add_clinics,
    add_districts,
    add_patients,
    checkpoint_sqlite,
    clinic_ids,
    console,
    count_rows,
    db_kinds,
    double_bookings,
    fmt,
    make_container,
    pct,
    plotting,
    prepare_demo,
    print_table,
    progress_bar,
    save_json,
    save_plot,
    summary_ms,
    verdict,
)
from ivr.dialogue.catalogue import load_catalogue
from ivr.transports.terminal import (
    AgiUnreachable,
    AsteriskCall,
    BaseCaller,
    CallerAction,
    SimulatorError,
)

DEFAULT_DB = "both"
TARGET_P99_MS = 20.0
TARGET_CALLS = 500

#: `bench tts` at 175 wpm: 15.5 (static prompts) / 13.6 (slot phrases); a bit fast on purpose.
CHARS_PER_SECOND = 16.0
THINK_S = 1.0
KEY_S = 0.3

#: Callers per polyclinic: hundreds of concurrent calls are a regional registry line, so the
#: bench region has one demo-shaped polyclinic (ten doctors) per this many callers.
CALLERS_PER_CLINIC = 50
#: Probability that a caller takes an offered time (otherwise they press 2, "another time").
TAKE_OFFER = 0.6
#: A booking call at real-time pace lasts longer than this (the prompts alone take over a
#: minute to hear), so ``--steady`` knows how many patients each channel may need.
SHORTEST_CALL_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="",
                        help="comma-separated concurrent call counts (default 100,500,1000; "
                             "--quick: 100)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="caller pacing: 1 = real time, 0.5 = twice as fast, 0 = flat out")
    parser.add_argument("--ramp", type=float, default=20.0,
                        help="seconds over which the calls start (scaled by --time-scale)")
    parser.add_argument("--server-log-level", default="INFO",
                        help="the IVR process's log level (INFO as in production)")
    parser.add_argument("--profile", action="store_true",
                        help="sample the IVR process with py-spy during the largest run")
    parser.add_argument("--pool-size", type=int, default=None,
                        help="the IVR's database pool size (default: the product's setting)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--switch-interval", type=float, default=0.0,
                        help="the IVR processes' sys.setswitchinterval in seconds (0: "
                             "Python's 0.005)")
    parser.add_argument("--workers", type=int, default=1,
                        help="IVR processes sharing the FastAGI port (SO_REUSEPORT), as "
                             "'registratura ivr --workers N'; PostgreSQL only for N > 1")
    parser.add_argument("--clinics", type=int, default=0,
                        help="polyclinics in the region (default: one per 50 callers)")
    parser.add_argument("--caller-procs", type=int, default=0,
                        help="processes playing Asterisk's side (default: one per 1,000 "
                             "calls)")
    parser.add_argument("--no-echo", action="store_true",
                        help="skip the bare FastAGI echo server baseline")
    parser.add_argument("--steady", type=float, default=0.0,
                        help="steady arrivals: each of the N channels calls again (a new "
                             "patient) as soon as its call ends, for this many seconds after "
                             "the ramp (set --ramp to about one call's length, 140 s); "
                             "0 = every channel calls once (the default)")


# --------------------------------------------------------------------------------------------
# The caller
# --------------------------------------------------------------------------------------------


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _last_part(locale: str, key: str, **params: Any) -> str:
    return _collapse(load_catalogue(locale)(key, **params).parts[-1])


def question_texts() -> dict[str, str]:
    """The text of the file ``GET DATA`` plays for each question of a booking call."""
    return {
        _last_part("en", "language"): "language",
        _last_part("ru", "main_menu"): "main_menu",
        _last_part("ru", "ask_policy"): "policy",
        _last_part("ru", "policy_readback", digits=["x"]): "yes",
        _last_part("ru", "birth_date_readback", day_month=["x"], year=["y"]): "yes",
        _last_part("ru", "ask_birth_date"): "birth_date",
        _last_part("ru", "choose_specialty", options=["x"]): "specialty",
        _last_part("ru", "offer_menu"): "offer",
        _last_part("ru", "anything_else"): "anything_else",
    }


CONFIRM_PREFIX = load_catalogue("ru").templates["confirm_booking"].split("{", 1)[0].strip()
#: The specialty question ends with its last option, so it is known by its first part.
SPECIALTY_PREFIX = load_catalogue("ru").templates["choose_specialty"].split("{", 1)[0].strip()


def audio_seconds(texts: Sequence[str]) -> float:
    """How long the texts take to say (see the module docstring)."""
    return sum(max(0.3, len(t) / CHARS_PER_SECOND) for t in texts if t)


class BookingCaller(BaseCaller):
    """A patient who books the nearest slot of one specialty by keys, at human pace."""

    QUESTIONS = question_texts()

    def __init__(self, patient: BenchPatient, specialty_digit: str, scale: float,
                 rnd: random.Random) -> None:
        self.patient = patient
        self.answers: dict[str, str | None] = {
            "language": None, "main_menu": "1", "policy": patient.policy, "yes": "1",
            "birth_date": patient.dob_keys, "specialty": specialty_digit, "offer": "1",
            "confirm": "1", "anything_else": None}
        self.scale = scale
        self.rnd = rnd
        self.unexpected: list[str] = []
        self.heard: list[str] = []  # parts played since the last question

    def _wait(self, seconds: float) -> None:
        if self.scale > 0 and seconds > 0:
            time.sleep(seconds * self.scale * self.rnd.uniform(0.7, 1.3))

    def on_play(self, files: Sequence[str], texts: Sequence[str]) -> CallerAction:
        self._wait(audio_seconds(texts))
        self.heard += texts
        return CallerAction.listen()

    def on_get_data(self, files: Sequence[str], texts: Sequence[str], max_digits: int,
                    timeout_ms: int) -> CallerAction:
        last = _collapse(texts[-1]) if texts else ""
        question = self.QUESTIONS.get(last)
        if question is None and last.startswith(CONFIRM_PREFIX):
            question = "confirm"
        if question is None and any(t.startswith(SPECIALTY_PREFIX) for t in self.heard):
            question = "specialty"
        self.heard = []
        if question is None:
            self.unexpected.append(last[:60])
            return CallerAction.hang_up()
        keys = self.answers[question]
        if question == "offer" and self.rnd.random() > TAKE_OFFER:
            keys = "2"
        if keys is None:
            self._wait(audio_seconds(texts) + timeout_ms / 1000)
            return CallerAction.silence()
        self._wait(audio_seconds(texts) + THINK_S + KEY_S * len(keys))
        return CallerAction.press(keys)


@dataclass
class CallResult:
    started: float = 0.0
    ended: float = 0.0
    outcome: str = "error"
    reason: str = ""
    collisions: int = 0
    commands: int = 0
    unexpected: list[str] = field(default_factory=list)


def _classify(result: CallResult, transcript: Any, caller: BookingCaller) -> None:
    said = transcript.said
    result.collisions = sum("только что заняли" in s for s in said)
    result.commands = len(transcript.commands)
    result.unexpected = caller.unexpected
    variables = transcript.variables
    if any(s.startswith("Вы записаны") for s in said) and variables.get("REG_IVR_DONE") == "1":
        result.outcome = "booked"
    elif variables.get("REG_ESCALATE") == "1":
        result.outcome = "escalated"
        result.reason = variables.get("REG_REASON", "")
    elif caller.unexpected:
        result.outcome = "error"
        result.reason = "unexpected prompt"
    else:
        result.outcome = "error"
        result.reason = f"ended without booking (AGISTATUS={transcript.agistatus})"


# --------------------------------------------------------------------------------------------
# The IVR child process
# --------------------------------------------------------------------------------------------


class IvrProcess:
    """``python -m bench.ivr_server`` (or another server ``module`` speaking the same stdin
    protocol, e.g. :mod:`bench.agi_echo`) as a child; talks to it over stdin/stdout."""

    def __init__(self, db_url: str, sounds: Path, log_file: Path, log_level: str = "INFO",
                 extra: Sequence[str] = (), module: str = "bench.ivr_server") -> None:
        cmd = [sys.executable, "-m", module, "--db-url", db_url,
               "--sounds", str(sounds), "--log-file", str(log_file),
               "--log-level", log_level, *extra]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(log_file.with_suffix(".stderr"), "wb"),  # noqa: SIM115
                                     text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"IVR process did not start: {line!r}; see {log_file}")
        _, self.host, port, pid = line.split()
        self.port = int(port)
        self.pid = int(pid)

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("IVR process ended")
            if line.startswith("STATS "):
                return json.loads(line[6:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerGroup:
    """``count`` server processes; with more than one they share a port (``SO_REUSEPORT``),
    as ``registratura ivr --workers N`` runs the product."""

    def __init__(self, count: int, start: Any) -> None:
        """``start(index, extra_args)`` starts one :class:`IvrProcess`."""
        self.procs: list[IvrProcess] = []
        shared = [] if count == 1 else ["--port", str(_free_port()), "--reuse-port"]
        try:
            for index in range(count):
                self.procs.append(start(index, shared))
        except BaseException:
            self.stop()
            raise
        self.host, self.port = self.procs[0].host, self.procs[0].port
        self.pid = self.procs[0].pid

    def stats(self) -> list[dict[str, Any]]:
        return [p.stats() for p in self.procs]

    def stop(self) -> None:
        for p in self.procs:
            p.stop()


def merged(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' stats as one server's: samples together, counters summed."""
    out = dict(stats[0])
    out["samples"] = [s for st in stats for s in st["samples"]]
    for key in ("calls_started", "calls_failed", "db_connects"):
        out[key] = sum(st.get(key, 0) for st in stats)
    out["cache"] = {k: sum(st["cache"][k] for st in stats) for k in stats[0]["cache"]}
    return out


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


@dataclass
class CallerPlan:
    """Who calls, pressing which specialty, starting when, at what pace."""

    host: str
    port: int
    sounds: Path
    patients: list[BenchPatient]
    digits: list[str]
    offsets: list[float]
    scale: float
    seed: int
    #: seconds after the start before which a channel places its next call (0: one call each)
    redial_until: float = 0.0

    @property
    def channels(self) -> int:
        return len(self.offsets)

    def patients_of(self, channel: int) -> range:
        """The patients channel ``channel`` calls as, in turn (one per call)."""
        if not self.redial_until:
            return range(channel, channel + 1)
        return range(channel, len(self.patients), self.channels)


def _call_threads(plan: CallerPlan, channels: Sequence[int], t0: float,
                  done: Any = None) -> list[tuple[int, CallResult]]:
    """Run the plan's ``channels``, one thread each: a channel places its first call at its
    offset and, with ``plan.redial_until``, the next one (as the next patient) as soon as
    a call ends, until that moment.  ``done`` (a shared counter with ``get_lock()``/``value``,
    optional) counts finished calls.  Returns (patient index, result) per call placed."""
    results: dict[int, CallResult] = {}

    def call(i: int) -> None:
        caller = BookingCaller(plan.patients[i], plan.digits[i], plan.scale,
                               random.Random(plan.seed * 100_003 + i))
        res = results[i] = CallResult()
        res.started = time.monotonic()
        try:
            transcript = AsteriskCall(plan.host, plan.port, caller_number=plan.patients[i].phone,
                                      sounds_dir=plan.sounds, caller=caller,
                                      idle_timeout=120.0).run()
            _classify(res, transcript, caller)
        except (AgiUnreachable, SimulatorError, OSError) as exc:
            res.outcome, res.reason = "error", f"{type(exc).__name__}: {exc}"[:120]
        finally:
            res.ended = time.monotonic()
            if done is not None:
                with done.get_lock():
                    done.value += 1

    def channel(c: int) -> None:
        delay = t0 + plan.offsets[c] - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for n, i in enumerate(plan.patients_of(c)):
            if n and time.monotonic() >= t0 + plan.redial_until:
                break
            call(i)

    threading.stack_size(1024 * 1024)
    threads = [threading.Thread(target=channel, args=(c,), daemon=True) for c in channels]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return list(results.items())


def _caller_process(plan: CallerPlan, indices: list[int], t0: float, done: Any,
                    out: Any) -> None:
    """One process of simulated Asterisk channels (``--caller-procs``): results and its CPU
    seconds go back through ``out``."""
    rows = _call_threads(plan, indices, t0, done)
    times = os.times()
    out.put((rows, times.user + times.system))


def _run_calls(plan: CallerPlan, procs: int) -> tuple[list[CallResult], float]:
    """All calls of the plan; returns the results (in plan order) and the CPU seconds the
    caller side used (this process, or the sum of its caller processes)."""
    n = plan.channels
    # with redialling the number of calls is not known in advance: at most one per patient
    most = len(plan.patients) if plan.redial_until else n
    if procs <= 1:
        import multiprocessing

        done = multiprocessing.Value("i", 0)
        cpu0 = sum(os.times()[:2])
        holder: list[list[tuple[int, CallResult]]] = []
        runner = threading.Thread(target=lambda: holder.append(
            _call_threads(plan, range(n), time.monotonic(), done)), daemon=True)
        runner.start()
        _progress(most, done, runner.is_alive)
        runner.join()
        return [r for _, r in sorted(holder[0], key=lambda ir: ir[0])], \
            sum(os.times()[:2]) - cpu0
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    done = ctx.Value("i", 0)
    out = ctx.Queue()
    t0 = time.monotonic() + 5.0  # CLOCK_MONOTONIC is machine-wide: one start for all
    children = [ctx.Process(target=_caller_process,
                            args=(plan, list(range(k, n, procs)), t0, done, out), daemon=True)
                for k in range(procs)]
    for c in children:
        c.start()
    # Results are read as they come: a child cannot exit before its results left the pipe,
    # so waiting for the children to end first would wait for ever on a large run.
    parts: list[tuple[list[tuple[int, CallResult]], float]] = []
    with progress_bar(f"{most} calls", most) as advance:
        while len(parts) < len(children):
            advance(completed=done.value, total=most)
            alive = any(c.is_alive() for c in children)
            try:  # once all have ended, what they wrote is in the pipe: a last, longer wait
                parts.append(out.get(timeout=0.5 if alive else 5))
            except queue.Empty:
                if not alive:
                    raise RuntimeError("a caller process ended without its results") from None
    for c in children:
        c.join()
    rows = [row for part, _ in parts for row in part]
    return [r for _, r in sorted(rows, key=lambda ir: ir[0])], sum(cpu for _, cpu in parts)


def _progress(n: int, done: Any, alive: Any) -> None:
    with progress_bar(f"{n} calls", n) as advance:
        while True:
            count = done.value
            advance(completed=count, total=n)
            if count >= n or not alive():
                break
            time.sleep(0.5)


def _plateau(results: list[CallResult], share: float = 0.9,
             channels: int = 0) -> tuple[float, float, int]:
    """(start, end) of the time at least ``share`` of the channels (default: one per call)
    had a call up at once, and the peak."""
    events = sorted([(r.started, 1) for r in results] + [(r.ended, -1) for r in results])
    need = max(1, int((channels or len(results)) * share))
    active = peak = 0
    start = end = None
    for at, delta in events:
        above = active >= need
        active += delta
        peak = max(peak, active)
        if active >= need and start is None:
            start = at
        if above and active < need:
            end = at  # the last drop below ends it: a redialling channel dips for a moment
    if start is None:
        return events[0][0], events[-1][0], peak
    return start, end if end is not None else events[-1][0], peak


class PromptIndex:
    """Which catalogue prompt a played file belongs to, from its sidecar text."""

    def __init__(self) -> None:
        self.whole: dict[str, str] = {}
        self.prefixes: list[tuple[str, str]] = []
        for locale in ("ru", "en"):
            for key, template in load_catalogue(locale).templates.items():
                literal = _collapse(template.split("{", 1)[0])
                if "{" not in template:
                    self.whole.setdefault(_collapse(template), key)
                elif literal:
                    self.prefixes.append((literal, key))
                tail = _collapse(template.rsplit("}", 1)[-1].lstrip(" .,;:"))
                if "{" in template and tail:
                    known = self.whole.get(tail)
                    self.whole[tail] = f"{known}|{key}" if known else key
        self.prefixes.sort(key=lambda p: -len(p[0]))
        self._texts: dict[str, str] = {}

    def key_of(self, path: str) -> str:
        """The prompt key of a sound file (``"digit"`` for the parts of a read-back)."""
        if path not in self._texts:
            try:
                text = _collapse(Path(path + ".txt").read_text(encoding="utf-8"))
            except OSError:
                text = ""
            key = self.whole.get(text) or next(
                (k for literal, k in self.prefixes if text.startswith(literal)), None)
            self._texts[path] = key or ("digit" if len(text.split()) <= 2 else text[:32])
        return self._texts[path]

    def step(self, command: str, next_command: str) -> str:
        """``"<prompt key> → <next verb>"`` for a gap opened by the reply to ``command``."""
        parts = command.split()
        verb = " ".join(parts[:2]).upper()
        if verb in ("GET DATA", "STREAM FILE") and len(parts) >= 3:
            what = f"{verb} {self.key_of(parts[2])}"
        else:
            what = verb
        return f"{what} → {' '.join(next_command.split()[:2]).upper()}"


def _sql_summary(rows: list[tuple[int, float]]) -> dict[str, float]:
    """Mean SQL statements per step and mean milliseconds spent executing them."""
    if not rows:
        return {}
    return {"sql_statements": round(sum(n for n, _ in rows) / len(rows), 1),
            "sql_ms": round(1000 * sum(t for _, t in rows) / len(rows), 2)}


def _cpu_stall_us() -> int | None:
    """Microseconds some runnable task waited for a CPU since boot (Linux PSI), if exposed."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as fh:
            some = fh.readline().split()
    except OSError:
        return None
    return int(some[-1].partition("=")[2])


def _step_s(s: tuple) -> float:  # type: ignore[type-arg]
    """A sample's gap without the renders inside it (TTS excluded)."""
    return max(0.0, s[1] - s[2])


def _step_cpu_s(s: tuple) -> float:  # type: ignore[type-arg]
    """The call thread's CPU in a sample's gap without the renders' (a render is not the
    step's work); samples from before the CPU was recorded have none."""
    return max(0.0, s[7] - s[2])


def _where_time_went(rows: list, over_s: float) -> dict[str, Any]:
    """Mean milliseconds of a step (renders excluded), split into SQL execution, the call
    thread's own CPU outside it and waiting (for the interpreter lock, a pooled connection, a
    CPU), for steps slower than ``over_s`` and for all, from samples carrying the thread's CPU
    time (index 7)."""
    def split(chosen: list) -> dict[str, float]:
        if not chosen:
            return {"count": 0}
        n = len(chosen)
        gap = sum(_step_s(s) for s in chosen) / n
        sql = sum(s[6] for s in chosen) / n
        cpu = sum(_step_cpu_s(s) for s in chosen) / n
        return {"count": n, "step_ms": round(1000 * gap, 2), "sql_ms": round(1000 * sql, 2),
                "cpu_ms": round(1000 * cpu, 2),
                "waiting_ms": round(1000 * max(0.0, gap - sql - cpu), 2)}

    timed = [s for s in rows if len(s) > 7]
    slow = [s for s in timed if _step_s(s) > over_s]
    return {"over_ms": round(1000 * over_s), "slow": split(slow), "all": split(timed)}


def _analyse(stats: dict[str, Any], window: tuple[float, float]) -> dict[str, Any]:
    samples = stats["samples"]
    lo, hi = window
    plateau = [s for s in samples if lo <= s[0] <= hi] or samples

    def verb(cmd: str) -> str:
        return " ".join(cmd.split()[:2]).upper()

    def pick(rows: list, only_input: bool, tts: bool) -> list[float]:
        return [(s[1] if tts else _step_s(s)) for s in rows
                if not only_input or verb(s[3]) == "GET DATA"]

    index = PromptIndex()
    by_step: dict[str, list[float]] = defaultdict(list)
    sql: dict[str, list[tuple[int, float]]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    for s in plateau:
        step = index.step(s[3], s[4])
        by_step[step].append(_step_s(s))
        if len(s) > 6:
            sql[step].append((s[5], s[6]))
        if len(s) > 7:
            cpu[step].append(_step_cpu_s(s))
    steps = sorted(((k, {**summary_ms(v), **_sql_summary(sql.get(k, [])),
                         **({"cpu_ms": round(1000 * sum(cpu[k]) / len(cpu[k]), 3)}
                            if cpu.get(k) else {})})
                    for k, v in by_step.items()), key=lambda kv: -kv[1]["p99"])
    return {
        "after_input": summary_ms(pick(plateau, True, False)),
        "after_input_with_tts": summary_ms(pick(plateau, True, True)),
        "any_reply": summary_ms(pick(plateau, False, False)),
        "whole_run_after_input": summary_ms(pick(samples, True, False)),
        "renders_in_gaps": sum(1 for s in samples if s[2] > 0),
        "by_step": [{"step": k, **v} for k, v in steps],
        "time_split": _where_time_went([s for s in plateau if verb(s[3]) == "GET DATA"],
                                       TARGET_P99_MS / 1000),
        "plateau_samples": len(plateau), "all_samples": len(samples),
    }


def _profile(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    """Start ``py-spy record`` on the IVR process (raw collapsed stacks), if installed.

    Only the thread holding the interpreter lock is sampled: that is where a threaded
    server's CPU goes, and walking a thousand idle stacks per sample cost py-spy a core.
    """
    import shutil

    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        console.print("[yellow]py-spy not installed (pip install py-spy): no profile[/yellow]")
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(seconds),
                             "--rate", "100", "--format", "raw", "--output", str(out),
                             "--nonblocking", "--gil"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


#: Leaf frames of a thread that waits (for the caller, the pool, a lock): not work.
WAITING = ("SocketIO.readinto", "_PollLikeSelector.select", "Condition.wait", "Event.wait",
           "sleep", "Thread.join", "BaseServer.serve_forever", "TextIOWrapper.readline")


def hot_spots(collapsed: Path, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive shares per function of the *busy* samples (threads not waiting for
    the socket, the pool or a lock) in py-spy's collapsed stacks."""
    self_t: dict[str, int] = defaultdict(int)
    incl: dict[str, int] = defaultdict(int)
    total = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if not frames or _short(frames[-1]).split(" (")[0] in WAITING:
            continue
        total += count
        if frames:
            self_t[_short(frames[-1])] += count
        for name in {_short(f) for f in frames}:
            incl[name] += count
    if not total:
        return {"self": [], "inclusive": []}

    def top_of(table: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return [(name, round(100 * n / total, 1)) for name, n in ranked]

    return {"self": top_of(self_t), "inclusive": top_of(incl), "samples": total}  # type: ignore[dict-item]


def _short(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``func (module.py)``."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{name} ({file})" if file else name


def _outcomes(results: list[CallResult]) -> tuple[dict[str, int], dict[str, int]]:
    outcomes: dict[str, int] = defaultdict(int)
    reasons: dict[str, int] = defaultdict(int)
    for r in results:
        outcomes[r.outcome] += 1
        if r.reason:
            reasons[r.reason] += 1
    return dict(outcomes), dict(reasons)


def _worker_rows(before: list[dict[str, Any]], after: list[dict[str, Any]],
                 wall: float) -> list[dict[str, Any]]:
    """Per server process: calls served, CPU (share of one core over the run), peak RSS."""
    rows = []
    for b, a in zip(before, after, strict=True):
        cpu = a["cpu_user_s"] + a["cpu_system_s"] - b["cpu_user_s"] - b["cpu_system_s"]
        system = a["cpu_system_s"] - b["cpu_system_s"]  # the kernel's share: syscalls, switches
        threads = a.get("call_threads_cpu_s", 0.0) - b.get("call_threads_cpu_s", 0.0)
        fresh = a.get("samples", [])[len(b.get("samples", [])):]
        in_steps = sum(x[7] for x in fresh if len(x) > 7)
        rows.append({"calls": a["calls_started"] - b["calls_started"],
                     "cpu_seconds": round(cpu, 1), "cpu_system_seconds": round(system, 1),
                     # the calls' own threads, over whole connections and inside steps only
                     "call_threads_cpu_seconds": round(threads, 1),
                     "in_steps_cpu_seconds": round(in_steps, 1),
                     "cpu_share_of_one_core": round(cpu / wall, 3),
                     "rss_start_mb": round(b["proc"].get("VmRSS", 0) / 1024, 1),
                     "rss_peak_mb": round(a["proc"].get("VmHWM", 0) / 1024, 1),
                     "gc": a.get("gc", {})})
    return rows


def _worker_row(name: str, w: dict[str, Any]) -> list[Any]:
    per_call = 1000 * w["cpu_seconds"] / w["calls"] if w["calls"] else None
    return [name, w["calls"], w["cpu_seconds"], w.get("cpu_system_seconds", "—"),
            w.get("call_threads_cpu_seconds", "—"), w.get("in_steps_cpu_seconds", "—"),
            fmt(per_call, 1) if per_call is not None else "—",
            fmt(100 * w["cpu_share_of_one_core"], 1), w["rss_start_mb"], w["rss_peak_mb"]]


def _record_script(group: ServerGroup, sounds: Path, patient: BenchPatient) -> list[str]:
    """One real booking call against the IVR (a patient kept out of the run): its command
    lines are what the echo server replays."""
    caller = BookingCaller(patient, "1", 0.0, random.Random(0))
    transcript = AsteriskCall(group.host, group.port, caller_number=patient.phone,
                              sounds_dir=sounds, caller=caller, idle_timeout=60.0).run()
    if not any(s.startswith("Вы записаны") for s in transcript.said):
        raise RuntimeError(f"the script call did not book: {transcript.said[-3:]}")
    return transcript.commands


def _echo_run(plan: CallerPlan, script: list[str], args: argparse.Namespace, work: Path,
              ) -> dict[str, Any]:
    """The same callers against the bare FastAGI server (:mod:`bench.agi_echo`)."""
    script_file = work / "echo-script.txt"
    script_file.write_text("\n".join(script) + "\n", encoding="utf-8")
    n = plan.channels
    group = ServerGroup(args.workers, lambda i, shared: IvrProcess(
        "none", plan.sounds, work / f"echo-{n}-{i}.log", extra=["--script", str(script_file),
                                                                   *shared],
        module="bench.agi_echo"))
    try:
        before = group.stats()
        started = time.monotonic()
        run_plan = dataclasses.replace(plan, host=group.host, port=group.port)
        results, caller_cpu = _run_calls(run_plan, args.caller_procs or _caller_procs(n))
        wall = time.monotonic() - started
        after = group.stats()
    finally:
        group.stop()
    window = _plateau(results, channels=n)
    outcomes, reasons = _outcomes(results)
    return {"latency": _analyse(merged(after), window[:2]), "outcomes": outcomes,
            "reasons": reasons, "peak_concurrent": window[2],
            "workers": _worker_rows(before, after, wall),
            "caller_cpu_share_of_one_core": round(caller_cpu / wall, 2),
            "script_commands": len(script)}


class PgWatch:
    """PostgreSQL's side of a run, sampled every second from the benchmark process: what the
    run's backends are doing (``pg_stat_activity``: active, idle in transaction, waiting on a
    lock...) and, when the benchmark started the server itself, the CPU its processes used."""

    def __init__(self, host: DbHost, url: str) -> None:
        self.host, self.db = host, url.rsplit("/", 1)[1]
        self.states: dict[str, int] = defaultdict(int)
        self.samples = 0
        self.peak_backends = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.cpu0 = self._cpu()

    def _postmaster(self) -> int | None:
        server = getattr(self.host, "_server", None)
        try:
            return int((server.data / "postmaster.pid").read_text().split()[0])  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError, IndexError):
            return None

    def _cpu(self) -> float | None:
        """CPU seconds of the postmaster and its children (live ones and reaped ones)."""
        root = self._postmaster()
        if root is None:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry.name), int(fields[1])
            if pid == root:
                total += sum(int(f) for f in fields[11:15]) / tick  # + reaped children
            elif ppid == root:
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def _run(self) -> None:
        import psycopg

        assert self.host.admin_url is not None
        dsn = self.host.admin_url.replace("postgresql+psycopg://", "postgresql://")
        with contextlib.suppress(Exception), psycopg.connect(dsn, autocommit=True) as conn:
            while not self._stop.wait(1.0):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = %s", (self.db,)).fetchall()
                self.samples += 1
                self.peak_backends = max(self.peak_backends, len(rows))
                for state, wtype, wevent in rows:
                    key = state or "?"
                    if wtype and wtype not in ("Client",):
                        key += f" / {wtype}:{wevent}"
                    self.states[key] += 1

    def __enter__(self) -> PgWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def report(self, wall: float) -> dict[str, Any]:
        cpu1 = self._cpu()
        mean = {k: round(v / max(1, self.samples), 1)
                for k, v in sorted(self.states.items(), key=lambda kv: -kv[1])[:8]}
        out: dict[str, Any] = {"backends_peak": self.peak_backends,
                               "mean_backends_by_state": mean}
        if self.cpu0 is not None and cpu1 is not None:
            out["cpu_seconds"] = round(cpu1 - self.cpu0, 1)
            out["cpu_share_of_one_core"] = round((cpu1 - self.cpu0) / wall, 2)
        return out


def _caller_procs(n: int) -> int:
    """Default caller processes: one per 1,000 channels."""
    return max(1, -(-n // 1000))


def _run_size(host: DbHost, template_url: str, patients: list[BenchPatient], n: int,
              args: argparse.Namespace, work: Path, profile: bool) -> dict[str, Any]:
    url = template_url
    sounds = work / "sounds"
    pool = ["--pool-size", str(args.pool_size)] if args.pool_size else []
    if args.switch_interval:
        pool += ["--switch-interval", str(args.switch_interval)]
    # Every worker may be handed more than its share (the kernel hashes, it does not count).
    cap = ["--max-calls", str(n + 10)]
    group = ServerGroup(args.workers, lambda i, shared: IvrProcess(
        url, sounds, work / f"ivr-{host.kind}-{n}-{i}.log", args.server_log_level,
        [*pool, *cap, *shared]))
    rnd = random.Random(args.seed + n)
    chosen = patients[:-1]  # the last one records the echo server's script
    weights = [4, 1, 1, 1, 1]
    digits = [str(rnd.choices(range(1, 6), weights)[0]) for _ in chosen]
    ramp = max(args.ramp * args.time_scale, 2.0)
    master = random.Random(args.seed)
    offsets = sorted(master.uniform(0, ramp) for _ in range(n))
    plan = CallerPlan(group.host, group.port, sounds, chosen, digits, offsets,
                      args.time_scale, args.seed,
                      redial_until=(ramp + args.steady * args.time_scale) if args.steady else 0.0)
    procs = args.caller_procs or _caller_procs(n)
    try:
        script = [] if args.no_echo else _record_script(group, sounds, patients[-1])
        before = group.stats()
        spy = None
        profile_file = work / f"profile-{host.kind}-{n}.txt"
        if profile:
            expected = ramp + 100 * args.time_scale
            spy = _profile(group.pid, max(10, int(expected * 0.8)), profile_file)
        load_before, stall_before = os.getloadavg(), _cpu_stall_us()
        watch = PgWatch(host, url) if host.kind == "postgres" else None
        started = time.monotonic()
        with watch or contextlib.nullcontext():
            results, caller_cpu = _run_calls(plan, procs)
        wall = time.monotonic() - started
        load_after, stall_after = os.getloadavg(), _cpu_stall_us()
        after = group.stats()
        if spy is not None:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            spy.wait(timeout=120)
    finally:
        group.stop()
    window = _plateau(results, channels=n)
    analysis = _analyse(merged(after), window[:2])
    container = make_container(url)
    try:
        checks = {
            "double_bookings": double_bookings(container),
            "booked_in_db": count_rows(container, "SELECT COUNT(*) FROM appointment "
                                                  "WHERE status = 'booked' AND channel = 'ivr'"),
            "pending_in_db": count_rows(container, "SELECT COUNT(*) FROM appointment "
                                                   "WHERE status = 'pending'"),
        }
    finally:
        container.dispose()
    outcomes, reasons = _outcomes(results)
    durations = [r.ended - r.started for r in results]
    workers = _worker_rows(before, after, wall)
    cpu = sum(w["cpu_seconds"] for w in workers)
    commands = sum(r.commands for r in results)
    out: dict[str, Any] = {
        "concurrent_calls": n, "peak_concurrent": window[2],
        "plateau_seconds": round(window[1] - window[0], 1),
        "time_scale": args.time_scale, "ramp_s": ramp, "wall_s": round(wall, 1),
        "arrivals": _arrivals(results, window, args), "calls_placed": len(results),
        "outcomes": outcomes, "reasons": reasons,
        "collisions": sum(r.collisions for r in results),
        "unexpected_prompts": sorted({u for r in results for u in r.unexpected})[:10],
        "call_seconds": {"p50": round(pct(durations, 50), 1), "max": round(max(durations), 1)},
        "agi_commands": commands, "commands_per_s": round(commands / wall, 1),
        "loadavg_1min": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        # share of the run's wall time in which some runnable task had no CPU to run on
        "cpu_pressure": (round((stall_after - stall_before) / 1e6 / wall, 3)
                         if stall_before is not None and stall_after is not None else None),
        "profiled": profile, "worker_processes": args.workers,
        "clinics": getattr(args, "_clinics", None),
        "callers": {"processes": procs,
                    "cpu_share_of_one_core": round(caller_cpu / wall, 2)},
        "server": {
            "rss_start_mb": round(max(w["rss_start_mb"] for w in workers), 1),
            "rss_peak_mb": round(max(w["rss_peak_mb"] for w in workers), 1),
            "cpu_seconds": round(cpu, 1), "cpu_share_of_one_core": round(cpu / wall, 2),
            "calls_failed": sum(a["calls_failed"] for a in after),
            "renders_during_run": sum(a["cache"]["misses"] - b["cache"]["misses"]
                                      for a, b in zip(after, before, strict=True)),
            "db_connections_opened": sum(a.get("db_connects", 0) - b.get("db_connects", 0)
                                         for a, b in zip(after, before, strict=True)),
        },
        "workers": workers,
        "postgres": watch.report(wall) if watch is not None else None,
        "latency": analysis, **checks,
    }
    if script:
        echo = _echo_run(plan, script, args, work)
        out["echo"] = echo
        p99, echo_p99 = analysis["after_input"]["p99"], echo["latency"]["after_input"]["p99"]
        out["ratio_p99_to_echo"] = round(p99 / echo_p99, 2) if echo_p99 > 0 else None
    if profile and profile_file.exists():
        out["profile"] = hot_spots(profile_file)
        keep = RESULTS_DIR / f"calls-profile-{host.kind}-{n}.txt"
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        keep.write_bytes(profile_file.read_bytes())
        out["profile"]["file"] = str(keep.relative_to(ROOT))
    return out


def _patients_needed(n: int, args: argparse.Namespace) -> int:
    """Patients for ``n`` channels: one each, or with ``--steady`` one per call a channel can
    place (a booking call lasts over :data:`SHORTEST_CALL_S` at real-time pace)."""
    if not args.steady:
        return n
    span = (max(args.ramp, 2.0) + args.steady) / SHORTEST_CALL_S
    return n * (1 + math.ceil(span))


def _prepare_template(host: DbHost, n: int, clinics: int = 0,
                      patients: int = 0) -> tuple[str, list[BenchPatient]]:
    """A database with the region (``clinics`` polyclinics, default one per
    :data:`CALLERS_PER_CLINIC` callers), slots, and ``patients`` (default ``n``) + 1 patients
    attached round-robin (the last one records the echo server's script)."""
    url = host.create(f"bench_calls_tpl{n}")
    container = make_container(url)
    try:
        clinics = clinics or max(1, -(-n // CALLERS_PER_CLINIC))
        with console.status(f"preparing {clinics} polyclinics on {host.kind}"):
            prepare_demo(container)
            region = add_clinics(container, clinics - 1)
            from booking_core.slots import generate_slots

            generate_slots(container.uow())
            demo = ClinicRef(*_demo_clinic(container))
            patients = add_patients(container, (patients or n) + 1, prefix="55",
                                    clinics=[demo, *region])
    finally:
        container.dispose()
    if host.kind == "sqlite":
        checkpoint_sqlite(url)
    return url, patients


def _demo_clinic(container: Any) -> tuple[int, list[int]]:
    clinic_id, _ = clinic_ids(container)
    return clinic_id, add_districts(container, 3)


def _print(kind: str, runs: list[dict[str, Any]]) -> None:
    rows = []
    for r in runs:
        lat = r["latency"]
        a, w, anyr = lat["after_input"], lat["after_input_with_tts"], lat["any_reply"]
        ok = (a["p99"] < TARGET_P99_MS) if r["concurrent_calls"] >= TARGET_CALLS else None
        rows.append([
            r["concurrent_calls"], r["peak_concurrent"],
            f"{r['outcomes'].get('booked', 0)}/{r.get('calls_placed', r['concurrent_calls'])}",
            sum(v for k, v in r["outcomes"].items() if k != "booked"), r["collisions"],
            r["double_bookings"], fmt(a["p50"], 2), fmt(a["p95"], 2), fmt(a["p99"], 2),
            fmt(w["p99"], 2), fmt(anyr["p99"], 2), r["commands_per_s"],
            r["server"]["rss_peak_mb"], fmt(100 * r["server"]["cpu_share_of_one_core"], 0),
            r.get("worker_processes", 1),
            fmt(r["echo"]["latency"]["after_input"]["p99"], 2) if r.get("echo") else "—",
            fmt(r["ratio_p99_to_echo"], 2) if r.get("ratio_p99_to_echo") else "—",
            "—" if ok is None else verdict(ok)])
    print_table(f"calls — {kind} (step latency after caller input, ms, over the plateau)",
                ["calls", "peak", "booked", "not booked", "slot races", "double",
                 "p50", "p95", "p99", "p99 +tts", "p99 any", "cmd/s", "RSS MB", "CPU %",
                 "workers", "echo p99", "p99 ÷ echo", f"p99<{TARGET_P99_MS:g}"], rows,
                caption="CPU % = server CPU time / wall time (100 = one core), all workers; "
                        "RSS = the largest worker's peak; echo = the bare FastAGI server "
                        "under the same callers, right after")
    biggest = runs[-1]
    wrows = [_worker_row(str(i), w) for i, w in enumerate(biggest.get("workers", []))]
    wrows += [_worker_row(f"echo {i}", w)
              for i, w in enumerate(biggest.get("echo", {}).get("workers", []))]
    print_table(f"per worker process at {biggest['concurrent_calls']} calls — {kind}",
                ["worker", "calls", "CPU s", "of it kernel s", "call threads s", "in steps s",
                 "CPU ms per call",
                 "CPU % of a core", "RSS start MB", "RSS peak MB"], wrows)
    pg = biggest.get("postgres") or {}
    if pg:
        cpu = (f"{100 * pg['cpu_share_of_one_core']:.0f} % of a core, "
               if "cpu_share_of_one_core" in pg else "")
        console.print(f"  PostgreSQL: {cpu}{pg['backends_peak']} backends at most; mean "
                      f"backends by state: {pg['mean_backends_by_state']}")
    callers = biggest.get("callers", {})
    if callers:
        echo_share = biggest.get("echo", {}).get("caller_cpu_share_of_one_core")
        console.print(f"  callers (Asterisk's side): {callers['processes']} process(es), "
                      f"{100 * callers['cpu_share_of_one_core']:.0f} % of a core in all"
                      + (f" ({100 * echo_share:.0f} % against the echo server)"
                         if echo_share is not None else ""))
    qrows = [[q["step"], q["count"], fmt(q["p50"], 2), fmt(q["p99"], 2), fmt(q["max"], 1),
              fmt(q.get("sql_statements", float("nan"))), fmt(q.get("sql_ms", float("nan")), 2),
              fmt(q["mean"], 2)]
             for q in biggest["latency"]["by_step"][:10]]
    print_table(f"slowest steps at {biggest['concurrent_calls']} calls — {kind} (TTS excluded)",
                ["prompt whose reply opened the gap → next command", "n", "p50 ms", "p99 ms",
                 "max ms", "SQL stmts", "SQL ms (mean)", "step ms (mean)"], qrows)
    for r in runs:
        load = r.get("loadavg_1min", {})
        profiled = " — profiled with py-spy" if r.get("profiled") else ""
        console.print(f"  {r['concurrent_calls']} calls: machine load average "
                      f"{load.get('before')} → {load.get('after')} (other processes count "
                      f"too){profiled}")
        if r.get("cpu_pressure") is not None:
            console.print(f"  {r['concurrent_calls']} calls: some runnable task waited for a CPU "
                          f"{100 * r['cpu_pressure']:.1f} % of the run (/proc/pressure/cpu)")
        split = r["latency"].get("time_split")
        if split and split["slow"].get("count"):
            for name in ("slow", "all"):
                t = split[name]
                label = (f"steps over {split['over_ms']} ms" if name == "slow" else "all steps")
                console.print(f"  {label} after input ({t['count']}): mean {t['step_ms']} ms = "
                              f"SQL {t['sql_ms']} + thread CPU {t['cpu_ms']} + waiting "
                              f"{t['waiting_ms']} (lock, pool, a CPU)")
        arrivals = r.get("arrivals")
        if arrivals:
            how = (f"each channel redialled for {arrivals['steady_s']:g} s after the ramp"
                   if arrivals["model"] == "steady" else "each channel called once")
            console.print(f"  {r['concurrent_calls']} channels: {r.get('calls_placed')} calls "
                          f"placed ({how}), {arrivals['starts_per_s_on_plateau']} call starts "
                          f"a second over the {r['plateau_seconds']} s plateau")
        if r.get("reasons"):
            console.print(f"  {r['concurrent_calls']} calls, not booked: {r['reasons']}")
        if r.get("profile"):
            console.print(f"  profile ({r['profile']['file']}), self time:")
            for name, share in r["profile"]["self"][:10]:
                console.print(f"    {share:5.1f} %  {name}")


def _plot(name: str, kind: str, runs: list[dict[str, Any]]) -> None:
    plt = plotting()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["concurrent_calls"] for r in runs]
    for key, label in (("p50", "p50"), ("p95", "p95"), ("p99", "p99")):
        ax.plot(xs, [r["latency"]["after_input"][key] for r in runs], marker="o", label=label)
    ax.axhline(TARGET_P99_MS, color="red", linestyle="--", label="p99 target")
    ax.set_xlabel("concurrent calls")
    ax.set_ylabel("step latency after caller input, ms")
    ax.set_title(f"IVR step latency — {kind}")
    ax.legend()
    ax.grid(True, alpha=0.3)
    save_plot(fig, f"{name}-{kind}")
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] if args.sizes else (
        [100] if args.quick else [100, 500, 1000])
    failed = False
    for kind in db_kinds(args.db):
        with DbHost(kind, args.pg_url) as host:
            work = Path(tempfile.mkdtemp(prefix="reg-bench-calls-", dir=_fast_tmp()))
            runs = []
            if kind == "sqlite" and args.workers > 1:
                console.print("[yellow]calls: several workers need PostgreSQL (SQLite "
                              "serialises writers across processes); skipping SQLite[/yellow]")
                continue
            for n in sizes:
                template, patients = _prepare_template(host, n, args.clinics,
                                                       _patients_needed(n, args))
                args._clinics = args.clinics or max(1, -(-n // CALLERS_PER_CLINIC))
                runs.append(_run_size(host, template, patients, n, args, work,
                                      profile=args.profile and n == max(sizes)))
                failed |= runs[-1]["double_bookings"] != 0
            _print(kind, runs)
            name = _result_name(args)
            runs = _merge_previous(name, kind, runs)
            _plot(name, kind, runs)
            save_json(name, kind, {
                "quick": args.quick, "runs": runs, "now": BENCH_NOW.isoformat(),
                "model": {"chars_per_second": CHARS_PER_SECOND, "think_s": THINK_S,
                          "key_s": KEY_S, "jitter": [0.7, 1.3]},
                "target": f"p99 < {TARGET_P99_MS:g} ms with {TARGET_CALLS} concurrent calls",
            })
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def _result_name(args: argparse.Namespace) -> str:
    """``calls`` for real-time runs; other pacings, arrivals and profiled runs get their own
    files."""
    if args.profile:
        return "calls-profiled"
    name = "calls" if args.time_scale == 1.0 else f"calls-scale{args.time_scale:g}"
    name = name if args.workers == 1 else f"{name}-w{args.workers}"
    return f"{name}-steady" if args.steady else name


def _arrivals(results: list[CallResult], window: tuple[float, float, int],
              args: argparse.Namespace) -> dict[str, Any]:
    """How calls arrived: all within the ramp (each channel once) or steadily (channels
    redialling); the rate of call starts over the plateau, calls a second."""
    lo, hi = window[0], window[1]
    started = sum(1 for r in results if lo <= r.started <= hi)
    rate = started / (hi - lo) if hi > lo else 0.0
    return {"model": "steady" if args.steady else "ramp", "steady_s": args.steady,
            "starts_per_s_on_plateau": round(rate, 2)}


def _merge_previous(name: str, kind: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep earlier runs of other sizes (same pacing) from the previous results file, so the
    sizes can be measured one invocation at a time and still plot as one curve."""
    path = RESULTS_DIR / f"{name}-{kind}.json"
    try:
        previous = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
    except (OSError, ValueError):
        return runs
    sizes = {r["concurrent_calls"] for r in runs}
    scale = runs[0]["time_scale"] if runs else None
    kept = [dict(r, measured_earlier=True) for r in previous
            if r.get("concurrent_calls") not in sizes and r.get("time_scale") == scale]
    return sorted(kept + runs, key=lambda r: r["concurrent_calls"])


def _fast_tmp() -> str | None:
    """/dev/shm when there is one (sounds and logs on tmpfs), else the default temp dir."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
