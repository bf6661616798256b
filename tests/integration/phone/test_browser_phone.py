"""The console's browser phone over a real WebSocket (FastAPI TestClient), on a minimal app that
includes only ``agent_console.phone.router``."""

from __future__ import annotations

import io
import os
import time
import wave
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.requests import HTTPConnection

from agent_console import phone
from booking_core import booking
from booking_core.agents import AgentView
from booking_core.calls import get_call
from ivr.runtime import IvrRuntime
from support.fakes import QuietEngine
from support.world import demo, patient_id

ADULT = demo("adult")
# Silence at the language question, 1 = book, policy, date of birth, confirm both, therapist,
# 1 = take (and book) the nearest slot; the call ends after the code.
BOOK_NEAREST: list[str | None] = [
    None, "1", ADULT.policy_number, ADULT.birth_date.strftime("%d%m%Y"), "1", "1", "1",
]


@pytest.fixture
def runtime(sqlite_container, tmp_path) -> Iterator[IvrRuntime]:
    sqlite_container.settings.sounds_dir = tmp_path / "sounds"
    sqlite_container.settings.record_dir = tmp_path / "recordings"
    # 16 kHz: the prompt cache converts it to Asterisk's 8 kHz on the way.
    engine = QuietEngine(sample_rate=16000)
    rt = IvrRuntime(sqlite_container, engine=engine, host="127.0.0.1", port=0)
    sqlite_container.extras["ivr_runtime"] = rt
    yield rt
    rt.shutdown()


REGISTRAR = AgentView(id=1, username="registrar", full_name="", role="agent", extension="",
                      active=True)


def as_registrar(conn: HTTPConnection) -> None:
    """Stands in for the console's login and role check (tested in tests/integration/console)."""
    conn.state.agent = REGISTRAR


def phone_app(container) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.state.container = container
    app.include_router(phone.router, dependencies=[Depends(as_registrar)])
    return app


@pytest.fixture
def client(sqlite_container, runtime) -> Iterator[TestClient]:
    app = phone_app(sqlite_container)
    with TestClient(app) as test_client:
        yield test_client


def browser_call(client: TestClient, script: list[Any], *, caller: str = "") -> list[dict]:
    """Play the browser's part: every prompt is "heard" to the end, each question answered by
    the next script step (``None`` silence, ``"!k"`` key pressed during the prompt before it,
    ``"hangup"``).  Returns every message the server sent, up to ``end``."""
    script = list(script)
    messages: list[dict] = []
    with client.websocket_connect("/phone/ws") as ws:
        ws.send_json({"type": "start", "caller": caller})
        while True:
            msg = ws.receive_json()
            messages.append(msg)
            kind = msg["type"]
            if kind == "end":
                return messages
            if kind == "play":
                if script and isinstance(script[0], str) and script[0].startswith("!"):
                    ws.send_json({"type": "key", "key": script.pop(0)[1]})  # barge-in
                else:
                    ws.send_json({"type": "played", "id": msg["id"]})
            elif kind == "ask":
                step = script.pop(0) if script else "hangup"
                if step == "hangup":
                    ws.send_json({"type": "hangup"})
                    continue
                ws.send_json({"type": "played", "id": msg["id"]})
                if step is None:
                    ws.send_json({"type": "timeout", "id": msg["id"]})
                    continue
                keys = step.lstrip("!")
                for key in keys:
                    ws.send_json({"type": "key", "key": key})
                if len(keys) < msg["max_digits"] and msg["terminator"] not in keys:
                    ws.send_json({"type": "timeout", "id": msg["id"]})


def said(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages if m["type"] in ("play", "ask"))


def test_booking_the_nearest_therapist_slot_from_the_browser(client, sqlite_container):
    messages = browser_call(client, BOOK_NEAREST, caller="+79161234567")
    appointments = booking.patient_appointments(patient_id(sqlite_container, "adult"),
                                                sqlite_container.uow())
    assert len(appointments) == 1 and appointments[0].specialty.code == "therapist"
    assert "Вы записаны" in said(messages)
    variables = {m["name"]: m["value"] for m in messages if m["type"] == "var"}
    assert variables.get("REG_IVR_DONE") == "1" and "REG_ESCALATE" not in variables
    assert any(m["type"] == "hangup" and m["by"] == "ivr" for m in messages)
    assert messages[-1]["outcome"] == "completed"
    record = get_call(messages[-1]["call_id"], sqlite_container.uow())
    assert record is not None and record.channel == "browser"
    assert record.caller_number == "+79161234567" and record.outcome == "booked"


def test_prompt_audio_is_served_as_8khz_wav(client):
    messages = browser_call(client, [None, "hangup"])
    urls = [u for m in messages if m["type"] in ("play", "ask") for u in m["files"]]
    assert urls and all(u.startswith(("/phone/audio/ru/", "/phone/audio/en/")) for u in urls)
    response = client.get(urls[0])
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)


def test_audio_names_are_validated_strictly(client, runtime, tmp_path):
    sounds = runtime.cache.sounds_dir
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF not for you")
    # A well-shaped name that is a symlink pointing out of the sounds directory.
    link = sounds / "ru" / ("a" * 24 + ".wav")
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(secret, link)
    for path in [
        "/phone/audio/..%2F..%2Fsecret.wav",
        "/phone/audio/ru/%2e%2e/%2e%2e/%2e%2e/secret.wav",
        "/phone/audio/ru/..%2F..%2Fsecret.wav",
        "/phone/audio/%2Fetc%2Fpasswd",
        "/phone/audio/ru/" + "g" * 24 + ".wav",
        "/phone/audio/ru/" + "b" * 24 + ".wav",  # well-formed, not rendered
        "/phone/audio/ru/" + "a" * 24 + ".txt",
        "/phone/audio/ru/" + "a" * 24 + ".wav",  # the symlink
        "/phone/audio/other/ru/" + "a" * 24 + ".wav",
        "/phone/audio/silence-1s.wav",  # the IVR's silence is not a prompt
    ]:
        assert client.get(path).status_code == 404, path


def test_operator_request_ends_with_transfer_and_a_saved_record(client, sqlite_container):
    messages = browser_call(client, [None, "0"])
    variables = {m["name"]: m["value"] for m in messages if m["type"] == "var"}
    assert variables["REG_ESCALATE"] == "1" and variables["REG_REASON"] == "caller_request"
    transfer = next(m for m in messages if m["type"] == "transfer")
    assert transfer["text"].startswith("Соединяю с оператором")
    assert messages[-1]["outcome"] == "escalated"
    record = get_call(variables["REG_CALL_ID"], sqlite_container.uow())
    assert record is not None and record.outcome == "escalated"
    assert record.escalation_reason == "caller_request"


def test_key_during_the_greeting_barges_in(client):
    """A key pressed while the greeting plays interrupts it and answers the next question."""
    messages = browser_call(client, ["!1", "hangup"])
    asks = [m for m in messages if m["type"] == "ask"]
    # "1" skipped the language question and the main menu: next comes the policy number.
    # 16 digits and room for the "#" the prompt asks for, which ends the entry.
    assert asks[-1]["key"] == "ask_policy" and asks[-1]["max_digits"] == 17
    assert messages[-1]["outcome"] == "caller_hangup"


def test_closing_the_socket_hangs_up_the_flow(client, sqlite_container):
    with client.websocket_connect("/phone/ws") as ws:
        ws.send_json({"type": "start"})
        first = ws.receive_json()
        assert first["type"] == "play" and first["text"]
    # The flow thread notices the hangup and records the call; poll the database.
    deadline = time.monotonic() + 10
    from sqlmodel import select

    from models.tables import CallRecord

    while time.monotonic() < deadline:
        with sqlite_container.uow().reading() as uow:
            rows = uow.session.exec(select(CallRecord).where(CallRecord.channel == "browser"))
            outcomes = [r.outcome for r in rows]
        if outcomes and outcomes[0] != "in_progress":
            break
        time.sleep(0.05)
    assert outcomes == ["hangup"]


def test_phone_page_and_script(client):
    page = client.get("/phone")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    for key in "0123456789*#":
        assert f'data-key="{key}"' in html
    assert 'src="/phone/phone.js"' in html and 'data-base="/phone"' in html
    # Named in Russian like every other console page («… — Регистратура»).
    assert "<title>Телефон регистратуры — Регистратура</title>" in html
    script = client.get("/phone/phone.js")
    assert script.status_code == 200 and "WebSocket" in script.text
    assert "http://" not in script.text and "https://" not in script.text  # no CDN


def test_without_ivr_runtime_the_socket_says_so(sqlite_container):
    with TestClient(phone_app(sqlite_container)) as test_client:
        with test_client.websocket_connect("/phone/ws") as ws:
            assert ws.receive_json()["type"] == "error"
        assert test_client.get("/phone/audio/registratura/ru/" + "a" * 24 + ".wav"
                               ).status_code == 503


def test_the_console_user_is_the_actor_of_a_browser_booking(client, sqlite_container):
    from sqlmodel import select

    from models.tables import Appointment, AuditLog

    browser_call(client, BOOK_NEAREST, caller=ADULT.phone)
    with sqlite_container.uow().reading() as uow:
        appt = uow.session.exec(select(Appointment)).all()[-1]
        entry = uow.session.exec(select(AuditLog).where(AuditLog.entity == "appointment")
                                 ).all()[-1]
    assert appt.created_by == "agent:registrar"
    assert (entry.actor_kind, entry.actor) == ("agent", "agent:registrar")
    assert "patient" not in entry.actor_kind


def test_the_caller_number_never_travels_in_the_url():
    script = phone.SCRIPT.read_text(encoding="utf-8")
    assert "?caller=" not in script and '"start"' in script
