"""The dialogue port (:class:`ivr.io.CallIO`) on top of FastAGI commands.

A prompt is a list of pre-rendered sound files (one per :attr:`ivr.io.Prompt.parts` piece, found
by a :class:`PromptAudio`).  How the port's operations become AGI commands:

* :meth:`AgiCallIO.play` -> ``STREAM FILE <file> "0123456789*#"`` for each file; a key stops
  the playback (``200 result=<ascii code> endpos=<n>``) and is kept for the next collection.
* :meth:`AgiCallIO.collect` -> ``GET DATA <file> <timeout ms> <max digits>``.  Asterisk's AGI
  ``GET DATA`` plays exactly *one* file (``res_agi.c`` ``handle_getdata`` ->
  ``ast_app_getdata_full`` -> ``ast_streamfile``; only the dialplan ``Read()`` path splits
  ``a&b`` lists), so all parts but the last are played with interruptible ``STREAM FILE`` and
  the last one with ``GET DATA``.  A key pressed during an earlier part becomes the first digit
  and the rest is read with ``GET DATA <silence file>``.
* ``GET DATA`` ends input on ``#`` only (the terminator is hard-coded in Asterisk); a different
  ``terminator`` requested by a flow is ignored with a warning.  The timeout applies to the
  first key and between keys alike.  Replies: ``200 result=<digits>`` (max digits reached or
  ``#``), ``200 result=<digits> (timeout)`` (partial entry, returned as :class:`Digits`),
  ``200 result= (timeout)`` (nothing -> :class:`Timeout`), ``200 result=`` (only ``#``
  -> ``Digits("")``), ``200 result=-1`` (hangup -> :class:`ivr.io.CallerHangup`).
* ``set_variable`` -> ``SET VARIABLE name "value"``; ``hangup`` -> ``HANGUP``.

Keys pressed *between* two commands are discarded by Asterisk (its AGI loop reads and drops
DTMF frames while it waits for the next command), so only the interrupting key of a prompt
survives; :class:`ivr.io.BufferedCallIO` carries it into the next collection.

Speech (``grammar``) is not used yet: :meth:`AgiCallIO._listen` is the hook a speech-capable
subclass overrides (``RECORD FILE`` + a recogniser).
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Protocol, runtime_checkable

from ivr.io import (
    DTMF_KEYS,
    BufferedCallIO,
    CallerInput,
    CallInfo,
    Digits,
    Grammar,
    Prompt,
    Speech,
    Timeout,
)
from ivr.transports.agi.server import AgiGarbledReply, AgiRequest, SocketAGI, quote_arg
from ivr.transports.agi.speech import SpeechInput

logger = logging.getLogger(__name__)

#: The only terminator Asterisk's AGI ``GET DATA`` knows.
GET_DATA_TERMINATOR = "#"
#: Asterisk's core sound used when digits are read without a prompt, unless the caller passes
#: its own file (the IVR runtime does: core sounds are not always installed).
DEFAULT_SILENCE_FILE = "silence/1"
#: Asterisk's GET DATA buffer holds 1024 bytes including the terminating NUL.
MAX_GET_DATA_DIGITS = 1023

_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\([^\s()]*\))?$")
_DTMF_RESULT = re.compile(r"^[0-9*#A-Da-d]*$")


@runtime_checkable
class PromptAudio(Protocol):
    """Where a prompt's audio lives, as Asterisk sound names."""

    def files_for(self, prompt: Prompt) -> list[str]:
        """Sound file names without extension, relative to Asterisk's sounds directory (or
        absolute), one per part, e.g. ``["registratura/ru/3fa9c1..."]``."""
        ...


class AgiCallIO(BufferedCallIO):
    """:class:`ivr.io.CallIO` over one FastAGI call.

    ``target`` is the :class:`~ivr.transports.agi.server.AgiRequest` a route receives (or its
    :class:`~ivr.transports.agi.server.SocketAGI`); ``audio`` maps prompts to sound files.  Hangups
    surface as :class:`ivr.io.CallerHangup`, protocol trouble as :class:`ivr.io.TransportFailure`.
    """

    def __init__(
        self,
        target: AgiRequest | SocketAGI,
        audio: PromptAudio,
        *,
        info: CallInfo | None = None,
        silence_file: str = DEFAULT_SILENCE_FILE,
        escape_digits: str = DTMF_KEYS,
        speech: SpeechInput | None = None,
    ) -> None:
        if isinstance(target, AgiRequest):
            agi = target.agi
            info = info or target.info()
        else:
            agi = target
            info = info or AgiRequest.from_agi(agi).info()
        super().__init__(info)
        self.agi = agi
        self.audio = audio
        self.silence_file = silence_file
        self.escape_digits = escape_digits
        self.speech = speech
        self.last_endpos: int | None = None
        self._answered = False
        self._warned_terminator = False

    @property
    def uid(self) -> str:
        """The call's unique id, for log lines."""
        return self.info.call_uid or "?"

    # -- call control ----------------------------------------------------------------------

    def answer(self) -> None:
        """Answer the channel once (``ANSWER`` is harmless on an answered channel: result=0)."""
        if self._answered:
            return
        self.agi.execute("ANSWER")
        self._answered = True

    def set_variable(self, name: str, value: str) -> None:
        """``SET VARIABLE name "value"`` (the dialplan reads it after the AGI returns)."""
        if not _VARIABLE_NAME.match(name):
            raise ValueError(f"not a channel variable name: {name!r}")
        self.agi.execute("SET VARIABLE", name, quote_arg(value))

    def get_variable(self, name: str) -> str | None:
        """``GET VARIABLE name``: the value, or ``None`` when the variable is not set."""
        if not _VARIABLE_NAME.match(name):
            raise ValueError(f"not a channel variable name: {name!r}")
        result = self.agi.execute("GET VARIABLE", name)
        value, data = result["result"]
        return data if value == "1" else None

    def verbose(self, message: str, level: int = 1) -> None:
        """Write a line to the Asterisk console (never put personal data in it)."""
        self.agi.execute("VERBOSE", quote_arg(message), level)

    def hangup(self) -> None:
        """``HANGUP`` the current channel."""
        self.agi.execute("HANGUP")

    # -- BufferedCallIO primitives ---------------------------------------------------------

    def _files(self, prompt: Prompt | None) -> list[str]:
        if prompt is None:
            return []
        files = [f for f in self.audio.files_for(prompt) if f]
        for name in files:
            if any(ch.isspace() for ch in name) or "&" in name:
                raise ValueError(f"sound file names must not contain spaces or '&': {name!r}")
        return files

    def _stream_file(self, name: str) -> str:
        """Play one file; return the interrupting key or ``""``."""
        result = self.agi.execute("STREAM FILE", name, quote_arg(self.escape_digits))
        value = result["result"][0]
        endpos = result.get("endpos", ("", ""))[0]
        self.last_endpos = int(endpos) if endpos.isdigit() else None
        if value == "0":
            if self.last_endpos == 0:
                logger.warning("agi %s: %s played nothing (endpos=0): empty sound file?",
                               self.uid, name)
            return ""
        if not value.isdigit() or not 0 < int(value) < 128:
            raise AgiGarbledReply(f"STREAM FILE returned {value!r}")
        key = chr(int(value))
        if key not in self.escape_digits:
            raise AgiGarbledReply(f"STREAM FILE returned a key that was not allowed: {key!r}")
        return key

    def _stream(self, prompt: Prompt) -> str:
        for name in self._files(prompt):
            key = self._stream_file(name)
            if key:
                logger.debug("agi %s: prompt %s interrupted by a key", self.uid, prompt.key)
                return key
        return ""

    def _get_data(
        self,
        prompt: Prompt | None,
        max_digits: int,
        timeout: float,
        terminator: str,
        grammar: Grammar | None,
    ) -> CallerInput:
        if max_digits < 1:
            raise ValueError("max_digits must be at least 1")
        if terminator not in ("", GET_DATA_TERMINATOR) and not self._warned_terminator:
            self._warned_terminator = True
            logger.warning("agi %s: terminator %r requested; Asterisk GET DATA only ends on '#'",
                           self.uid, terminator)
        if grammar is not None:
            heard = self._listen(prompt, grammar, timeout, max_digits)
            if heard is not None:
                return heard
        files = self._files(prompt)
        for name in files[:-1]:
            key = self._stream_file(name)
            if key:
                return self._keys_after(key, max_digits, timeout)
        return self._get_data_command(files[-1] if files else self.silence_file,
                                      timeout, max_digits)

    def _get_data_command(self, name: str, timeout: float, max_digits: int) -> CallerInput:
        timeout_ms = max(1, round(timeout * 1000))
        max_digits = min(max_digits, MAX_GET_DATA_DIGITS)
        result = self.agi.execute("GET DATA", name, timeout_ms, max_digits)
        value, data = result["result"]
        if not _DTMF_RESULT.match(value):
            raise AgiGarbledReply(f"GET DATA returned {len(value)} unexpected characters")
        timed_out = data.strip().lower() == "timeout"
        if value == "" and timed_out:
            return Timeout()
        return Digits(value.upper())

    def _listen(self, prompt: Prompt | None, grammar: Grammar, timeout: float,
                max_digits: int) -> CallerInput | None:
        """Keys or speech, whichever comes first; ``None`` means keypad only (no recogniser).

        The prompt plays interruptibly; a key pressed during it continues as a keypad answer.
        Otherwise ``RECORD FILE <path> wav "<keys>" <ms> s=<silence>`` records the answer
        (a key stops the recording and counts as keys) and it is recognised with the
        question's grammar.
        """
        if self.speech is None or prompt is None:
            return None
        for name in self._files(prompt):
            key = self._stream_file(name)
            if key:
                return self._keys_after(key, max_digits, timeout)
        path = self.speech.recording_path(self.uid)
        limit_ms = round(max(timeout, self.speech.max_seconds) * 1000)
        result = self.agi.execute("RECORD FILE", str(path), "wav", quote_arg(self.escape_digits),
                                  limit_ms, f"s={self.speech.silence_seconds}")
        value, data = result["result"]
        wav = path.parent / f"{path.name}.wav"
        if data.strip().lower() == "dtmf" and value.isdigit():
            with contextlib.suppress(OSError):
                wav.unlink()
            return self._keys_after(chr(int(value)), max_digits, timeout)
        if not wav.exists():
            logger.warning("agi %s: recording not found in the shared directory", self.uid)
            return Timeout()
        heard = self.speech.recognise(wav, grammar, prompt.locale)
        if heard.empty:
            return Timeout()
        return Speech(heard.text, heard.confidence)

    def _keys_after(self, key: str, max_digits: int, timeout: float) -> CallerInput:
        """The caller started typing with ``key``: read the rest of the answer."""
        if key == GET_DATA_TERMINATOR:
            return Digits("")
        if max_digits == 1:
            return Digits(key)
        rest = self._get_data_command(self.silence_file, timeout, max_digits - 1)
        return Digits(key + rest.value) if isinstance(rest, Digits) else Digits(key)
