"""``caller_time``: how many seconds a caller spends on the phone per scenario (real TTS).

Every prompt is rendered by the product's real TTS engine (pyttsx3 over espeak-ng, or the
espeak-ng CLI fallback) into a persistent cache (``bench/results/cache/sounds``), so a rerun
only renders what changed.  The call flows run in-process over :class:`TimedCallIO`, a
transport that plays nothing but adds up, per prompt, the seconds of audio the caller actually
hears (from the rendered WAV files) and the caller's own time:

* caller model: 1 s to think before answering a question plus 0.3 s per key pressed (a policy
  number is 16 keys and the ``#`` the prompt asks for, a date of birth 8 and ``#``); an entry
  shorter than the question's maximum without ``#`` waits for the inter-digit timeout, as
  Asterisk's ``GET DATA`` does; silence costs the question's timeout
  (1.5 s for the language offer, 6 s elsewhere);
* "listens to everything": every prompt plays to its end before the caller answers;
* "expert presses early" (barge-in): the caller presses the answer 1 s into a prompt (that
  second replaces the thinking time), except where they need what the prompt says: the offered
  slot, the appointment being cancelled or moved, and the confirmation code, which they hear
  once and then hang up.

Scenarios: book the nearest slot by keys, book on another day, cancel, reschedule, and an
unknown patient handed to an agent.  Each runs ``--runs`` times with different patients (so
the read-back digits, dates and slots differ); median and max are reported, and the prompts
that cost the most.  Target: a DTMF booking of the nearest slot in under 75 s.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench.common import (
    RESULTS_DIR,
    BenchPatient,
    DbHost,
    Stopwatch,
    add_patients,
    console,
    db_kinds,
    fmt,
    make_container,
    make_policy,
    plotting,
    prepare_demo,
    print_table,
    progress_bar,
    save_json,
    save_plot,
    verdict,
)
from booking_core import booking, slots
from booking_core.actors import Actor
from booking_core.commands import BookSlot, FindSlots
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.service import run_registry_call
from ivr.io import BufferedCallIO, CallerHangup, CallerInput, CallInfo, Digits, Grammar, Prompt
from ivr.io import Timeout as TimeoutInput
from models.tables import Channel
from registratura.bootstrap import Container
from speech import ru_numbers
from speech.prompt_cache import PromptCache
from speech.ru_normalize import normalize_for_speech
from speech.tts import create_engine

DEFAULT_DB = "sqlite"
TARGET_S = 75.0
THINK_S = 1.0
KEY_S = 0.3
REACTION_S = 1.0
CACHE_DIR = RESULTS_DIR / "cache" / "sounds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=0,
                        help="runs per scenario and variant (default 10, --quick 3)")
    parser.add_argument("--engine", default="auto", help="TTS engine: auto, pyttsx3, "
                        "espeak-ng-cli")
    parser.add_argument("--no-what-if", action="store_true",
                        help="skip the pass at another speaking rate")
    parser.add_argument("--what-if-rate", type=int, default=150,
                        help="speaking rate (wpm) of the what-if pass (the listener replayed "
                             "with the same prompts spoken at this rate)")


# --------------------------------------------------------------------------------------------
# The caller's script and the timing transport
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """What the caller does at one chance to answer.

    ``keys``: keys to press, ``None`` for silence, ``"hangup"``.  ``barge``: press during the
    prompt instead of after it, at the first prompt (play or question) whose key is ``at`` (any
    prompt when ``at`` is None); ``hear`` is how many parts of that prompt the caller listens to
    first (a callable of the prompt, or ``None``: 1 s of it).
    """

    keys: str | None
    barge: bool = False
    at: str | None = None
    hear: int | Callable[[Prompt], int] | None = None


def listen(keys: str | None) -> Step:
    return Step(keys)


def early(keys: str, at: str | None = None,
          hear: int | Callable[[Prompt], int] | None = None) -> Step:
    return Step(keys, barge=True, at=at, hear=hear)


DIGIT_WORDS = frozenset(ru_numbers.digits_to_words(d) for d in "0123456789")


def _is_digits(part: str) -> bool:
    """A read-back part: digit words only ("восемь", or a group "восемь один семь")."""
    return bool(part.split()) and all(word.rstrip(",") in DIGIT_WORDS for word in part.split())


def first_code_reading(prompt: Prompt) -> int:
    """Parts of "Вы записаны, кабинет N. Талон: <digit groups> Повторяю ...": up to the
    first reading's last group (the caller has the code then)."""
    count = 1
    while count < len(prompt.parts) and _is_digits(prompt.parts[count]):
        count += 1
    return count


@dataclass
class Ledger:
    """Seconds per prompt key: audio heard, the caller's own time, silence waited."""

    audio: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    caller: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    silence: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    order: list[str] = field(default_factory=list)
    until_outcome: float | None = None

    def add(self, key: str, audio: float = 0.0, caller: float = 0.0,
            silence: float = 0.0) -> None:
        if key not in self.audio:
            self.order.append(key)
        self.audio[key] += audio
        self.caller[key] += caller
        self.silence[key] += silence

    @property
    def total(self) -> float:
        return sum(self.audio.values()) + sum(self.caller.values()) + sum(self.silence.values())


class TimedCallIO(BufferedCallIO):
    """The dialogue port over a caller script, adding up seconds instead of playing audio."""

    OUTCOME_PROMPTS = ("booked", "rescheduled", "cancelled", "to_agent")

    def __init__(self, cache: PromptCache, script: list[Step], caller_number: str) -> None:
        super().__init__(CallInfo(call_uid="caller-time", caller_number=caller_number))
        self.cache = cache
        self.script = list(script)
        self.ledger = Ledger()
        self.variables: dict[str, str] = {}
        self.keys_heard: list[str] = []

    def _durations(self, prompt: Prompt) -> list[float]:
        return [self.cache.duration(f) for f in self.cache.files_for(prompt)]

    def _takes(self, step: Step, prompt: Prompt | None, is_play: bool) -> bool:
        if step.barge:
            return step.at is None or (prompt is not None and prompt.key == step.at)
        return not is_play

    def _heard(self, prompt: Prompt, step: Step | None) -> float:
        """Audio seconds of ``prompt`` the caller hears before acting on ``step``."""
        durations = self._durations(prompt)
        if step is None or not step.barge:
            return sum(durations)
        if step.hear is None:
            return min(sum(durations), REACTION_S)
        parts = step.hear(prompt) if callable(step.hear) else step.hear
        return sum(durations[:parts]) + (REACTION_S if parts < len(durations) else 0.0)

    def _mark_outcome(self, prompt: Prompt) -> None:
        if prompt.key in self.OUTCOME_PROMPTS and self.ledger.until_outcome is None:
            self.ledger.until_outcome = self.ledger.total

    def _stream(self, prompt: Prompt) -> str:
        self.keys_heard.append(prompt.key)
        step = self.script[0] if self.script else None
        if step is not None and self._takes(step, prompt, is_play=True):
            self.script.pop(0)
            self.ledger.add(prompt.key, audio=self._heard(prompt, step))
            self._mark_outcome(prompt)
            if step.keys == "hangup":
                raise CallerHangup("caller hung up")
            keys = step.keys or ""
            # The first key here; the rest are counted when the collection that follows
            # reads them (they were counted twice when a number started during a play).
            self.ledger.add(prompt.key, caller=KEY_S * len(keys[:1]))
            if len(keys) > 1:
                self.script.insert(0, Step(keys[1:]))
            return keys[:1]
        self.ledger.add(prompt.key, audio=self._heard(prompt, None))
        self._mark_outcome(prompt)
        return ""

    def _get_data(self, prompt: Prompt | None, max_digits: int, timeout: float,
                  terminator: str, grammar: Grammar | None) -> CallerInput:
        if not self.script:
            raise CallerHangup("script finished")
        step = self.script.pop(0)
        key = prompt.key if prompt is not None else "(keys typed on)"
        if prompt is not None:
            self.keys_heard.append(prompt.key)
            self.ledger.add(key, audio=self._heard(prompt, step))
        if step.keys == "hangup":
            raise CallerHangup("caller hung up")
        if step.keys is None:
            self.ledger.add(key, silence=timeout)
            return TimeoutInput()
        think = 0.0 if step.barge or prompt is None else THINK_S
        self.ledger.add(key, caller=think + KEY_S * len(step.keys))
        ended = bool(terminator) and terminator in step.keys
        keys = step.keys.split(terminator, 1)[0] if ended else step.keys
        if not ended and len(keys) < max_digits:
            # Asterisk waits for one more key until the inter-digit timeout.
            self.ledger.add(key, silence=timeout)
        return Digits(keys[:max_digits])

    def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    def hangup(self) -> None:
        return None


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    listener: Callable[[BenchPatient, dict[str, str]], list[Step]]
    expert: Callable[[BenchPatient, dict[str, str]], list[Step]]
    needs_appointment: bool = False
    unknown: bool = False
    expect: str = "booked"


def _id(p: BenchPatient) -> list[Step]:
    """Policy, date of birth, then "1" to the read-back of both."""
    return [listen(p.policy + "#"), listen(p.dob_keys + "#"), listen("1")]


def _id_early(p: BenchPatient) -> list[Step]:
    return [early(p.policy + "#"), early(p.dob_keys + "#"), early("1")]


# Pressing 1 on an offer books it (the offer has just read the slot): no separate confirmation.
SCENARIOS = [
    Scenario(
        "book nearest slot",
        lambda p, x: [listen(None), listen("1"), *_id(p), listen("1"), listen("1")],
        lambda p, x: [early("1"), *_id_early(p), early("1"), early("1", "offer", 1),
                      early("hangup", "booked", first_code_reading)]),
    Scenario(
        "book another day",
        lambda p, x: [listen(None), listen("1"), *_id(p), listen("1"), listen("3"),
                      listen(x["day"]), listen("1")],
        lambda p, x: [early("1"), *_id_early(p), early("1"), early("3", "offer"),
                      early(x["day"], "ask_day"), early("1", "offer", 1),
                      early("hangup", "booked", first_code_reading)]),
    Scenario(
        "cancel",
        lambda p, x: [listen(None), listen("2"), *_id(p), listen("1"), listen("1")],
        # "2" during the greeting goes straight to "my appointments" (English is on 9).
        lambda p, x: [early("2"), *_id_early(p), early("1", "appointment", 1),
                      early("1", "confirm_cancel"), early("hangup", "cancelled")],
        needs_appointment=True, expect="cancelled"),
    Scenario(
        "reschedule",
        lambda p, x: [listen(None), listen("2"), *_id(p), listen("2"), listen("1")],
        lambda p, x: [early("2"), *_id_early(p), early("2", "appointment", 1),
                      early("1", "offer", 1),
                      early("hangup", "rescheduled", first_code_reading)],
        needs_appointment=True, expect="rescheduled"),
    Scenario(
        "unknown patient → agent",
        lambda p, x: [listen(None), listen("1"), *_id(p), listen("0")],
        lambda p, x: [early("1"), *_id_early(p), early("0", "not_identified_retry")],
        unknown=True, expect="to_agent"),
]


def _deps(container: Container) -> IvrDeps:
    from ivr.dialogue.service import clinic_name

    return IvrDeps(uow=container.uow, clinic_name=clinic_name(container.uow),
                   opening_time=container.settings.opening_time,
                   closing_time=container.settings.closing_time,
                   now_local=container.clock.now_local, agents_available=lambda: True)


def _book_for(container: Container, p: BenchPatient, therapist: int) -> None:
    offer = slots.find_free_slots(FindSlots(p.id, therapist, Channel.CONSOLE, limit=1),
                                  container.uow())[0]
    booking.book(BookSlot(p.id, offer.slot_id, Actor.agent("bench", "127.0.0.1")),
                 container.uow())


def _normalize(text: str, locale: str) -> str:
    return normalize_for_speech(text) if locale == "ru" else text


READBACKS = ("identity_readback",)
VARIANTS = ("listens to everything", "expert presses early")


def run(args: argparse.Namespace) -> int:
    runs = args.runs or (3 if args.quick else 10)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    engine = create_engine(args.engine)
    cache = PromptCache(CACHE_DIR, engine, normalize=_normalize)
    passes: list[tuple[str, tuple[str, ...], PromptCache]] = [("", VARIANTS, cache)]
    if not args.no_what_if and args.what_if_rate != getattr(engine, "rate", None):
        other = create_engine(args.engine, rate=args.what_if_rate)
        passes.append((f" · {args.what_if_rate} wpm", VARIANTS[:1],
                       PromptCache(CACHE_DIR, other, normalize=_normalize)))
    failed = False
    for kind in db_kinds(args.db):
        with DbHost(kind, args.pg_url) as host:
            container = make_container(host.create("bench_caller_time"))
            try:
                prepare_demo(container)
                slots.generate_slots(container.uow())
                result = _run_all(container, passes, runs)
            finally:
                container.dispose()
        failed |= _report(kind, result, engine.name, runs, getattr(engine, "rate", None))
    return 1 if failed else 0


def _run_all(container: Container,
             passes: list[tuple[str, tuple[str, ...], PromptCache]],
             runs: int) -> dict[str, Any]:
    from sqlmodel import select

    from models.tables import Specialty

    with container.uow().reading() as uow:
        therapist = uow.session.exec(select(Specialty.id).where(Specialty.code == "therapist")
                                     ).one()
    total_runs = sum(len(variants) for _, variants, _ in passes) * len(SCENARIOS) * runs
    patients = iter(add_patients(container, total_runs, prefix="81"))
    deps = _deps(container)
    day = container.clock.today() + timedelta(days=8)
    extra = {"day": day.strftime("%d%m")}
    out: dict[str, Any] = {}
    renders = 0
    render_seconds = 0.0
    with Stopwatch() as sw, progress_bar("scripted calls (real TTS)", total_runs) as advance:
        for suffix, variants, cache in passes:
            before = cache.stats()
            for scenario in SCENARIOS:
                for variant in variants:
                    ledgers: list[Ledger] = []
                    for n in range(runs):
                        p = next(patients)
                        if scenario.unknown:
                            p = BenchPatient(0, make_policy("89", p.id), p.birth_date,
                                             p.phone)
                        elif scenario.needs_appointment:
                            _book_for(container, p, therapist)
                        build = scenario.listener if variant == VARIANTS[0] else \
                            scenario.expert
                        io = TimedCallIO(cache, build(p, extra), p.phone)
                        run_registry_call(io, deps)
                        if scenario.expect not in io.keys_heard:
                            raise RuntimeError(f"{scenario.name} ({variant}{suffix}) did "
                                               f"not reach {scenario.expect}: "
                                               f"{io.keys_heard} (run {n})")
                        ledgers.append(io.ledger)
                        advance()
                    out[f"{scenario.name}|{variant}{suffix}"] = ledgers
            stats = cache.stats()
            renders += stats.misses - before.misses
            render_seconds += stats.render_seconds - before.render_seconds
    return {"ledgers": out, "renders": renders, "render_seconds": round(render_seconds, 1),
            "wall_s": round(sw.seconds, 1)}


def _report(kind: str, result: dict[str, Any], engine: str, runs: int,
            engine_rate: int | None = None) -> bool:
    payload: dict[str, Any] = {}
    rows, what_if = [], []
    for label, ledgers in result["ledgers"].items():
        scenario, variant = label.split("|")
        totals = [lg.total for lg in ledgers]
        outcome = [lg.until_outcome or lg.total for lg in ledgers]
        no_readback = [lg.total - sum(lg.audio[k] + lg.caller[k] for k in READBACKS
                                      if k in lg.audio) for lg in ledgers]
        audio = statistics.median(sum(lg.audio.values()) for lg in ledgers)
        caller = statistics.median(sum(lg.caller.values()) for lg in ledgers)
        silence = statistics.median(sum(lg.silence.values()) for lg in ledgers)
        is_target = scenario == "book nearest slot"
        ok = max(totals) < TARGET_S
        row = [scenario, variant, fmt(statistics.median(totals)), fmt(max(totals)),
               fmt(statistics.median(outcome)), fmt(audio), fmt(caller), fmt(silence),
               verdict(ok) if is_target else ""]
        if variant in VARIANTS:
            rows.append(row)
        if variant.startswith(VARIANTS[0]):
            what_if.append([scenario, variant.replace(VARIANTS[0], "").lstrip(" ·")
                            or f"{engine_rate} wpm (product)",
                            fmt(statistics.median(totals)),
                            fmt(statistics.median(no_readback)),
                            verdict(ok) if is_target else "",
                            verdict(max(no_readback) < TARGET_S) if is_target else ""])
        per_key: dict[str, list[float]] = defaultdict(list)
        for lg in ledgers:
            for key in lg.order:
                per_key[key].append(lg.audio[key] + lg.caller[key] + lg.silence[key])
        breakdown = sorted(((k, statistics.mean(v), statistics.mean(
            [lg.audio[k] for lg in ledgers if k in lg.audio])) for k, v in per_key.items()),
            key=lambda kv: -kv[1])
        payload[label] = {
            "median_s": round(statistics.median(totals), 1), "max_s": round(max(totals), 1),
            "median_until_outcome_s": round(statistics.median(outcome), 1),
            "median_without_keypad_readbacks_s": round(statistics.median(no_readback), 1),
            "median_audio_s": round(audio, 1), "median_keys_and_think_s": round(caller, 1),
            "median_silence_s": round(silence, 1),
            "steps": [{"prompt": k, "seconds": round(s, 1), "audio_s": round(a, 1)}
                      for k, s, a in breakdown],
        }
    print_table(f"caller time — {kind}, {engine}, {runs} runs each (seconds)",
                ["scenario", "caller", "median", "max", "median to outcome", "audio",
                 "keys+think", "silence", f"<{TARGET_S:g} s"], rows,
                caption="outcome = end of the booked / rescheduled / cancelled / to-agent "
                        "prompt; the last three columns split the median call")
    for variant in VARIANTS:
        nearest = payload[f"book nearest slot|{variant}"]
        print_table(f"where the time goes — book nearest slot, {variant}",
                    ["prompt (catalogue key)", "seconds", "of which audio", "share"],
                    [[s["prompt"], fmt(s["seconds"]), fmt(s["audio_s"]),
                      f"{100 * s['seconds'] / nearest['median_s']:.0f} %"]
                     for s in nearest["steps"][:12]])
    if len(what_if) > len(SCENARIOS):
        what_if.sort(key=lambda r: [sc.name for sc in SCENARIOS].index(r[0]))
        print_table("what if — the listener with the same prompts at another speaking rate",
                    ["scenario", "rate", "median s", "without keypad read-back s",
                     f"<{TARGET_S:g} s", "<75 s w/o read-backs"], what_if)
    console.print(f"renders this run: {result['renders']} ({result['render_seconds']} s); "
                  f"cache: {CACHE_DIR}")
    save_json("caller_time", kind, {
        "engine": engine, "runs": runs, "scenarios": payload,
        "model": {"think_s": THINK_S, "key_s": KEY_S, "reaction_s": REACTION_S,
                  "silence": "the question's timeout (1.5 s language offer, 6 s otherwise)"},
        "renders": result["renders"], "wall_s": result["wall_s"],
        "target": f"DTMF booking of the nearest slot < {TARGET_S:g} s",
    })
    _plot(kind, {k: v for k, v in payload.items() if k.split("|")[1] in VARIANTS})
    return False


def _plot(kind: str, payload: dict[str, Any]) -> None:
    plt = plotting()
    if plt is None:
        return
    labels = list(payload)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = [lbl.replace("|", "\n") for lbl in labels]
    audio = [payload[lbl]["median_audio_s"] for lbl in labels]
    keys = [payload[lbl]["median_keys_and_think_s"] for lbl in labels]
    silence = [payload[lbl]["median_silence_s"] for lbl in labels]
    ax.barh(names, audio, label="audio heard")
    ax.barh(names, keys, left=audio, label="keys + think")
    ax.barh(names, silence, left=[a + k for a, k in zip(audio, keys, strict=True)],
            label="silence (timeouts)")
    ax.axvline(TARGET_S, color="red", linestyle="--", label="75 s target")
    ax.set_xlabel("seconds (median call)")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title("Caller time per scenario")
    save_plot(fig, f"caller_time-{kind}")
    plt.close(fig)
