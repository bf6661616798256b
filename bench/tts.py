"""``tts``: prompt render time with the real engines, cold and warm cache.

Texts: every static prompt of both catalogues (what ``IvrRuntime.prerender`` renders at
start-up: templates without placeholders, the greeting, the digit words) plus dynamic texts a
call renders on demand (an offered slot read as a sentence, "Записываю вас: <slot>...").

* cold: an empty cache directory; each text is synthesised, resampled to 8 kHz and written
  (``PromptCache.path_for`` on a miss) — per-text time, total, real-time factor;
* warm, same process: the in-memory memo (what a running IVR pays per prompt part);
* warm, new process: a fresh :class:`PromptCache` over the files on disk (hash + stat).

No database is used; results go to ``bench/results/tts-none.json``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    console,
    fmt,
    print_table,
    progress_bar,
    save_json,
    summary_ms,
)
from booking_core.views import DoctorView, SlotOffer
from ivr.dialogue.catalogue import LOCALES, load_catalogue
from ivr.dialogue.phrasing import Phraser
from speech.prompt_cache import PromptCache
from speech.ru_normalize import normalize_for_speech
from speech.tts import TtsError, TtsUnavailable, create_engine

DEFAULT_DB = "sqlite"  # ignored: no database here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engines", default="pyttsx3,espeak-ng-cli",
                        help="comma-separated engines to measure")
    parser.add_argument("--dynamic", type=int, default=0,
                        help="dynamic slot texts (default 40, --quick 10)")


def _normalize(text: str, locale: str) -> str:
    return normalize_for_speech(text) if locale == "ru" else text


def static_texts() -> list[tuple[str, str]]:
    """(locale, text) pairs the IVR pre-renders at start-up (as IvrRuntime.static_prompts)."""
    texts: list[tuple[str, str]] = []
    for locale in LOCALES:
        cat = load_catalogue(locale)
        texts += [(locale, t) for t in cat.static_texts()]
        texts += [(locale, p) for p in cat("greeting", clinic="Городская поликлиника № 3").parts]
        phrase = Phraser(cat)
        texts += [(locale, w) for d in "0123456789" for w in phrase.digits(d)]
    return list(dict.fromkeys(texts))


def dynamic_texts(count: int, seed: int = 3) -> list[tuple[str, str]]:
    """Slot offers and confirmations as a call renders them on demand."""
    rnd = random.Random(seed)
    cat = load_catalogue("ru")
    phrase = Phraser(cat)
    names = [("Кашинцева", "Галина", "Вячеславовна"), ("Орлов", "Андрей", "Николаевич"),
             ("Смирнова", "Елена", "Петровна"), ("Григорьев", "Павел", "Александрович")]
    out: list[tuple[str, str]] = []
    base = datetime(2026, 9, 8, 8, 0)
    for i in range(count):
        last, first, middle = rnd.choice(names)
        at = base + timedelta(days=rnd.randint(0, 13), minutes=15 * rnd.randint(0, 47))
        offer = SlotOffer(i + 1, at, at + timedelta(minutes=15), str(rnd.randint(1, 40)),
                          DoctorView(1, last, first, middle, "15", 1, None))
        slot = phrase.slot(offer)
        key = "offer_first" if i % 2 == 0 else "confirm_booking"
        out.append(("ru", cat(key, slot=slot).parts[0]))
    return out


def _measure(engine_kind: str, texts: list[tuple[str, str]]) -> dict[str, Any]:
    try:
        engine = create_engine(engine_kind)
    except (TtsUnavailable, ValueError) as exc:
        return {"engine": engine_kind, "unavailable": str(exc)}
    root = Path(tempfile.mkdtemp(prefix="reg-bench-tts-"))
    try:
        cache = PromptCache(root, engine, normalize=_normalize)
        cold: list[float] = []
        audio = 0.0
        chars = 0
        failures = 0
        with progress_bar(f"cold renders ({engine.name})", len(texts)) as advance:
            for locale, text in texts:
                t0 = time.perf_counter()
                try:
                    name = cache.path_for(text, locale)
                except TtsError:
                    failures += 1
                    advance()
                    continue
                cold.append(time.perf_counter() - t0)
                audio += cache.duration(name)
                chars += len(text)
                advance()
        warm_memo = _timed(lambda lt: cache.path_for(lt[1], lt[0]), texts * 3)
        fresh = PromptCache(root, engine, normalize=_normalize)
        warm_disk = _timed(lambda lt: fresh.path_for(lt[1], lt[0]), texts)
        total = sum(cold)
        return {
            "engine": engine.name, "texts": len(texts), "failures": failures,
            "cold_ms": summary_ms(cold), "cold_total_s": round(total, 2),
            "audio_s": round(audio, 1), "chars": chars,
            "chars_per_audio_second": round(chars / audio, 1) if audio else None,
            "realtime_factor": round(audio / total, 1) if total else None,
            "warm_memo_us": {k: round(v * 1000, 1) if k != "count" else v
                             for k, v in summary_ms(warm_memo).items()},
            "warm_disk_us": {k: round(v * 1000, 1) if k != "count" else v
                             for k, v in summary_ms(warm_disk).items()},
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _timed(fn: Any, items: list[Any]) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - t0)
    return out


def run(args: argparse.Namespace) -> int:
    static = static_texts()
    dynamic = dynamic_texts(args.dynamic or (10 if args.quick else 40))
    if args.quick:
        static = static[::4]
    results = []
    for kind in [e.strip() for e in args.engines.split(",") if e.strip()]:
        res = {"static": _measure(kind, static), "dynamic": _measure(kind, dynamic)}
        results.append(res)
    rows = []
    for res in results:
        for group in ("static", "dynamic"):
            r = res[group]
            if "unavailable" in r:
                rows.append([r["engine"], group, "unavailable", "", "", "", "", "", "", ""])
                continue
            c = r["cold_ms"]
            rows.append([r["engine"], group, r["texts"], fmt(c["p50"]), fmt(c["p95"]),
                         fmt(c["max"]), fmt(r["cold_total_s"], 2), fmt(r["realtime_factor"]),
                         fmt(r["warm_memo_us"]["p50"]), fmt(r["warm_disk_us"]["p50"])])
    print_table("tts — prompt render time",
                ["engine", "texts", "n", "cold p50 ms", "cold p95 ms", "cold max ms",
                 "cold total s", "× real time", "warm memo p50 µs", "warm disk p50 µs"], rows,
                caption="× real time = seconds of audio produced per second of rendering")
    console.print("Static texts are rendered once at start-up; dynamic ones (slot phrases) "
                  "on demand, inside a call step.")
    save_json("tts", "none", {"quick": args.quick, "results": results})
    return 0
