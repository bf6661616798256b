"""FastAGI transport: a threaded TCP server speaking the Asterisk Gateway Interface.

Asterisk runs ``AGI(agi://IVR_HOST:4573/registry)``; every call opens one TCP connection, sends
its environment (``agi_xxx: value`` lines and a blank line) and then waits for commands, one reply
per command.  This module knows nothing of call logic: it parses the environment, picks the
route registered for the script name (``registry``, ``reminder``...) and hands it an
:class:`AgiRequest` whose :attr:`AgiRequest.agi` is a :class:`SocketAGI` -- pyst2's
:class:`asterisk.agi.AGI` made safe for sockets and threads.

Protocol facts this module relies on (checked against Asterisk's ``res/res_agi.c``):

* FastAGI sends ``agi_network: yes`` and ``agi_network_script: <path>`` first, then the normal
  AGI environment starting with ``agi_request``, then a blank line.
* Replies are ``200 result=<n> [(data)] [key=value...]``; ``510 Invalid or unknown command``;
  ``511 Command Not Permitted on a dead channel or intercept routine``; and a multi-line
  ``520-Invalid command syntax.  Proper usage follows:`` ... ``520 End of proper usage.``.
* When the caller hangs up, Asterisk writes the line ``HANGUP`` on the socket at the moment it
  notices (so it may precede the reply of the next command); afterwards only "dead-safe"
  commands (``SET VARIABLE``, ``GET VARIABLE``, ``VERBOSE``, ``NOOP``, ``EXEC``, ``DATABASE *``...)
  run, every other command gets ``511``.  A command interrupted by the hangup answers
  ``200 result=-1`` first and the ``HANGUP`` line follows it.

How the replies map onto the dialogue port's exceptions (:mod:`ivr.io`):

* end of stream, ``HANGUP``, ``511``, ``(hangup)``, a broken connection -> :class:`AgiCallerHangup`
  (an :class:`ivr.io.CallerHangup` and a pyst2 :class:`~asterisk.agi.AGIHangup`);
* ``result=-1`` -> the channel is probed with ``CHANNEL STATUS`` (not permitted on a dead
  channel): dead -> :class:`AgiCallerHangup`; alive -> :class:`AgiCommandFailed` (a
  :class:`ivr.io.TransportFailure`; e.g. a missing sound file, which Asterisk also reports as -1);
* ``510`` / ``520`` / garbled or unexpected replies / reply timeouts -> subclasses of
  :class:`AgiProtocolError` (an :class:`ivr.io.TransportFailure` and a pyst2 error).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import selectors
import socket
import socketserver
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlsplit

from asterisk.agi import (
    AGI,
    AGIAppError,
    AGIError,
    AGIHangup,
    AGIInvalidCommand,
    AGIResultHangup,
    AGISIGPIPEHangup,
    AGIUnknownError,
    AGIUsageError,
    re_kv,
)

from booking_core.masking import mask_phone, scrub
from ivr.io import CallerHangup, CallInfo, TransportFailure

logger = logging.getLogger(__name__)

DEFAULT_PORT = 4573
#: Seconds a new connection may take to send its whole environment.
DEFAULT_ENV_TIMEOUT = 10.0
#: Seconds to wait for the reply to one command (a prompt plus a digit timeout fit easily).
DEFAULT_REPLY_TIMEOUT = 300.0
#: Seconds a peer may take to answer the first command after its environment: Asterisk
#: answers at once, so a peer silent for longer is not a call and frees its place.
DEFAULT_FIRST_REPLY_TIMEOUT = 5.0
#: Concurrent calls one server serves; more are refused (see :meth:`AgiServer._admit`).
DEFAULT_MAX_CALLS = 200
#: Refused connections being told so at once, at most (more are reset outright).
MAX_REFUSING = 64
#: Seconds a refused connection gets to read the verdict and go.
REFUSAL_LINGER = 2.0
#: Seconds to wait for the reply that follows an asynchronous ``HANGUP`` line.
HANGUP_REPLY_TIMEOUT = 5.0
#: Seconds allowed for the escalation commands sent after a failed route.
ESCALATION_TIMEOUT = 5.0

MAX_LINE = 8192
MAX_ENV_LINES = 256
MAX_USAGE_LINES = 200  # kept for the log
MAX_USAGE_DRAIN = 2000  # read past, to find the end of an over-long usage body
#: What :meth:`SocketAGI._read_line` returns for a line it had to skip for its length.
_OVERLONG = "\x00overlong"

#: Commands Asterisk still executes after the channel hung up (``dead`` flag in res_agi.c).
DEAD_SAFE_COMMANDS = frozenset(
    {
        "ASYNCAGI BREAK",
        "DATABASE DEL",
        "DATABASE DELTREE",
        "DATABASE GET",
        "DATABASE PUT",
        "EXEC",
        "GET FULL VARIABLE",
        "GET VARIABLE",
        "NOOP",
        "SET VARIABLE",
        "SPEECH DESTROY",
        "SPEECH UNLOAD GRAMMAR",
        "VERBOSE",
    }
)

#: Commands whose ``result=-1`` is a normal answer when they name another channel.
_MINUS_ONE_IS_AN_ANSWER = frozenset({"CHANNEL STATUS", "HANGUP"})

#: Commands whose replies carry what the caller typed or said: logged without the value.
_SENSITIVE_REPLIES = frozenset({"GET DATA", "WAIT FOR DIGIT", "GET OPTION", "RECEIVE CHAR",
                                "RECEIVE TEXT", "SPEECH RECOGNIZE"})

_ENV_LINE = re.compile(r"^(agi_[A-Za-z0-9_]+):[ \t]?(.*)$")
_REPLY_LINE = re.compile(r"^(\d{3})([ -])(.*)$")
_EMPTY_RESULT = re.compile(r"^result=(?=\s|$)\s*(?:\((?P<data>[^)]*)\))?")
_RESULT_VALUE = re.compile(r"(result=)(\S+)")
_PRE_QUOTED = re.compile(r'^"[^"\\]*"$')

Route = Callable[["AgiRequest"], None]


# --------------------------------------------------------------------------------------------
# Exceptions: each is both the dialogue port's exception and the matching pyst2 one, so code
# written against either hierarchy catches them.
# --------------------------------------------------------------------------------------------


class AgiCallerHangup(CallerHangup, AGIHangup):
    """The caller hung up or the channel/connection is gone (EOF, ``HANGUP``, 511, result -1)."""


class AgiResultHangup(AgiCallerHangup, AGIResultHangup):
    """A reply said so itself: ``result=-1`` on a dead channel or ``(hangup)`` data."""


class AgiConnectionLost(AgiCallerHangup, AGISIGPIPEHangup):
    """Writing to or reading from the socket failed: Asterisk closed the connection."""


class AgiProtocolError(TransportFailure, AGIError):
    """The AGI conversation broke in a way that is not a hangup."""


class AgiInvalidCommand(AgiProtocolError, AGIInvalidCommand):
    """``510 Invalid or unknown command``."""


class AgiUsageError(AgiProtocolError, AGIUsageError):
    """``520`` usage reply: the command's arguments were wrong."""


class AgiGarbledReply(AgiProtocolError, AGIUnknownError):
    """A reply line that is not AGI (or an unexpected code / value)."""


class AgiReplyTimeout(AgiProtocolError):
    """No reply arrived within the reply timeout."""


class AgiCommandFailed(AgiProtocolError, AGIAppError):
    """``result=-1`` on a live channel (e.g. a sound file Asterisk could not open)."""


class AgiEnvError(TransportFailure):
    """The connection did not start with a valid AGI environment (garbage, EOF, timeout)."""


# --------------------------------------------------------------------------------------------
# pyst2 over a socket
# --------------------------------------------------------------------------------------------


class _NullWriter:
    """Sink for pyst2's debug ``stderr.write`` calls (logging is done here instead)."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None


def quote_arg(value: object) -> str:
    """Quote one AGI argument the way Asterisk's ``parse_args`` unquotes it.

    Backslashes and double quotes are escaped; line breaks (which would end the command) are
    replaced by spaces.
    """
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _command_verb(command: str) -> str:
    """The command's name as Asterisk matches it (``"stream file x"`` -> ``"STREAM FILE"``)."""
    words = command.upper().split()
    for size in (3, 2, 1):
        verb = " ".join(words[:size])
        if verb in DEAD_SAFE_COMMANDS or verb in _KNOWN_VERBS:
            return verb
    return " ".join(words[:2])


_KNOWN_VERBS = frozenset(
    {
        "ANSWER", "CHANNEL STATUS", "CONTROL STREAM FILE", "GET DATA", "GET OPTION", "HANGUP",
        "RECEIVE CHAR", "RECEIVE TEXT", "RECORD FILE", "SAY ALPHA", "SAY DATE", "SAY DATETIME",
        "SAY DIGITS", "SAY NUMBER", "SAY PHONETIC", "SAY TIME", "SEND IMAGE", "SEND TEXT",
        "SET AUTOHANGUP", "SET CALLERID", "SET CONTEXT", "SET EXTENSION", "SET MUSIC",
        "SET PRIORITY", "SPEECH ACTIVATE GRAMMAR", "SPEECH CREATE", "SPEECH DEACTIVATE GRAMMAR",
        "SPEECH LOAD GRAMMAR", "SPEECH RECOGNIZE", "SPEECH SET", "STREAM FILE", "TDD MODE",
        "WAIT FOR DIGIT",
    }
)


class SocketAGI(AGI):
    """pyst2's :class:`~asterisk.agi.AGI` over one FastAGI connection, usable in any thread.

    pyst2's own ``__init__`` installs a SIGHUP handler (impossible outside the main thread, and
    meaningless for FastAGI, where the hangup arrives as a ``HANGUP`` line) and its reply reader
    misreads end of stream, ``HANGUP``, ``511``, an empty ``result=`` and loops forever on a
    truncated 520 usage reply.  This subclass keeps pyst2's interface (``env``, ``execute``,
    ``get_result`` returning ``{"result": (value, data), "endpos": (...)}``, the helper methods
    such as :meth:`stream_file`) and replaces those parts; see the module docstring for how
    replies map onto exceptions.

    ``rfile``/``wfile`` are text files over the socket (``newline="\\n"``); ``sock`` (optional)
    lets the reader apply timeouts.  The environment is read in the constructor, within
    ``env_timeout`` seconds in total; :class:`AgiEnvError` is raised if it is not valid.
    """

    def __init__(
        self,
        rfile: TextIO,
        wfile: TextIO,
        *,
        sock: socket.socket | None = None,
        env_timeout: float | None = DEFAULT_ENV_TIMEOUT,
        reply_timeout: float | None = DEFAULT_REPLY_TIMEOUT,
        peer: str = "",
        first_reply_timeout: float | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        # Deliberately not calling AGI.__init__: it calls signal.signal() and reads the env
        # without any validation.  These are the attributes pyst2's methods rely on.
        self.stdin = rfile
        self.stdout = wfile
        self.stderr = _NullWriter()
        self._got_sighup = False
        self.env: dict[str, str] = {}
        self.sock = sock
        self.peer = peer
        self.reply_timeout = reply_timeout
        self.hungup = False
        self.hangup_reason = ""
        self.last_command = ""
        self._probing = False
        self._env_timeout = env_timeout
        self._lock = threading.RLock()
        # Until the peer has answered one command it has proven nothing: a short deadline.
        self._first_reply_timeout = first_reply_timeout
        self._on_ready = on_ready
        self._get_agi_env()
        self._set_timeout(reply_timeout)

    # -- environment ---------------------------------------------------------------------

    @property
    def answered(self) -> bool:
        """True once the peer has answered a command (a silent peer is not a call)."""
        return self._on_ready is None

    @property
    def uniqueid(self) -> str:
        """The channel's ``agi_uniqueid`` (``""`` if Asterisk did not send one)."""
        return self.env.get("agi_uniqueid", "")

    def _get_agi_env(self) -> None:
        """Read ``agi_x: y`` lines up to the blank line; reject anything else."""
        deadline = None if self._env_timeout is None else time.monotonic() + self._env_timeout
        lines = 0
        while True:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AgiEnvError(f"environment not complete within {self._env_timeout} s")
                self._set_timeout(remaining)
            try:
                raw = self.stdin.readline(MAX_LINE + 1)
            except TimeoutError as exc:
                raise AgiEnvError(
                    f"no complete environment within {self._env_timeout} s"
                    f" ({len(self.env)} lines read)"
                ) from exc
            except (OSError, ValueError) as exc:
                raise AgiEnvError(
                    f"connection failed while reading the environment: {exc}"
                ) from exc
            if raw == "":
                raise AgiEnvError(f"connection closed after {len(self.env)} environment lines")
            if len(raw) > MAX_LINE and not raw.endswith("\n"):
                raise AgiEnvError("environment line too long")
            line = raw.rstrip("\r\n")
            if line == "":
                if not self.env:
                    raise AgiEnvError("empty environment")
                return
            match = _ENV_LINE.match(line)
            if match is None:
                raise AgiEnvError(f"not an AGI environment line: {scrub(line, limit=60)!r}")
            self.env[match.group(1)] = match.group(2).strip()
            lines += 1
            if lines > MAX_ENV_LINES:
                raise AgiEnvError("too many environment lines")

    # -- socket helpers --------------------------------------------------------------------

    def _set_timeout(self, seconds: float | None) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.settimeout(seconds)

    def set_reply_timeout(self, seconds: float | None) -> None:
        """Change how long :meth:`get_result` waits for one reply."""
        self.reply_timeout = seconds
        self._set_timeout(seconds)

    def _quote(self, string: object) -> str:
        """pyst2 hook: quote an argument so that Asterisk reads it back unchanged.

        A value pyst2 already wrapped in quotes itself (its ``database_*`` helpers do) is
        passed through as before.
        """
        if isinstance(string, str) and _PRE_QUOTED.match(string):
            return string
        return quote_arg(string)

    def _hangup(self, reason: str, cls: type[AgiCallerHangup] = AgiCallerHangup) -> AgiCallerHangup:
        self.hungup = True
        if not self.hangup_reason:
            self.hangup_reason = reason
        # A peer that never answered is not a call: under a flood its line would be noise.
        logger.log(logging.INFO if self.answered else logging.DEBUG,
                   "agi %s: caller hangup detected (%s)", self.uniqueid, reason)
        return cls(reason)

    # -- commands --------------------------------------------------------------------------

    def execute(self, command: str, *args: object) -> dict[str, tuple[str, str]]:
        """Send one command and return its parsed ``200`` reply (pyst2's result dict).

        Raises :class:`AgiCallerHangup` or :class:`AgiProtocolError` (see the module docstring).
        """
        with self._lock:
            self.send_command(command, *args)
            return self.get_result()

    def send_command(self, command: str, *args: object) -> None:
        """Write one command line."""
        line = " ".join([command.strip(), *(str(a) for a in args)]).strip()
        if "\n" in line or "\r" in line:
            raise ValueError("an AGI command must be a single line")
        self.last_command = line
        if logger.isEnabledFor(logging.DEBUG):  # scrubbing costs on every command otherwise
            logger.debug("agi %s >> %s", self.uniqueid, scrub(line))
        try:
            self.stdout.write(line + "\n")
            self.stdout.flush()
        except (OSError, ValueError) as exc:
            raise self._hangup(f"connection lost while sending: {exc}", AgiConnectionLost) from exc

    def _read_line(self, timeout: float | None) -> str:
        self._set_timeout(timeout)
        try:
            raw = self.stdin.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE and not raw.endswith("\n"):
                raw = self._drain_long_line(raw)
        except TimeoutError as exc:
            raise AgiReplyTimeout(
                f"no reply to {scrub(self.last_command)!r} within {timeout} s"
            ) from exc
        except (OSError, ValueError) as exc:
            raise self._hangup(f"connection lost while reading: {exc}", AgiConnectionLost) from exc
        finally:
            if timeout != self.reply_timeout:
                self._set_timeout(self.reply_timeout)
        if raw == "":
            raise self._hangup("end of stream")
        return raw.rstrip("\r\n")

    def _drain_long_line(self, head: str) -> str:
        """Skip the rest of a line longer than :data:`MAX_LINE` (up to its newline), so the
        next read starts at the next reply; returns the marker :data:`_OVERLONG`."""
        skipped = len(head)
        while True:
            chunk = self.stdin.readline(MAX_LINE + 1)
            skipped += len(chunk)
            if chunk == "" or chunk.endswith("\n"):
                break
        logger.warning("agi %s: a reply line of %d characters was skipped (limit %d)",
                       self.uniqueid, skipped, MAX_LINE)
        return _OVERLONG if chunk else ""

    def get_result(self, stdin: Any = None) -> dict[str, tuple[str, str]]:
        """Read and parse the reply to the last command (``stdin`` is ignored, kept for pyst2)."""
        verb = _command_verb(self.last_command)
        if self._on_ready is not None and self._first_reply_timeout is not None:
            line = self._read_line(min(self._first_reply_timeout, self.reply_timeout or
                                       self._first_reply_timeout))
        else:
            line = self._read_line(self.reply_timeout)
        if self._on_ready is not None:
            ready, self._on_ready = self._on_ready, None
            ready()
        if line == _OVERLONG:
            raise self._garbled(f"reply to {verb} longer than {MAX_LINE} characters")
        saw_hangup_line = False
        while line.strip().upper() == "HANGUP":
            saw_hangup_line = True
            self.hungup = True
            if not self.hangup_reason:
                self.hangup_reason = "HANGUP line"
            logger.info("agi %s: Asterisk sent HANGUP", self.uniqueid)
            try:
                line = self._read_line(HANGUP_REPLY_TIMEOUT)
            except AgiReplyTimeout as exc:
                raise self._hangup("HANGUP line, no reply followed") from exc

        self._log_reply(verb, line)
        match = _REPLY_LINE.match(line)
        if match is None:
            raise self._garbled(f"not an AGI reply: {scrub(line, limit=80)!r}")
        code, separator, response = int(match.group(1)), match.group(2), match.group(3)

        if code == 200 and separator == " ":
            result = self._parse_200(response)
            if saw_hangup_line and verb not in DEAD_SAFE_COMMANDS:
                raise self._hangup(f"HANGUP line before the reply to {verb}")
            value, data = result["result"]
            if data.strip().lower() == "hangup":
                raise self._hangup(f"{verb} reported (hangup)", AgiResultHangup)
            names_other_channel = (verb in _MINUS_ONE_IS_AN_ANSWER
                                   and len(self.last_command.split()) > len(verb.split()))
            if value == "-1" and not names_other_channel and not self._probing:
                self._check_channel_after_failure(verb)
            return result
        if code == 511:
            raise self._hangup(f"511 on {verb}: dead channel")
        if code == 510:
            logger.error("agi %s: Asterisk rejected %r as unknown: %s",
                         self.uniqueid, scrub(self.last_command), scrub(response))
            raise AgiInvalidCommand(response)
        if code == 520:
            usage = [line]
            if separator == "-":
                usage.extend(self._read_usage())
            text = "\n".join(usage)
            logger.error("agi %s: Asterisk rejected the syntax of %r:\n%s",
                         self.uniqueid, scrub(self.last_command), scrub(text, limit=2000))
            raise AgiUsageError(text + "\n")
        raise self._garbled(f"unexpected reply {scrub(line, limit=80)!r}")

    def _garbled(self, message: str) -> AgiGarbledReply:
        logger.error("agi %s: %s (after %r)", self.uniqueid, message, scrub(self.last_command))
        return AgiGarbledReply(message)

    def _read_usage(self) -> list[str]:
        """Read the body of a ``520-`` reply up to ``520 End of proper usage.``.

        At most :data:`MAX_USAGE_LINES` lines are kept; a body that goes on is read to its end
        line within :data:`MAX_USAGE_DRAIN` lines so the session stays in step, then given up.
        """
        lines: list[str] = []
        for count in range(MAX_USAGE_DRAIN):
            try:
                line = self._read_line(self.reply_timeout)
            except AgiCallerHangup:
                lines.append("(connection closed inside the usage text)")
                return lines
            if line.startswith("520 "):
                lines.append(line)
                return lines
            if count < MAX_USAGE_LINES:
                lines.append(line[:200])
        raise self._garbled("520 usage reply does not end")

    @staticmethod
    def _parse_200(response: str) -> dict[str, tuple[str, str]]:
        """pyst2's parsing of ``key=value (data)`` pairs, plus the empty ``result=`` it misses."""
        if not response.startswith("result="):
            raise AgiGarbledReply(f"200 reply without result: {scrub(response, limit=80)!r}")
        result: dict[str, tuple[str, str]] = {"result": ("", "")}
        empty = _EMPTY_RESULT.match(response)
        rest = response
        if empty is not None:
            result["result"] = ("", empty.group("data") or "")
            rest = response[empty.end():]
        for key, value, data in re_kv.findall(rest):
            result[key] = (value, data)
        return result

    def _check_channel_after_failure(self, verb: str) -> None:
        """``result=-1`` means hangup *or* failure: ask the channel whether it is alive."""
        if self.hungup:
            raise self._hangup(f"{verb} returned -1 after hangup", AgiResultHangup)
        failed_command = self.last_command
        self._probing = True
        try:
            self.send_command("CHANNEL STATUS")
            status = self.get_result()
        finally:
            self._probing = False
            self.last_command = failed_command
        if self.hungup:  # pragma: no cover - get_result raises before returning in that case
            raise self._hangup(f"{verb} returned -1", AgiResultHangup)
        logger.error(
            "agi %s: %r failed (result=-1) on a live channel (status %s): missing sound file?",
            self.uniqueid, scrub(failed_command), status["result"][0],
        )
        raise AgiCommandFailed(f"{verb} failed on a live channel")

    def _log_reply(self, verb: str, line: str) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        shown = line
        if verb in _SENSITIVE_REPLIES:
            shown = _RESULT_VALUE.sub(lambda m: f"{m.group(1)}<{len(m.group(2))} chars>", line)
        logger.debug("agi %s << %s", self.uniqueid, scrub(shown))

    def close(self) -> None:
        """Close the file objects (the socket itself belongs to the server)."""
        for stream in (self.stdout, self.stdin):
            with contextlib.suppress(Exception):
                stream.close()


# --------------------------------------------------------------------------------------------
# Requests and the server
# --------------------------------------------------------------------------------------------


def _script_of(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Script name and query parameters from ``agi_network_script`` (or ``agi_request``)."""
    raw = env.get("agi_network_script", "")
    if not raw:
        request = env.get("agi_request", "")
        if "://" in request:
            parts = urlsplit(request)
            raw = parts.path + (f"?{parts.query}" if parts.query else "")
    path, _, query = raw.partition("?")
    name = path.strip().strip("/")
    params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    return name, params


def _known(value: str) -> str:
    return "" if value.strip().lower() in {"", "unknown"} else value.strip()


#: What a dialled number looks like in the AGI environment (a DID, +7..., an extension).
_NUMBER_RE = re.compile(r"\+?[0-9]{2,32}")


def _number(value: str) -> str:
    value = _known(value)
    return value if _NUMBER_RE.fullmatch(value) else ""


@dataclass
class AgiRequest:
    """One FastAGI call as a route sees it."""

    agi: SocketAGI
    env: dict[str, str]
    script: str
    params: dict[str, str] = field(default_factory=dict)
    peer: str = ""

    @classmethod
    def from_agi(cls, agi: SocketAGI, peer: str = "") -> AgiRequest:
        """Build the request for a connection whose environment ``agi`` has read."""
        script, params = _script_of(agi.env)
        return cls(agi=agi, env=agi.env, script=script, params=params, peer=peer or agi.peer)

    @property
    def uniqueid(self) -> str:
        """Asterisk's unique id of the channel (``agi_uniqueid``)."""
        return self.env.get("agi_uniqueid", "")

    @property
    def caller_number(self) -> str:
        """The caller's number (``agi_callerid``), ``""`` when Asterisk says ``unknown``."""
        return _known(self.env.get("agi_callerid", ""))

    @property
    def language(self) -> str:
        """The channel language (``agi_language``)."""
        return self.env.get("agi_language", "")

    @property
    def args(self) -> list[str]:
        """Arguments given to ``AGI()`` after the URL (``agi_arg_1``...)."""
        out: list[str] = []
        while f"agi_arg_{len(out) + 1}" in self.env:
            out.append(self.env[f"agi_arg_{len(out) + 1}"])
        return out

    @property
    def dialled_number(self) -> str:
        """The number the caller dialled, ``""`` when Asterisk does not say.

        In this order: the first ``AGI()`` argument when it is a number (the shipped dialplan
        passes the DID it was reached on, ``${REG_DID}``: several DIDs routed to one context
        keep their own number that way), then ``agi_extension`` when it is a number (a
        dialplan that runs ``AGI()`` straight in its ``_X.`` extension), then ``agi_dnid``
        (``CALLERID(dnid)``, the Request-URI's user part on chan_pjsip).
        """
        for value in (self.env.get("agi_arg_1", ""), self.env.get("agi_extension", ""),
                      self.env.get("agi_dnid", "")):
            if number := _number(value):
                return number
        return ""

    def info(self) -> CallInfo:
        """The call facts in the dialogue port's terms."""
        extra = {
            "asterisk_channel": self.env.get("agi_channel", ""),
            "language": self.language,
            "context": self.env.get("agi_context", ""),
            "extension": self.env.get("agi_extension", ""),
            "script": self.script,
        }
        for index, value in enumerate(self.args, start=1):
            extra[f"arg_{index}"] = value
        for key, value in self.params.items():
            extra.setdefault(f"param_{key}", value)
        return CallInfo(
            call_uid=self.uniqueid,
            caller_number=self.caller_number,
            called_number=self.dialled_number,
            channel="ivr",
            extra=extra,
        )


#: Errors of ``accept()`` that mean "out of resources": back off instead of spinning.
_ACCEPT_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_BACKOFF = 0.1


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], owner: AgiServer,
                 reuse_port: bool = False) -> None:
        self.owner = owner
        self.reuse_port = reuse_port
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        if self.reuse_port:
            # Several IVR worker processes listen on one port; the kernel spreads new
            # connections over them (registratura/ivr_workers.py).
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def get_request(self) -> tuple[socket.socket, Any]:
        if not self.owner._room_for_more():
            # Every thread slot is taken (calls plus connections being let go): leave the
            # newcomers in the kernel's backlog, where they cost us no descriptor, for now.
            raise OSError(errno.EAGAIN, "connection threads saturated")
        try:
            return self.socket.accept()
        except OSError as exc:
            if exc.errno in _ACCEPT_EXHAUSTED:
                # Out of file descriptors: the listening socket stays readable, so without a
                # pause this loop would spin (and log) as fast as the CPU allows.
                logger.error("agi: cannot accept a connection: %s", exc.strerror)
                time.sleep(ACCEPT_BACKOFF)
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.owner._admit(request, client_address):
            super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.exception("agi: unhandled error on connection from %s", client_address)


def _reset(sock: socket.socket) -> None:
    """Close at once with a TCP reset (frees the descriptor, no lingering)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Refuser:
    """Tells connections beyond the cap "busy" without a thread each.

    The verdict is written at once (``REG_ESCALATE=1``, ``REG_REASON=ivr_busy``: the dialplan
    queues the caller for an agent, as for any escalation), then our side is closed for
    writing; Asterisk runs the two commands, sees the end of the script and hangs up the
    socket.  One thread drains what it sends meanwhile and closes each connection when the
    peer is done or after :data:`REFUSAL_LINGER` seconds.  Beyond :data:`MAX_REFUSING` at once
    a connection is reset outright.
    """

    VERDICT = (f"SET VARIABLE REG_ESCALATE {quote_arg('1')}\n"
               f"SET VARIABLE REG_REASON {quote_arg('ivr_busy')}\n").encode()

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._deadlines: dict[socket.socket, float] = {}
        self._thread: threading.Thread | None = None
        self._stopped = False

    def refuse(self, sock: socket.socket) -> None:
        with self._lock:
            if self._stopped or len(self._deadlines) >= MAX_REFUSING:
                _reset(sock)
                return
            try:
                sock.setblocking(False)
                sock.send(self.VERDICT)
                sock.shutdown(socket.SHUT_WR)
                self._selector.register(sock, selectors.EVENT_READ)
            except OSError:
                _reset(sock)
                return
            self._deadlines[sock] = time.monotonic() + REFUSAL_LINGER
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="agi-refuser",
                                                daemon=True)
                self._thread.start()

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._deadlines.pop(sock, None)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(sock)
        with contextlib.suppress(OSError):
            sock.close()

    def _run(self) -> None:
        while not self._stopped:
            with self._lock:
                empty = not self._deadlines
            events = [] if empty else self._selector.select(timeout=0.2)
            if empty:
                time.sleep(0.05)
            for key, _ in events:
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    if sock.recv(4096):
                        continue
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                self._close(sock)
            now = time.monotonic()
            with self._lock:
                expired = [s for s, t in self._deadlines.items() if t <= now]
            for sock in expired:
                self._close(sock)

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            socks = list(self._deadlines)
        for sock in socks:
            self._close(sock)


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        self.server.owner._handle_connection(self.request, self.client_address)


class AgiServer:
    """Threaded FastAGI server: one thread per call, routes chosen by the script name.

    ``routes`` maps script names (the path of ``agi://host:4573/<name>``) to callables taking an
    :class:`AgiRequest`.  A route returns when its call is over; whatever it raises is logged,
    and unless it was a hangup the server sets ``REG_ESCALATE=1`` and
    ``REG_REASON=system_error`` so the dialplan queues the caller for an agent.

    ``reuse_port=True`` binds with ``SO_REUSEPORT``: several processes (each its own
    ``AgiServer``) then listen on one address and the kernel spreads the calls over them.
    """

    def __init__(
        self,
        routes: Mapping[str, Route],
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        env_timeout: float | None = DEFAULT_ENV_TIMEOUT,
        reply_timeout: float | None = DEFAULT_REPLY_TIMEOUT,
        first_reply_timeout: float | None = DEFAULT_FIRST_REPLY_TIMEOUT,
        max_calls: int = DEFAULT_MAX_CALLS,
        reuse_port: bool = False,
    ) -> None:
        self.routes: dict[str, Route] = {name.strip("/"): route for name, route in routes.items()}
        self.env_timeout = env_timeout
        self.reply_timeout = reply_timeout
        self.first_reply_timeout = first_reply_timeout
        self.max_calls = max_calls
        # Places under the cap: connections that have not answered a command yet (oldest
        # first; they give way to newcomers when the cap is full) and proven calls.
        self._unproven: OrderedDict[socket.socket, None] = OrderedDict()
        self._proven: set[socket.socket] = set()
        self._refuser = _Refuser()
        self.connections_refused = 0
        self.connections_evicted = 0
        self._server = _TCPServer((host, port), self, reuse_port=reuse_port)
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()
        self._lock = threading.Lock()
        self._active = 0
        self._idle = threading.Condition(self._lock)
        self.calls_started = 0
        self.calls_failed = 0
        self.connections_rejected = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def server_address(self) -> tuple[str, int]:
        """The bound ``(host, port)`` (useful with port 0)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def active_calls(self) -> int:
        """Connections currently being served."""
        with self._lock:
            return self._active

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept calls in the current thread until :meth:`shutdown`."""
        host, port = self.server_address
        logger.info("agi: FastAGI server listening on %s:%s (scripts: %s)",
                    host, port, ", ".join(sorted(self.routes)) or "none")
        self._serving.set()
        try:
            self._server.serve_forever(poll_interval=poll_interval)
        finally:
            self._serving.clear()

    def start(self, poll_interval: float = 0.1) -> AgiServer:
        """Serve in a daemon thread; returns ``self``."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self.serve_forever, args=(poll_interval,),
                                        name="agi-server", daemon=True)
        self._thread.start()
        self._serving.wait(5.0)
        return self

    def shutdown(self, wait_for_calls: float = 0.0) -> None:
        """Stop accepting calls and close the listening socket.

        Calls in progress continue in their daemon threads; ``wait_for_calls`` seconds are
        allowed for them to finish.  Call it from another thread than the one running
        :meth:`serve_forever` (as with :mod:`socketserver`).
        """
        if self._serving.is_set():
            self._server.shutdown()
        self._server.server_close()
        self._refuser.stop()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if wait_for_calls > 0:
            with self._idle:
                self._idle.wait_for(lambda: self._active == 0, timeout=wait_for_calls)
        logger.info("agi: FastAGI server stopped (%d calls still active)", self.active_calls)

    def __enter__(self) -> AgiServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()

    # -- admission -------------------------------------------------------------------------

    def _room_for_more(self, wait: float = 0.5) -> bool:
        """Fewer connection threads than twice the cap (the second half: connections being
        let go, whose descriptors close when their threads end)?  Waits up to ``wait`` s."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active < 2 * self.max_calls, timeout=wait)

    def _admit(self, sock: socket.socket, address: Any) -> bool:
        """Called in the accept thread: may this connection have a place (and a thread)?

        Under the cap: yes.  At the cap, the oldest connection that has not answered a single
        command yet (a silent peer, not a call) gives its place up.  With every place held
        by a real call, the newcomer is refused at once (:class:`_Refuser`).
        """
        evicted: socket.socket | None = None
        with self._lock:
            if len(self._unproven) + len(self._proven) >= self.max_calls:
                if not self._unproven:
                    self.connections_refused += 1
                    refused = True
                else:
                    evicted, _ = self._unproven.popitem(last=False)
                    self.connections_evicted += 1
                    refused = False
            else:
                refused = False
            if not refused:
                self._unproven[sock] = None
                self._active += 1  # counted here, before its thread exists
        if evicted is not None:
            logger.warning("agi: at the cap of %d calls; dropped the oldest silent connection",
                           self.max_calls)
            with contextlib.suppress(OSError):
                evicted.shutdown(socket.SHUT_RDWR)  # its thread reads EOF and ends
        if refused:
            logger.warning("agi: at the cap of %d calls; refused a call (ivr_busy)",
                           self.max_calls)
            self._refuser.refuse(sock)
            return False
        return True

    def _proven_call(self, sock: socket.socket, agi: SocketAGI | None, peer: str) -> None:
        """The peer answered its first command: a real call, never evicted."""
        with self._lock:
            if self._unproven.pop(sock, False) is None:
                self._proven.add(sock)
        if agi is not None:
            request = AgiRequest.from_agi(agi, peer)
            logger.info("agi %s: call from %s via %s, script %r", request.uniqueid or "?",
                        mask_phone(request.caller_number) or "unknown", peer, request.script)

    def _release(self, sock: socket.socket) -> None:
        with self._lock:
            self._unproven.pop(sock, None)
            self._proven.discard(sock)

    # -- one connection --------------------------------------------------------------------

    def _handle_connection(self, sock: socket.socket, address: Any) -> None:
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        rfile = sock.makefile("r", encoding="utf-8", errors="replace", newline="\n")
        wfile = sock.makefile("w", encoding="utf-8", newline="\n")
        agi: SocketAGI | None = None
        try:
            try:
                agi = SocketAGI(rfile, wfile, sock=sock, env_timeout=self.env_timeout,
                                reply_timeout=self.reply_timeout, peer=peer,
                                first_reply_timeout=self.first_reply_timeout,
                                on_ready=lambda: self._proven_call(sock, agi, peer))
            except AgiEnvError as exc:
                with self._lock:
                    self.connections_rejected += 1
                logger.warning("agi: rejected connection from %s: %s", peer, exc)
                return
            self._run_call(agi, peer)
        except Exception:  # the server must survive anything a connection does
            logger.exception("agi: connection from %s failed", peer)
        finally:
            if agi is not None:
                agi.close()
            else:
                for stream in (wfile, rfile):
                    with contextlib.suppress(Exception):
                        stream.close()
            self._release(sock)
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _run_call(self, agi: SocketAGI, peer: str) -> None:
        request = AgiRequest.from_agi(agi, peer)
        script = request.script
        uid = request.uniqueid or "?"
        threading.current_thread().name = f"agi-{uid}"
        with self._lock:
            self.calls_started += 1
        # "call from" is logged once the peer answers its first command (a silent peer,
        # not a call, leaves no line behind).
        route = self.routes.get(script)
        if route is None:
            logger.error("agi %s: no route for script %r (known: %s)", uid, script,
                         ", ".join(sorted(self.routes)) or "none")
            with self._lock:
                self.calls_failed += 1
            self._escalate(agi, f"Registratura: unknown AGI script {script!r}")
            return
        started = time.monotonic()
        try:
            route(request)
        except CallerHangup as exc:
            logger.log(logging.INFO if agi.answered else logging.DEBUG,
                       "agi %s: caller hung up (%s)", uid, exc)
        except TransportFailure as exc:
            if not agi.answered:
                # Silent since its environment: not a call, nobody to escalate.
                logger.warning("agi %s: peer %s never answered a command; let go (%s)",
                               uid, peer, exc)
                return
            with self._lock:
                self.calls_failed += 1
            logger.error("agi %s: transport failure in route %r: %s", uid, script, exc)
            self._escalate(agi, "Registratura: IVR transport failure")
        except Exception:
            with self._lock:
                self.calls_failed += 1
            logger.exception("agi %s: route %r raised", uid, script)
            self._escalate(agi, "Registratura: IVR error")
        else:
            logger.info("agi %s: route %r done in %.1f s", uid, script,
                        time.monotonic() - started)

    def _escalate(self, agi: SocketAGI, message: str) -> None:
        """Best effort: tell the dialplan to queue the caller (no dead air)."""
        if agi.hungup:
            return
        agi.set_reply_timeout(ESCALATION_TIMEOUT)
        try:
            with contextlib.suppress(AgiProtocolError):
                agi.execute("VERBOSE", quote_arg(message), 1)
            agi.execute("SET VARIABLE", "REG_ESCALATE", quote_arg("1"))
            agi.execute("SET VARIABLE", "REG_REASON", quote_arg("system_error"))
            logger.info("agi %s: escalation variables set (system_error)", agi.uniqueid or "?")
        except CallerHangup:
            logger.info("agi %s: caller gone before escalation", agi.uniqueid or "?")
        except (TransportFailure, OSError, ValueError) as exc:
            logger.error("agi %s: could not set escalation variables: %s",
                         agi.uniqueid or "?", exc)
