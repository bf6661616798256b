"""Speech synthesis with the real engines (pyttsx3 over libespeak-ng, and the espeak-ng CLI).

Needs the Debian packages ``espeak-ng`` and ``libespeak-ng1``; without them these tests fail,
unless ``REGISTRATURA_ALLOW_NO_TTS=1`` turns the failure into a skip.
"""

from __future__ import annotations

import array
import itertools
import logging
import math
import os
import shutil
import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from speech import tts

RU_TEXT = "Здравствуйте! Вы позвонили в регистратуру городской поликлиники номер три."
EN_TEXT = "Hello! You have reached the registry of city polyclinic number three."
MISSING_TTS = (
    "text-to-speech is not installed: run `apt-get install -y espeak-ng libespeak-ng1` "
    "(or set REGISTRATURA_ALLOW_NO_TTS=1 to skip the speech tests)"
)


def _require_tts() -> None:
    """Fail (or skip, when allowed) unless espeak-ng is usable."""
    problem = None
    if shutil.which("espeak-ng") is None:
        problem = "the espeak-ng program is missing"
    else:
        try:
            tts.Pyttsx3Engine()
        except tts.TtsUnavailable as exc:
            problem = str(exc)
    if problem is None:
        return
    if os.environ.get("REGISTRATURA_ALLOW_NO_TTS") == "1":
        pytest.skip(f"{MISSING_TTS}: {problem}")
    pytest.fail(f"{MISSING_TTS}: {problem}", pytrace=False)


@pytest.fixture(scope="module")
def engine() -> tts.Pyttsx3Engine:
    _require_tts()
    return tts.Pyttsx3Engine()


def read_wav(path: Path) -> tuple[wave._wave_params, array.array]:
    with wave.open(str(path), "rb") as reader:
        params = reader.getparams()
        samples = array.array("h", reader.readframes(reader.getnframes()))
    return params, samples


def rms(samples: array.array) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def assert_asterisk_speech(path: Path) -> float:
    """Assert ``path`` is an 8 kHz 16-bit mono WAV holding 0.5–15 s of audible sound."""
    params, samples = read_wav(path)
    assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
    assert params.comptype == "NONE"
    duration = params.nframes / params.framerate
    assert 0.5 < duration < 15, duration
    assert rms(samples) > 300, "the file is (nearly) silent"
    return duration


def write_tone(path: Path, freq: float, rate: int = 22050, seconds: float = 1.0) -> None:
    samples = array.array(
        "h",
        (int(10000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(int(rate * seconds))),
    )
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())


# ------------------------------------------------------------------ pyttsx3 engine


def test_pyttsx3_uses_espeak_with_russian_and_english_voices(engine: tts.Pyttsx3Engine) -> None:
    assert engine.name == "pyttsx3-espeak"
    assert engine.rate == tts.DEFAULT_RATE
    ids = {v.id for v in engine.available_voices()}
    voice, variant = engine.voice_for("ru").split("+")  # "zle/ru+f3": the female variant
    assert voice in ids and variant == tts.DEFAULT_VARIANT
    assert voice.rsplit("/", 1)[-1] == "ru"  # espeak-ng: "zle/ru"
    assert engine.voice_for("ru-RU") == engine.voice_for("ru")
    english = next(v for v in engine.available_voices()
                   if v.id == engine.voice_for("en").split("+")[0])
    assert any(tag.startswith("en") for tag in english.languages)


@pytest.mark.parametrize(("text", "locale"), [(RU_TEXT, "ru"), (EN_TEXT, "en")])
def test_sentence_renders_to_asterisk_wav(
    engine: tts.Pyttsx3Engine, tmp_path: Path, text: str, locale: str
) -> None:
    out = tmp_path / f"{locale}.wav"
    seconds = tts.render_to_asterisk_wav(engine, text, locale, out)
    assert seconds == pytest.approx(assert_asterisk_speech(out))
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # the engine's raw file is gone


def test_raw_engine_output_is_wav(engine: tts.Pyttsx3Engine, tmp_path: Path) -> None:
    raw = tmp_path / "raw.wav"
    engine.synthesize("Один, два, три.", "ru", raw)
    params, samples = read_wav(raw)
    assert params.nchannels == 1 and params.sampwidth == 2 and params.framerate > 8000
    assert rms(samples) > 300


def test_silence_is_trimmed_to_about_80_ms(engine: tts.Pyttsx3Engine, tmp_path: Path) -> None:
    out = tmp_path / "trim.wav"
    tts.render_to_asterisk_wav(engine, "Запись подтверждена.", "ru", out)
    _, samples = read_wav(out)
    loud = [i for i, s in enumerate(samples) if abs(s) > 300]
    assert loud[0] <= 0.12 * 8000, "too much leading silence"
    assert len(samples) - loud[-1] <= 0.12 * 8000, "too much trailing silence"


def test_rate_changes_speed(engine: tts.Pyttsx3Engine, tmp_path: Path) -> None:
    fast = tts.Pyttsx3Engine(rate=260)
    slow = tts.Pyttsx3Engine(rate=150)
    slow_s = tts.render_to_asterisk_wav(slow, RU_TEXT, "ru", tmp_path / "slow.wav")
    fast_s = tts.render_to_asterisk_wav(fast, RU_TEXT, "ru", tmp_path / "fast.wav")
    assert fast_s < slow_s * 0.8


def test_alternating_rates_never_lose_settings_or_audio(
    engine: tts.Pyttsx3Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: pyttsx3's stop() used to cancel the next utterance (empty file) and restore
    # the previous rate when jobs followed each other quickly.
    fast = tts.Pyttsx3Engine(rate=300)
    slow = tts.Pyttsx3Engine(rate=150)
    lengths: dict[int, set[float]] = {150: set(), 300: set()}
    with caplog.at_level(logging.WARNING, logger="speech.tts"):
        for n in range(30):
            current = slow if n % 2 else fast
            out = tmp_path / f"{n}.wav"
            lengths[current.rate].add(
                tts.render_to_asterisk_wav(current, "Нажмите один.", "ru", out)
            )
    assert not caplog.records
    assert max(lengths[300]) < min(lengths[150]) * 0.75
    assert max(lengths[150]) - min(lengths[150]) < 0.1


def test_synthesis_from_many_threads_is_serialised_safely(
    engine: tts.Pyttsx3Engine, tmp_path: Path
) -> None:
    texts = [f"Ваш номер в очереди {n}." for n in range(1, 9)]
    barrier = threading.Barrier(len(texts))

    def work(n: int, text: str) -> float:
        barrier.wait()
        return tts.render_to_asterisk_wav(engine, text, "ru", tmp_path / f"{n}.wav")

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        futures = [pool.submit(work, n, text) for n, text in enumerate(texts)]
        durations = [future.result(timeout=60) for future in futures]
    contents = set()
    for n, seconds in enumerate(durations):
        assert assert_asterisk_speech(tmp_path / f"{n}.wav") == pytest.approx(seconds)
        contents.add((tmp_path / f"{n}.wav").read_bytes())
    assert len(contents) == len(texts)  # no job got another job's audio


def test_empty_text_and_unknown_locale_are_errors(
    engine: tts.Pyttsx3Engine, tmp_path: Path
) -> None:
    with pytest.raises(tts.TtsError):
        engine.synthesize("   ", "ru", tmp_path / "x.wav")
    with pytest.raises(tts.TtsError):
        engine.voice_for("xx")
    with pytest.raises(ValueError):
        engine.voice_for("../ru")


def test_unloadable_driver_reports_unavailable() -> None:
    with pytest.raises(tts.TtsUnavailable):
        tts.Pyttsx3Engine(driver="no_such_driver")


# ------------------------------------------------------------------ espeak-ng CLI fallback


def test_forced_cli_engine_renders(engine: tts.Pyttsx3Engine, tmp_path: Path) -> None:
    cli = tts.create_engine("espeak-ng-cli")
    assert isinstance(cli, tts.EspeakNgCliEngine)
    assert cli.voice_for("ru") == "ru+" + tts.DEFAULT_VARIANT
    out = tmp_path / "cli.wav"
    tts.render_to_asterisk_wav(cli, RU_TEXT, "ru", out)
    assert_asterisk_speech(out)
    # text that looks like an option is spoken, not parsed
    tts.render_to_asterisk_wav(cli, "-5 градусов", "ru", tmp_path / "minus.wav")
    assert_asterisk_speech(tmp_path / "minus.wav")


def test_auto_falls_back_to_cli_when_pyttsx3_cannot_start(
    engine: tts.Pyttsx3Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class NoLibrary:
        def __init__(self, *_args: object, **_kwargs: object) -> None:
            raise tts.TtsUnavailable("libespeak-ng.so.1: cannot open shared object file")

    monkeypatch.setattr(tts, "Pyttsx3Engine", NoLibrary)
    with caplog.at_level(logging.WARNING, logger="speech.tts"):
        fallback = tts.create_engine()
    assert isinstance(fallback, tts.EspeakNgCliEngine)
    assert len(caplog.records) == 1 and "espeak-ng CLI" in caplog.records[0].getMessage()
    tts.render_to_asterisk_wav(fallback, EN_TEXT, "en", tmp_path / "en.wav")
    assert_asterisk_speech(tmp_path / "en.wav")


def test_missing_cli_program_reports_unavailable() -> None:
    with pytest.raises(tts.TtsUnavailable, match="apt-get install espeak-ng"):
        tts.EspeakNgCliEngine(executable="espeak-ng-does-not-exist")


def test_engines_satisfy_protocol(engine: tts.Pyttsx3Engine) -> None:
    assert isinstance(engine, tts.TtsEngine)
    assert isinstance(tts.EspeakNgCliEngine(), tts.TtsEngine)
    with pytest.raises(ValueError):
        tts.create_engine("festival")


def test_missing_espeak_fails_loudly_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.delenv("REGISTRATURA_ALLOW_NO_TTS", raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y espeak-ng"):
        _require_tts()
    monkeypatch.setenv("REGISTRATURA_ALLOW_NO_TTS", "1")
    with pytest.raises(pytest.skip.Exception):
        _require_tts()


# ------------------------------------------------------------------ conversion (no TTS needed)


def test_conversion_keeps_the_voice_band_and_filters_aliases(tmp_path: Path) -> None:
    src, dst = tmp_path / "tone.wav", tmp_path / "tone8k.wav"
    reference = 10000 / math.sqrt(2)
    for freq, low, high in [(1000, -1.0, 0.5), (3000, -1.5, 0.5), (6000, -200.0, -35.0)]:
        write_tone(src, freq)
        tts.to_asterisk_wav(src, dst, silence_rms=0)
        params, samples = read_wav(dst)
        assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
        level = 20 * math.log10(max(rms(samples), 1e-6) / reference)
        assert low < level < high, (freq, level)  # 6 kHz would alias to 2 kHz unfiltered


def test_conversion_accepts_stereo_8bit_and_8khz_input(tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(1)
        writer.setframerate(16000)
        writer.writeframes(bytes(128 + int(100 * math.sin(i / 5)) for i in range(32000)))
    seconds = tts.to_asterisk_wav(stereo, tmp_path / "a.wav", silence_rms=0)
    assert seconds == pytest.approx(1.0, abs=0.01)
    assert rms(read_wav(tmp_path / "a.wav")[1]) > 1000
    write_tone(tmp_path / "8k.wav", 440, rate=8000)
    assert tts.to_asterisk_wav(tmp_path / "8k.wav", tmp_path / "b.wav") == pytest.approx(1.0)


def test_conversion_trims_silence_around_sound(tmp_path: Path) -> None:
    src = tmp_path / "padded.wav"
    tone = array.array("h", (int(8000 * math.sin(i / 3)) for i in range(22050)))
    silence = array.array("h", [0] * 22050)
    with wave.open(str(src), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(22050)
        writer.writeframes((silence + tone + silence).tobytes())
    seconds = tts.to_asterisk_wav(src, tmp_path / "out.wav")
    assert 1.1 < seconds < 1.25  # 1 s of tone plus ~80 ms each side


def test_non_wav_engine_output_is_an_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"not a wav file at all")
    with pytest.raises(tts.TtsError):
        tts.to_asterisk_wav(bogus, tmp_path / "out.wav")


# ------------------------------------------------------------------ voice variant


def _crossings_per_second(path: Path) -> float:
    """Zero crossings per second of a 16-bit mono WAV: rises with the voice's pitch."""
    with wave.open(str(path), "rb") as reader:
        samples = array.array("h", reader.readframes(reader.getnframes()))
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / (len(samples) / tts.ASTERISK_RATE)


@pytest.mark.parametrize("kind", ["pyttsx3", "espeak-ng-cli"])
def test_the_default_voice_is_female_like_the_prompts(kind: str, tmp_path: Path) -> None:
    """The prompts say «поняла»: the default voice is espeak-ng's female variant, audibly
    higher than the language voice's own male default."""
    female, male = tts.create_engine(kind), tts.create_engine(kind, variant="")
    assert female.voice_for("ru").endswith("+" + tts.DEFAULT_VARIANT)
    assert "+" not in male.voice_for("ru")
    text = "Извините, не поняла. Наберите номер полиса ещё раз."
    tts.render_to_asterisk_wav(female, text, "ru", tmp_path / "f.wav")
    tts.render_to_asterisk_wav(male, text, "ru", tmp_path / "m.wav")
    assert _crossings_per_second(tmp_path / "f.wav") > 1.2 * _crossings_per_second(
        tmp_path / "m.wav")


def test_variant_is_not_added_twice_nor_to_mbrola() -> None:
    assert tts.with_variant("zle/ru", "f3") == "zle/ru+f3"
    assert tts.with_variant("zle/ru+f2", "f3") == "zle/ru+f2"
    assert tts.with_variant("mb-ru1", "f3") == "mb-ru1"
    assert tts.with_variant("zle/ru", "") == "zle/ru"
