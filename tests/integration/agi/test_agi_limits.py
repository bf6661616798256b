"""FastAGI hardening: over-long reply lines and usage bodies keep the session in step, a peer
silent after its environment is let go quickly, and calls beyond the cap are refused cleanly
while real calls still get through."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from ivr.transports.agi.server import (
    MAX_LINE,
    AgiGarbledReply,
    AgiRequest,
    SocketAGI,
    quote_arg,
)
from ivr.transports.terminal import AsteriskCall

ENV = b"agi_network: yes\nagi_network_script: registry\nagi_uniqueid: 1700000000.9\n\n"


def _socket_agi(replies: bytes, **kwargs: Any) -> tuple[SocketAGI, socket.socket]:
    ours, peer = socket.socketpair()
    # A writer thread: the replies are larger than a socket buffer.
    threading.Thread(target=lambda: (peer.sendall(ENV + replies), peer.shutdown(socket.SHUT_WR)),
                     daemon=True).start()
    rfile = ours.makefile("r", encoding="utf-8", errors="replace", newline="\n")
    wfile = ours.makefile("w", encoding="utf-8", newline="\n")
    kwargs.setdefault("reply_timeout", 5.0)
    return SocketAGI(rfile, wfile, sock=ours, env_timeout=2, **kwargs), peer


@pytest.mark.parametrize("length", [MAX_LINE + 1, MAX_LINE * 3 + 17, 100_000])
def test_an_over_long_reply_fails_once_and_the_session_stays_in_step(length: int) -> None:
    long_reply = b"200 result=1 (" + b"x" * length + b")\n"
    agi, _peer = _socket_agi(long_reply + b"200 result=1\n200 result=1 (second)\n")
    with pytest.raises(AgiGarbledReply):
        agi.execute("GET VARIABLE", "LONG")
    # The next commands get their own replies, not the tail of the long one.
    assert agi.execute("SET VARIABLE", "REG_ESCALATE", quote_arg("1"))["result"] == ("1", "")
    assert agi.execute("GET VARIABLE", "X")["result"] == ("1", "second")


def test_a_long_usage_body_is_bounded_and_skipped() -> None:
    body = b"".join(b"usage line %d\n" % i for i in range(1500))
    agi, _peer = _socket_agi(b"520-Invalid command syntax.  Proper usage follows:\n" + body
                             + b"520 End of proper usage.\n200 result=1 (after)\n")
    with pytest.raises(Exception) as usage:
        agi.execute("GET DATA", "x")
    assert len(str(usage.value)) < 60_000
    assert agi.execute("GET VARIABLE", "X")["result"] == ("1", "after")


def test_escalation_variables_are_set_after_an_over_long_reply(agi_server: Any) -> None:
    """End to end: the route's command gets a huge reply; the server still escalates."""

    def route(request: AgiRequest) -> None:
        request.agi.execute("GET VARIABLE", "HUGE")

    server = agi_server({"registry": route})
    host, port = server.server_address
    call = AsteriskCall(host, port)
    original = call._dispatch

    def dispatch(line: str) -> None:
        if line.startswith("GET VARIABLE HUGE"):
            call._send_raw("200 result=1 (" + "y" * 20_000 + ")\n")
            return
        original(line)

    call._dispatch = dispatch  # type: ignore[method-assign]
    transcript = call.run()
    assert transcript.variables.get("REG_ESCALATE") == "1"
    assert transcript.variables.get("REG_REASON") == "system_error"


def _silent_peer(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(ENV)
    return sock


def _wait_closed(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except TimeoutError:
        return False
    except OSError:
        return True


def test_a_peer_silent_after_its_environment_is_let_go_quickly(agi_server: Any) -> None:
    def route(request: AgiRequest) -> None:
        request.agi.execute("ANSWER")
        time.sleep(60)

    server = agi_server({"registry": route}, reply_timeout=300.0, first_reply_timeout=0.5)
    peer = _silent_peer(server.server_address[1])
    assert _wait_closed(peer, within=10), "a silent peer is held for the whole reply timeout"
    peer.close()


def test_the_cap_evicts_silent_peers_before_refusing_and_refuses_cleanly(
        agi_server: Any) -> None:
    started = threading.Semaphore(0)
    release = threading.Event()

    def route(request: AgiRequest) -> None:
        request.agi.execute("ANSWER")
        started.release()
        release.wait(20)
        request.agi.execute("SET VARIABLE", "REG_IVR_DONE", quote_arg("1"))

    server = agi_server({"registry": route}, reply_timeout=300.0, first_reply_timeout=30.0,
                        max_calls=3)
    host, port = server.server_address
    silent = [_silent_peer(port) for _ in range(10)]  # would hold every place for 30 s
    # A real call still gets a place: the oldest silent peers are let go for it.
    results: list[Any] = []
    real = threading.Thread(target=lambda: results.append(AsteriskCall(host, port).run()))
    real.start()
    assert started.acquire(timeout=10)
    # Three real calls now: the cap is full of proven calls; the next is refused at once.
    others = [threading.Thread(target=lambda: results.append(AsteriskCall(host, port).run()))
              for _ in range(2)]
    for t in others:
        t.start()
    assert started.acquire(timeout=10) and started.acquire(timeout=10)
    refused = AsteriskCall(host, port, idle_timeout=5).run()
    assert refused.variables == {"REG_ESCALATE": "1", "REG_REASON": "ivr_busy"}
    assert server.connections_refused >= 1
    release.set()
    for t in (real, *others):
        t.join(20)
    assert [r.variables.get("REG_IVR_DONE") for r in results] == ["1", "1", "1"]
    for sock in silent:
        sock.close()
