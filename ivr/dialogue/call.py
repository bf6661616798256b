"""The per-call dialogue toolkit flows are written with: menus, number entry, escalation.

Everything here talks to the caller only through :class:`ivr.io.CallIO`, so the same flows run
over FastAGI, in the terminal phone and under the scripted test caller.
"""

from __future__ import annotations

import logging
import re
import threading
import time as monotonic_time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time

from booking_core.actors import Actor
from booking_core.clinic_admin import clinic_ready
from booking_core.hours import DeskHours
from booking_core.lines import LineAnswer, resolve_line
from booking_core.uow import UnitOfWorkFactory
from booking_core.views import PatientView
from ivr.dialogue.catalogue import Catalogue, load_catalogue
from ivr.dialogue.phrasing import Phraser
from ivr.dialogue.recording import CallRecorder
from ivr.io import CallIO, Digits, Grammar, Prompt, Speech, Timeout
from models.tables import Channel

logger = logging.getLogger(__name__)

OPERATOR = "0"
REPEAT = "*"
OPERATOR_WORDS = ("оператор", "оператора", "человек", "регистратор", "operator", "agent")
MAX_REPEATS = 3
MIN_CONFIDENCE = 0.5  # below this a recognised answer is treated as not heard
MAX_SPEECH_MISSES = 2  # then the call continues on the keypad only


class Escalate(Exception):
    """Hand the call to an agent (or, after hours, offer a callback)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Hangup(Exception):
    """The IVR finished the call normally (after saying goodbye)."""


@dataclass
class IvrDeps:
    """What the flows need from the rest of the product (wired by the composition root)."""

    uow: UnitOfWorkFactory
    clinic_name: str
    opening_time: time = time(8, 0)
    closing_time: time = time(20, 0)
    now_local: Callable[[], datetime] = datetime.now
    agents_available: Callable[[], bool | None] = lambda: None  # None: unknown, use hours
    timeout: float = 6.0
    identify_tries: int = 3
    # How long to wait for a consent code's SMS to leave before escalating (rule 20).
    consent_sms_wait: float = 20.0
    # The desk's hours (weekdays, holidays); None: opening_time-closing_time on working days.
    hours: DeskHours | None = None
    # How long a dialled number's answer (its clinic, the region) is reused: lines change
    # rarely, and the greeting is the first thing every call waits for.  0 = look up each call.
    line_cache_seconds: float = 15.0
    _lines: dict[str, tuple[float, LineAnswer]] = field(default_factory=dict, repr=False)
    _lines_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ready_at: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.hours is None:
            self.hours = DeskHours.build((self.opening_time, self.closing_time))

    def answer_line(self, number: str) -> LineAnswer:
        """How a call to ``number`` is answered (:func:`booking_core.lines.resolve_line`),
        reused for ``line_cache_seconds``; raises what the database raises."""
        now = monotonic_time.monotonic()
        with self._lines_lock:
            cached = self._lines.get(number)
        if cached is not None and now - cached[0] < self.line_cache_seconds:
            return cached[1]
        answer = resolve_line(number, self.uow())
        with self._lines_lock:
            if len(self._lines) > 1000:  # numbers are few; anything else is noise
                self._lines.clear()
            self._lines[number] = (now, answer)
        return answer

    def clinic_ready(self) -> bool:
        """Whether the installation has a working doctor yet
        (:func:`booking_core.clinic_admin.clinic_ready`).  A yes is reused for
        ``line_cache_seconds``, like a line's answer: every call asks first, and an
        installation stays set up.  A no is asked again on every call, so the first import is
        heard at once."""
        now = monotonic_time.monotonic()
        ready_at = self._ready_at
        if ready_at is not None and now - ready_at < self.line_cache_seconds:
            return True
        ready = clinic_ready(self.uow())
        self._ready_at = now if ready else None
        return ready

    def desk_open(self) -> bool:
        """Within the desk's opening hours now (the same answer the dialplan gets)."""
        assert self.hours is not None
        return self.hours.is_open(self.now_local())

    def next_opening(self) -> datetime | None:
        """When the desk opens next (for the callback promise)."""
        assert self.hours is not None
        return self.hours.next_opening(self.now_local())

    def callback_from(self) -> datetime:
        """The moment a callback requested now can be made: the desk's next opening."""
        opening = self.next_opening()
        return opening if opening is not None else self.now_local()

    def agents_online(self) -> bool:
        """Is anybody there to take the call?  Outside opening hours never: a desk phone left
        logged in at night must not make the IVR promise an agent the dialplan won't queue
        for.  Within hours, AMI presence if known, else yes."""
        if not self.desk_open():
            return False
        known = self.agents_available()
        return True if known is None else known


@dataclass
class CallState:
    """What the IVR learned during the call (shown to the agent on escalation)."""

    call_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    locale: str = "ru"
    patient: PatientView | None = None
    intent: str | None = None
    privacy_told: bool = False  # the personal-data notice is said once per call
    #: How the dialled number is answered (None: not looked up, e.g. the database is away).
    line: LineAnswer | None = None


class Call:
    """One caller on the line: the port, the catalogue of their language, what we learned."""

    def __init__(self, io: CallIO, deps: IvrDeps, recorder: CallRecorder,
                 locale: str = "ru") -> None:
        self.io = io
        self.deps = deps
        self.state = CallState(locale=locale)
        self.record = recorder
        self.listening = True  # speech answers allowed (the transport decides if it can)
        self.spoken = False  # the last menu answer came by voice (may be misheard), not a key
        self.speech_misses = 0
        self.set_locale(locale)

    def actor(self, patient_id: int | None) -> Actor:
        """Who the audit log names for what this call does: the patient on a phone line, the
        console user when one places the call from the browser phone."""
        info = self.io.info
        if info.operator:
            return Actor.agent(info.operator, info.operator_source, channel=Channel.IVR,
                               clinic_id=info.operator_clinic_id)
        return Actor.patient(patient_id, Channel.IVR, self.record.data.caller_number)

    def set_locale(self, locale: str) -> None:
        self.state.locale = locale
        self.say_: Catalogue = load_catalogue(locale)
        self.phrase = Phraser(self.say_, today=lambda: self.deps.now_local().date())
        self.record.locale = locale

    # --- speaking -------------------------------------------------------------------------

    def p(self, key: str, **params: object) -> Prompt:
        """The prompt ``key`` in the caller's language."""
        return self.say_(key, **params)  # type: ignore[arg-type]

    def play(self, key: str, **params: object) -> str:
        """Say something; returns a key the caller pressed to interrupt it (kept for later)."""
        self.record.step(key)
        return self.io.play(self.p(key, **params))

    # --- asking ---------------------------------------------------------------------------

    def menu(self, prompt: Prompt, options: str, *, words: dict[str, str] | None = None,
             step: str = "") -> str:
        """Ask for one key out of ``options``; ``*`` repeats, ``0`` escalates.

        Silence or a wrong key gets one re-prompt, the second escalates (DESIGN "The call" 8).
        """
        step = step or prompt.key
        grammar = self._grammar(step, tuple(words or ())) if words else None
        failures = repeats = 0
        while True:
            event = self.io.collect(prompt, max_digits=1, timeout=self.deps.timeout,
                                    grammar=grammar)
            choice = self._choice(event, words or {})
            self.record.step(step, choice if choice is not None else _describe(event))
            if choice == OPERATOR:
                raise Escalate("caller_request")
            if choice == REPEAT and repeats < MAX_REPEATS:
                repeats += 1
                continue
            if choice is not None and choice in options:
                self.spoken = isinstance(event, Speech)
                return choice
            if isinstance(event, Speech) and self._speech_missed():
                grammar = None
            failures += 1
            if failures >= 2:
                raise Escalate("no_input" if isinstance(event, Timeout) else "invalid_input")
            self.play("no_input" if isinstance(event, Timeout) else "not_understood")

    def yes_no(self, prompt: Prompt, step: str = "") -> bool:
        """1 = yes, 2 = no (or "да"/"нет")."""
        words = {"нет": "2", "неверно": "2", "неправильно": "2", "no": "2",
                 "да": "1", "верно": "1", "правильно": "1", "yes": "1"}
        return self.menu(prompt, "12", words=words, step=step or prompt.key) == "1"

    def number(self, prompt: Prompt, max_digits: int, step: str,
               parse_speech: Callable[[str], str | None] | None = None, *,
               hash_ends: bool = False) -> str | None:
        """Collect a number of up to ``max_digits`` keys (ended by ``#``); None on silence.

        ``hash_ends``: the prompt tells the caller to finish with ``#``.  Asterisk's
        ``GET DATA`` returns as soon as it has ``max_digits`` keys, so a ``#`` pressed after a
        complete number would reach the next question as a wrong answer; asking for one key
        more lets the ``#`` end the entry (a caller who forgets it is answered after the
        inter-digit timeout, and a key too many is caught by the flow's length check).

        A lone ``0`` is the caller asking for an operator.  Spoken numbers are turned into
        digits by ``parse_speech``; an answer that can't be parsed, or was heard with low
        confidence, is asked again once; whatever comes back is read back by the flow.
        """
        keys = max_digits + 1 if hash_ends else max_digits
        for _ in range(1 + MAX_SPEECH_MISSES):  # the last try is on the keypad
            grammar = self._grammar(step, ("digits",)) if parse_speech else None
            event = self.io.collect(prompt, max_digits=keys, timeout=self.deps.timeout,
                                    grammar=grammar)
            if isinstance(event, Timeout):
                self.record.step(step, "timeout")
                return None
            if isinstance(event, Digits):
                self.record.step(step, f"{len(event.value)} digits")
                if event.value == OPERATOR:
                    raise Escalate("caller_request")
                return event.value
            if _is_operator(event.text):
                raise Escalate("caller_request")
            digits = parse_speech(event.text) if parse_speech else None
            if digits and event.confidence >= MIN_CONFIDENCE:
                self.record.step(step, f"speech:{len(digits)} digits")
                return digits
            self.record.step(step, "speech:not understood")
            if self._speech_missed():
                continue
            self.play("speech_not_understood")
        return ""

    def _grammar(self, step: str, phrases: tuple[str, ...]) -> Grammar | None:
        return Grammar(step, phrases) if self.listening else None

    def _speech_missed(self) -> bool:
        """Count a misheard answer; after too many, go on with the keypad only (True)."""
        self.speech_misses += 1
        if self.speech_misses < MAX_SPEECH_MISSES or not self.listening:
            return False
        self.listening = False
        self.play("speech_off")
        return True

    @staticmethod
    def _choice(event: object, words: dict[str, str]) -> str | None:
        if isinstance(event, Digits):
            return event.value[:1] if event.value else None
        if isinstance(event, Speech):
            if _is_operator(event.text):
                return OPERATOR
            for phrase, key in words.items():
                if says(event.text, phrase):
                    return key
        return None


def says(text: str, phrase: str) -> bool:
    """Does ``text`` contain ``phrase`` as whole words (each phrase word a word's start)?

    "отмен" matches "отменить", "на дом" matches "врача на дом", but "верно" does not match
    "неверно" — a substring test would turn a "no" into a "yes".
    """
    tokens = re.findall(r"\w+", text.lower().replace("ё", "е"))
    stems = phrase.lower().replace("ё", "е").split()
    return any(
        all(tokens[i + j].startswith(stem) for j, stem in enumerate(stems))
        for i in range(len(tokens) - len(stems) + 1)
    )


def _is_operator(text: str) -> bool:
    return any(says(text, w) for w in OPERATOR_WORDS)


def _describe(event: object) -> str:
    if isinstance(event, Timeout):
        return "timeout"
    if isinstance(event, Speech):
        return "speech"
    return "invalid"
