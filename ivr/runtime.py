"""The running IVR: prompt audio, the FastAGI server and its routes, built from the container."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from pathlib import Path

from booking_core.calls import TEST_CHANNEL
from ivr.dialogue.call import IvrDeps
from ivr.dialogue.catalogue import LOCALES, load_catalogue
from ivr.dialogue.phrasing import Phraser
from ivr.dialogue.reminder_flow import run_reminder_call
from ivr.dialogue.service import (
    DEFAULT_CLINIC_NAME,
    clinic_name,
    run_queue_callback,
    run_registry_call,
)
from ivr.io import Prompt
from ivr.transports.agi.call_io import AgiCallIO
from ivr.transports.agi.server import AgiRequest, AgiServer
from ivr.transports.agi.speech import SpeechInput
from ivr.transports.audiosocket.call_io import (
    StreamSettings,
)
from ivr.transports.audiosocket.listener import AudioSocketListener
from ivr.transports.audiosocket.recognition import StreamRecognition
from ivr.transports.audiosocket.stream_call import StreamingCalls
from registratura.bootstrap import Container
from speech.asr import TranscriptRecognizer, load_recognizer
from speech.prompt_cache import PromptCache
from speech.ru_normalize import normalize_for_speech
from speech.tts import TtsEngine, create_engine
from speech.vad import VadSettings

logger = logging.getLogger(__name__)


def _normalize(text: str, locale: str) -> str:
    return normalize_for_speech(text) if locale == "ru" else text


class AbsoluteAudio:
    """Prompt files as absolute paths, so Asterisk finds them wherever the sounds dir is
    (it must be readable by Asterisk at the same path: same host or a shared mount)."""

    def __init__(self, cache: PromptCache, sounds_dir: Path) -> None:
        self.cache = cache
        self.root = sounds_dir.resolve()

    def files_for(self, prompt: Prompt) -> list[str]:
        return [str(self.root / name) for name in self.cache.files_for(prompt)]


class IvrRuntime:
    """Everything the phone channel needs at run time.

    ``reuse_port``: the FastAGI port is shared with the other IVR worker processes
    (``SO_REUSEPORT``, see :mod:`registratura.ivr_workers`)."""

    def __init__(self, container: Container, *, engine: TtsEngine | None = None,
                 host: str | None = None, port: int | None = None,
                 reuse_port: bool = False) -> None:
        settings = container.settings
        self.container = container
        sounds = settings.sounds_dir
        sounds.mkdir(parents=True, exist_ok=True)
        engine = engine or create_engine(settings.tts_engine, variant=settings.tts_voice_variant)
        # Files go straight into the sounds dir (= the dialplan's REG_SOUNDS): <dir>/<locale>/
        # <key>.wav, played by absolute path, so no subdirectory is added under it.
        self.cache = PromptCache(sounds, engine, subdir="", normalize=_normalize)
        self.audio = AbsoluteAudio(self.cache, sounds)
        # Our own silence for GET DATA without a prompt; Asterisk's core sounds may be absent.
        self.silence_file = str(sounds.resolve() / self.cache.silence())
        presence: Callable[[], bool | None] = container.extras.get(  # type: ignore[assignment]
            "agent_presence", lambda: None)
        self.deps = IvrDeps(
            uow=container.uow, clinic_name=clinic_name(container.uow),
            opening_time=settings.opening_time, closing_time=settings.closing_time,
            now_local=container.clock.now_local, agents_available=presence,
            hours=container.hours, consent_sms_wait=settings.consent_sms_wait_seconds,
        )
        settings.record_dir.mkdir(parents=True, exist_ok=True)
        self.recognizer = load_recognizer(settings.vosk_model)
        self.server = AgiServer({"registry": self.registry_route,
                                 "callback": self.callback_route,
                                 "reminder": self.reminder_route},
                                host or settings.agi_host,
                                settings.agi_port if port is None else port,
                                first_reply_timeout=settings.agi_first_reply_timeout,
                                max_calls=settings.agi_max_calls,
                                reuse_port=reuse_port)
        self.streaming = self._streaming(host)

    def _streaming(self, host: str | None) -> StreamingCalls | None:
        """The AudioSocket listener when a port is configured (0 = any free port)."""
        settings = self.container.settings
        if settings.audiosocket_port is None:
            return None
        listener = AudioSocketListener(host or settings.audiosocket_host,
                                       settings.audiosocket_port,
                                       max_streams=settings.audiosocket_max_streams)
        listen_host, listen_port = listener.server_address
        advertised = settings.audiosocket_advertise or f"{listen_host}:{listen_port}"
        recognition = None
        if self.recognizer is not None:
            phrases = SpeechInput(self.recognizer, settings.record_dir.resolve()).phrases
            recognition = StreamRecognition(self.recognizer, phrases)
        stream = StreamSettings(
            vad=VadSettings(onset_ms=settings.vad_onset_ms,
                            end_silence_ms=settings.vad_end_silence_ms,
                            backchannel_ms=settings.vad_backchannel_ms,
                            backchannel_gap_ms=settings.vad_backchannel_gap_ms),
            watchdog_seconds=settings.audiosocket_watchdog_seconds,
            max_utterance_seconds=settings.audiosocket_max_utterance_seconds,
            # Without a model speech cannot be understood: a caller's "алло" must not cut
            # the prompts then, only keys do.
            speech_barge_in=recognition is not None)
        return StreamingCalls(listener, advertised, self.audio, settings=stream,
                              connect_timeout=settings.audiosocket_connect_timeout,
                              recognition=recognition)

    def speech_for(self, request: AgiRequest) -> SpeechInput | None:
        """Vosk when a model is configured; the text stand-in when the terminal phone asks for
        it (``registry?speech=text``); otherwise keypad only."""
        record_dir = self.container.settings.record_dir.resolve()
        if self.recognizer is not None:
            return SpeechInput(self.recognizer, record_dir)
        if request.params.get("speech") == "text":
            return SpeechInput(TranscriptRecognizer(), record_dir)
        return None

    def refresh_clinic_name(self) -> None:
        """Greet with the clinic's own name once there is one.

        An IVR started on an empty install (or while the database was away) greets with a
        generic name; after the clinic is imported or added in the console, the next call says
        its name without a restart.  One cheap look-up per call only while the name is generic.
        """
        if self.deps.clinic_name == DEFAULT_CLINIC_NAME:
            self.deps.clinic_name = clinic_name(self.deps.uow)

    def registry_route(self, request: AgiRequest) -> None:
        """``agi://host:4573/registry``: the patient line."""
        self.refresh_clinic_name()
        io = AgiCallIO(request, self.audio, speech=self.speech_for(request),
                       silence_file=self.silence_file)
        io.answer()
        self._tell_desk_state(io)
        self._mark_test_call(io)
        locale = "en" if request.language.startswith("en") else "ru"
        if self.streaming is not None and request.params.get("audio") == "stream":
            self.streaming.run(io, lambda stream: run_registry_call(stream, self.deps,
                                                                      locale=locale))
            return
        run_registry_call(io, self.deps, locale=locale)

    def callback_route(self, request: AgiRequest) -> None:
        """``agi://host:4573/callback``: the queue had no agent for this caller."""
        io = AgiCallIO(request, self.audio, silence_file=self.silence_file)
        call_id = io.get_variable("REG_CALL_ID") or ""
        reason = io.get_variable("REG_REASON") or io.get_variable("REG_QUEUE_RESULT") or ""
        locale = "en" if request.language.startswith("en") else "ru"
        run_queue_callback(io, self.deps, call_id=call_id, reason=reason.lower(), locale=locale)

    def reminder_route(self, request: AgiRequest) -> None:
        """``agi://host:4573/reminder``: the patient answered an outbound reminder call."""
        self.refresh_clinic_name()
        io = AgiCallIO(request, self.audio, speech=self.speech_for(request),
                       silence_file=self.silence_file)
        io.answer()
        self._tell_desk_state(io)
        self._mark_test_call(io)
        raw = io.get_variable("REG_APPOINTMENT_ID") or ""
        # On an outbound call CALLERID is the clinic's; the patient is the dialled number.
        io.info.caller_number = io.get_variable("REG_DIALED_NUMBER") or io.info.caller_number
        if not raw.isdigit():
            logger.warning("reminder call without a valid REG_APPOINTMENT_ID")
            io.set_variable("REG_IVR_DONE", "1")
            io.hangup()
            return
        locale = "en" if request.language.startswith("en") else "ru"
        run_reminder_call(io, self.deps, appointment_id=int(raw), locale=locale)

    def _tell_desk_state(self, io: AgiCallIO) -> None:
        """``REG_DESK_OPEN`` up front, so even if this session dies the dialplan knows whether
        to try the queue by the product's hours (escalation sets it again, fresh)."""
        io.set_variable("REG_DESK_OPEN", "1" if self.deps.desk_open() else "0")

    @staticmethod
    def _mark_test_call(io: AgiCallIO) -> None:
        """``REG_TEST=1`` (the dialplan's registry-test context): an engineer's test call.  It
        is recorded on the ``test`` channel, which the statistics leave out."""
        if io.get_variable("REG_TEST") == "1":
            io.info.channel = TEST_CHANNEL
            io.verbose("Registratura: test call, kept out of the statistics")

    def static_prompts(self) -> list[tuple[str, str]]:
        """(locale, text) of every prompt that doesn't depend on the call: rendered up front."""
        texts: list[tuple[str, str]] = []
        for locale in LOCALES:
            cat = load_catalogue(locale)
            texts += [(locale, t) for t in cat.static_texts()]
            clinic = Phraser(cat).name(self.deps.clinic_name)
            texts += [(locale, p) for p in cat("greeting", clinic=clinic).parts]
            words = [w for d in "0123456789" for w in _digit_word(cat.locale, d)]
            texts += [(locale, w) for w in words]
        return texts

    def prerender(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Render the static prompts now so the first caller waits for nothing."""
        return self.cache.prerender(self.static_prompts(), progress=progress)

    def start(self) -> None:
        self.server.start()
        host, port = self.server.server_address
        logger.info("FastAGI server on agi://%s:%s/registry", host, port)
        if self.streaming is not None:
            self.streaming.listener.start()
            logger.info("AudioSocket listener on %s (registry?audio=stream)",
                        self.streaming.advertised)

    def shutdown(self) -> None:
        self.server.shutdown(wait_for_calls=2.0)
        if self.streaming is not None:
            self.streaming.listener.shutdown()


def settle_heap() -> None:
    """Call once an IVR process has loaded everything, before it takes calls.

    What is loaded by then (models, catalogues, the ORM's caches) lives as long as the
    process; moved out of the garbage collector's sight, a full collection -- which stops every
    call thread of the process -- has only the calls' own objects left to walk.
    """
    gc.collect()
    gc.freeze()


def _digit_word(locale: str, digit: str) -> list[str]:
    from ivr.dialogue.phrasing import Phraser

    return Phraser(load_catalogue(locale)).digits(digit)
