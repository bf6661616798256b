"""Content-addressed cache of rendered prompts in the sounds directory Asterisk reads.

Every text is rendered once by a :class:`~speech.tts.TtsEngine` into
``<sounds_dir>/<subdir>/<locale>/<key>.wav`` (8 kHz 16-bit mono) with a sidecar ``<key>.txt``
holding the text (UTF-8, no trailing newline; the browser phone prints it).  The key is a hash of
everything that shapes the audio: the cache format version, engine name, voice, speaking rate and
the text as spoken (after the ``normalize`` hook) — plus the displayed text, so the sidecar of a
file is always the same whatever text asked for it first.  A changed engine, voice, rate or
normalizer therefore yields new files and never replays stale audio.

Files are written to a temporary name in the same directory and moved into place with
:func:`os.replace` (sidecar first, then the WAV), so a WAV that exists is complete and has its
sidecar.  Concurrent renders of one text are safe across threads (only one thread renders; the
others wait for it) and across processes (each may render, the last rename wins, every reader
sees a whole file).

Rendering blocks; asyncio code must use :meth:`PromptCache.files_for_async` /
:meth:`PromptCache.path_for_async`, which run in a worker thread.  A warm lookup costs a dict
lookup and one ``stat``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import unicodedata
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from speech.tts import TtsEngine, TtsError, language_of, render_to_asterisk_wav

if TYPE_CHECKING:
    from ivr.io import Prompt

logger = logging.getLogger(__name__)

#: Bump when the rendering pipeline changes audibly (filtering, trimming) to re-render all files.
FORMAT_VERSION = "asterisk-wav-8k-v2"  # v2: 0.06 s kept around speech, pauses after commas
#: Length of the hexadecimal key in file names (96 bits).
KEY_LENGTH = 24

_LOCK_STRIPES = 64


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`PromptCache` since it was created."""

    hits: int
    misses: int
    failures: int
    render_seconds: float


#: A part of a prompt that ends with a comma (a group of a read-back number: "семь семь ноль
#: ноль,") is followed by this much silence, so the caller hears the groups apart as a person
#: reads them; the synthesiser's own trailing pause is trimmed away with the silence.
PAUSE_AFTER_COMMA = 0.15


def _identity(text: str, _locale: str) -> str:
    return text


def _collapse(text: str) -> str:
    """NFC, with runs of whitespace collapsed to one space and the ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class PromptCache:
    """Renders prompt texts to Asterisk sound files on demand and remembers them.

    ``sounds_dir`` is the directory Asterisk resolves relative file names against (for example
    ``/var/lib/asterisk/sounds``); files go below ``sounds_dir/subdir`` (``subdir=""``: right
    below ``sounds_dir``, when it is a directory of the product's own).  ``normalize(text,
    locale)`` rewrites a text for speech (numbers, dates, abbreviations) before synthesis; the
    default leaves it unchanged.  Thread-safe.
    """

    def __init__(
        self,
        sounds_dir: Path,
        engine: TtsEngine,
        subdir: str = "registratura",
        *,
        normalize: Callable[[str, str], str] | None = None,
        memo_size: int = 50_000,
    ) -> None:
        sub = PurePosixPath(subdir)
        if sub.is_absolute() or ".." in sub.parts or "\\" in subdir:
            raise ValueError(f"subdir must be a relative path inside sounds_dir: {subdir!r}")
        self.sounds_dir = Path(sounds_dir)
        # "" puts files straight into sounds_dir/<locale>/ (the IVR's own sounds directory).
        self.subdir = sub.as_posix() if subdir else ""
        self.engine = engine
        self._normalize = normalize or _identity
        self._memo_size = memo_size
        # (locale, text as given) -> (file name, absolute WAV path)
        self._memo: dict[tuple[str, str], tuple[str, str]] = {}
        self._durations: dict[str, float] = {}
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._state_lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._failures = 0
        self._render_seconds = 0.0

    # ---------------------------------------------------------------- lookups

    def path_for(self, text: str, locale: str) -> str:
        """The Asterisk file name (no extension, relative to ``sounds_dir``) for ``text``.

        For example ``registratura/ru/3f2a...``.  Renders the file on a miss (blocking: tens of
        milliseconds).  Raises :class:`ValueError` for empty text or a malformed locale and
        :class:`~speech.tts.TtsError` when synthesis fails.
        """
        return self._resolve(text, locale)[0]

    async def path_for_async(self, text: str, locale: str) -> str:
        """:meth:`path_for` in a worker thread, so a render never blocks the event loop."""
        return await asyncio.to_thread(self.path_for, text, locale)

    def files_for(self, prompt: Prompt) -> list[str]:
        """One file name per non-empty part of ``prompt``, in order (the ``PromptAudio`` API)."""
        return [self.path_for(part, prompt.locale) for part in prompt.parts if part.strip()]

    async def files_for_async(self, prompt: Prompt) -> list[str]:
        """:meth:`files_for` in a worker thread, so a render never blocks the event loop."""
        return await asyncio.to_thread(self.files_for, prompt)

    def is_cached(self, text: str, locale: str) -> bool:
        """Whether ``text`` is already rendered on disk (never renders)."""
        memo = self._memo.get((locale, text))
        if memo is not None and os.path.exists(memo[1]):
            return True
        if not _collapse(text):
            return False
        return self._locate(text, locale)[2].exists()

    def wav_path(self, file_name: str) -> Path:
        """The absolute path of the WAV for a file name returned by :meth:`path_for`."""
        return self.sounds_dir / f"{self._strip_extension(file_name)}.wav"

    def text_for(self, file_name: str) -> str:
        """The displayed text of a rendered file (its sidecar)."""
        return self.wav_path(file_name).with_suffix(".txt").read_text(encoding="utf-8")

    def duration(self, file_name: str) -> float:
        """Length in seconds of a rendered file, from its WAV header (remembered in memory)."""
        name = self._strip_extension(file_name)
        seconds = self._durations.get(name)
        if seconds is None:
            with wave.open(str(self.wav_path(name)), "rb") as reader:
                seconds = reader.getnframes() / reader.getframerate()
            self._durations[name] = seconds
        return seconds

    def stats(self) -> CacheStats:
        """Hits (served from disk), misses (rendered), failed renders, total render time."""
        with self._state_lock:
            return CacheStats(self._hits, self._misses, self._failures, self._render_seconds)

    def silence(self, seconds: int = 1) -> str:
        """The file name of ``seconds`` of silence, written into the cache once.

        The IVR reads keys with ``GET DATA <this>`` when it has nothing to say; its own file
        means it does not depend on Asterisk's core sounds (``silence/1``) being installed.
        """
        if seconds < 1:
            raise ValueError("silence must last at least one second")
        name = f"{self.subdir}/silence-{seconds}s" if self.subdir else f"silence-{seconds}s"
        wav = self.sounds_dir / f"{name}.wav"
        if not wav.exists():
            wav.parent.mkdir(parents=True, exist_ok=True)
            tmp = wav.with_name(f".{wav.name}.{secrets.token_hex(6)}.tmp")
            try:
                with wave.open(str(tmp), "wb") as out:  # 8 kHz 16-bit mono, like every prompt
                    out.setnchannels(1)
                    out.setsampwidth(2)
                    out.setframerate(8000)
                    out.writeframes(b"\x00\x00" * 8000 * seconds)
                os.chmod(tmp, 0o644)
                os.replace(tmp, wav)
            finally:
                tmp.unlink(missing_ok=True)
        return name

    # ---------------------------------------------------------------- bulk

    def prerender(
        self,
        texts: Iterable[tuple[str, str]],
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Render every ``(locale, text)`` pair not yet on disk; return how many were rendered.

        Meant for start-up, with every static prompt of the catalogues, so no caller waits for a
        render.  Duplicates and empty texts are skipped.  ``progress(done, total)`` is called
        after each pair.  A text that fails is logged and the others are still rendered; then
        :class:`~speech.tts.TtsError` is raised naming how many failed.
        """
        pairs = list(dict.fromkeys((locale, text) for locale, text in texts if text.strip()))
        total = len(pairs)
        rendered = 0
        failed: list[tuple[str, str]] = []
        started = time.perf_counter()
        for done, (locale, text) in enumerate(pairs, start=1):
            try:
                rendered += self._resolve(text, locale)[1]
            except (TtsError, OSError) as exc:
                logger.error(
                    "prompt cache: pre-render failed (%s, %d chars): %s", locale, len(text), exc
                )
                failed.append((locale, text))
            if progress is not None:
                progress(done, total)
        logger.info(
            "prompt cache: %d prompts checked, %d rendered in %.1f s",
            total,
            rendered,
            time.perf_counter() - started,
        )
        if failed:
            raise TtsError(f"{len(failed)} of {total} prompts failed to render")
        return rendered

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _strip_extension(file_name: str) -> str:
        return file_name[:-4] if file_name.endswith((".wav", ".txt")) else file_name

    def _locate(self, text: str, locale: str) -> tuple[str, str, Path, str, str]:
        """(key, file name, WAV path, displayed text, spoken text) for a non-empty text."""
        language_of(locale)  # validates the locale (letters, digits, - and _): a directory name
        display = _collapse(text)
        spoken = _collapse(self._normalize(display, locale))
        if not spoken:
            raise ValueError(f"prompt text is empty after normalisation: {text!r}")
        material = [
            FORMAT_VERSION,
            PAUSE_AFTER_COMMA if display.endswith(",") else 0.0,
            self.engine.name,
            self.engine.voice_for(locale),
            getattr(self.engine, "rate", None),
            spoken,
            display,
        ]
        digest = hashlib.sha256(json.dumps(material, ensure_ascii=False).encode("utf-8"))
        key = digest.hexdigest()[:KEY_LENGTH]
        name = f"{self.subdir}/{locale}/{key}" if self.subdir else f"{locale}/{key}"
        return key, name, self.sounds_dir / f"{name}.wav", display, spoken

    def _resolve(self, text: str, locale: str) -> tuple[str, bool]:
        """(file name, whether it was rendered now) for ``text``; renders on a miss."""
        memo = self._memo.get((locale, text))
        if memo is not None and os.path.exists(memo[1]):
            self._count_hit()
            return memo[0], False
        if not _collapse(text):
            raise ValueError("prompt text is empty")
        key, name, wav, display, spoken = self._locate(text, locale)
        rendered = False
        with self._locks[int(key[:8], 16) % _LOCK_STRIPES]:
            if wav.exists():
                self._count_hit()
            else:
                self._render(key, name, wav, display, spoken, locale)
                rendered = True
        self._remember((locale, text), (name, str(wav)))
        return name, rendered

    def _render(
        self, key: str, name: str, wav: Path, display: str, spoken: str, locale: str
    ) -> None:
        wav.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        tmp_wav = wav.with_name(f".{key}.{token}.wav.tmp")
        tmp_txt = wav.with_name(f".{key}.{token}.txt.tmp")
        started = time.perf_counter()
        try:
            pause = PAUSE_AFTER_COMMA if display.endswith(",") else 0.0
            seconds = render_to_asterisk_wav(self.engine, spoken, locale, tmp_wav,
                                             pause_after=pause)
            with open(tmp_wav, "rb") as written:
                os.fsync(written.fileno())
            tmp_txt.write_text(display, encoding="utf-8")
            # mkstemp-style 0600 would hide the files from Asterisk when it runs as another user.
            os.chmod(tmp_wav, 0o644)
            os.chmod(tmp_txt, 0o644)
            os.replace(tmp_txt, wav.with_suffix(".txt"))
            os.replace(tmp_wav, wav)
        except BaseException:
            with self._state_lock:
                self._failures += 1
            raise
        finally:
            tmp_wav.unlink(missing_ok=True)
            tmp_txt.unlink(missing_ok=True)
        elapsed = time.perf_counter() - started
        self._durations[name] = seconds
        with self._state_lock:
            self._misses += 1
            self._render_seconds += elapsed
        logger.debug(
            "prompt cache: rendered %s (%d chars, %.2f s of audio) in %.0f ms",
            name,
            len(spoken),
            seconds,
            elapsed * 1000,
        )

    def _remember(self, memo_key: tuple[str, str], value: tuple[str, str]) -> None:
        with self._state_lock:
            if len(self._memo) >= self._memo_size:
                self._memo.pop(next(iter(self._memo)))
            self._memo[memo_key] = value

    def _count_hit(self) -> None:
        with self._state_lock:
            self._hits += 1
