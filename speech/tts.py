"""Text-to-speech for the IVR: engines and conversion to audio Asterisk can play.

An engine (:class:`TtsEngine`) turns text into a WAV file of whatever sample rate it likes;
:func:`render_to_asterisk_wav` runs an engine and converts its output with
:func:`to_asterisk_wav` into the format Asterisk's ``wav`` format module reads: 8000 Hz, 16-bit,
mono PCM, with leading and trailing silence trimmed to ~80 ms so prompts do not drag.

Engines:

* :class:`Pyttsx3Engine` (the default) drives pyttsx3's ``espeak`` driver, i.e. libespeak-ng
  through ctypes.  pyttsx3 is not thread-safe and libespeak-ng holds process-global state (voice,
  rate, one synthesis callback), so every pyttsx3 call of the process runs on ONE dedicated daemon
  worker thread fed by a queue; :meth:`Pyttsx3Engine.synthesize` only enqueues a job and waits for
  it.  Any number of threads (and asyncio code through :func:`asyncio.to_thread`) may therefore
  call it at once; their jobs are serialised.  All :class:`Pyttsx3Engine` instances of a process
  share that worker (pyttsx3 itself keeps one engine per driver per process).
* :class:`EspeakNgCliEngine` runs the ``espeak-ng`` program, one subprocess per text; it is the
  fallback when libespeak-ng cannot be loaded (see :func:`create_engine`).

Debian packages: ``espeak-ng`` (the CLI and voice data), ``libespeak-ng1`` (the library pyttsx3
loads).  Resampling uses only the standard library (``wave`` and ``audioop``; on Python 3.13+,
where ``audioop`` was removed, the ``audioop-lts`` package provides the same module).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import warnings
import wave
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from speech.audio import WIDTH, fir32, lowpass_taps

with warnings.catch_warnings():
    # audioop is deprecated since 3.11 (removed in 3.13, where ``audioop-lts`` replaces it); it is
    # still the only resampler in the standard library.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

logger = logging.getLogger(__name__)

#: Speaking rate in words per minute: espeak's own default, at the top of the usual IVR range
#: (160-175).  With the catalogue's terse prompts it stays clear on the phone, and a caller who
#: listens to every prompt books in about 69 s instead of 77 s at 150 (bench caller_time).
DEFAULT_RATE = 175
#: espeak-ng voice variant the prompts are spoken with: a female one, because the catalogue
#: speaks as a woman registrar («поняла», «расслышала»).  ``espeak-ng --voices=variant`` lists
#: them (f1..f5 and named ones); "" keeps the language voice's own (male) default.
DEFAULT_VARIANT = "f3"
#: Sample rate of the files Asterisk plays (``wav`` format: 8 kHz, 16-bit, mono).
ASTERISK_RATE = 8000
#: Silence kept before and after speech when trimming, in seconds.  Two parts of a prompt are
#: played back to back, so the gap between them is twice this (0.12 s, about espeak's own
#: pause at a comma); longer pauses, where the caller needs them, are written explicitly
#: (``pause_after``: the groups of a read-back number).
KEEP_SILENCE = 0.06
#: A 10 ms window whose RMS (16-bit scale) is below this counts as silence (about -50 dBFS).
SILENCE_RMS = 100

_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


class TtsError(RuntimeError):
    """Synthesis failed (bad text, no voice for a locale, engine error or timeout)."""


class TtsUnavailable(TtsError):
    """The engine cannot run on this machine (library or program missing)."""


@runtime_checkable
class TtsEngine(Protocol):
    """What the prompt cache needs from a speech synthesiser.

    Engines may also expose an integer ``rate`` attribute (words per minute); the prompt cache
    makes it part of a prompt's cache key.
    """

    name: str

    def voice_for(self, locale: str) -> str:
        """The engine's voice id for ``locale`` (``"ru"``, ``"en"``, ``"ru-RU"``...).

        Raises :class:`TtsError` when the engine has no voice for the locale.
        """
        ...

    def synthesize(self, text: str, locale: str, out_wav: Path) -> None:
        """Write ``text`` spoken in ``locale`` to ``out_wav`` (a PCM WAV file, any sample rate).

        Overwrites ``out_wav``; raises :class:`TtsError` on failure.
        """
        ...


def language_of(locale: str) -> str:
    """The primary language subtag of a locale, lower case: ``"ru-RU"`` → ``"ru"``."""
    if not _LOCALE_RE.match(locale):
        raise ValueError(f"not a locale: {locale!r}")
    return re.split(r"[-_]", locale, maxsplit=1)[0].lower()


@dataclass(frozen=True)
class VoiceInfo:
    """A voice an engine offers: its id and the language tags it speaks (lower case)."""

    id: str
    name: str
    languages: tuple[str, ...]


def pick_voice(voices: list[VoiceInfo], locale: str) -> str | None:
    """Choose the best voice for ``locale`` among ``voices``; ``None`` when nothing fits.

    Preference: a voice whose language is exactly the locale (``ru-ru``), then exactly its
    language (``ru``), then a voice whose id's last path element is the language (espeak-ng ids
    look like ``zle/ru`` or ``gmw/en``), then any regional variant (``ru-lv``).  MBROLA voices
    (``mb/...``) are skipped: they need extra data packages and often fail at run time.
    """
    lang = language_of(locale)
    wanted = locale.lower().replace("_", "-")
    usable = [v for v in voices if not v.id.startswith("mb/") and not v.id.startswith("mb-")]
    rules = (
        lambda v: wanted in v.languages,
        lambda v: lang in v.languages,
        lambda v: v.id.rsplit("/", 1)[-1] == lang,
        lambda v: any(tag.startswith(lang + "-") for tag in v.languages),
    )
    for rule in rules:
        for voice in usable:
            if rule(voice):
                return voice.id
    return None


# --------------------------------------------------------------------------------------------
# pyttsx3 (libespeak-ng through ctypes), confined to one worker thread per process
# --------------------------------------------------------------------------------------------


@dataclass
class _Job:
    text: str
    voice: str
    rate: int
    path: Path
    future: Future[None]


def _driver_print(*args: object, **_kwargs: object) -> None:
    """Stand-in for ``print`` inside pyttsx3's espeak driver (it prints every saved file)."""
    logger.debug("pyttsx3: %s", " ".join(str(a) for a in args))


class _Pyttsx3Worker:
    """The one thread of the process that touches pyttsx3 for one driver.

    Construction starts the thread, which initialises pyttsx3 and lists its voices; it raises
    :class:`TtsUnavailable` when pyttsx3 cannot initialise.  Jobs are run strictly one at a time.
    """

    def __init__(self, driver: str, init_timeout: float = 30.0) -> None:
        self.driver = driver
        self.pid = os.getpid()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._ready: Future[list[VoiceInfo]] = Future()
        self._thread = threading.Thread(target=self._run, name=f"tts-pyttsx3-{driver}", daemon=True)
        self._thread.start()
        try:
            self.voices = self._ready.result(timeout=init_timeout)
        except FutureTimeoutError as exc:
            raise TtsUnavailable(f"pyttsx3 driver {driver!r} did not initialise in time") from exc

    def alive(self) -> bool:
        """Whether the worker thread still runs in this process (it does not survive a fork)."""
        return self.pid == os.getpid() and self._thread.is_alive()

    def submit(self, text: str, voice: str, rate: int, path: Path) -> Future[None]:
        """Queue one synthesis; the future completes when the file is written."""
        future: Future[None] = Future()
        self._jobs.put(_Job(text, voice, rate, path, future))
        return future

    def stop(self) -> None:
        """Let the thread finish the queued jobs and exit."""
        self._jobs.put(None)

    def _run(self) -> None:
        try:
            # Imported here, lazily, so a broken pyttsx3 install only disables this engine.
            import pyttsx3

            engine = pyttsx3.init(self.driver)
            voices = [
                VoiceInfo(
                    id=str(v.id).lower(),
                    name=str(v.name or ""),
                    languages=tuple(str(tag).lower() for tag in (v.languages or ())),
                )
                for v in engine.getProperty("voices")
            ]
            driver_module = sys.modules.get(f"pyttsx3.drivers.{self.driver}")
            if driver_module is not None:
                # The espeak driver print()s "Audio saved to ..." for every file; keep stdout
                # clean (a process may own it, e.g. a plain AGI script) by routing it to the log.
                driver_module.print = _driver_print  # type: ignore[attr-defined]
            # libespeak-ng runs in RETRIEVAL mode: espeak_Synth() and espeak_SetParameter() only
            # queue commands for espeak's own thread, which also delivers the audio.  pyttsx3
            # ends every loop with stop(), which calls espeak_Cancel() whenever espeak is busy;
            # that cancels the next utterance (an empty file) and restores the rate of the
            # previous one (a file cached as 150 wpm spoken at 175).  Hence each job
            # (1) waits until espeak is idle, (2) sets no property through the queued
            # engine.setProperty(), and (3) applies voice and rate straight to the driver when the
            # utterance starts, after stop() and right before espeak_Synth().
            espeak = sys.modules.get("pyttsx3.drivers._espeak")
            self._is_playing = getattr(espeak, "IsPlaying", None)
            self._driver = getattr(getattr(engine, "proxy", None), "_driver", None)
            engine.connect("started-utterance", self._on_utterance_start)
            # pyttsx3 swallows exceptions of queued commands (a bad voice) and reports them here.
            engine.connect("error", self._on_error)
        except Exception as exc:  # noqa: BLE001 - any failure means "no pyttsx3 here"
            self._ready.set_exception(
                TtsUnavailable(f"pyttsx3 driver {self.driver!r} failed to initialise: {exc}")
            )
            return
        self._ready.set_result(voices)
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                self._synthesize(engine, job)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                job.future.set_exception(exc)
            else:
                job.future.set_result(None)

    # The attributes below are touched only by the worker thread.
    _driver: Any = None
    _is_playing: Any = None
    _current: _Job | None = None
    _job_error: BaseException | None = None

    def _on_utterance_start(self, **_event: object) -> None:
        job = self._current
        if job is None or self._driver is None:
            return
        try:
            self._driver.setProperty("voice", job.voice)
            self._driver.setProperty("rate", job.rate)
        except Exception as exc:  # noqa: BLE001 - pyttsx3 would swallow it; raised after the run
            self._job_error = exc

    def _on_error(self, exception: BaseException | None = None, **_event: object) -> None:
        self._job_error = exception or TtsError("pyttsx3 reported an error")

    def _wait_until_idle(self, timeout: float = 5.0) -> None:
        if self._is_playing is None:
            return
        deadline = time.monotonic() + timeout
        while self._is_playing() and time.monotonic() < deadline:
            time.sleep(0.001)

    def _synthesize(self, engine: Any, job: _Job, attempts: int = 3) -> None:
        for attempt in range(1, attempts + 1):
            job.path.unlink(missing_ok=True)
            self._current, self._job_error = job, None
            try:
                if self._driver is None:  # no hook into the driver: best effort via the queue
                    engine.setProperty("voice", job.voice)
                    engine.setProperty("rate", job.rate)
                self._wait_until_idle()
                engine.save_to_file(job.text, str(job.path))
                engine.runAndWait()
            finally:
                self._current = None
            if self._job_error is not None:
                raise TtsError(f"pyttsx3 failed: {self._job_error}") from self._job_error
            if job.path.exists() and job.path.stat().st_size > 44:
                return
            logger.warning("pyttsx3 produced no audio (attempt %d of %d)", attempt, attempts)
        raise TtsError(f"pyttsx3 produced no audio in {attempts} attempts")


_workers: dict[str, _Pyttsx3Worker] = {}
_workers_lock = threading.Lock()


def _worker_for(driver: str) -> _Pyttsx3Worker:
    with _workers_lock:
        worker = _workers.get(driver)
        if worker is None or not worker.alive():
            worker = _Pyttsx3Worker(driver)
            _workers[driver] = worker
        return worker


class Pyttsx3Engine:
    """The default engine: pyttsx3 with its ``espeak`` driver (libespeak-ng).

    Thread-safe: every synthesis is handed to the process's single pyttsx3 worker thread and the
    calling thread blocks until the file is written (about 10–20 ms for a typical prompt, plus
    the wait for jobs queued before it).  Never call :meth:`synthesize` on an asyncio event loop;
    use :func:`asyncio.to_thread` (the prompt cache does).

    ``voices`` overrides the automatic choice per language (``{"ru": "zle/ru"}``).
    Raises :class:`TtsUnavailable` when pyttsx3 or libespeak-ng cannot be loaded.
    """

    def __init__(
        self,
        rate: int = DEFAULT_RATE,
        *,
        driver: str = "espeak",
        voices: Mapping[str, str] | None = None,
        variant: str = DEFAULT_VARIANT,
        timeout: float = 30.0,
    ) -> None:
        self.rate = rate
        self.variant = variant
        self.driver = driver
        self.name = f"pyttsx3-{driver}"
        self.timeout = timeout
        self._overrides = {language_of(k): v for k, v in (voices or {}).items()}
        self._worker = _worker_for(driver)
        self._voice_cache: dict[str, str] = {}

    def available_voices(self) -> list[VoiceInfo]:
        """The voices the driver reports."""
        return list(self._worker.voices)

    def voice_for(self, locale: str) -> str:
        """The voice id for ``locale`` (``"zle/ru"`` for ``"ru"``, ``"gmw/en"`` for ``"en"``)."""
        voice = self._voice_cache.get(locale)
        if voice is None:
            lang = language_of(locale)
            voice = self._overrides.get(lang) or pick_voice(self._worker.voices, locale)
            if voice is None:
                raise TtsError(f"{self.name} has no voice for locale {locale!r}")
            voice = with_variant(voice, self.variant)
            self._voice_cache[locale] = voice
        return voice

    def synthesize(self, text: str, locale: str, out_wav: Path) -> None:
        """Speak ``text`` into ``out_wav`` (22050 Hz mono 16-bit WAV); blocks until done."""
        if not text.strip():
            raise TtsError("nothing to synthesize: empty text")
        voice = self.voice_for(locale)
        worker = self._worker if self._worker.alive() else _worker_for(self.driver)
        self._worker = worker
        future = worker.submit(text, voice, self.rate, Path(out_wav))
        try:
            future.result(timeout=self.timeout)
        except FutureTimeoutError as exc:
            future.cancel()
            raise TtsError(f"{self.name} did not finish within {self.timeout:g} s") from exc
        except TtsError:
            raise
        except Exception as exc:
            raise TtsError(f"{self.name} failed: {exc}") from exc


# --------------------------------------------------------------------------------------------
# espeak-ng command line
# --------------------------------------------------------------------------------------------


class EspeakNgCliEngine:
    """Fallback engine: one ``espeak-ng -v <voice> -s <rate> -b 1 -w <out> -- <text>`` per text.

    Thread-safe (each call is its own process).  ``voices`` overrides the voice per language;
    by default the language subtag itself is the voice (``-v ru``, ``-v en``).
    Raises :class:`TtsUnavailable` when the program is not installed.
    """

    def __init__(
        self,
        rate: int = DEFAULT_RATE,
        *,
        executable: str = "espeak-ng",
        voices: Mapping[str, str] | None = None,
        variant: str = DEFAULT_VARIANT,
        timeout: float = 30.0,
    ) -> None:
        found = shutil.which(executable)
        if found is None:
            raise TtsUnavailable(
                f"{executable!r} not found on PATH (Debian: apt-get install espeak-ng)"
            )
        self.executable = found
        self.rate = rate
        self.name = "espeak-ng-cli"
        self.variant = variant
        self.timeout = timeout
        self._overrides = {language_of(k): v for k, v in (voices or {}).items()}

    def voice_for(self, locale: str) -> str:
        """The ``-v`` argument for ``locale``."""
        lang = language_of(locale)
        return with_variant(self._overrides.get(lang, lang), self.variant)

    def synthesize(self, text: str, locale: str, out_wav: Path) -> None:
        """Speak ``text`` into ``out_wav`` (22050 Hz mono 16-bit WAV); blocks until done."""
        if not text.strip():
            raise TtsError("nothing to synthesize: empty text")
        out_wav = Path(out_wav)
        out_wav.unlink(missing_ok=True)
        cmd = [
            self.executable,
            "-v", self.voice_for(locale),
            "-s", str(self.rate),
            "-b", "1",  # the text is UTF-8 whatever the process locale is
            "-w", str(out_wav),
            "--", text,
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise TtsError(f"espeak-ng did not finish within {self.timeout:g} s") from exc
        if done.returncode != 0 or not out_wav.exists() or out_wav.stat().st_size <= 44:
            detail = done.stderr.decode("utf-8", "replace").strip()
            raise TtsError(f"espeak-ng failed (exit {done.returncode}): {detail}")


def with_variant(voice: str, variant: str) -> str:
    """``voice`` spoken with an espeak-ng ``variant`` ("zle/ru" + "f3" -> "zle/ru+f3").

    A voice that already names a variant, or an MBROLA voice (which has none), is kept."""
    if not variant or "+" in voice or voice.startswith(("mb/", "mb-")):
        return voice
    return f"{voice}+{variant}"


def create_engine(kind: str = "auto", *, rate: int = DEFAULT_RATE,
                  variant: str = DEFAULT_VARIANT) -> TtsEngine:
    """Build an engine: ``"pyttsx3"``, ``"espeak-ng-cli"`` or ``"auto"``.

    ``"auto"`` tries :class:`Pyttsx3Engine` and, when pyttsx3 cannot initialise (no
    libespeak-ng), logs one warning and returns :class:`EspeakNgCliEngine`.  Raises
    :class:`TtsUnavailable` when no engine can run.  ``variant``: the espeak-ng voice
    variant (:data:`DEFAULT_VARIANT`, female).
    """
    if kind == "pyttsx3":
        return Pyttsx3Engine(rate, variant=variant)
    if kind == "espeak-ng-cli":
        return EspeakNgCliEngine(rate, variant=variant)
    if kind != "auto":
        raise ValueError(f"unknown TTS engine kind: {kind!r}")
    try:
        return Pyttsx3Engine(rate, variant=variant)
    except TtsUnavailable as exc:
        logger.warning("TTS: pyttsx3 unavailable (%s); falling back to the espeak-ng CLI", exc)
        return EspeakNgCliEngine(rate, variant=variant)


# --------------------------------------------------------------------------------------------
# Conversion to 8 kHz 16-bit mono
# --------------------------------------------------------------------------------------------


def _lowpass32(frames: bytes, taps: tuple[float, ...]) -> bytes:
    """Filter a whole buffer of 32-bit mono samples (zero context at both ends)."""
    pad = b"\x00" * ((len(taps) // 2) * WIDTH)
    return fir32(pad + frames + pad, len(frames), taps)


def _resample_to_16bit(frames: bytes, width: int, channels: int, in_rate: int) -> bytes:
    """Any PCM → 16-bit mono at :data:`ASTERISK_RATE`, low-pass filtered against aliasing."""
    if width == 1:
        frames = audioop.bias(frames, 1, -128)  # 8-bit WAV is unsigned
    if channels == 2:
        frames = audioop.tomono(frames, width, 0.5, 0.5)
    elif channels != 1:
        raise TtsError(f"unsupported channel count: {channels}")
    # Work in 32 bits with 16x headroom, so filter overshoot never clips mid-computation.
    wide = audioop.mul(audioop.lin2lin(frames, width, 4), 4, 1 / 16)
    if in_rate > ASTERISK_RATE:
        # Pass the telephone band (to 3.4 kHz); stop by 4.6 kHz, whose alias lands at 3.4 kHz.
        wide = _lowpass32(wide, lowpass_taps(in_rate, cutoff=4000.0, transition=1200.0))
    if in_rate != ASTERISK_RATE:
        wide, _ = audioop.ratecv(wide, 4, 1, in_rate, ASTERISK_RATE, None)
    return audioop.lin2lin(audioop.mul(wide, 4, 16), 4, 2)


def _trim_silence(frames: bytes, rate: int, keep: float, threshold: int) -> bytes:
    """Cut 16-bit mono ``frames`` to the audible part plus ``keep`` seconds on each side."""
    window = max(1, rate // 100) * 2  # 10 ms, in bytes
    loud = [
        start
        for start in range(0, len(frames), window)
        if audioop.rms(frames[start : start + window], 2) > threshold
    ]
    margin = int(keep * rate) * 2
    if not loud:
        return frames[:margin]
    begin = max(0, loud[0] - margin)
    end = min(len(frames), loud[-1] + window + margin)
    return frames[begin:end]


def to_asterisk_wav(
    src: Path,
    dst: Path,
    *,
    keep_silence: float = KEEP_SILENCE,
    silence_rms: int = SILENCE_RMS,
    pause_after: float = 0.0,
) -> float:
    """Convert the PCM WAV ``src`` into an 8000 Hz 16-bit mono WAV at ``dst``.

    Leading and trailing silence is trimmed to ``keep_silence`` seconds.  Returns the duration of
    ``dst`` in seconds.  Raises :class:`TtsError` for WAV files that are not plain PCM.
    """
    try:
        with wave.open(str(src), "rb") as reader:
            channels, width = reader.getnchannels(), reader.getsampwidth()
            rate = reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise TtsError(f"engine output is not a PCM WAV file: {exc}") from exc
    pcm = _resample_to_16bit(frames, width, channels, rate)
    pcm = _trim_silence(pcm, ASTERISK_RATE, keep_silence, silence_rms)
    pcm += b"\x00\x00" * round(pause_after * ASTERISK_RATE)  # a pause the caller hears after it
    with wave.open(str(dst), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(ASTERISK_RATE)
        writer.writeframes(pcm)
    return len(pcm) / 2 / ASTERISK_RATE


def render_to_asterisk_wav(engine: TtsEngine, text: str, locale: str, out_wav: Path, *,
                          pause_after: float = 0.0) -> float:
    """Synthesize ``text`` with ``engine`` and write it to ``out_wav`` as 8 kHz 16-bit mono.

    ``pause_after``: seconds of silence kept after the speech (trailing silence is otherwise
    trimmed, so a pause between two files has to be written into the first).  The engine's
    own output goes to a temporary file next to ``out_wav``, removed afterwards.  Blocking;
    returns the duration in seconds.
    """
    out_wav = Path(out_wav)
    raw = out_wav.with_name(f".{out_wav.name}.{secrets.token_hex(6)}.src.wav")
    try:
        engine.synthesize(text, locale, raw)
        return to_asterisk_wav(raw, out_wav, pause_after=pause_after)
    finally:
        raw.unlink(missing_ok=True)
