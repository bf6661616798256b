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
* The audio socket never connects: Asterisk's ``AudioSocket`` returns ``-1`` when it cannot
  connect; ``res_agi`` (Asterisk 22 ``handle_exec``) replies ``200 result=-1`` and the AGI
  session goes on, so the call continues keypad-only over AGI (on a channel that is gone
  meanwhile, the next AGI command says so and the flow stops as on any hangup).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ivr.io import CallerHangup, CallIO
from ivr.transports.agi.call_io import AgiCallIO
from ivr.transports.agi.server import AgiCommandFailed, AgiProtocolError
from ivr.transports.audiosocket.call_io import (
    AudioSocketCallIO,
    AudioSocketListener,
    PromptAudio,
    StreamRecognition,
    StreamSettings,
)

logger = logging.getLogger(__name__)

Flow = Callable[[CallIO], object]


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
        agi_io.agi.send_command("EXEC", "AudioSocket", f"{call_uuid},{self.advertised}")
        sock = self.listener.wait(call_uuid, self.connect_timeout)
        if sock is None:
            self._without_audio(agi_io, flow)
            return
        stream = AudioSocketCallIO(sock, agi_io.info, self.audio, settings=self.settings,
                                   recognition=self.recognition)
        try:
            flow(stream)
        finally:
            stream.close()
        self._resume_agi(agi_io, stream)

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
        flow(agi_io)

    @staticmethod
    def _resume_agi(agi_io: AgiCallIO, stream: AudioSocketCallIO) -> None:
        try:
            result = agi_io.agi.get_result()["result"][0]
        except (CallerHangup, AgiProtocolError):
            logger.info("agi %s: control channel gone after the audio session", agi_io.uid)
            return
        if result != "0":
            logger.info("agi %s: audio session ended by the channel (%s)", agi_io.uid, result)
            return
        for name, value in stream.variables.items():
            agi_io.set_variable(name, value)
        if stream.hung_up_by_ivr:
            agi_io.hangup()
