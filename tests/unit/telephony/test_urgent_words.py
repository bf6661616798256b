"""Which partial hypotheses end a streamed turn early: the operator words, once the decoder
has moved past them (Russian checked on text; the audio path is tested with the Korean model)."""

from __future__ import annotations

import pytest

from ivr.transports.audiosocket.recognition import StreamRecognition, settled


def _urgent(locale: str) -> list[list[str]]:
    return StreamRecognition(recognizer=None, phrases=lambda g, loc: []).urgent_phrases(locale)  # type: ignore[arg-type]


@pytest.mark.parametrize(("partial", "ends"), [
    ("оператор соедините", True),
    ("мне оператора пожалуйста", True),
    ("регистратор да", True),
    ("оператор", False),  # still being decided: the final result answers it
    ("записаться к врачу", False),
    ("операция", False),
])
def test_russian_operator_words_end_the_turn_once_settled(partial: str, ends: bool) -> None:
    assert settled(partial.split(), _urgent("ru")) is ends


def test_english_and_unknown_locales() -> None:
    assert settled(["operator", "please"], _urgent("en"))
    assert _urgent("ko") == []  # no operator words known: no early end
