"""Twilio provider helpers: URL rewriting, Retry-After, "was the request ever sent?"."""

from __future__ import annotations

import socket

import pytest
import requests

from sms.providers import (
    LocalOutboxProvider,
    TwilioHttpClient,
    TwilioProvider,
    _never_connected,
    _retry_after,
    provider_from_settings,
)


def test_rewrite_points_twilio_urls_at_the_base_url():
    client = TwilioHttpClient("http://127.0.0.1:8765/")
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=20"
    assert client.rewrite(url) == (
        "http://127.0.0.1:8765/2010-04-01/Accounts/AC1/Messages.json?PageSize=20")
    assert client.rewrite("https://example.org/x") == "https://example.org/x"
    assert TwilioHttpClient("").rewrite(url) == url
    prefixed = TwilioHttpClient("http://proxy.local/twilio")
    assert prefixed.rewrite(url).startswith("http://proxy.local/twilio/2010-04-01/")


def test_retry_after_seconds_and_dates():
    assert _retry_after({"Retry-After": "7"}) == 7.0
    assert _retry_after({"retry-after": "1.5"}) == 1.5
    assert _retry_after({}) is None
    assert _retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert _retry_after({"Retry-After": "soon"}) is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_was_never_sent():
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        requests.get(f"http://127.0.0.1:{_closed_port()}/", timeout=2)
    assert _never_connected(caught.value)


def test_read_timeout_may_have_been_sent():
    assert not _never_connected(requests.exceptions.ReadTimeout("read timed out"))
    assert _never_connected(requests.exceptions.ConnectTimeout("connect timed out"))


def test_provider_from_settings():
    from pydantic import SecretStr

    from registratura.settings import Settings

    assert isinstance(provider_from_settings(Settings()), LocalOutboxProvider)
    twilio = provider_from_settings(Settings(
        sms_provider="twilio", twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token=SecretStr("t"), twilio_from="+15005550006",
        public_base_url="https://registry.example.org/"))
    assert isinstance(twilio, TwilioProvider)
    assert twilio.status_callback_url == "https://registry.example.org/webhooks/twilio/status"
    with pytest.raises(ValueError, match="sender"):
        provider_from_settings(Settings(sms_provider="twilio", twilio_account_sid="AC1",
                                        twilio_auth_token=SecretStr("t")))
