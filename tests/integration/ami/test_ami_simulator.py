"""The AMI simulator speaks the wire protocol as Asterisk does (raw socket, no client library)."""

from __future__ import annotations

import socket

from support.ami_sim import AmiSimulator

USER, SECRET = "registratura", "s3cret"  # as in conftest.py


class Raw:
    """A line-level AMI peer."""

    def __init__(self, sim: AmiSimulator) -> None:
        self.sock = socket.create_connection(sim.address, timeout=3)
        self.buffer = b""

    def banner(self) -> str:
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode()

    def send(self, **headers: str) -> None:
        text = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.sock.sendall(text.encode())

    def message(self) -> list[tuple[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError
            self.buffer += data
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return [tuple(line.split(": ", 1)) for line in raw.decode().split("\r\n")]  # type: ignore[misc]

    def closed(self) -> bool:
        try:
            while True:
                data = self.sock.recv(4096)
                if not data:
                    return True
                self.buffer += data
        except OSError:
            return True


def test_banner_login_ping_logoff(sim):
    raw = Raw(sim)
    assert raw.banner() == "Asterisk Call Manager/9.0.0"
    raw.send(Action="Ping", ActionID="p0")
    assert dict(raw.message()) == {"Response": "Error", "ActionID": "p0",
                                   "Message": "Permission denied"}
    raw.send(Action="Login", Username=USER, Secret=SECRET, ActionID="l1")
    assert raw.message() == [("Response", "Success"), ("ActionID", "l1"),
                             ("Message", "Authentication accepted")]
    booted = dict(raw.message())
    assert booted["Event"] == "FullyBooted" and booted["Status"] == "Fully Booted"
    raw.send(Action="Ping", ActionID="p1")
    pong = raw.message()
    assert pong[:3] == [("Response", "Success"), ("ActionID", "p1"), ("Ping", "Pong")]
    assert pong[3][0] == "Timestamp" and "." in pong[3][1]
    raw.send(Action="FooBar", ActionID="x")
    error = dict(raw.message())
    assert error["Response"] == "Error"
    assert error["Message"].startswith("Invalid/unknown command: FooBar")
    raw.send(Action="Logoff", ActionID="bye")
    assert dict(raw.message())["Response"] == "Goodbye"
    assert raw.closed()


def test_failed_login_closes_the_connection(sim):
    raw = Raw(sim)
    raw.banner()
    raw.send(Action="Login", Username=USER, Secret="wrong", ActionID="l1")
    assert raw.message() == [("Response", "Error"), ("ActionID", "l1"),
                             ("Message", "Authentication failed")]
    assert raw.closed()


def test_queue_status_is_an_event_list(sim):
    sim.add_member("PJSIP/agent101", "Агент 101", paused=True, reason="lunch")
    uid = sim.caller_join("79161234567", call_id="c1", reason="caller_request")
    raw = Raw(sim)
    raw.banner()
    raw.send(Action="Login", Username=USER, Secret=SECRET)
    raw.message()
    raw.message()  # FullyBooted
    raw.send(Action="QueueStatus", Queue="registry-agents", ActionID="qs")
    assert raw.message() == [("Response", "Success"), ("ActionID", "qs"),
                             ("EventList", "start"), ("Message", "Queue status will follow")]
    events = []
    while True:
        msg = dict(raw.message())
        events.append(msg)
        if msg["Event"] == "QueueStatusComplete":
            break
    names = [e["Event"] for e in events]
    assert names == ["QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete"]
    member, entry, complete = events[1], events[2], events[3]
    assert member["Location"] == "PJSIP/agent101" and member["Paused"] == "1"
    assert member["PausedReason"] == "lunch" and member["ActionID"] == "qs"
    assert entry["Uniqueid"] == uid and entry["Position"] == "1"
    assert complete == {"Event": "QueueStatusComplete", "ActionID": "qs",
                        "EventList": "Complete", "ListItems": "3"}


def test_events_carry_channel_variables(sim):
    raw = Raw(sim)
    raw.banner()
    raw.send(Action="Login", Username=USER, Secret=SECRET)
    raw.message()
    raw.message()
    sim.caller_join("79161234567", call_id="c42", reason="not_identified")
    lines = raw.message()
    assert lines[0] == ("Event", "QueueCallerJoin")
    assert ("ChanVariable", "REG_CALL_ID=c42") in lines
    assert ("ChanVariable", "REG_REASON=not_identified") in lines
    assert dict(lines)["Position"] == "1" and dict(lines)["Privilege"] == "agent,all"


def test_originate_async_answers_then_reports(sim):
    sim.set_originate_result("Failure", 5)
    raw = Raw(sim)
    raw.banner()
    raw.send(Action="Login", Username=USER, Secret=SECRET)
    raw.message()
    raw.message()
    raw.send(Action="Originate", Channel="Local/79161234567@registry-outbound",
             Context="registry-reminder", Exten="s", Priority="1", Async="true",
             Variable="REG_APPOINTMENT_ID=7", ActionID="o1")
    assert dict(raw.message()) == {"Response": "Success", "ActionID": "o1",
                                   "Message": "Originate successfully queued"}
    event = dict(raw.message())
    assert event["Event"] == "OriginateResponse" and event["ActionID"] == "o1"
    assert event["Response"] == "Failure" and event["Reason"] == "5"
    assert sim.received("Originate")[0].variables == {"REG_APPOINTMENT_ID": "7"}
