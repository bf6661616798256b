"""Fixtures for SMS tests: the fake Twilio server, containers set up for it, the webhooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent_console.webhooks import router
from registratura.bootstrap import Container
from sms.providers import TwilioProvider, provider_from_settings
from support.sms_world import twilio_settings
from support.twilio_fake import FakeTwilio


@pytest.fixture
def fake_twilio(clock) -> Iterator[FakeTwilio]:
    """The fake Twilio API on 127.0.0.1; its timestamps follow the test clock."""
    with FakeTwilio(now=clock.now_utc) as fake:
        yield fake


@pytest.fixture
def twilio_container(container: Container, fake_twilio: FakeTwilio) -> Container:
    """The ``container`` fixture (SQLite and PostgreSQL) wired to the fake Twilio."""
    twilio_settings(container, fake_twilio)
    return container


@pytest.fixture
def twilio(twilio_container: Container) -> TwilioProvider:
    """The real Twilio provider (real ``twilio`` client) aimed at the fake server."""
    provider = provider_from_settings(twilio_container.settings)
    assert isinstance(provider, TwilioProvider)
    return provider


@pytest.fixture
def webhook_client(container: Container) -> Iterator[TestClient]:
    """A web app with only the Twilio webhooks mounted; signatures checked with the token."""
    twilio_settings(container)
    app = FastAPI()
    app.state.container = container
    app.include_router(router)
    with TestClient(app) as client:
        yield client
