"""Helpers for SMS tests: Twilio settings on a container, webhook signatures, bookings."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from booking_core import booking, slots
from booking_core.commands import BookSlot, FindSlots
from booking_core.views import AppointmentView
from models.tables import Channel
from registratura.bootstrap import Container
from support.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from support.world import IVR, patient_id, specialty_id

PUBLIC_URL = "https://registry.example.org"
TWILIO_FROM = "+15005550006"
ADULT_PHONE = "+79161234567"  # the demo adult's mobile
ELDERLY_PHONE = "+79031112233"


def twilio_settings(container: Container, fake: FakeTwilio | None = None, **extra: object
                    ) -> None:
    """Switch ``container`` to Twilio (the fake one when given), webhooks on PUBLIC_URL."""
    update: dict[str, object] = {
        "sms_provider": "twilio", "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": SecretStr(AUTH_TOKEN), "twilio_from": TWILIO_FROM,
        "public_base_url": PUBLIC_URL, "twilio_timeout_seconds": 1.0,
    }
    if fake is not None:
        update["twilio_base_url"] = fake.base_url
    update.update(extra)
    container.settings = container.settings.model_copy(update=update)


def sign(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for a POST to PUBLIC_URL + path."""
    return RequestValidator(token).compute_signature(PUBLIC_URL + path, params)


def book(container: Container, role: str = "adult", *, on: date | None = None,
         code: str = "therapist", offset: int = 0) -> AppointmentView:
    """Book a demo patient into the nearest (or ``on`` that day) free slot by phone."""
    pid = patient_id(container, role)
    q = FindSlots(pid, specialty_id(container, code), Channel.IVR, on_date=on, limit=offset + 1)
    offer = slots.find_free_slots(q, container.uow())[offset]
    return booking.book(BookSlot(pid, offer.slot_id, IVR), container.uow())


def tomorrow(container: Container) -> date:
    return container.clock.today() + timedelta(days=1)
