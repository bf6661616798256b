"""A streaming call: the FastAGI session stays the control channel, the dialogue runs over
AudioSocket.

The AGI session (already answered) sends ``EXEC AudioSocket <uuid>,<host:port>`` without waiting
for the reply -- Asterisk replies only when the application returns -- and waits for Asterisk to
connect to :class:`~ivr.transports.audiosocket.call_io.AudioSocketListener` with that uuid.
The flow then runs over :class:`~ivr.transports.audiosocket.call_io.AudioSocketCallIO` in this
same thread.  When it is done the IVR closes the audio socket, Asterisk's application
returns ``0`` and the ``EXEC`` reply arrives; the variables the flow set (``REG_ESCALATE``,
``REG_REASON``, ``REG_IVR_DONE``...) are then set over AGI and, if the flow hung up, ``HANGUP``
follows.  The dialplan contract is the keypad path's.

* The caller hangs up (or the AGI side dies) while the audio socket is open: Asterisk closes the
  socket, the flow gets :class:`ivr.io.CallerHangup`, ``EXEC`` replies ``-1`` and the channel is
  gone; nothing more is sent.
* The AGI connection closes (or Asterisk writes ``HANGUP`` on it) while the audio socket is
  open: the audio side ends at once (its reader watches the AGI socket too).
* The audio socket never connects: Asterisk's ``AudioSocket`` returns ``-1`` when it cannot
  connect; ``res_agi`` (Asterisk 22 ``handle_exec``) replies ``200 result=-1`` and the AGI
  session goes on, so the call continues keypad-only over AGI (on a channel that is gone
  meanwhile, the next AGI command says so and the flow stops as on any hangup).
* The audio stalls mid-call (no frame for the watchdog's time): the IVR closes the audio
  socket; when ``EXEC`` then returns ``0`` the control channel is alive and the same call goes
  on keypad-only over AGI from the question it was at (asked again once; answers already given
  stay given), else the flow escalates (``system_error``).
* More calls than ``max_streams`` stream at once: the next one stays keypad-only over AGI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ivr.io import CallerHangup, CallerInput, CallIO, Grammar, Prompt
from ivr.transports.agi.call_io import AgiCallIO
from ivr.transports.agi.server import AgiCommandFailed, AgiProtocolError
from ivr.transports.audiosocket.call_io import (
    AudioSocketCallIO,
    PromptAudio,
    StreamSettings,
)
from ivr.transports.audiosocket.listener import AudioSocketListener
from ivr.transports.audiosocket.recognition import StreamRecognition

logger = logging.getLogger(__name__)

Flow = Callable[[CallIO], object]


class KeypadOnly(CallIO):
    """The AGI side of a streamed call with the speech taken away: keys only.

    Used when the audio stream is not there (it never connected, the stream cap is reached,
    or it stalled mid-call): recorded speech over ``RECORD FILE`` is a different dialogue
    rhythm from the one the caller was in, and the keypad always works.
    """

    def __init__(self, agi_io: AgiCallIO) -> None:
        self.agi_io = agi_io
        self.info = agi_io.info

    def play(self, prompt: Prompt) -> str:
        return self.agi_io.play(prompt)

    def collect(self, prompt: Prompt, *, max_digits: int, timeout: float = 5.0,
                terminator: str = "#", grammar: Grammar | None = None) -> CallerInput:
        return self.agi_io.collect(prompt, max_digits=max_digits, timeout=timeout,
                                   terminator=terminator)

    def set_variable(self, name: str, value: str) -> None:
        self.agi_io.set_variable(name, value)

    def hangup(self) -> None:
        self.agi_io.hangup()


class _ExecReply:
    """The reply to ``EXEC AudioSocket``, read once: after the stream ends or when the
    keypad path takes over."""

    def __init__(self, agi_io: AgiCallIO) -> None:
        self.agi_io = agi_io
        self.result: str | None = None  # "0", "-1"..., or "gone"

    def read(self) -> str:
        if self.result is None:
            try:
                self.result = self.agi_io.agi.get_result()["result"][0]
            except (CallerHangup, AgiProtocolError):
                logger.info("agi %s: control channel gone after the audio session",
                            self.agi_io.uid)
                self.result = "gone"
        return self.result


class StreamingCalls:
    """Runs flows over AudioSocket for AGI sessions; one per IVR process."""

    def __init__(self, listener: AudioSocketListener, advertised: str, audio: PromptAudio, *,
                 settings: StreamSettings | None = None, connect_timeout: float = 3.0,
                 recognition: StreamRecognition | None = None) -> None:
        self.listener = listener
        self.advertised = advertised  # host:port as Asterisk reaches the listener
        self.audio = audio
        self.settings = settings or StreamSettings()
        self.connect_timeout = connect_timeout
        self.recognition = recognition

    def run(self, agi_io: AgiCallIO, flow: Flow) -> None:
        """Run ``flow`` for the call behind ``agi_io`` over an audio socket (see module doc)."""
        call_uuid = self.listener.expect()
        if call_uuid is None:
            logger.warning("agi %s: %d calls already stream; this one stays on the keypad",
                           agi_io.uid, self.listener.max_streams)
            flow(KeypadOnly(agi_io))
            return
        try:
            self._run(agi_io, flow, call_uuid)
        finally:
            self.listener.release(call_uuid)

    def _run(self, agi_io: AgiCallIO, flow: Flow, call_uuid: str) -> None:
        agi_io.agi.send_command("EXEC", "AudioSocket", f"{call_uuid},{self.advertised}")
        sock = self.listener.wait(call_uuid, self.connect_timeout)
        if sock is None:
            self._without_audio(agi_io, flow)
            return
        reply = _ExecReply(agi_io)
        stream = AudioSocketCallIO(sock, agi_io.info, self.audio, settings=self.settings,
                                   recognition=self.recognition, control=agi_io.agi.sock,
                                   fallback=lambda s: self._keypad_path(agi_io, s, reply))
        try:
            flow(stream)
        finally:
            stream.close()
        if stream.keypad is None:
            self._resume_agi(agi_io, stream, reply)

    def _without_audio(self, agi_io: AgiCallIO, flow: Flow) -> None:
        logger.warning("agi %s: the audio socket did not connect", agi_io.uid)
        try:
            result = agi_io.agi.get_result()["result"][0]
        except AgiCommandFailed:
            # -1 on a live channel (the server asked): Asterisk could not connect, and the
            # AGI session goes on.  A dead channel raises CallerHangup instead.
            result = "-1"
        # (-2: app_audiosocket is not loaded; the session goes on as well)
        logger.info("agi %s: EXEC AudioSocket returned %s; continuing keypad-only over AGI",
                    agi_io.uid, result)
        flow(KeypadOnly(agi_io))

    @staticmethod
    def _keypad_path(agi_io: AgiCallIO, stream: AudioSocketCallIO,
                     reply: _ExecReply) -> CallIO | None:
        """The audio stalled: close it; if ``AudioSocket`` then returns 0 the AGI session is
        ours again and the call goes on there, keys only (else ``None``: escalate)."""
        stream.close()
        if reply.read() != "0":
            return None
        for name, value in stream.variables.items():
            agi_io.set_variable(name, value)
        stream.variables.clear()
        agi_io.type_ahead(stream.take_type_ahead())
        return KeypadOnly(agi_io)

    @staticmethod
    def _resume_agi(agi_io: AgiCallIO, stream: AudioSocketCallIO, reply: _ExecReply) -> None:
        result = reply.read()
        if result == "gone":
            return
        if result != "0":
            logger.info("agi %s: audio session ended by the channel (%s)", agi_io.uid, result)
            return
        for name, value in stream.variables.items():
            agi_io.set_variable(name, value)
        if stream.hung_up_by_ivr:
            agi_io.hangup()
