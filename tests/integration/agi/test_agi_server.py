"""The FastAGI server over real TCP: env parsing, routing, robustness, escalation, concurrency."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from ivr.io import CallerHangup, TransportFailure
from ivr.transports.agi.server import (
    AgiCallerHangup,
    AgiCommandFailed,
    AgiConnectionLost,
    AgiEnvError,
    AgiGarbledReply,
    AgiInvalidCommand,
    AgiReplyTimeout,
    AgiRequest,
    AgiUsageError,
    SocketAGI,
    quote_arg,
)
from ivr.transports.terminal import AsteriskCall, ScriptedCaller


def _call(server: Any, **kwargs: Any) -> Any:
    host, port = server.server_address
    kwargs.setdefault("idle_timeout", 10.0)
    return AsteriskCall(host, port, **kwargs).run()


def _wait_idle(server: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while server.active_calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.active_calls == 0


def _proper_call_works(server: Any) -> None:
    transcript = _call(server)
    assert transcript.variables.get("OK") == "1"
    assert transcript.agistatus == "SUCCESS"


def _ok_route(request: AgiRequest) -> None:
    request.agi.execute("SET VARIABLE", "OK", quote_arg("1"))


# -- environment and routing ----------------------------------------------------------------


def test_env_is_parsed_and_routed(agi_server: Any) -> None:
    seen: list[AgiRequest] = []

    def route(request: AgiRequest) -> None:
        seen.append(request)
        request.agi.execute("SET VARIABLE", "OK", quote_arg("1"))

    server = agi_server({"registry": route, "reminder": _ok_route})
    transcript = _call(server, uniqueid="1700000123.7", caller_number="+79161234567",
                       dnid="74950000000", agi_args=["ru", "x y"])
    assert transcript.variables == {"OK": "1"}
    (request,) = seen
    assert request.script == "registry"
    assert request.uniqueid == "1700000123.7"
    assert request.caller_number == "+79161234567"
    assert request.env["agi_network"] == "yes"
    assert request.env["agi_request"].endswith("/registry")
    assert request.env["agi_channel"].startswith("PJSIP/trunk-")
    assert request.env["agi_accountcode"] == ""
    assert request.env["agi_rdnis"] == "unknown"
    assert request.args == ["ru", "x y"]
    info = request.info()
    assert info.call_uid == "1700000123.7"
    assert info.caller_number == "+79161234567"
    assert info.called_number == "74950000000"
    assert info.extra["language"] == "ru"
    assert info.extra["arg_2"] == "x y"
    assert isinstance(request.agi, SocketAGI)


def test_script_path_with_query_and_slashes(agi_server: Any) -> None:
    seen: list[AgiRequest] = []
    server = agi_server({"reminder": lambda r: seen.append(r)})
    _call(server, script="reminder/?appointment=42&lang=en", caller_number="unknown")
    (request,) = seen
    assert request.script == "reminder"
    assert request.params == {"appointment": "42", "lang": "en"}
    assert request.caller_number == ""
    assert request.info().extra["param_lang"] == "en"


def test_unknown_script_escalates(agi_server: Any) -> None:
    server = agi_server({"registry": _ok_route})
    transcript = _call(server, script="no-such-script")
    assert transcript.variables == {"REG_ESCALATE": "1", "REG_REASON": "system_error"}
    assert transcript.of("verbose")
    assert server.calls_failed == 1
    _proper_call_works(server)


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyError("x"), TransportFailure("x")])
def test_route_exception_escalates(agi_server: Any, error: Exception) -> None:
    def route(request: AgiRequest) -> None:
        request.agi.execute("VERBOSE", quote_arg("working"), 1)
        raise error

    server = agi_server({"registry": route})
    transcript = _call(server)
    assert transcript.variables["REG_ESCALATE"] == "1"
    assert transcript.variables["REG_REASON"] == "system_error"
    assert transcript.agistatus == "SUCCESS"
    server.routes["registry"] = _ok_route
    _proper_call_works(server)


def test_route_hangup_does_not_escalate(agi_server: Any) -> None:
    def route(request: AgiRequest) -> None:
        request.agi.execute("STREAM FILE", "x", quote_arg("0123456789*#"))

    server = agi_server({"registry": route})
    transcript = _call(server, caller=ScriptedCaller(["!hangup"]))
    assert "REG_ESCALATE" not in transcript.variables
    assert transcript.agistatus == "HANGUP"


def test_active_call_counter(agi_server: Any) -> None:
    inside = threading.Event()
    release = threading.Event()

    def route(request: AgiRequest) -> None:
        inside.set()
        release.wait(5)

    server = agi_server({"registry": route})
    thread = threading.Thread(target=_call, args=(server,), daemon=True)
    thread.start()
    assert inside.wait(5)
    assert server.active_calls == 1
    release.set()
    thread.join(5)
    _wait_idle(server)
    assert server.calls_started == 1


# -- hangups and protocol errors inside a route ---------------------------------------------


def test_hangup_line_mid_call_raises_caller_hangup(agi_server: Any) -> None:
    outcome: dict[str, Any] = {}

    def route(request: AgiRequest) -> None:
        agi = request.agi
        agi.execute("ANSWER")
        agi.execute("VERBOSE", quote_arg("thinking"), 1)
        try:
            agi.execute("STREAM FILE", "test/ru/x", quote_arg("0123456789*#"))
        except CallerHangup as exc:
            outcome["first"] = exc
        # Dead-safe commands still run after the hangup, as on Asterisk.
        agi.execute("SET VARIABLE", "REG_REASON", quote_arg("hangup"))
        try:
            agi.execute("GET DATA", "test/ru/y", 1000, 1)
        except CallerHangup as exc:
            outcome["second"] = exc
        raise AssertionError("must not escalate after a hangup")

    server = agi_server({"registry": route})
    # Hang up while the IVR is busy, just before its third command.
    transcript = _call(server, caller=ScriptedCaller([], hangup_before=3))
    assert isinstance(outcome["first"], AgiCallerHangup)
    assert isinstance(outcome["second"], AgiCallerHangup)
    assert ("<<", "HANGUP") in transcript.lines
    index = transcript.lines.index(("<<", "HANGUP"))
    assert transcript.lines[index + 1] == (
        "<<", "511 Command Not Permitted on a dead channel or intercept routine")
    assert transcript.variables == {"REG_REASON": "hangup"}
    assert len(transcript.of("dead")) == 2
    assert transcript.agistatus == "HANGUP"
    _wait_idle(server)
    server.routes["registry"] = _ok_route
    _proper_call_works(server)


def test_511_after_hangup_during_get_data(agi_server: Any) -> None:
    errors: list[BaseException] = []

    def route(request: AgiRequest) -> None:
        agi = request.agi
        for _ in range(2):
            try:
                agi.execute("GET DATA", "test/ru/q", 1000, 4)
            except CallerHangup as exc:
                errors.append(exc)

    server = agi_server({"registry": route})
    transcript = _call(server, caller=ScriptedCaller(["hangup"]))
    assert len(errors) == 2
    # The hangup reply, then the HANGUP line, then CHANNEL STATUS (the probe) gets 511.
    assert transcript.lines[1:4] == [
        ("<<", "200 result=-1"), ("<<", "HANGUP"), (">>", "CHANNEL STATUS")]
    assert transcript.lines[-1][1].startswith("511 ")


def test_invalid_command_and_usage_are_transport_failures(agi_server: Any) -> None:
    outcome: dict[str, Any] = {}

    def route(request: AgiRequest) -> None:
        agi = request.agi
        with pytest.raises(AgiInvalidCommand) as invalid:
            agi.execute("FROBNICATE", "now")
        outcome["510"] = invalid.value
        with pytest.raises(AgiUsageError) as usage:
            agi.execute("STREAM FILE")
        outcome["520"] = usage.value
        # The conversation is still in step after both errors.
        agi.execute("SET VARIABLE", "AFTER", quote_arg("yes"))
        outcome["get"] = agi.get_variable("AFTER")

    server = agi_server({"registry": route})
    transcript = _call(server)
    assert isinstance(outcome["510"], TransportFailure)
    assert isinstance(outcome["520"], TransportFailure)
    assert "Proper usage follows" in str(outcome["520"])
    assert "520 End of proper usage." in str(outcome["520"])
    assert outcome["get"] == "yes"
    assert [e[1] for e in transcript.of("error")] == [510, 520]


def test_pyst2_helpers_work_over_the_socket(agi_server: Any) -> None:
    outcome: dict[str, Any] = {}

    def route(request: AgiRequest) -> None:
        agi = request.agi
        agi.answer()
        outcome["key"] = agi.stream_file("test/ru/a", "0123456789*#")
        agi.set_variable("WITH SPACE", 'a "quoted" \\ value')
        outcome["var"] = agi.get_variable("WITH SPACE")
        outcome["missing"] = agi.get_variable("NOPE")
        outcome["status"] = agi.channel_status()
        agi.verbose("hello", 2)
        agi.database_put("fam", "key", "v 1")
        outcome["db"] = agi.database_get("fam", "key")

    server = agi_server({"registry": route})
    transcript = _call(server, caller=ScriptedCaller(["!5"]))
    assert outcome == {"key": "5", "var": 'a "quoted" \\ value', "missing": "",
                       "status": 6, "db": "v 1"}
    assert transcript.variables["WITH SPACE"] == 'a "quoted" \\ value'


# -- robustness against bad clients ---------------------------------------------------------


def _connect(server: Any) -> socket.socket:
    return socket.create_connection(server.server_address, timeout=5)


def _closed_silently(sock: socket.socket) -> bool:
    """True when the server closed the connection without sending anything."""
    sock.settimeout(5)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:  # closed with unread input: the kernel sends a reset
        return True


@pytest.mark.parametrize(
    "payload",
    [
        b"hello there\n\n",
        b"GET / HTTP/1.1\r\nHost: ivr\r\nUser-Agent: curl\r\n\r\n",
        bytes(range(256)) * 4 + b"\n\n",
        b"\n",
        b"agi_request: agi://x/registry\nagi_channel PJSIP/x\n\n",
        b"agi_request: " + b"x" * 20000 + b"\n\n",
    ],
    ids=["text", "http", "binary", "blank", "bad-line", "too-long"],
)
def test_garbage_instead_of_env(agi_server: Any, payload: bytes) -> None:
    calls: list[AgiRequest] = []
    server = agi_server({"registry": lambda r: (calls.append(r), _ok_route(r))})
    with _connect(server) as sock:
        sock.sendall(payload)
        assert _closed_silently(sock)
    assert calls == []
    _wait_idle(server)
    assert server.connections_rejected == 1
    _proper_call_works(server)


def test_half_closed_and_silent_clients(agi_server: Any) -> None:
    server = agi_server({"registry": _ok_route}, env_timeout=0.5)
    # Half of an env, then the client shuts its sending side.
    half = _connect(server)
    half.sendall(b"agi_network: yes\nagi_network_script: registry\n")
    half.shutdown(socket.SHUT_WR)
    # A client that connects and says nothing.
    silent = _connect(server)
    # A complete env, then EOF before any reply: the route sees a hangup.
    eof = _connect(server)
    eof.sendall(b"agi_network: yes\nagi_network_script: registry\nagi_uniqueid: 1.1\n\n")
    eof.shutdown(socket.SHUT_WR)
    _proper_call_works(server)
    for sock in (half, silent, eof):
        sock.settimeout(5)
        while sock.recv(1024):
            pass
        sock.close()
    _wait_idle(server)
    assert server.connections_rejected == 2
    _proper_call_works(server)


def test_fifty_concurrent_calls(agi_server: Any, audio: Any, sounds_dir: Any) -> None:
    from ivr.io import Digits, Prompt
    from ivr.transports.agi.call_io import AgiCallIO

    def route(request: AgiRequest) -> None:
        io = AgiCallIO(request, audio)
        io.answer()
        io.play(Prompt("hello", ("Здравствуйте.",)))
        answer = io.collect(Prompt("menu", ("Нажмите один.",)), max_digits=4)
        assert isinstance(answer, Digits)
        io.set_variable("ECHO", answer.value)

    server = agi_server({"registry": route})
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            results[n] = _call(server, sounds_dir=sounds_dir,
                               caller=ScriptedCaller([f"{n:04d}"]))
        except BaseException as exc:  # noqa: BLE001 - asserted in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(results) == list(range(50))
    for n, transcript in results.items():
        assert transcript.variables == {"ECHO": f"{n:04d}"}
        assert transcript.said == ["Здравствуйте.", "Нажмите один."]
    _wait_idle(server)
    assert server.calls_started == 50
    assert server.calls_failed == 0


# -- SocketAGI reply parsing against a scripted peer ----------------------------------------


ENV = b"agi_network: yes\nagi_network_script: registry\nagi_uniqueid: 1700000000.9\n\n"


def _socket_agi(replies: bytes, *, close: bool = True,
                reply_timeout: float = 2.0) -> tuple[SocketAGI, socket.socket]:
    ours, peer = socket.socketpair()
    peer.sendall(ENV + replies)
    if close:
        peer.shutdown(socket.SHUT_WR)
    rfile = ours.makefile("r", encoding="utf-8", errors="replace", newline="\n")
    wfile = ours.makefile("w", encoding="utf-8", newline="\n")
    agi = SocketAGI(rfile, wfile, sock=ours, env_timeout=2, reply_timeout=reply_timeout)
    return agi, peer


def test_socket_agi_parses_replies() -> None:
    agi, _peer = _socket_agi(
        b"200 result=0 endpos=12345\n"
        b"200 result= (timeout)\n"
        b"200 result=\n"
        b"200 result=12 (timeout)\n"
        b"200 result=1 (value with (parens))\n"
    )
    assert agi.uniqueid == "1700000000.9"
    assert agi.execute("STREAM FILE", "x", '""') == {
        "result": ("0", ""), "endpos": ("12345", "")}
    assert agi.execute("GET DATA", "x", 100, 4)["result"] == ("", "timeout")
    assert agi.execute("GET DATA", "x", 100, 4)["result"] == ("", "")
    assert agi.execute("GET DATA", "x", 100, 4)["result"] == ("12", "timeout")
    assert agi.execute("GET VARIABLE", "X")["result"] == ("1", "value with (parens)")
    with pytest.raises(AgiCallerHangup):
        agi.execute("NOOP")  # end of stream


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        (b"", AgiCallerHangup),
        (b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n",
         AgiCallerHangup),
        (b"511 Command Not Permitted on a dead channel or intercept routine\n", AgiCallerHangup),
        (b"200 result=-1 (hangup) endpos=100\n", AgiCallerHangup),
        (b"510 Invalid or unknown command\n", AgiInvalidCommand),
        (b"520-Invalid command syntax.  Proper usage follows:\nUsage: X\n", AgiUsageError),
        (b"520 Invalid command syntax.  Proper usage not available.\n", AgiUsageError),
        (b"hello\n", AgiGarbledReply),
        (b"\x00\xff\xfe\n", AgiGarbledReply),
        (b"404 Not Found\n", AgiGarbledReply),
        (b"200 nonsense\n", AgiGarbledReply),
    ],
    ids=["eof", "hangup-511", "511", "data-hangup", "510", "520-truncated", "520-single",
         "text", "binary", "404", "no-result"],
)
def test_socket_agi_reply_errors(replies: bytes, error: type[Exception]) -> None:
    agi, _peer = _socket_agi(replies)
    with pytest.raises(error):
        agi.execute("STREAM FILE", "x", '"#"')
    expected_base = CallerHangup if issubclass(error, CallerHangup) else TransportFailure
    assert issubclass(error, expected_base)


def test_hangup_line_before_a_dead_safe_reply_is_not_an_error() -> None:
    agi, _peer = _socket_agi(b"HANGUP\n200 result=1\n")
    assert agi.execute("SET VARIABLE", "A", '"1"')["result"] == ("1", "")
    assert agi.hungup


def test_minus_one_is_probed() -> None:
    # Live channel: STREAM FILE failed (missing file) and CHANNEL STATUS answers 6.
    agi, peer = _socket_agi(b"200 result=-1 endpos=0\n200 result=6\n")
    with pytest.raises(AgiCommandFailed) as failed:
        agi.execute("STREAM FILE", "missing", '"#"')
    assert isinstance(failed.value, TransportFailure)
    assert not isinstance(failed.value, CallerHangup)
    sent = peer.recv(1000).decode()
    assert sent == 'STREAM FILE missing "#"\nCHANNEL STATUS\n'
    # Dead channel: the HANGUP line and 511 follow.
    agi, _peer = _socket_agi(b"200 result=-1\nHANGUP\n511 Command Not Permitted\n")
    with pytest.raises(AgiCallerHangup):
        agi.execute("GET DATA", "x", 100, 1)


def test_reply_timeout_and_lost_connection() -> None:
    agi, _peer = _socket_agi(b"", close=False, reply_timeout=0.2)
    with pytest.raises(AgiReplyTimeout):
        agi.execute("NOOP")
    agi, peer = _socket_agi(b"")
    peer.close()
    with pytest.raises(AgiCallerHangup):
        for _ in range(50):  # the first writes may still succeed into the buffer
            agi.execute("NOOP")
    assert issubclass(AgiConnectionLost, CallerHangup)


def test_env_errors_are_transport_failures() -> None:
    ours, peer = socket.socketpair()
    peer.sendall(b"GET / HTTP/1.0\r\n\r\n")
    rfile = ours.makefile("r", encoding="utf-8", errors="replace", newline="\n")
    wfile = ours.makefile("w", encoding="utf-8", newline="\n")
    with pytest.raises(AgiEnvError) as error:
        SocketAGI(rfile, wfile, sock=ours, env_timeout=1)
    assert isinstance(error.value, TransportFailure)
    ours2, _peer2 = socket.socketpair()
    started = time.monotonic()
    with pytest.raises(AgiEnvError):
        SocketAGI(ours2.makefile("r", newline="\n"), ours2.makefile("w"), sock=ours2,
                  env_timeout=0.3)
    assert time.monotonic() - started < 2


def test_socket_agi_works_outside_the_main_thread() -> None:
    result: list[Any] = []

    def build() -> None:
        try:
            agi, _peer = _socket_agi(b"200 result=0\n")
            agi.answer()
            result.append(agi.env["agi_network_script"])
        except BaseException as exc:  # noqa: BLE001 - asserted in the main thread
            result.append(exc)

    thread = threading.Thread(target=build)
    thread.start()
    thread.join(5)
    assert result == ["registry"]


@pytest.mark.parametrize("keys", [["hangup"], ["!hangup"], []], ids=["get-data", "stream", "busy"])
def test_agiexitonhangup_is_a_caller_hangup(agi_server: Any, keys: list[str]) -> None:
    """The shipped dialplan sets AGIEXITONHANGUP=yes: HANGUP, HANGUP, end of stream."""
    errors: list[BaseException] = []

    def route(request: AgiRequest) -> None:
        agi = request.agi
        try:
            agi.execute("ANSWER")
            agi.execute("STREAM FILE", "x", quote_arg("0123456789*#"))
            agi.execute("GET DATA", "x", 1000, 1)
        except CallerHangup as exc:
            errors.append(exc)
        with pytest.raises(CallerHangup):
            agi.execute("SET VARIABLE", "REG_REASON", quote_arg("hangup"))

    server = agi_server({"registry": route})
    caller = ScriptedCaller(keys, hangup_before=2 if not keys else None)
    transcript = _call(server, caller=caller, exit_on_hangup=True)
    _wait_idle(server)  # the simulator leaves at once; the route finishes after it
    assert len(errors) == 1 and isinstance(errors[0], AgiCallerHangup)
    assert transcript.agistatus == "HANGUP"
    assert "REG_ESCALATE" not in transcript.variables
    server.routes["registry"] = _ok_route
    _proper_call_works(server)
