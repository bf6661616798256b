"""The dialogue port: what a call flow may ask of a caller, independent of any transport.

Flows are plain synchronous functions that call the methods of :class:`CallIO`.  A transport
(FastAGI, the browser phone, a scripted test caller) implements the port; no flow ever sees AGI
text.  Key presses that interrupt a prompt are never lost: :class:`BufferedCallIO` keeps them
and feeds them into the next collection, which is how a caller who already knows the menu can
press ``1`` in the middle of the greeting.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

DTMF_KEYS = "0123456789*#"


@dataclass(frozen=True)
class Prompt:
    """One utterance the caller hears.

    ``parts`` are the sentence's pieces as they are rendered to audio, one file each; the caller
    hears them back to back.  Personal data (a policy number being read back) is always split
    into generic parts (single digit words), so no audio file on disk holds a whole policy number.
    """

    key: str
    parts: tuple[str, ...]
    locale: str = "ru"

    @property
    def text(self) -> str:
        """The whole sentence as one string (for logs of non-sensitive prompts and the phone)."""
        return " ".join(p.strip() for p in self.parts if p.strip())


@dataclass(frozen=True)
class Grammar:
    """What speech is acceptable for a question (used by speech-capable transports)."""

    name: str
    phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Digits:
    """Keys the caller pressed (without the terminator)."""

    value: str


@dataclass(frozen=True)
class Speech:
    """Words the caller said, as recognised, with the recogniser's confidence (0..1)."""

    text: str
    confidence: float = 1.0


@dataclass(frozen=True)
class Timeout:
    """The caller said and pressed nothing in time."""


CallerInput = Digits | Speech | Timeout


class CallerHangup(Exception):
    """The caller hung up (or the channel died); the flow must stop at once."""


class TransportFailure(Exception):
    """The transport broke (garbled protocol, lost connection) in a way that is not a hangup."""


@dataclass
class CallInfo:
    """Facts about the call that the transport knows before the dialogue starts."""

    call_uid: str
    caller_number: str = ""
    called_number: str = ""
    channel: str = "ivr"
    extra: dict[str, str] = field(default_factory=dict)
    #: A console user placing the call (the browser phone) and their address: everything the
    #: call does is then recorded as done by that user, and identification attempts are
    #: counted against them instead of a caller number they typed.
    operator: str = ""
    operator_source: str = ""
    #: The operator's clinic (None: regional): the booking core keeps them to it.
    operator_clinic_id: int | None = None


class CallIO(abc.ABC):
    """The port every transport implements."""

    info: CallInfo

    @abc.abstractmethod
    def play(self, prompt: Prompt) -> str:
        """Play a prompt; return the key that interrupted it, or ``""``.

        An interrupting key is also kept for the next :meth:`collect`.
        """

    @abc.abstractmethod
    def collect(
        self,
        prompt: Prompt,
        *,
        max_digits: int,
        timeout: float = 5.0,
        terminator: str = "#",
        grammar: Grammar | None = None,
    ) -> CallerInput:
        """Play ``prompt`` (interruptible) and collect up to ``max_digits`` keys or speech."""

    @abc.abstractmethod
    def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable the dialplan reads after the IVR returns."""

    @abc.abstractmethod
    def hangup(self) -> None:
        """End the call from the IVR side."""


class BufferedCallIO(CallIO):
    """Base class keeping keys that interrupted a prompt for the next collection.

    Subclasses implement :meth:`_stream` (play one prompt, return an interrupting key) and
    :meth:`_get_data` (play a prompt and read keys).  If buffered keys already complete the
    answer (``max_digits`` reached or the terminator pressed), the prompt is not played at all.
    """

    def __init__(self, info: CallInfo) -> None:
        self.info = info
        self._pending = ""

    @abc.abstractmethod
    def _stream(self, prompt: Prompt) -> str:
        """Play ``prompt``; return the interrupting key or ``""``."""

    @abc.abstractmethod
    def _get_data(
        self, prompt: Prompt | None, max_digits: int, timeout: float, terminator: str,
        grammar: Grammar | None,
    ) -> CallerInput:
        """Play ``prompt`` (if any) and read up to ``max_digits`` keys (or speech)."""

    def type_ahead(self, keys: str) -> None:
        """Keys the caller pressed before this port took the call over (another transport
        heard them); the next collection starts with them."""
        self._pending = keys + self._pending

    def play(self, prompt: Prompt) -> str:
        if self._pending:
            # The caller is already answering; don't talk over them.
            return self._pending[0]
        key = self._stream(prompt)
        if key:
            self._pending += key
        return key

    def collect(
        self,
        prompt: Prompt,
        *,
        max_digits: int,
        timeout: float = 5.0,
        terminator: str = "#",
        grammar: Grammar | None = None,
    ) -> CallerInput:
        pending, self._pending = self._pending, ""
        if pending:
            if terminator and terminator in pending:
                return Digits(pending.split(terminator, 1)[0])
            if len(pending) >= max_digits:
                self._pending = pending[max_digits:]
                return Digits(pending[:max_digits])
            # Keep reading after what was already pressed, without replaying the prompt.
            rest = self._get_data(None, max_digits - len(pending), timeout, terminator, None)
            if isinstance(rest, Digits):
                return Digits(pending + rest.value)
            return Digits(pending)
        return self._get_data(prompt, max_digits, timeout, terminator, grammar)
