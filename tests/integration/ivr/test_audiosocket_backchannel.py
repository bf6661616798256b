"""Short sounds against a playing prompt over a real AudioSocket stream: a cough or an "угу"
(under 300 ms) pauses the prompt at the onset and it carries on from where it paused; a longer
sound stops it.  No frame of the prompt is lost to a short sound."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from ivr.transports.terminal import AsteriskCall
from support.audiosocket_peer import AudioSocketPeer, PeerSession
from support.stream_tools import vowel
from support.tone_engine import ToneEngine

PROMPT_SECONDS = 2.0



@pytest.fixture
def barge_in_call(container, runtime_factory):
    """``barge_in_call(sound)`` -> the frames the caller heard of the first prompt (a 2 s
    greeting) when ``sound`` is made 10 frames into it; speech barge-in on, no model."""
    container.settings.audiosocket_port = 0
    rt = runtime_factory(container, ToneEngine(PROMPT_SECONDS))
    rt.streaming.settings = replace(rt.streaming.settings, speech_barge_in=True)

    def run(sound: bytes) -> int:
        def scenario(peer: PeerSession) -> None:
            peer.wait_heard(10)
            peer.say(sound)
            peer.wait_heard(int(PROMPT_SECONDS / 0.02), timeout=8)
            peer.hang_up()

        peer = AudioSocketPeer(scenario)
        host, port = rt.server.server_address
        AsteriskCall(host, port, script="registry?audio=stream", sounds_dir=rt.cache.sounds_dir,
                     audiosocket=peer).run()
        heard = peer.session.heard
        return sum(1 for h in heard if h.level == heard[0].level)
    return run


def test_a_short_sound_pauses_the_prompt_and_it_carries_on(barge_in_call, caplog):
    caplog.set_level(logging.DEBUG, logger="ivr.transports.audiosocket.call_io")
    frames = barge_in_call(vowel(200))
    assert frames == PROMPT_SECONDS / 0.02  # every frame of the prompt was heard
    turns = [word for r in caplog.records for word in ("paused", "resumed")
             if f": prompt {word} at frame" in r.getMessage()]
    assert turns == ["paused", "resumed"]


def test_a_longer_sound_stops_the_prompt(barge_in_call):
    frames = barge_in_call(vowel(600))
    assert frames < PROMPT_SECONDS / 0.02 / 2
