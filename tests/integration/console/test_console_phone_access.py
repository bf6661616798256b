"""The browser phone is behind the console login (page and websocket)."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect


def test_phone_page_needs_a_login(make_client):
    anonymous = make_client()
    response = anonymous.get("/phone", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_phone_websocket_refuses_anonymous_callers(make_client):
    anonymous = make_client()
    with (pytest.raises(WebSocketDisconnect) as refused,
          anonymous.websocket_connect("/phone/ws") as ws):
        ws.receive_json()
    assert refused.value.code == 1008


def test_logged_in_agent_gets_the_phone(agent):
    assert agent.get("/phone").status_code == 200


def test_the_read_only_observer_gets_no_phone(observer):
    assert observer.get("/phone").status_code == 403
    with (pytest.raises(WebSocketDisconnect) as refused,
          observer.websocket_connect("/phone/ws") as ws):
        ws.receive_json()
    assert refused.value.code == 1008


def test_a_foreign_origin_cannot_open_the_phone_socket(agent):
    with (pytest.raises(WebSocketDisconnect) as refused,
          agent.websocket_connect("/phone/ws", headers={"Origin": "http://evil.example"}) as ws):
        ws.receive_json()
    assert refused.value.code == 1008


def test_a_revoked_session_cannot_open_the_phone_socket(make_client):
    client = make_client("agent1")
    thief = make_client()
    for cookie in client.cookies.jar:
        thief.cookies.set(cookie.name, cookie.value)
    client.delete("/api/session")
    with (pytest.raises(WebSocketDisconnect) as refused,
          thief.websocket_connect("/phone/ws") as ws):
        ws.receive_json()
    assert refused.value.code == 1008
