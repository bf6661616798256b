"""A scripted caller: the transport for flow tests and the caller-time benchmark.

A script is a list of what the caller does at each chance to answer:

* ``"123"`` — keys pressed for the next question (``#`` ends early like on a phone; keys
  after a complete answer carry into the next question, as on a real line);
* ``None`` — silence (the question times out);
* ``"!1"`` — barge-in: the key is pressed *while* the next prompt plays, interrupting it;
* ``Speech("пять восемь")`` — words recognised for the next question;
* ``"hangup"`` — the caller hangs up.

When the script runs out the caller hangs up.  The transcript lists every prompt played (by
catalogue key, with its text) and every channel variable set, for tests to assert on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from ivr.io import (
    BufferedCallIO,
    CallerHangup,
    CallerInput,
    CallInfo,
    Digits,
    Grammar,
    Prompt,
    Speech,
    Timeout,
)

logger = logging.getLogger(__name__)

ScriptStep = str | None | Speech


@dataclass
class Transcript:
    """What happened on the call, in order."""

    events: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, key, text)
    variables: dict[str, str] = field(default_factory=dict)
    hung_up_by_ivr: bool = False

    @property
    def keys(self) -> list[str]:
        """The catalogue keys of every prompt the caller heard (or was asked with)."""
        return [key for kind, key, _ in self.events if kind in ("play", "ask")]

    @property
    def text(self) -> str:
        return "\n".join(text for kind, _, text in self.events if kind in ("play", "ask"))

    @property
    def escalated(self) -> bool:
        return self.variables.get("REG_ESCALATE") == "1"


class ScriptedCallIO(BufferedCallIO):
    """Implements the dialogue port by reading the caller's part from a script."""

    def __init__(self, script: Iterable[ScriptStep], info: CallInfo | None = None) -> None:
        super().__init__(info or CallInfo(call_uid="scripted", caller_number="+79161234567"))
        self.script = list(script)
        self.transcript = Transcript()
        # (prompt key or "", max_digits, grammar name or None: was speech accepted?)
        self.collects: list[tuple[str, int, str | None]] = []

    def _next(self) -> ScriptStep:
        if not self.script:
            raise CallerHangup("script finished")
        step = self.script.pop(0)
        if step == "hangup":
            raise CallerHangup("caller hung up")
        return step

    def _stream(self, prompt: Prompt) -> str:
        self.transcript.events.append(("play", prompt.key, prompt.text))
        if self.script and isinstance(self.script[0], str) and self.script[0].startswith("!"):
            return str(self.script.pop(0))[1:2]
        return ""

    def _get_data(self, prompt: Prompt | None, max_digits: int, timeout: float,
                  terminator: str, grammar: Grammar | None) -> CallerInput:
        if prompt is not None:
            self.transcript.events.append(("ask", prompt.key, prompt.text))
        self.collects.append((prompt.key if prompt else "", max_digits,
                              grammar.name if grammar else None))
        step = self._next()
        if step is None:
            return Timeout()
        if isinstance(step, Speech):
            return step
        keys = step.lstrip("!")
        ended = keys.find(terminator) if terminator else -1
        if 0 <= ended < max_digits:  # "#" ended the answer before it was complete
            self._pending += keys[ended + 1:]
            return Digits(keys[:ended])
        # Keys pressed after the answer was complete (a "#" after a full number, or a key
        # too many) reach the next question, as they do on a real line.
        self._pending += keys[max_digits:]
        return Digits(keys[:max_digits])

    def set_variable(self, name: str, value: str) -> None:
        self.transcript.events.append(("set", name, value))
        self.transcript.variables[name] = value

    def hangup(self) -> None:
        self.transcript.hung_up_by_ivr = True
        self.transcript.events.append(("hangup", "", ""))
