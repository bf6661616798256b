"""Drill: the Asterisk side of FastAGI misbehaves, at the product level (IvrRuntime).

Peers that send garbage, stop halfway, hang up in the middle of a command or go silent, all at
once and alongside a real booking call.  The server must survive every one of them: the good
call books, garbage connections are rejected or escalated, no thread is left hanging, and the
next call books as well.  (Line-level behaviour of the transport is covered in
``tests/integration/agi``.)
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from booking_core import booking
from booking_core.actors import Actor
from booking_core.commands import Cancel
from ivr.transports.terminal import CallerAction, ScriptedCaller
from support.world import patient_id

from .helpers import (
    BOOK_NEAREST,
    BOOKING_QUESTION,
    assert_complete_or_absent,
    booked,
    dial,
    pending_count,
)

ENV = ("agi_network: yes\nagi_network_script: registry\n"
       "agi_request: agi://127.0.0.1/registry\nagi_channel: PJSIP/trunk-000000ff\n"
       "agi_language: ru\nagi_uniqueid: 1700000099.{n}\nagi_callerid: +79160000000\n"
       "agi_context: registry-incoming\nagi_extension: s\n\n")


class Peer:
    """A raw FastAGI peer on one socket."""

    def __init__(self, host: str, port: int, n: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.n = n
        self.commands: list[str] = []

    def send(self, data: bytes | str) -> None:
        with contextlib.suppress(OSError):  # the server may close first: that is its right
            self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def env(self) -> None:
        self.send(ENV.format(n=self.n))

    def command(self) -> str:
        line = self.file.readline().decode("utf-8", "replace").rstrip("\n")
        self.commands.append(line)
        return line

    def drain(self, reply: str | None = "200 result=1") -> None:
        """Read until the server closes, answering each command with ``reply``."""
        with contextlib.suppress(OSError):
            while self.command():
                if reply is not None:
                    self.send(reply + "\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


def http_request(p: Peer) -> None:
    p.send(b"GET /registry HTTP/1.1\r\nHost: ivr\r\n\r\n")
    p.drain(None)


def binary_junk(p: Peer) -> None:
    p.send(bytes(range(256)) * 4 + b"\n")
    p.drain(None)


def connect_and_close(p: Peer) -> None:
    return None


def endless_line(p: Peer) -> None:
    p.send("agi_network: " + "9" * 100_000 + "\n")
    p.drain(None)


def environment_never_ends(p: Peer) -> None:
    p.send("agi_network: yes\nagi_network_script: registry\n")
    p.drain(None)  # the server gives up after its environment timeout


def garbage_reply(p: Peer) -> None:
    p.env()
    assert p.command() == "ANSWER"
    p.send(b"\xff\xfe not an AGI reply\n")
    p.drain()  # the server escalates: SET VARIABLE REG_ESCALATE / REG_REASON


def hangup_mid_command(p: Peer) -> None:
    p.env()
    assert p.command() == "ANSWER"
    p.send("200 result=0\n")
    line = p.command()
    while line.startswith(("SET VARIABLE", "GET VARIABLE")):  # REG_DESK_OPEN, REG_TEST
        p.send("200 result=0\n" if line.startswith("GET") else "200 result=1\n")
        line = p.command()
    assert line.startswith("STREAM FILE"), line
    p.send("HANGUP\n")  # the caller hung up while the greeting played; no reply follows


def half_a_reply(p: Peer) -> None:
    p.env()
    assert p.command() == "ANSWER"
    p.send("200 res")


def silent_after_a_command(p: Peer) -> None:
    p.env()
    assert p.command() == "ANSWER"
    # Nothing sent back: a peer that never answered its first command is not a call (a flood
    # of such peers must not hold threads); the server lets it go without escalating.
    line = p.command()
    assert line == "", line


BAD_PEERS: Sequence[Callable[[Peer], None]] = (
    http_request, binary_junk, connect_and_close, endless_line, environment_never_ends,
    garbage_reply, hangup_mid_command, half_a_reply, silent_after_a_command,
)


def _run_peer(host: str, port: int, n: int, behaviour: Callable[[Peer], None]) -> list[str]:
    peer = Peer(host, port, n)
    try:
        behaviour(peer)
    finally:
        peer.close()
    return peer.commands


class HangUpWhileBooking(ScriptedCaller):
    """Takes the offered slot, then hangs up while the IVR is busy booking."""

    confirmed = False

    def on_get_data(self, files: Sequence[str], texts: Sequence[str], max_digits: int,
                    timeout_ms: int) -> CallerAction:
        if texts and texts[-1].startswith(BOOKING_QUESTION):
            self.confirmed = True
        return super().on_get_data(files, texts, max_digits, timeout_ms)

    def before_command(self, command: str) -> bool:
        return self.confirmed


def test_server_survives_bad_peers_and_books_next(sqlite_container, runtime, tmp_path):
    container = sqlite_container
    rt = runtime(container)
    rt.server.env_timeout = 0.5
    rt.server.reply_timeout = 1.0
    host, port = rt.server.server_address
    sounds = tmp_path / "sounds"
    with ThreadPoolExecutor(len(BAD_PEERS) + 1) as pool:
        good = pool.submit(dial, host, port, sounds, ScriptedCaller(BOOK_NEAREST))
        bad = [pool.submit(_run_peer, host, port, n, b) for n, b in enumerate(BAD_PEERS)]
        seen: dict[str, Any] = {b.__name__: f.result() for b, f in zip(BAD_PEERS, bad,
                                                                         strict=True)}
        assert booked(good.result())

    garbage = seen["garbage_reply"]
    assert any("REG_REASON" in c and "system_error" in c for c in garbage), garbage
    deadline = time.monotonic() + 30
    while rt.server.active_calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rt.server.active_calls == 0, "a connection thread was left hanging"
    assert rt.server.connections_rejected >= 5
    assert rt.server._thread is not None and rt.server._thread.is_alive()

    # The good call's booking is whole; the server still takes calls: a caller hangs up
    # while their booking is being made (it stands, whole), and one more caller books.
    pid = patient_id(container, "adult")
    assert len(assert_complete_or_absent(container, pid)) == 1
    agent = Actor.agent("drill", "127.0.0.1")
    first = booking.patient_appointments(pid, container.uow())[0]
    booking.cancel(Cancel(first.id, agent), container.uow())
    quitter = HangUpWhileBooking(BOOK_NEAREST)
    t = dial(host, port, sounds, quitter)
    assert t.hangup_by == "caller" and quitter.confirmed
    live = booking.patient_appointments(pid, container.uow())
    assert len(live) == 1 and live[0].status == "booked"
    assert pending_count(container) == 0
    booking.cancel(Cancel(live[0].id, agent), container.uow())
    assert booked(dial(host, port, sounds, ScriptedCaller(BOOK_NEAREST)))
