"""AudioSocket frames: a 3-byte header -- one kind byte, a 16-bit big-endian payload length --
and the payload (Asterisk's ``res/res_audiosocket.c``); see
:mod:`ivr.transports.audiosocket.call_io` for what each kind means."""

from __future__ import annotations

import socket
import struct

from ivr.io import TransportFailure

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
#: The largest payload accepted: 20 ms of 192 kHz audio is 7,680 bytes; anything longer is a
#: broken or hostile peer and the stream cannot be trusted to resynchronise.
MAX_PAYLOAD = 8192


class AudioSocketFailure(TransportFailure):
    """The audio stream broke (error frame, oversized frame, stalled peer)."""


class AudioSocketStalled(AudioSocketFailure):
    """No frame from Asterisk for the watchdog's time: the media path is dead."""


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket frame: kind, big-endian length, payload."""
    if len(payload) > 0xFFFF:
        raise ValueError("an AudioSocket payload holds at most 65535 bytes")
    return struct.pack("!BH", kind, len(payload)) + payload


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """The next frame, or ``None`` at the end of the stream.

    Raises :class:`AudioSocketFailure` for a payload over :data:`MAX_PAYLOAD` and lets
    ``TimeoutError``/``OSError`` of the socket through.
    """
    header = _read_exact(sock, 3)
    if header is None:
        return None
    kind, length = struct.unpack("!BH", header)
    if length > MAX_PAYLOAD:
        raise AudioSocketFailure(f"frame of kind 0x{kind:02x} announces {length} bytes")
    payload = _read_exact(sock, length) if length else b""
    if payload is None:
        return None
    return kind, payload
