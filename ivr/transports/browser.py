"""The dialogue port (:class:`ivr.io.CallIO`) over a browser's WebSocket: the console's phone.

The flow is synchronous and runs in its own worker thread; the WebSocket lives in asyncio.
They meet through two thread-safe channels: :meth:`BrowserCallIO.feed` puts what the browser
said into a :class:`queue.Queue` the flow thread reads, and the ``send`` callable given to the
constructor must be safe to call from the flow thread (the router passes
``loop.call_soon_threadsafe(outbox.put_nowait, message)``).

Messages to the browser (JSON objects):

* ``{"type": "play", "id": n, "key": "...", "text": "...", "files": [url, ...]}`` — play the files
  one after the other, show the text; the browser answers ``{"type": "played", "id": n}`` at the
  end, or sends a key (barge-in: the prompt stops, the key counts for the next answer).
* ``{"type": "ask", "id": n, ..., "max_digits": N, "timeout_ms": T, "terminator": "#"}`` — the
  same, then collect keys.  The browser sends ``played`` when the prompt ends and every key as
  ``{"type": "key", "key": "5"}``.  The answer is complete after ``max_digits`` keys or the
  terminator; silence for ``timeout_ms`` after the prompt (or after the last key) ends it too.
  The server keeps that clock itself; the browser may end the wait early with
  ``{"type": "timeout", "id": n}`` (it runs the same clock, and tests use it instead of
  sleeping).  ``{"type": "input_done", "id": n}`` follows when the server has the answer.
* ``{"type": "var", "name": ..., "value": ...}`` — a channel variable the flow set (the dialplan
  would read it; the page shows escalation with it).
* ``{"type": "hangup", "by": "ivr"}`` — the IVR hung up.

From the browser: ``played``, ``key``, ``timeout`` and ``{"type": "hangup"}`` (the caller hung
up; the flow gets :class:`ivr.io.CallerHangup`).  Closing the socket counts as a hangup.

As on a real line, keys pressed while no question is open are kept (type-ahead) and answer the
next prompt — more forgiving than Asterisk, which drops digits between AGI commands.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import time
from collections.abc import Callable
from typing import Any, Protocol

from ivr.io import (
    DTMF_KEYS,
    BufferedCallIO,
    CallerHangup,
    CallerInput,
    CallInfo,
    Digits,
    Grammar,
    Prompt,
    Timeout,
)

logger = logging.getLogger(__name__)

#: How long a prompt may take to play before the server stops waiting for ``played``.
MAX_PROMPT_SECONDS = 180.0
#: Browser messages the flow has not read yet, at most (more are dropped).
MAX_INBOX = 256


class PromptFiles(Protocol):
    """Where a prompt's audio is: the prompt cache's relative file names (no extension)."""

    def files_for(self, prompt: Prompt) -> list[str]: ...


Send = Callable[[dict[str, Any]], None]


class BrowserCallIO(BufferedCallIO):
    """:class:`ivr.io.CallIO` for one browser call.

    ``audio`` maps prompts to cache file names (``registratura/ru/<hash>``); each becomes the
    URL ``audio_base + name + ".wav"``.  When audio cannot be rendered the browser still gets
    the text (and an empty file list), so the dialogue goes on.
    """

    def __init__(self, info: CallInfo, audio: PromptFiles, send: Send, *,
                 audio_base: str = "/phone/audio/",
                 max_prompt_seconds: float = MAX_PROMPT_SECONDS) -> None:
        super().__init__(info)
        self.audio = audio
        self.audio_base = audio_base if audio_base.endswith("/") else audio_base + "/"
        self._send = send
        self._inbox: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=MAX_INBOX)
        self._ids = itertools.count(1)
        self.max_prompt_seconds = max_prompt_seconds
        self.variables: dict[str, str] = {}
        self.hung_up_by_ivr = False
        self.caller_hung_up = False

    # -- the asyncio side -----------------------------------------------------------------

    def feed(self, message: dict[str, Any]) -> bool:
        """A message from the browser (any thread); False if dropped (a flooding client)."""
        try:
            self._inbox.put_nowait(message)
            return True
        except queue.Full:
            logger.warning("browser %s: too many unread messages; dropping", self.info.call_uid)
            return False

    def caller_gone(self) -> None:
        """The WebSocket closed: the caller hung up (always delivered)."""
        while True:
            try:
                self._inbox.put_nowait({"type": "hangup"})
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._inbox.get_nowait()

    # -- port ----------------------------------------------------------------------------

    @property
    def escalated(self) -> bool:
        return self.variables.get("REG_ESCALATE") == "1"

    def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value
        self._emit({"type": "var", "name": name, "value": value})

    def hangup(self) -> None:
        self.hung_up_by_ivr = True
        self._emit({"type": "hangup", "by": "ivr"})

    def _stream(self, prompt: Prompt) -> str:
        prompt_id = next(self._ids)
        self._emit({"type": "play", "id": prompt_id, "key": prompt.key, "text": prompt.text,
                    "files": self._urls(prompt)})
        deadline = time.monotonic() + self.max_prompt_seconds
        while True:
            message = self._receive(deadline)
            if message is None:
                logger.debug("browser %s: no 'played' for prompt %s", self.info.call_uid,
                             prompt.key)
                return ""
            kind = message.get("type")
            if kind == "played" and message.get("id") == prompt_id:
                return ""
            if kind == "key":
                key = _key(message)
                if key:
                    return key

    def _get_data(self, prompt: Prompt | None, max_digits: int, timeout: float,
                  terminator: str, grammar: Grammar | None) -> CallerInput:
        if max_digits < 1:
            raise ValueError("max_digits must be at least 1")
        ask_id = next(self._ids)
        files = self._urls(prompt) if prompt is not None else []
        self._emit({"type": "ask", "id": ask_id, "key": prompt.key if prompt else "",
                    "text": prompt.text if prompt else "", "files": files,
                    "max_digits": max_digits, "timeout_ms": max(1, round(timeout * 1000)),
                    "terminator": terminator})
        digits = ""
        # Until the prompt has played, only the long safety limit applies.
        playing = prompt is not None
        deadline = time.monotonic() + (self.max_prompt_seconds if playing else timeout)
        try:
            while True:
                message = self._receive(deadline)
                if message is None:
                    if playing:  # the browser never reported the end of the prompt
                        playing = False
                        deadline = time.monotonic() + timeout
                        continue
                    return Digits(digits) if digits else Timeout()
                kind = message.get("type")
                if kind == "played" and message.get("id") == ask_id:
                    if playing:
                        playing = False
                        deadline = time.monotonic() + timeout
                elif kind == "timeout" and message.get("id") == ask_id:
                    return Digits(digits) if digits else Timeout()
                elif kind == "key":
                    key = _key(message)
                    if not key:
                        continue
                    playing = False
                    if terminator and key == terminator:
                        return Digits(digits)
                    digits += key
                    if len(digits) >= max_digits:
                        return Digits(digits)
                    deadline = time.monotonic() + timeout
        finally:
            self._emit({"type": "input_done", "id": ask_id})

    # -- internals ------------------------------------------------------------------------

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The next browser message before ``deadline`` (None on timeout); raises on hangup."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            message = self._inbox.get(timeout=left)
        except queue.Empty:
            return None
        if message.get("type") == "hangup":
            self.caller_hung_up = True
            raise CallerHangup("the browser hung up")
        return message

    def _urls(self, prompt: Prompt) -> list[str]:
        try:
            names = self.audio.files_for(prompt)
        except Exception:  # TTS trouble must not end the call: show the text (logged below)
            logger.warning("browser %s: no audio for prompt %s", self.info.call_uid, prompt.key,
                           exc_info=True)
            return []
        return [f"{self.audio_base}{name}.wav" for name in names if name]

    def _emit(self, message: dict[str, Any]) -> None:
        if self.caller_hung_up:
            return
        self._send(message)


def _key(message: dict[str, Any]) -> str:
    key = message.get("key")
    return key if isinstance(key, str) and len(key) == 1 and key in DTMF_KEYS else ""
