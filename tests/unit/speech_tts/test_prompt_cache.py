"""The content-addressed prompt cache, rendering with the real pyttsx3 + espeak-ng engine.

The engine is wrapped in a counting proxy (same protocol, delegates every call) so the tests see
how often the cache really synthesizes.  Needs ``espeak-ng`` and ``libespeak-ng1``; without them
these tests fail, unless ``REGISTRATURA_ALLOW_NO_TTS=1`` turns the failure into a skip.
"""

from __future__ import annotations

import array
import asyncio
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ivr.io import Prompt
from speech import tts
from speech.prompt_cache import CacheStats, PromptCache

GREETING = "Здравствуйте! Вы позвонили в регистратуру городской поликлиники номер три."
MISSING_TTS = (
    "text-to-speech is not installed: run `apt-get install -y espeak-ng libespeak-ng1` "
    "(or set REGISTRATURA_ALLOW_NO_TTS=1 to skip the speech tests)"
)
FILE_NAME = re.compile(r"^registratura/(ru|en)/[0-9a-f]{24}$")


class CountingEngine:
    """A fake engine implementing :class:`speech.tts.TtsEngine` by delegating to a real one."""

    def __init__(self, delegate: tts.TtsEngine, fail_on: frozenset[str] = frozenset()) -> None:
        self.delegate = delegate
        self.name = delegate.name
        self.rate = getattr(delegate, "rate", None)
        self.fail_on = fail_on
        self.texts: list[str] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        return len(self.texts)

    def voice_for(self, locale: str) -> str:
        return self.delegate.voice_for(locale)

    def synthesize(self, text: str, locale: str, out_wav: Path) -> None:
        with self._lock:
            self.texts.append(text)
            self.threads.add(threading.get_ident())
        if text in self.fail_on:
            raise tts.TtsError(f"refusing {text!r}")
        self.delegate.synthesize(text, locale, out_wav)


def _require_tts() -> tts.Pyttsx3Engine:
    """The real engine; fail (or skip, when allowed) unless espeak-ng is usable."""
    problem = "the espeak-ng program is missing"
    if shutil.which("espeak-ng") is not None:
        try:
            return tts.Pyttsx3Engine()
        except tts.TtsUnavailable as exc:
            problem = str(exc)
    if os.environ.get("REGISTRATURA_ALLOW_NO_TTS") == "1":
        pytest.skip(f"{MISSING_TTS}: {problem}")
    pytest.fail(f"{MISSING_TTS}: {problem}", pytrace=False)


@pytest.fixture(scope="module")
def real_engine() -> tts.Pyttsx3Engine:
    return _require_tts()


@pytest.fixture
def engine(real_engine: tts.Pyttsx3Engine) -> CountingEngine:
    return CountingEngine(real_engine)


@pytest.fixture
def cache(tmp_path: Path, engine: CountingEngine) -> PromptCache:
    return PromptCache(tmp_path / "sounds", engine)


def assert_playable(cache: PromptCache, file_name: str) -> float:
    """Assert the file is an 8 kHz 16-bit mono WAV with 0.1–15 s of audible sound."""
    assert FILE_NAME.match(file_name), file_name
    with wave.open(str(cache.wav_path(file_name)), "rb") as reader:
        params = reader.getparams()
        samples = array.array("h", reader.readframes(reader.getnframes()))
    assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
    seconds = params.nframes / params.framerate
    assert 0.1 < seconds < 15
    assert math.sqrt(sum(s * s for s in samples) / len(samples)) > 300
    return seconds


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file())


def test_miss_renders_and_hit_does_not_call_the_engine(
    cache: PromptCache, engine: CountingEngine
) -> None:
    name = cache.path_for(GREETING, "ru")
    assert name.startswith("registratura/ru/")
    assert 0.5 < assert_playable(cache, name) < 15
    assert engine.calls == 1
    assert cache.path_for(GREETING, "ru") == name
    assert cache.path_for(GREETING, "ru") == name
    assert engine.calls == 1
    stats = cache.stats()
    assert isinstance(stats, CacheStats)
    assert (stats.hits, stats.misses, stats.failures) == (2, 1, 0)
    assert stats.render_seconds > 0


def test_sidecar_holds_the_text(cache: PromptCache) -> None:
    name = cache.path_for(GREETING, "ru")
    sidecar = cache.sounds_dir / f"{name}.txt"
    assert sidecar.read_text(encoding="utf-8") == GREETING
    assert cache.text_for(name) == GREETING
    wav = cache.wav_path(name)
    assert wav == cache.sounds_dir / f"{name}.wav"
    for path in (wav, sidecar):  # Asterisk may run as another user
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_files_survive_a_restart(tmp_path: Path, real_engine: tts.Pyttsx3Engine) -> None:
    first = CountingEngine(real_engine)
    name = PromptCache(tmp_path, first).path_for("Запись отменена.", "ru")
    second = CountingEngine(real_engine)
    again = PromptCache(tmp_path, second)
    assert again.is_cached("Запись отменена.", "ru")
    assert again.path_for("Запись отменена.", "ru") == name
    assert (first.calls, second.calls) == (1, 0)


def test_different_text_or_locale_gives_different_files(
    cache: PromptCache, engine: CountingEngine
) -> None:
    one = cache.path_for("Нажмите один.", "ru")
    two = cache.path_for("Нажмите два.", "ru")
    english = cache.path_for("Press one.", "en")
    assert len({one, two, english}) == 3
    assert english.startswith("registratura/en/")
    assert engine.calls == 3
    for name in (one, two, english):
        assert_playable(cache, name)


def test_whitespace_variants_share_one_file(cache: PromptCache, engine: CountingEngine) -> None:
    name = cache.path_for("Добрый день.", "ru")
    assert cache.path_for("  Добрый   день.\n", "ru") == name
    assert engine.calls == 1
    assert cache.text_for(name) == "Добрый день."


def test_key_covers_engine_voice_and_rate(tmp_path: Path, real_engine: tts.Pyttsx3Engine) -> None:
    fast = CountingEngine(tts.Pyttsx3Engine(rate=220))
    normal = CountingEngine(real_engine)
    names = {PromptCache(tmp_path, e).path_for("Спасибо.", "ru") for e in (normal, fast)}
    assert len(names) == 2


def test_concurrent_renders_of_one_text_make_one_file(
    cache: PromptCache, engine: CountingEngine
) -> None:
    text = "Пожалуйста, подождите, идёт поиск свободного времени."
    barrier = threading.Barrier(8)

    def work() -> str:
        barrier.wait()
        return cache.path_for(text, "ru")

    with ThreadPoolExecutor(max_workers=8) as pool:
        names = {f.result(timeout=60) for f in [pool.submit(work) for _ in range(8)]}
    assert len(names) == 1
    name = names.pop()
    assert engine.calls == 1
    assert_playable(cache, name)
    directory = cache.wav_path(name).parent
    assert files_in(directory) == sorted([f"{Path(name).name}.txt", f"{Path(name).name}.wav"])
    assert cache.stats().hits == 7


def test_concurrent_renders_across_processes(
    tmp_path: Path, real_engine: tts.Pyttsx3Engine
) -> None:
    script = (
        "import sys; from pathlib import Path; from speech.tts import Pyttsx3Engine; "
        "from speech.prompt_cache import PromptCache; "
        "print(PromptCache(Path(sys.argv[1]), Pyttsx3Engine()).path_for(sys.argv[2], 'ru'))"
    )
    text = "Ваша запись подтверждена."
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), text],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    names = {proc.communicate(timeout=120)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(names) == 1
    cache = PromptCache(tmp_path, CountingEngine(real_engine))
    name = names.pop()
    assert cache.path_for(text, "ru") == name  # same key in every process
    assert_playable(cache, name)
    assert len(files_in(tmp_path)) == 2  # one WAV, one sidecar, no temporary files


def test_files_for_gives_one_file_per_non_empty_part(
    cache: PromptCache, engine: CountingEngine
) -> None:
    prompt = Prompt(key="policy.readback", parts=("Номер полиса:", "", "  ", "пять", "семь"))
    names = cache.files_for(prompt)
    assert len(names) == 3
    assert len(set(names)) == 3
    assert [cache.text_for(n) for n in names] == ["Номер полиса:", "пять", "семь"]
    for name in names:
        assert_playable(cache, name)
    assert cache.files_for(Prompt(key="empty", parts=("", " "))) == []
    english = cache.files_for(Prompt(key="bye", parts=("Goodbye!",), locale="en"))
    assert english[0].startswith("registratura/en/")
    assert engine.calls == 4


def test_files_for_async_renders_off_the_event_loop(
    cache: PromptCache, engine: CountingEngine
) -> None:
    prompts = [
        Prompt(key="menu", parts=("Для записи к врачу нажмите один.", "Для отмены нажмите два.")),
        Prompt(key="wait", parts=("Соединяю с оператором.",)),
        Prompt(key="bye", parts=("Goodbye!",), locale="en"),
    ]

    async def main() -> tuple[int, list[list[str]]]:
        results = await asyncio.gather(*(cache.files_for_async(p) for p in prompts))
        single = await cache.path_for_async("Соединяю с оператором.", "ru")
        assert single == results[1][0]
        return threading.get_ident(), list(results)

    loop_thread, results = asyncio.run(main())
    assert [len(r) for r in results] == [2, 1, 1]
    assert loop_thread not in engine.threads
    assert engine.calls == 4


def test_duration_reads_the_header(cache: PromptCache) -> None:
    name = cache.path_for(GREETING, "ru")
    with wave.open(str(cache.wav_path(name)), "rb") as reader:
        expected = reader.getnframes() / reader.getframerate()
    assert cache.duration(name) == pytest.approx(expected)
    fresh = PromptCache(cache.sounds_dir, cache.engine)  # nothing in memory: reads the file
    assert fresh.duration(name) == pytest.approx(expected)
    assert fresh.duration(f"{name}.wav") == pytest.approx(expected)
    cache.wav_path(name).unlink()
    assert fresh.duration(name) == pytest.approx(expected)  # remembered


def test_normalizer_runs_before_synthesis(tmp_path: Path, engine: CountingEngine) -> None:
    seen: list[tuple[str, str]] = []

    def normalize(text: str, locale: str) -> str:
        seen.append((text, locale))
        return text.replace("№ 3", "номер три")

    cache = PromptCache(tmp_path, engine, normalize=normalize)
    name = cache.path_for("Поликлиника № 3.", "ru")
    assert engine.texts == ["Поликлиника номер три."]
    assert seen == [("Поликлиника № 3.", "ru")]
    assert cache.text_for(name) == "Поликлиника № 3."  # the phone shows what was written
    plain = PromptCache(tmp_path, engine).path_for("Поликлиника № 3.", "ru")
    assert plain != name  # different speech, different file


def test_prerender_renders_only_what_is_missing(cache: PromptCache, engine: CountingEngine) -> None:
    pairs = [
        ("ru", "Главное меню."),
        ("ru", "Выберите врача."),
        ("ru", "Главное меню."),  # duplicate
        ("ru", "   "),  # empty
        ("en", "Main menu."),
    ]
    progress: list[tuple[int, int]] = []
    assert cache.prerender(pairs, lambda done, total: progress.append((done, total))) == 3
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert engine.calls == 3
    assert cache.prerender(iter(pairs)) == 0
    assert cache.prerender([*pairs, ("ru", "Новый текст.")]) == 1
    assert engine.calls == 4


def test_prerender_reports_failures_after_rendering_the_rest(
    tmp_path: Path, real_engine: tts.Pyttsx3Engine
) -> None:
    engine = CountingEngine(real_engine, fail_on=frozenset({"Сломанный текст."}))
    cache = PromptCache(tmp_path, engine)
    with pytest.raises(tts.TtsError, match="1 of 3"):
        cache.prerender([("ru", "Первый."), ("ru", "Сломанный текст."), ("ru", "Третий.")])
    assert cache.is_cached("Первый.", "ru") and cache.is_cached("Третий.", "ru")
    assert not cache.is_cached("Сломанный текст.", "ru")
    assert cache.stats().failures == 1
    assert all(not name.startswith(".") for name in files_in(tmp_path))  # no temporary files


def test_invalid_input_is_rejected(tmp_path: Path, cache: PromptCache) -> None:
    with pytest.raises(ValueError):
        cache.path_for("   ", "ru")
    with pytest.raises(ValueError):
        cache.path_for("Текст.", "../ru")
    with pytest.raises(ValueError):
        PromptCache(tmp_path, cache.engine, subdir="../elsewhere")
    with pytest.raises(ValueError):
        PromptCache(tmp_path, cache.engine, subdir="/abs")
    with pytest.raises(tts.TtsError):
        cache.path_for("Text.", "xx")  # no voice for the locale


def test_custom_subdir(tmp_path: Path, engine: CountingEngine) -> None:
    name = PromptCache(tmp_path, engine, subdir="custom/prompts").path_for("Да.", "ru")
    assert name.startswith("custom/prompts/ru/")
    assert (tmp_path / f"{name}.wav").exists()


def test_no_subdir_puts_files_right_in_the_sounds_dir(tmp_path: Path,
                                                      engine: CountingEngine) -> None:
    """The IVR's sounds dir is the dialplan's REG_SOUNDS itself: nothing nested below it."""
    cache = PromptCache(tmp_path, engine, subdir="")
    name = cache.path_for("Да.", "ru")
    assert name.startswith("ru/") and (tmp_path / f"{name}.wav").exists()
    silence = cache.silence()
    assert silence == "silence-1s" and cache.silence() == silence  # written once
    assert cache.duration(silence) == 1.0
