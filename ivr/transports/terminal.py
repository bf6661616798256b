"""An Asterisk-side simulator of one FastAGI call, for tests and the terminal phone.

:class:`AsteriskCall` behaves towards the IVR like Asterisk 20's ``res_agi`` does: it connects
(2 s connect timeout, as ``MAX_AGI_CONNECT``), sends the environment in Asterisk's order
(``agi_network``/``agi_network_script`` first, then ``agi_request`` ... ``agi_threadid``, the
``agi_arg_N`` lines, a blank line), then answers each command line as ``res_agi.c`` would:

=======================  =============================================================
command                  reply
=======================  =============================================================
ANSWER                   ``200 result=0``
STREAM FILE f "digits"   ``200 result=0 endpos=<samples>`` (played to the end),
                         ``200 result=<ascii> endpos=<n>`` (interrupted by a key),
                         ``200 result=-1 endpos=<n>`` (hangup, or a missing file)
GET DATA f [ms] [max]    ``200 result=<digits>`` (max reached or ``#``),
                         ``200 result=<digits> (timeout)`` / ``200 result= (timeout)``,
                         ``200 result=`` (only ``#``), ``200 result=-1`` (hangup)
RECORD FILE ...          ``200 result=0 (timeout) endpos=<n>``,
                         ``200 result=<ascii> (dtmf) endpos=<n>``,
                         ``200 result=-1 (hangup) endpos=<n>``
SET VARIABLE n v         ``200 result=1``
GET VARIABLE n           ``200 result=1 (value)`` or ``200 result=0``
VERBOSE / SET CALLERID   ``200 result=1``
NOOP / SET CONTEXT ...   ``200 result=0``
CHANNEL STATUS           ``200 result=4`` (ringing) / ``200 result=6`` (up)
HANGUP                   ``200 result=1``, then the line ``HANGUP``
EXEC app opts            ``200 result=0`` (``-2`` for an unknown application)
EXEC AudioSocket u,h:p   the ``audiosocket`` callable plays Asterisk's side of the stream;
                         ``200 result=0`` when the IVR closed it, ``result=-1`` when it
                         could not connect (the session goes on) or the caller hung up
unknown command          ``510 Invalid or unknown command``
wrong arguments          ``520-Invalid command syntax.  Proper usage follows:`` /
                         usage lines / ``520 End of proper usage.``
after a hangup           the line ``HANGUP`` once, then ``511 Command Not Permitted on a
                         dead channel or intercept routine`` for every command that is not
                         dead-safe (``SET VARIABLE``, ``GET VARIABLE``, ``VERBOSE``,
                         ``NOOP``, ``EXEC``, ``DATABASE ...`` still run, as in Asterisk);
                         with ``exit_on_hangup`` (AGIEXITONHANGUP=yes): ``HANGUP`` twice,
                         then the socket closes
=======================  =============================================================

A hangup during a command is answered first (``result=-1``) and the ``HANGUP`` line follows;
a hangup while the IVR is busy (:meth:`Caller.before_command`) sends ``HANGUP`` before the
reply to the next command.  What the caller does is decided by a :class:`Caller` strategy
(:class:`ScriptedCaller` for tests, :class:`KeyboardCaller` for a terminal).  What the IVR says
is shown as text from the ``<sound>.txt`` sidecars the prompt renderer writes in
``sounds_dir``.  :meth:`AsteriskCall.run` returns a :class:`Transcript`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import shutil
import socket
import sys
import threading
import wave
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from booking_core.masking import mask_phone, scrub

logger = logging.getLogger(__name__)

#: Asterisk's FastAGI connect timeout (``MAX_AGI_CONNECT`` in res_agi.c), seconds.
CONNECT_TIMEOUT = 2.0
ASTERISK_VERSION = "20.5.0"
DTMF = "0123456789*#ABCD"
SAMPLE_RATE = 8000

DEAD_CHANNEL_REPLY = "511 Command Not Permitted on a dead channel or intercept routine"
INVALID_COMMAND_REPLY = "510 Invalid or unknown command"
USAGE_HEAD = "520-Invalid command syntax.  Proper usage follows:"
USAGE_TAIL = "520 End of proper usage."

#: Core Asterisk sounds the simulator treats as always present.
BUILTIN_SOUND_DIRS = frozenset({"silence", "digits", "letters", "phonetic", "dictate"})
BUILTIN_SOUNDS = frozenset({"beep", "silence"})

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def _next_call_number() -> int:
    with _counter_lock:
        return next(_counter)


#: Asterisk's side of ``EXEC AudioSocket``: ``(uuid, "host:port") -> (result, caller hung up)``.
AudioSocketApp = Callable[[str, str], tuple[int, bool]]


class AgiUnreachable(ConnectionError):
    """The FastAGI server could not be reached: Asterisk sets ``AGISTATUS=FAILURE``."""


class SimulatorError(RuntimeError):
    """The IVR misbehaved in a way Asterisk would only wait on forever (e.g. went silent)."""


# --------------------------------------------------------------------------------------------
# Caller strategies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerAction:
    """What the caller does at one input opportunity."""

    kind: Literal["listen", "keys", "silence", "hangup"]
    keys: str = ""
    wav: Path | None = None
    barge_in: bool = False
    text: str | None = None

    @classmethod
    def listen(cls) -> CallerAction:
        """Let the prompt play to its end."""
        return cls("listen")

    @classmethod
    def press(cls, keys: str, *, barge_in: bool = False) -> CallerAction:
        """Press ``keys`` (during a prompt if ``barge_in``)."""
        return cls("keys", keys=keys, barge_in=barge_in)

    @classmethod
    def silence(cls) -> CallerAction:
        """Press and say nothing."""
        return cls("silence")

    @classmethod
    def hang_up(cls, *, barge_in: bool = False) -> CallerAction:
        """Hang up (during a prompt if ``barge_in``)."""
        return cls("hangup", barge_in=barge_in)

    @classmethod
    def speak(cls, wav: Path) -> CallerAction:
        """Say something: ``wav`` is what a ``RECORD FILE`` captures."""
        return cls("silence", wav=Path(wav))

    @classmethod
    def say(cls, text: str) -> CallerAction:
        """Say ``text`` without audio: the recording gets a ``.txt`` transcript beside it,
        which the IVR's transcript recogniser reads (the terminal phone's speech stand-in)."""
        return cls("silence", text=text)


class Caller(Protocol):
    """The person on the phone, as far as the simulator needs one."""

    def before_command(self, command: str) -> bool:
        """Return True to hang up now, while the IVR is busy, before ``command`` runs."""
        ...

    def on_play(self, files: Sequence[str], texts: Sequence[str]) -> CallerAction:
        """A prompt plays (``STREAM FILE``): listen, press a key (barge-in) or hang up."""
        ...

    def on_get_data(self, files: Sequence[str], texts: Sequence[str], max_digits: int,
                    timeout_ms: int) -> CallerAction:
        """The IVR waits for keys after ``files``: press keys, stay silent or hang up."""
        ...

    def on_record(self, path: str, fmt: str) -> CallerAction:
        """The IVR records: speak (``CallerAction.speak``), stay silent, press a key, hang up."""
        ...

    def on_end(self, transcript: Transcript) -> None:
        """The call is over."""
        ...


class BaseCaller:
    """A caller who listens to everything and answers nothing (override what you need)."""

    def before_command(self, command: str) -> bool:
        """Never hangs up while the IVR is busy."""
        return False

    def on_play(self, files: Sequence[str], texts: Sequence[str]) -> CallerAction:
        """Listens to the end."""
        return CallerAction.listen()

    def on_get_data(self, files: Sequence[str], texts: Sequence[str], max_digits: int,
                    timeout_ms: int) -> CallerAction:
        """Stays silent."""
        return CallerAction.silence()

    def on_record(self, path: str, fmt: str) -> CallerAction:
        """Stays silent."""
        return CallerAction.silence()

    def on_end(self, transcript: Transcript) -> None:
        """Nothing to do."""
        return None


ScriptEntry = str | None | CallerAction


class ScriptedCaller(BaseCaller):
    """A caller following a list of answers, one per input opportunity.

    Entries:

    * ``"123"`` -- keys for the next ``GET DATA`` / ``WAIT FOR DIGIT`` / ``RECORD FILE``
      (Asterisk stops reading at ``max_digits`` or ``#``; keys beyond that reach the next
      command, which the IVR has sent by the time a human presses another key);
    * ``None`` -- silence (``GET DATA`` times out);
    * ``"hangup"`` -- hang up at the next input opportunity;
    * ``"!1"`` -- barge-in: press ``1`` during the next ``STREAM FILE`` (``"!12"`` presses ``1``
      there and leaves ``"2"`` as the next entry); ``"!hangup"`` hangs up during it.  Plain
      entries are never consumed by ``STREAM FILE``: the prompt plays to its end;
    * a :class:`CallerAction` -- used as is (``barge_in=True`` ones are taken by ``STREAM FILE``).

    ``hangup_before`` hangs up while the IVR is busy: before the N-th command (1-based, an
    ``int``) or before the first command starting with the given text (``"GET DATA"``).  When
    the script runs out the caller stays silent (or hangs up with ``when_done="hangup"``).
    """

    def __init__(
        self,
        keys: Iterable[ScriptEntry],
        *,
        hangup_before: int | str | None = None,
        when_done: Literal["silence", "hangup"] = "silence",
    ) -> None:
        self.script: list[ScriptEntry] = list(keys)
        self.hangup_before = hangup_before
        self.when_done = when_done
        self._commands = 0

    @property
    def remaining(self) -> list[ScriptEntry]:
        """Entries not used yet."""
        return list(self.script)

    def before_command(self, command: str) -> bool:
        """Hang up at the configured command, once."""
        self._commands += 1
        target = self.hangup_before
        if target is None:
            return False
        hit = (self._commands == target if isinstance(target, int)
               else command.strip().upper().startswith(target.strip().upper()))
        if hit:
            self.hangup_before = None
        return hit

    @staticmethod
    def _is_barge_in(entry: ScriptEntry) -> bool:
        if isinstance(entry, CallerAction):
            return entry.barge_in
        return isinstance(entry, str) and entry.startswith("!")

    def _exhausted(self) -> CallerAction:
        return CallerAction.hang_up() if self.when_done == "hangup" else CallerAction.silence()

    def on_play(self, files: Sequence[str], texts: Sequence[str]) -> CallerAction:
        """Interrupt only with a barge-in entry."""
        if not self.script or not self._is_barge_in(self.script[0]):
            return CallerAction.listen()
        entry = self.script.pop(0)
        if isinstance(entry, CallerAction):
            return entry
        assert isinstance(entry, str)
        body = entry[1:]
        if body.strip().lower() == "hangup":
            return CallerAction.hang_up(barge_in=True)
        if not body:
            return CallerAction.listen()
        if len(body) > 1:
            self.script.insert(0, body[1:])
        return CallerAction.press(body[0], barge_in=True)

    def _next_answer(self) -> CallerAction:
        if not self.script:
            return self._exhausted()
        entry = self.script.pop(0)
        if entry is None:
            return CallerAction.silence()
        if isinstance(entry, CallerAction):
            return entry
        if entry.startswith("say:"):
            return CallerAction.say(entry[4:].strip())
        text = entry.lstrip("!").strip()
        if text.lower() == "hangup":
            return CallerAction.hang_up()
        if not text:
            return CallerAction.silence()
        return CallerAction.press(text)

    def on_get_data(self, files: Sequence[str], texts: Sequence[str], max_digits: int,
                    timeout_ms: int) -> CallerAction:
        """The next entry."""
        return self._next_answer()

    def on_record(self, path: str, fmt: str) -> CallerAction:
        """The next entry (a ``CallerAction.speak(wav)`` provides the recording)."""
        return self._next_answer()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class KeyboardCaller(BaseCaller):
    """A person at a terminal: reads one line of keys per question from ``input``.

    The IVR's words are printed to ``output``; at each question type digits (``*``/``#`` too)
    and Enter; an empty line is silence; ``q`` (or end of input) hangs up.
    """

    def __init__(self, input: TextIO | None = None, output: TextIO | None = None, *,
                 show_files: bool = False) -> None:
        self.input = input if input is not None else sys.stdin
        self.output = output if output is not None else sys.stdout
        self.show_files = show_files
        self._pending: list[str] = []
        self._held_words = ""

    def _say(self, files: Sequence[str], texts: Sequence[str], *, flush: bool = True) -> None:
        """Print what the IVR says: consecutive prompts (a read-back played digit by digit)
        are gathered into one line, printed when the IVR asks something or the call ends."""
        for name, text in zip(files, texts, strict=False):
            if text:
                self._pending.append(f"{text}   [{name}]" if self.show_files else text)
            elif name.split("/", 1)[0] not in BUILTIN_SOUND_DIRS:
                self._pending.append(f"[{name}]")
        if flush and self._pending:
            print("IVR: " + " ".join(self._pending), file=self.output, flush=True)
            self._pending.clear()

    def _ask(self, hint: str, *, speech: bool = False) -> CallerAction:
        if speech and self._held_words:
            words, self._held_words = self._held_words, ""
            return CallerAction.say(words)
        print(f"  ({hint}; Enter = silence, q = hang up) > ", end="", file=self.output,
              flush=True)
        line = self.input.readline()
        if line == "":
            print(file=self.output)
            return CallerAction.hang_up()
        if not _isatty(self.input):  # echo piped input so the printed dialogue reads right
            print(line.rstrip("\n"), file=self.output, flush=True)
        text = line.strip()
        if text.lower() in {"q", "quit", "hangup"}:
            return CallerAction.hang_up()
        if text.lower().startswith("say:"):
            text = text[4:].strip()
        if sum(ch.isalpha() for ch in text) >= 2:  # words (a stray letter is a typo in keys)
            if speech:
                return CallerAction.say(text)
            # Words to a keypad-only question are silence to the IVR; keep them for the next
            # question that listens, as a caller would simply say them again.
            print("  (this question takes keys only; the words wait for the next one)",
                  file=self.output, flush=True)
            self._held_words = text
            return CallerAction.silence()
        keys = "".join(ch for ch in text.upper() if ch in DTMF)
        return CallerAction.press(keys) if keys else CallerAction.silence()

    def on_play(self, files: Sequence[str], texts: Sequence[str]) -> CallerAction:
        """Print what is said; the prompt plays to its end."""
        self._say(files, texts, flush=False)
        return CallerAction.listen()

    def on_get_data(self, files: Sequence[str], texts: Sequence[str], max_digits: int,
                    timeout_ms: int) -> CallerAction:
        """Print the question and read the answer."""
        self._say(files, texts)
        return self._ask(f"keys, up to {max_digits}")

    def on_record(self, path: str, fmt: str) -> CallerAction:
        """The IVR listens: type keys, or words to "say" them (they reach the IVR as a
        transcript beside the recording)."""
        self._say((), ())
        return self._ask("keys, or words to say them", speech=True)

    def on_end(self, transcript: Transcript) -> None:
        """Print how the call ended and what the dialplan would see."""
        self._say((), ())
        shown = {k: v for k, v in transcript.variables.items() if k.startswith("REG_")}
        print(f"-- call ended: AGISTATUS={transcript.agistatus}"
              f" hangup={transcript.hangup_by or 'no'} {shown}", file=self.output, flush=True)


# --------------------------------------------------------------------------------------------
# Transcript
# --------------------------------------------------------------------------------------------


@dataclass
class Transcript:
    """Everything that happened on the simulated channel.

    ``events`` are tuples, by kind:
    ``("answer",)``, ``("play", files, outcome)`` (outcome ``""`` = played to the end, a key,
    ``"hangup"`` or ``"missing"``), ``("get_data", files, max_digits, answer)`` (answer: the
    digits Asterisk returned, ``None`` for a timeout with nothing, ``"hangup"``),
    ``("record", path, fmt, outcome)``, ``("set", name, value)``, ``("get", name)``,
    ``("verbose", message)``, ``("exec", app, options)``, ``("hangup", "ivr" | "caller")``,
    ``("error", code, command)`` for 510/520 and ``("dead", command)`` for 511.
    """

    env: dict[str, str] = field(default_factory=dict)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)
    agistatus: str = ""
    hangup_by: str | None = None

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        """Events of one kind."""
        return [e for e in self.events if e[0] == kind]

    @property
    def commands(self) -> list[str]:
        """Command lines the IVR sent, in order."""
        return [text for direction, text in self.lines if direction == ">>"]


# --------------------------------------------------------------------------------------------
# The simulated channel
# --------------------------------------------------------------------------------------------


def parse_args(line: str) -> list[str]:
    """Split a command line like Asterisk's ``parse_args`` (quotes, backslash escapes)."""
    argv: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                argv.append("")
                current = []
                whitespace = False
            escaped = False
            continue
        if ch in " \t" and not quoted and not escaped:
            if not whitespace:
                argv[-1] = "".join(current)
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            argv.append("")
            current = []
            whitespace = False
        current.append(ch)
        escaped = False
        argv[-1] = "".join(current)
    if argv and not whitespace:
        argv[-1] = "".join(current)
    return argv


def _atoi(text: str) -> int:
    """C ``atoi``: leading integer or 0."""
    digits = ""
    for i, ch in enumerate(text.strip()):
        if ch.isdigit() or (i == 0 and ch in "+-"):
            digits += ch
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return 0


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


_USAGE = object()
Handler = Callable[[list[str]], "list[str] | object"]


@dataclass(frozen=True)
class _Command:
    words: tuple[str, ...]
    dead: bool
    handler: str
    usage: tuple[str, ...]


def _cmd(words: str, dead: bool, handler: str, *usage: str) -> _Command:
    return _Command(tuple(words.split()), dead, handler, usage)


_COMMANDS: tuple[_Command, ...] = (
    _cmd("answer", False, "_answer", "Usage: ANSWER", " Answers the channel if it is not up."),
    _cmd("asyncagi break", True, "_zero", "Usage: ASYNCAGI BREAK"),
    _cmd("channel status", False, "_channel_status", "Usage: CHANNEL STATUS [<channelname>]",
         " Returns the state of the channel (6 = up, 4 = ringing)."),
    _cmd("control stream file", False, "_control_stream_file",
         "Usage: CONTROL STREAM FILE <filename> <escape_digits> [skipms] [ffchar] [rewchr]"
         " [pausechr] [offsetms]"),
    _cmd("database del", True, "_db_del", "Usage: DATABASE DEL <family> <key>"),
    _cmd("database deltree", True, "_db_deltree", "Usage: DATABASE DELTREE <family> [keytree]"),
    _cmd("database get", True, "_db_get", "Usage: DATABASE GET <family> <key>"),
    _cmd("database put", True, "_db_put", "Usage: DATABASE PUT <family> <key> <value>"),
    _cmd("exec", True, "_exec", "Usage: EXEC <application> <options>",
         " Runs a dialplan application; result is what it returned, -2 if it is unknown."),
    _cmd("get data", False, "_get_data", "Usage: GET DATA <file to be streamed> [timeout]"
         " [maxdigits]", " Plays the file and reads digits until the timeout, maxdigits"
         " or '#'."),
    _cmd("get full variable", True, "_get_full_variable",
         "Usage: GET FULL VARIABLE <variablename> [<channel name>]"),
    _cmd("get option", False, "_get_option",
         "Usage: GET OPTION <filename> <escape_digits> [timeout]"),
    _cmd("get variable", True, "_get_variable", "Usage: GET VARIABLE <variablename>"),
    _cmd("hangup", False, "_hangup", "Usage: HANGUP [<channelname>]"),
    _cmd("noop", True, "_zero", "Usage: NOOP"),
    _cmd("receive char", False, "_receive_char", "Usage: RECEIVE CHAR <timeout>"),
    _cmd("receive text", False, "_receive_text", "Usage: RECEIVE TEXT <timeout>"),
    _cmd("record file", False, "_record_file",
         "Usage: RECORD FILE <filename> <format> <escape_digits> <timeout>"
         " [offset samples] [BEEP] [s=silence]",
         " Records until a listed digit, the timeout (ms, -1 = none) or silence (s=seconds)."),
    _cmd("say alpha", False, "_say", "Usage: SAY ALPHA <string> <escape_digits>"),
    _cmd("say date", False, "_say", "Usage: SAY DATE <date> <escape_digits>"),
    _cmd("say datetime", False, "_say",
         "Usage: SAY DATETIME <time> <escape_digits> [format] [timezone]"),
    _cmd("say digits", False, "_say", "Usage: SAY DIGITS <number> <escape_digits>"),
    _cmd("say number", False, "_say", "Usage: SAY NUMBER <number> <escape_digits> [gender]"),
    _cmd("say phonetic", False, "_say", "Usage: SAY PHONETIC <string> <escape_digits>"),
    _cmd("say time", False, "_say", "Usage: SAY TIME <time> <escape_digits>"),
    _cmd("send image", False, "_one_arg_zero", "Usage: SEND IMAGE <image>"),
    _cmd("send text", False, "_one_arg_zero", "Usage: SEND TEXT <text to send>"),
    _cmd("set autohangup", False, "_set_autohangup", "Usage: SET AUTOHANGUP <time>"),
    _cmd("set callerid", False, "_one", "Usage: SET CALLERID <number>"),
    _cmd("set context", False, "_one_arg_zero", "Usage: SET CONTEXT <desired context>"),
    _cmd("set extension", False, "_one_arg_zero", "Usage: SET EXTENSION <new extension>"),
    _cmd("set music", False, "_set_music", "Usage: SET MUSIC <on|off> <class>"),
    _cmd("set priority", False, "_one_arg_zero", "Usage: SET PRIORITY <priority>"),
    _cmd("set variable", True, "_set_variable", "Usage: SET VARIABLE <variablename> <value>",
         " Sets a channel variable; quote values containing spaces."),
    _cmd("speech activate grammar", False, "_zero", "Usage: SPEECH ACTIVATE GRAMMAR <name>"),
    _cmd("speech create", False, "_zero", "Usage: SPEECH CREATE <engine>"),
    _cmd("speech deactivate grammar", False, "_zero",
         "Usage: SPEECH DEACTIVATE GRAMMAR <name>"),
    _cmd("speech destroy", True, "_zero", "Usage: SPEECH DESTROY"),
    _cmd("speech load grammar", False, "_zero",
         "Usage: SPEECH LOAD GRAMMAR <grammar name> <path to grammar>"),
    _cmd("speech recognize", False, "_zero",
         "Usage: SPEECH RECOGNIZE <prompt> <timeout> [offset]"),
    _cmd("speech set", False, "_zero", "Usage: SPEECH SET <name> <value>"),
    _cmd("speech unload grammar", True, "_zero", "Usage: SPEECH UNLOAD GRAMMAR <name>"),
    _cmd("stream file", False, "_stream_file",
         "Usage: STREAM FILE <filename> <escape_digits> [sample offset]",
         " Plays the file; result is 0 when it ended, the ASCII code of an escape digit",
         " pressed during it, or -1 on error or hangup; endpos is the sample position."),
    _cmd("tdd mode", False, "_one_arg_zero", "Usage: TDD MODE <on|off>"),
    _cmd("verbose", True, "_verbose", "Usage: VERBOSE <message> <level>"),
    _cmd("wait for digit", False, "_wait_for_digit", "Usage: WAIT FOR DIGIT <timeout>"),
)

_KNOWN_APPS = frozenset(
    {
        "answer", "background", "dial", "goto", "gosub", "log", "musiconhold", "noop",
        "playback", "playtones", "progress", "queue", "read", "ringing", "saydigits", "set",
        "startmusiconhold", "stopmusiconhold", "transfer", "verbose", "wait",
    }
)


def _find_command(argv: Sequence[str]) -> _Command | None:
    words = tuple(a.lower() for a in argv)
    best: _Command | None = None
    for command in _COMMANDS:
        size = len(command.words)
        if words[:size] == command.words and (best is None or size > len(best.words)):
            best = command
    return best


class AsteriskCall:
    """One simulated incoming call that runs ``AGI(agi://host:port/<script>)``.

    ``caller`` defaults to a :class:`BaseCaller` (listens, never answers).  ``extra_env``
    overrides or adds environment lines (``{"agi_language": "en"}``).  With ``strict_sounds``
    and a ``sounds_dir``, sound files that do not exist there fail like on Asterisk
    (``result=-1`` on a live channel); ``core_sounds=False`` then also makes Asterisk's core
    sounds (``silence/1``, ``beep``...) missing, as on a host without the sound packages.
    ``idle_timeout`` bounds how long the simulator waits
    for the IVR's next command before giving up with :class:`SimulatorError`.

    ``exit_on_hangup`` mimics ``Set(AGIEXITONHANGUP=yes)`` (which ``dialplans/`` uses): on a
    hangup Asterisk sends ``HANGUP``, leaves the AGI loop, sends ``HANGUP`` once more and closes
    the socket, so the IVR sees two ``HANGUP`` lines and the end of the stream instead of 511
    replies.  ``variables`` are channel variables and globals set before ``AGI()`` ran
    (``REG_APPOINTMENT_ID``, ``REG_SOUNDS``...): ``GET VARIABLE`` returns them.
    """

    def __init__(
        self,
        host: str,
        port: int,
        script: str = "registry",
        caller_number: str = "+79161234567",
        uniqueid: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        sounds_dir: str | Path | None = None,
        caller: Caller | None = None,
        *,
        caller_name: str | None = None,
        dnid: str = "unknown",
        language: str = "ru",
        channel: str | None = None,
        agi_args: Sequence[str] = (),
        answered: bool = False,
        connect_timeout: float = CONNECT_TIMEOUT,
        idle_timeout: float = 30.0,
        strict_sounds: bool = False,
        max_commands: int = 5000,
        exit_on_hangup: bool = False,
        variables: Mapping[str, str] | None = None,
        core_sounds: bool = True,
        audiosocket: AudioSocketApp | None = None,
    ) -> None:
        number = _next_call_number()
        self.host = host
        self.port = int(port)
        self.script = script
        self.caller_number = caller_number
        self.uniqueid = uniqueid or f"1700000000.{number}"
        self.channel = channel or f"PJSIP/trunk-{number:08x}"
        self.caller: Caller = caller if caller is not None else BaseCaller()
        self.sounds_dir = Path(sounds_dir) if sounds_dir is not None else None
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.strict_sounds = strict_sounds
        self.core_sounds = core_sounds
        self.max_commands = max_commands
        self.transcript = Transcript()
        self._typed_ahead = ""
        self.env = self._build_env(number, caller_name, dnid, language, agi_args, extra_env)
        self.transcript.env = dict(self.env)
        self._answered = answered
        self._dead = False
        self._failed = False
        self._hangup_after_reply = False
        self._exited = False
        self.exit_on_hangup = exit_on_hangup
        self.preset_variables = dict(variables or {})
        self._sock: socket.socket | None = None
        self._database: dict[tuple[str, str], str] = {}
        self.audiosocket = audiosocket

    # -- environment -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The ``AGI()`` argument this call runs."""
        return f"agi://{self.host}:{self.port}/{self.script}"

    def _build_env(self, number: int, caller_name: str | None, dnid: str, language: str,
                   agi_args: Sequence[str], extra: Mapping[str, str] | None) -> dict[str, str]:
        env: dict[str, str] = {"agi_network": "yes"}
        if self.script:
            env["agi_network_script"] = self.script
        env.update(
            {
                "agi_request": self.url,
                "agi_channel": self.channel,
                "agi_language": language,
                "agi_type": self.channel.split("/", 1)[0],
                "agi_uniqueid": self.uniqueid,
                "agi_version": ASTERISK_VERSION,
                "agi_callerid": self.caller_number or "unknown",
                "agi_calleridname": caller_name or "unknown",
                "agi_callingpres": "0",
                "agi_callingani2": "0",
                "agi_callington": "0",
                "agi_callingtns": "0",
                "agi_dnid": dnid or "unknown",
                "agi_rdnis": "unknown",
                "agi_context": "registry-incoming",
                "agi_extension": "s",
                "agi_priority": "2",
                "agi_enhanced": "0.0",
                "agi_accountcode": "",
                "agi_threadid": str(140_000_000_000_000 + number),
            }
        )
        for index, value in enumerate(agi_args, start=1):
            env[f"agi_arg_{index}"] = str(value)
        if extra:
            env.update({str(k): str(v) for k, v in extra.items()})
        return env

    # -- running ---------------------------------------------------------------------------

    def run(self) -> Transcript:
        """Place the call and run it until the IVR closes the connection.

        Raises :class:`AgiUnreachable` when the server cannot be reached within the connect
        timeout (Asterisk's ``AGISTATUS=FAILURE``) and :class:`SimulatorError` when the IVR
        sends nothing for ``idle_timeout`` seconds.
        """
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            self.transcript.agistatus = "FAILURE"
            raise AgiUnreachable(
                f"FastAGI connection to {self.url} failed ({exc}); Asterisk would set"
                " AGISTATUS=FAILURE and the dialplan would queue the caller for an agent"
            ) from exc
        self._sock = sock
        logger.debug("sim %s: connected to %s as %s", self.uniqueid, self.url,
                     mask_phone(self.caller_number))
        reader = None
        try:
            sock.settimeout(self.idle_timeout)
            reader = sock.makefile("rb")
            env_text = "".join(f"{k}: {v}\n" for k, v in self.env.items()) + "\n"
            self._send_raw(env_text)
            commands = 0
            while not self._exited:
                line = self._read_command(reader)
                if line is None:
                    break
                commands += 1
                if not self._dead and (commands > self.max_commands
                                       or self.caller.before_command(line)):
                    self._caller_hangs_up(now=True)
                    if self._exited:  # AGIEXITONHANGUP: the command is never read
                        break
                self._dispatch(line)
        except OSError as exc:
            if isinstance(exc, TimeoutError):
                raise SimulatorError(
                    f"the IVR sent no command for {self.idle_timeout} s on {self.uniqueid}"
                ) from exc
            logger.debug("sim %s: connection ended: %s", self.uniqueid, exc)
        finally:
            try:
                if reader is not None:
                    reader.close()
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            finally:
                self._finish()
        return self.transcript

    def _finish(self) -> None:
        t = self.transcript
        if not t.agistatus:
            t.agistatus = "HANGUP" if self._dead else ("FAILURE" if self._failed else "SUCCESS")
        try:
            self.caller.on_end(t)
        except Exception:  # a broken printer must not hide the transcript
            logger.exception("sim %s: caller.on_end failed", self.uniqueid)

    def _read_command(self, reader: Any) -> str | None:
        raw = reader.readline(65536)
        if not raw:
            return None
        line = raw.decode("utf-8", errors="replace")
        if line.endswith("\n"):
            line = line[:-1]
        self.transcript.lines.append((">>", line))
        return line

    def _send_raw(self, text: str) -> None:
        assert self._sock is not None
        self._sock.sendall(text.encode("utf-8"))

    def _reply(self, *lines: str) -> None:
        for line in lines:
            self.transcript.lines.append(("<<", line))
        self._send_raw("".join(f"{line}\n" for line in lines))

    def _caller_hangs_up(self, *, now: bool) -> None:
        """The caller hangs up; ``now`` = while the IVR is busy (HANGUP goes out at once)."""
        if self._dead:
            return
        self.transcript.hangup_by = self.transcript.hangup_by or "caller"
        self.transcript.events.append(("hangup", "caller"))
        if now:
            self._channel_died()
        else:
            self._hangup_after_reply = True

    def _channel_died(self) -> None:
        """Asterisk noticed the hangup: ``HANGUP`` goes out; with AGIEXITONHANGUP the AGI
        loop ends at once and the closing ``HANGUP`` follows before the socket closes."""
        self._dead = True
        self._reply("HANGUP")
        if self.exit_on_hangup:
            self._reply("HANGUP")
            self._exited = True

    def _dispatch(self, line: str) -> None:
        argv = parse_args(line)
        command = _find_command(argv) if argv else None
        if command is None:
            self.transcript.events.append(("error", 510, line))
            self._reply(INVALID_COMMAND_REPLY)
            return
        if self._dead and not command.dead:
            self.transcript.events.append(("dead", line))
            self._reply(DEAD_CHANNEL_REPLY)
            return
        handler: Handler = getattr(self, command.handler)
        reply = handler(argv)
        if reply is _USAGE:
            self.transcript.events.append(("error", 520, line))
            self._reply(USAGE_HEAD, *command.usage, USAGE_TAIL)
        else:
            assert isinstance(reply, list)
            self._reply(*reply)
        if self._hangup_after_reply:
            self._hangup_after_reply = False
            self._channel_died()

    # -- sounds ----------------------------------------------------------------------------

    def _sound_path(self, name: str) -> Path | None:
        path = Path(name)
        if path.is_absolute():
            return path
        if self.sounds_dir is None:
            return None
        return self.sounds_dir / name

    @staticmethod
    def _is_builtin(name: str) -> bool:
        return name in BUILTIN_SOUNDS or name.split("/", 1)[0] in BUILTIN_SOUND_DIRS

    def _exists(self, name: str) -> bool:
        if self._is_builtin(name):
            return self.core_sounds or not self.strict_sounds
        if not self.strict_sounds:
            return True
        base = self._sound_path(name)
        if base is None:
            return True
        return any(base.parent.glob(base.name + ".*"))

    def _text(self, name: str) -> str:
        base = self._sound_path(name)
        if base is None or self._is_builtin(name):
            return ""
        sidecar = base.parent / (base.name + ".txt")
        try:
            return sidecar.read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    def _length(self, name: str) -> int:
        """The file's length in 8 kHz samples (from the WAV, else from the text, else 2 s)."""
        base = self._sound_path(name)
        if base is not None:
            wav = base.parent / (base.name + ".wav")
            try:
                with wave.open(str(wav), "rb") as handle:
                    rate = handle.getframerate() or SAMPLE_RATE
                    return int(handle.getnframes() * SAMPLE_RATE / rate)
            except (OSError, wave.Error, EOFError):
                pass
        text = self._text(name)
        if text:
            return max(SAMPLE_RATE // 2, len(text) * 640)
        if name.startswith("silence/"):
            return SAMPLE_RATE * max(1, _atoi(name.split("/", 1)[1]))
        return 2 * SAMPLE_RATE

    def _hear(self, files: Sequence[str]) -> list[str]:
        texts = [self._text(f) for f in files]
        self.transcript.said.extend(t for t in texts if t)
        return texts

    # -- command handlers (argv includes the command words) --------------------------------

    def _zero(self, argv: list[str]) -> list[str]:
        return ["200 result=0"]

    def _one(self, argv: list[str]) -> list[str]:
        return ["200 result=1"]

    def _one_arg_zero(self, argv: list[str]) -> list[str] | object:
        words = 2 if argv[0].lower() in {"set", "send", "tdd"} else 1
        if len(argv) != words + 1:
            return _USAGE
        return ["200 result=0"]

    def _answer(self, argv: list[str]) -> list[str]:
        self._answered = True
        self.transcript.events.append(("answer",))
        return ["200 result=0"]

    def _channel_status(self, argv: list[str]) -> list[str] | object:
        state = 6 if self._answered else 4
        if len(argv) == 2:
            return [f"200 result={state}"]
        if len(argv) == 3:
            return [f"200 result={state}"] if argv[2] == self.channel else ["200 result=-1"]
        return _USAGE

    def _stream_file(self, argv: list[str]) -> list[str] | object:
        if not 4 <= len(argv) <= 5 or (len(argv) == 5 and not _is_int(argv[4])):
            return _USAGE
        return self._play(argv[2], argv[3], int(argv[4]) if len(argv) == 5 else 0)

    def _control_stream_file(self, argv: list[str]) -> list[str] | object:
        if not 5 <= len(argv) <= 11:
            return _USAGE
        return self._play(argv[3], argv[4], 0)

    def _get_option(self, argv: list[str]) -> list[str] | object:
        if not 4 <= len(argv) <= 5:
            return _USAGE
        return self._play(argv[2], argv[3], 0)

    def _play(self, name: str, escape: str, offset: int) -> list[str]:
        if not self._exists(name):
            self._failed = True
            self.transcript.events.append(("play", (name,), "missing"))
            return [f"200 result=-1 endpos={offset}"]
        texts = self._hear([name])
        length = self._length(name)
        if self._typed_ahead:
            action, self._typed_ahead = CallerAction.press(self._typed_ahead), ""
            if action.keys[0] in escape:
                self._typed_ahead = action.keys[1:]
        else:
            action = self.caller.on_play([name], texts)
        if action.kind == "hangup":
            self.transcript.events.append(("play", (name,), "hangup"))
            self._caller_hangs_up(now=False)
            return [f"200 result=-1 endpos={offset + length // 2}"]
        if action.kind == "keys" and action.keys and action.keys[0] in escape:
            key = action.keys[0]
            self.transcript.events.append(("play", (name,), key))
            return [f"200 result={ord(key)} endpos={offset + length // 2}"]
        self.transcript.events.append(("play", (name,), ""))
        return [f"200 result=0 endpos={max(offset, length)}"]

    def _get_data(self, argv: list[str]) -> list[str] | object:
        if len(argv) < 3:
            return _USAGE
        name = argv[2]
        timeout = _atoi(argv[3]) if len(argv) >= 4 else 0
        max_digits = _atoi(argv[4]) if len(argv) >= 5 else 1024
        files = (name,)
        if max_digits <= 0 or (name and not self._exists(name)):
            self.transcript.events.append(("get_data", files, max_digits, "missing"))
            return ["200 result=-1"]
        texts = self._hear([name]) if name else []
        timeout_ms = timeout if timeout > 0 else 6000
        if self._typed_ahead:
            # Keys typed in one go while a recording ran: the first stopped the recording,
            # the rest arrive here, as they would on a real line.
            action, self._typed_ahead = CallerAction.press(self._typed_ahead), ""
        else:
            action = self.caller.on_get_data(list(files), texts, max_digits, timeout_ms)
        if action.kind == "hangup":
            self.transcript.events.append(("get_data", files, max_digits, "hangup"))
            self._caller_hangs_up(now=False)
            return ["200 result=-1"]
        keys = action.keys if action.kind == "keys" else ""
        collected = ""
        for i, key in enumerate(keys):
            if key == "#" and not collected:
                self._typed_ahead = keys[i + 1:]
                self.transcript.events.append(("get_data", files, max_digits, ""))
                return ["200 result="]
            if key != "#":
                collected += key
            if key == "#" or len(collected) >= max_digits:
                # What the caller presses after the answer is complete reaches the next
                # command: the IVR sends it within milliseconds, long before a human's next
                # key (a "#" after a full policy number interrupts the next question).
                self._typed_ahead = keys[i + 1:]
                self.transcript.events.append(("get_data", files, max_digits, collected))
                return [f"200 result={collected}"]
        self.transcript.events.append(("get_data", files, max_digits, collected or None))
        return [f"200 result={collected} (timeout)"]

    def _wait_for_digit(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 4 or not _is_int(argv[3]):
            return _USAGE
        action = self.caller.on_get_data([], [], 1, int(argv[3]))
        if action.kind == "hangup":
            self.transcript.events.append(("get_data", (), 1, "hangup"))
            self._caller_hangs_up(now=False)
            return ["200 result=-1"]
        if action.kind == "keys" and action.keys:
            self.transcript.events.append(("get_data", (), 1, action.keys[0]))
            return [f"200 result={ord(action.keys[0])}"]
        self.transcript.events.append(("get_data", (), 1, None))
        return ["200 result=0"]

    def _record_file(self, argv: list[str]) -> list[str] | object:
        if len(argv) < 6 or not _is_int(argv[5]):
            return _USAGE
        path, fmt, escape = argv[2], argv[3], argv[4]
        offset = _atoi(argv[6]) if len(argv) > 6 and _is_int(argv[6]) else 0
        action = self.caller.on_record(path, fmt)
        endpos = offset
        if action.wav is not None:
            endpos = offset + self._store_recording(action.wav, path, fmt)
        elif action.text is not None:
            endpos = offset + self._store_transcript(action.text, path, fmt)
        if action.kind == "hangup":
            self.transcript.events.append(("record", path, fmt, "hangup"))
            self._caller_hangs_up(now=False)
            return [f"200 result=-1 (hangup) endpos={endpos}"]
        if action.kind == "keys" and action.keys and action.keys[0] in escape:
            key = action.keys[0]
            self._typed_ahead = action.keys[1:]
            self.transcript.events.append(("record", path, fmt, key))
            return [f"200 result={ord(key)} (dtmf) endpos={endpos}"]
        heard = "wav" if action.wav else ("text" if action.text is not None else "")
        self.transcript.events.append(("record", path, fmt, heard))
        return [f"200 result=0 (timeout) endpos={endpos}"]

    def _store_transcript(self, text: str, path: str, fmt: str) -> int:
        """Write a short silent recording plus its transcript; return its length in samples."""
        target = Path(f"{path}.{fmt}")
        if not target.is_absolute():
            if self.sounds_dir is None:
                return 0
            target = self.sounds_dir / target
        target.parent.mkdir(parents=True, exist_ok=True)
        samples = SAMPLE_RATE // 2
        with wave.open(str(target), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(SAMPLE_RATE)
            handle.writeframes(b"\x00\x00" * samples)
        target.with_suffix(".txt").write_text(text, encoding="utf-8")
        return samples

    def _store_recording(self, wav: Path, path: str, fmt: str) -> int:
        """Copy the caller's WAV where Asterisk would write it; return its length in samples."""
        target = Path(f"{path}.{fmt}")
        if not target.is_absolute():
            if self.sounds_dir is None:
                logger.warning("sim %s: relative RECORD FILE path and no sounds_dir: %s",
                               self.uniqueid, path)
                return 0
            target = self.sounds_dir / target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wav, target)
        try:
            with wave.open(str(wav), "rb") as handle:
                rate = handle.getframerate() or SAMPLE_RATE
                return int(handle.getnframes() * SAMPLE_RATE / rate)
        except (OSError, wave.Error, EOFError):
            return 0

    def _say(self, argv: list[str]) -> list[str] | object:
        if not 4 <= len(argv) <= 6:
            return _USAGE
        self.transcript.events.append(("say", " ".join(argv[:2]).upper(), argv[2]))
        return ["200 result=0"]

    def _receive_char(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 3:
            return _USAGE
        return ["200 result=0 (timeout)"]

    def _receive_text(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 3:
            return _USAGE
        return ["200 result=-1"]

    def _set_autohangup(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 3:
            return _USAGE
        try:
            float(argv[2])
        except ValueError:
            return _USAGE
        return ["200 result=0"]

    def _set_music(self, argv: list[str]) -> list[str] | object:
        if len(argv) < 3:
            return _USAGE
        return ["200 result=0"]

    def _set_variable(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 4:
            return _USAGE
        name, value = argv[2], argv[3]
        self.transcript.variables[name] = value
        self.transcript.events.append(("set", name, value))
        return ["200 result=1"]

    def _lookup(self, name: str) -> str | None:
        builtins = {
            "CHANNEL": self.channel,
            "UNIQUEID": self.uniqueid,
            "EXTEN": self.env.get("agi_extension", ""),
            "CONTEXT": self.env.get("agi_context", ""),
            "CALLERID(num)": self.caller_number,
            "CALLERID(name)": self.env.get("agi_calleridname", ""),
            "CHANNEL(language)": self.env.get("agi_language", ""),
            "AGISTATUS": "",
        }
        if name in self.transcript.variables:
            return self.transcript.variables[name]
        if name in self.preset_variables:
            return self.preset_variables[name]
        value = builtins.get(name)
        return value or None

    def _get_variable(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 3:
            return _USAGE
        self.transcript.events.append(("get", argv[2]))
        value = self._lookup(argv[2])
        return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]

    def _get_full_variable(self, argv: list[str]) -> list[str] | object:
        if len(argv) not in (4, 5):
            return _USAGE
        if len(argv) == 5 and argv[4] != self.channel:
            return ["200 result=0"]
        text = argv[3]
        out = ""
        while "${" in text:
            before, _, rest = text.partition("${")
            name, _, text = rest.partition("}")
            out += before + (self._lookup(name) or "")
        return [f"200 result=1 ({out + text})"]

    def _verbose(self, argv: list[str]) -> list[str] | object:
        if len(argv) < 2:
            return _USAGE
        self.transcript.events.append(("verbose", argv[1]))
        logger.debug("sim %s: VERBOSE %s", self.uniqueid, scrub(argv[1]))
        return ["200 result=1"]

    def _hangup(self, argv: list[str]) -> list[str] | object:
        if len(argv) > 2:
            return _USAGE
        if len(argv) == 2 and argv[1] != self.channel:
            return ["200 result=-1"]
        self.transcript.hangup_by = self.transcript.hangup_by or "ivr"
        self.transcript.events.append(("hangup", "ivr"))
        self._hangup_after_reply = True
        return ["200 result=1"]

    def _exec(self, argv: list[str]) -> list[str] | object:
        if len(argv) < 2:
            return _USAGE
        app = argv[1]
        options = argv[2] if len(argv) > 2 else ""
        self.transcript.events.append(("exec", app, options))
        lowered = app.lower()
        if lowered == "audiosocket":
            return self._audiosocket(options)
        if lowered not in _KNOWN_APPS and lowered != "hangup":
            return ["200 result=-2"]
        if lowered == "hangup":
            if not self._dead:
                self.transcript.hangup_by = self.transcript.hangup_by or "ivr"
                self._hangup_after_reply = True
            return ["200 result=-1"]
        if lowered == "set" and "=" in options:
            name, _, value = options.partition("=")
            self.transcript.variables[name.strip()] = value
            self.transcript.events.append(("set", name.strip(), value))
        return ["200 result=0"]

    def _audiosocket(self, options: str) -> list[str]:
        """``AudioSocket(uuid,host:port)``: the ``audiosocket`` callable plays Asterisk's side
        of the stream and returns the application's result and whether the caller hung up.

        As in Asterisk 22's ``res_agi.c`` ``handle_exec``: the application's result is sent as
        ``200 result=<n>`` and returned as the handler's status, which only ends the session
        for ``RESULT_FAILURE`` (2): a ``-1`` (could not connect, stream broken) leaves the AGI
        session going on a live channel, and does not make ``AGISTATUS`` ``FAILURE``.  A
        caller hangup is then reported like any other (``HANGUP``)."""
        call_uuid, _, server = options.partition(",")
        if self.audiosocket is None:
            result, hung_up = -1, False  # nothing listens: the connect fails
        else:
            result, hung_up = self.audiosocket(call_uuid.strip(), server.strip())
        self.transcript.events.append(("audiosocket", result))
        if hung_up:
            self._caller_hangs_up(now=False)
        return [f"200 result={result}"]

    def _db_get(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 4:
            return _USAGE
        value = self._database.get((argv[2], argv[3]))
        return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]

    def _db_put(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 5:
            return _USAGE
        self._database[(argv[2], argv[3])] = argv[4]
        return ["200 result=1"]

    def _db_del(self, argv: list[str]) -> list[str] | object:
        if len(argv) != 4:
            return _USAGE
        return ["200 result=1" if self._database.pop((argv[2], argv[3]), None) is not None
                else "200 result=0"]

    def _db_deltree(self, argv: list[str]) -> list[str] | object:
        if not 3 <= len(argv) <= 4:
            return _USAGE
        family = argv[2]
        keys = [k for k in self._database if k[0] == family]
        for key in keys:
            del self._database[key]
        return ["200 result=1" if keys else "200 result=0"]
