"""Turns of streamed speech over a real AudioSocket stream with the real Korean Vosk model:
partial results end a turn at an urgent word (the stand-in for "оператор") while the caller
is still talking, an over-long utterance ends the turn, a hangup mid-utterance leaves no
decoder thread or socket behind."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from ivr.io import Digits, Grammar, Prompt, Speech
from ivr.transports.agi.call_io import AgiCallIO
from ivr.transports.agi.server import AgiServer
from ivr.transports.agi.speech import SpeechInput
from ivr.transports.audiosocket.call_io import StreamSettings
from ivr.transports.audiosocket.listener import AudioSocketListener
from ivr.transports.audiosocket.recognition import StreamRecognition
from ivr.transports.audiosocket.stream_call import StreamingCalls
from ivr.transports.terminal import AsteriskCall
from support.audiosocket_peer import AudioSocketPeer, PeerSession
from support.stream_tools import TonePrompts, census, settles_to, spoken_pcm, vowel

KO_WORDS = ("안녕하세요", "고양이", "바나나", "병원")
KO_OPERATOR = "병원"  # the test grammar's stand-in for "оператор"




class Harness:
    """One question asked over a real AudioSocket stream behind a real FastAGI session; the
    answer, and how much of the caller's utterance was still unsent when it came, are kept."""

    def __init__(self, tmp_path: Path, recognizer, *, settings: StreamSettings | None = None,
                 urgent=lambda locale: (KO_OPERATOR,), prompt_seconds: float = 0.5) -> None:
        self.tmp_path = tmp_path
        self.prompt_seconds = prompt_seconds
        self.recognizer = recognizer
        self.settings = settings or StreamSettings()
        self.urgent = urgent
        self.answers: list[object] = []
        self.unsent_at_answer: list[int] = []
        self.peer: AudioSocketPeer | None = None

    def run(self, scenario) -> AsteriskCall:
        listener = AudioSocketListener("127.0.0.1", 0).start()
        host, port = listener.server_address
        phrases = SpeechInput(self.recognizer, self.tmp_path).phrases
        prompts = TonePrompts(self.tmp_path, self.prompt_seconds)
        calls = StreamingCalls(listener, f"{host}:{port}", prompts,
                               settings=self.settings,
                               recognition=StreamRecognition(self.recognizer, phrases,
                                                             urgent=self.urgent))
        done = threading.Event()

        def flow(io) -> None:
            try:
                answer = io.collect(Prompt("ask", ("질문",), "ko"), max_digits=1, timeout=3.0,
                                    grammar=Grammar("ko_words", KO_WORDS))
                self.unsent_at_answer.append(self.peer.session.speech_left())
                self.answers.append(answer)
                if isinstance(answer, Speech) and KO_OPERATOR in answer.text.split():
                    io.set_variable("REG_ESCALATE", "1")
            finally:
                done.set()

        def route(request):
            calls.run(AgiCallIO(request, prompts), flow)

        self.peer = AudioSocketPeer(scenario)
        try:
            with AgiServer({"registry": route}, "127.0.0.1", 0).start() as server:
                agi_host, agi_port = server.server_address
                self.ports = (agi_port, port)
                call = AsteriskCall(agi_host, agi_port, sounds_dir=self.tmp_path,
                                    audiosocket=self.peer)
                call.run()
                assert done.wait(30)
        finally:
            listener.shutdown()
        return call


def _talk_over_the_prompt(speech: bytes):
    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(5)
        peer.say(speech)
        peer.closed.wait(30)
    return scenario


def test_the_operator_word_escalates_while_the_caller_is_still_talking(ko_recognizer, tmp_path):
    """A 3 s utterance whose first word is the operator word: the partial result ends the turn
    and the call is escalated while most of the utterance is still unsaid."""
    speech = spoken_pcm(tmp_path, f"{KO_OPERATOR} 고양이 바나나 안녕하세요 고양이 바나나")
    harness = Harness(tmp_path, ko_recognizer)
    call = harness.run(_talk_over_the_prompt(speech))
    (answer,) = harness.answers
    assert isinstance(answer, Speech) and answer.text.split()[0] == KO_OPERATOR
    assert harness.unsent_at_answer[0] > len(speech) // 3  # the caller was still talking
    assert call.transcript.variables.get("REG_ESCALATE") == "1"  # over AGI, as the dialplan reads


def test_without_an_urgent_word_the_turn_waits_for_the_end_of_the_answer(ko_recognizer,
                                                                          tmp_path):
    """The same kind of utterance without the operator word is answered after the caller
    finished, with all its words (the partial results do not cut ordinary answers, though
    one of them passes through "고양이 병원" on the way)."""
    # (not 안녕하세요: espeak's rendering of it decodes as 병원 with this model)
    speech = spoken_pcm(tmp_path, "고양이 바나나 고양이 바나나 고양이 바나나")
    harness = Harness(tmp_path, ko_recognizer)
    harness.run(_talk_over_the_prompt(speech))
    (answer,) = harness.answers
    assert isinstance(answer, Speech) and len(answer.text.split()) >= 4, answer
    assert harness.unsent_at_answer == [0]


def test_an_utterance_longer_than_the_limit_ends_the_turn(ko_recognizer, tmp_path):
    """With a one-second limit a three-second answer is cut: the words so far come back while
    the caller is still talking (the decoder's memory stays bounded)."""
    speech = spoken_pcm(tmp_path, "고양이 바나나 안녕하세요 고양이 바나나 안녕하세요")
    harness = Harness(tmp_path, ko_recognizer,
                      settings=StreamSettings(max_utterance_seconds=1.0),
                      urgent=lambda locale: ())
    harness.run(_talk_over_the_prompt(speech))
    (answer,) = harness.answers
    assert isinstance(answer, Speech) and answer.text
    assert harness.unsent_at_answer[0] > 0


@pytest.mark.parametrize("frame", [True, False], ids=["hangup-frame", "tcp-close"])
def test_hangup_mid_utterance_leaves_no_decoder_thread_or_socket(ko_recognizer, tmp_path,
                                                                 frame):
    speech = spoken_pcm(tmp_path, "고양이 바나나 안녕하세요 고양이 바나나")
    before = census(())
    decoders_seen: list[str] = []

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(5)
        peer.say(speech, wait=False)
        while peer.speech_left() > len(speech) // 2:
            peer.wait_heard(1, since=peer.mark(), timeout=0.1)
        decoders_seen.extend(t.name for t in threading.enumerate()
                             if t.name.startswith("audiosocket-asr"))
        peer.hang_up(frame=frame)

    harness = Harness(tmp_path, ko_recognizer, settings=replace(StreamSettings()),
                      urgent=lambda locale: ())
    harness.run(scenario)
    assert decoders_seen  # the utterance was being decoded when the caller hung up
    assert harness.answers == []  # the question was never answered
    after = settles_to(before, harness.ports)
    assert set(after.threads) <= set(before.threads)
    assert after.sockets == 0


class _Says:
    """A recogniser hearing ``text`` in any utterance (the words of a short sound)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def stream(self, sample_rate: int, grammar=None):
        from speech.asr import Recognition

        text = self.text

        class _Stream:
            def feed(self, pcm: bytes) -> None:
                pass

            def partial(self) -> str:
                return ""

            def finish(self) -> Recognition:
                return Recognition(text, 1.0 if text else 0.0, ((text, 1.0),) if text else ())
        return _Stream()

    def recognize_wav(self, path, grammar=None):
        raise NotImplementedError



@pytest.mark.parametrize(("words", "answered"), [("고양이", True), ("", False)],
                         ids=["a-short-word", "a-cough"])
def test_a_short_sound_over_the_prompt_is_judged_by_its_words(tmp_path, words, answered,
                                                             caplog):
    """200 ms of voice over a 2 s question: if the recogniser heard a word in it (a short "да")
    it answers the question and the prompt is not resumed; if not (a cough, "угу") the prompt
    carries on to its end and the question waits for an answer."""
    short = vowel(200)
    harness = Harness(tmp_path, _Says(words), prompt_seconds=2.0, urgent=lambda locale: ())

    def scenario(peer: PeerSession) -> None:
        peer.wait_heard(10)
        peer.say(short)
        if not answered:
            peer.wait_heard(100, timeout=8)
            peer.press("5")
        peer.closed.wait(30)

    caplog.set_level(logging.DEBUG, logger="ivr.transports.audiosocket.call_io")
    harness.run(scenario)
    heard = len(harness.peer.session.heard)
    turns = [word for r in caplog.records for word in ("paused", "resumed")
             if f": prompt {word} at frame" in r.getMessage()]
    if answered:
        assert harness.answers == [Speech(words, 1.0)]
        assert turns == ["paused"]  # paused at the onset, never resumed
        assert heard < 2.0 / 0.02 / 2
    else:
        assert harness.answers == [Digits("5")]
        assert turns == ["paused", "resumed"]
        assert heard == 2.0 / 0.02  # the whole prompt
