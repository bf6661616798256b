"""Twilio webhooks: patients' SMS replies and delivery reports (rule 18).

``POST /webhooks/twilio/sms`` — an inbound SMS.  The reply is handled by
``booking_core.reminders.handle_sms_reply`` ("1" confirms, "2" cancels, anything else gets the
help text) and answered with TwiML ``<Response><Message>...</Message></Response>``.  A webhook
Twilio repeats with the same ``MessageSid`` gets the same answer and changes nothing.

``POST /webhooks/twilio/status`` — a delivery report for a message we sent; the status
callback URL carries our idempotency key (``?key=...``).

Both are authenticated only by Twilio's request signature (``X-Twilio-Signature``: HMAC-SHA1
with the account's auth token over the public URL and the form fields), so they need no console
session or CSRF token.  The URL is rebuilt from ``public_base_url`` (what Twilio called — the
app usually sits behind a proxy) plus the request's path and query.  Without an auth token
every request is refused.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from booking_core import outbox, reminders
from booking_core.masking import scrub

if TYPE_CHECKING:
    from registratura.bootstrap import Container

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks/twilio", tags=["sms"])

TWIML = "application/xml"
#: Twilio's ids are "SM"/"MM" + 32 hex digits; the column holds 64.  Anything else is refused
#: with 400 (a validly signed but odd request must not turn into a database error).
_SID = re.compile(r"[A-Za-z0-9]{2,64}")
_STATUS = re.compile(r"[a-z_-]{0,20}")
MAX_ERROR_CODE = 20


def _sid(params: dict[str, str], *, required: bool) -> str:
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid and not required:
        return ""
    if not _SID.fullmatch(sid):
        raise HTTPException(status_code=400, detail="MessageSid missing or malformed")
    return sid


def _container(request: Request) -> Container:
    return request.app.state.container


def public_url(request: Request, public_base_url: str) -> str:
    """The URL Twilio requested, as it signed it."""
    base = public_base_url.rstrip("/")
    if not base:
        return str(request.url)
    url = base + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


async def _signed_form(request: Request, container: Container) -> dict[str, str]:
    """The form fields of a request whose Twilio signature is valid; 403 otherwise."""
    settings = container.settings
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    token = settings.twilio_auth_token.get_secret_value()
    if not token:
        logger.warning("Twilio webhook refused: no auth token configured "
                       "(REGISTRATURA_TWILIO_AUTH_TOKEN)")
        raise HTTPException(status_code=403, detail="signature required")
    signature = request.headers.get("X-Twilio-Signature", "")
    url = public_url(request, settings.public_base_url)
    if not signature or not RequestValidator(token).validate(url, params, signature):
        logger.warning("Twilio webhook %s refused: bad signature (from %s)", request.url.path,
                       request.client.host if request.client else "?")
        raise HTTPException(status_code=403, detail="invalid signature")
    return params


def _twiml(text: str | None) -> Response:
    reply = MessagingResponse()
    if text:
        reply.message(text)
    return Response(content=str(reply), media_type=TWIML)


@router.post("/sms", summary="Inbound SMS (a patient's reply)")
async def inbound_sms(request: Request) -> Response:
    """Confirm ("1") or cancel ("2") the patient's upcoming appointment; answer in TwiML."""
    container = _container(request)
    params = await _signed_form(request, container)
    sid = _sid(params, required=True)
    settings = container.settings
    reply = reminders.SmsReply(message_sid=sid, from_phone=params.get("From", ""),
                               body=params.get("Body", ""))
    outcome = await run_in_threadpool(
        reminders.handle_sms_reply, reply, container.uow(),
        locale=settings.sms_locale or settings.default_locale)
    logger.info("inbound SMS %s: %s%s", scrub(sid), outcome.action,
                " (replay)" if outcome.replay else "")
    return _twiml(outcome.answer)


@router.post("/status", summary="Delivery report of an SMS we sent", status_code=204)
async def delivery_status(request: Request) -> Response:
    """Move the outbox row forward (sent → delivered / failed)."""
    container = _container(request)
    params = await _signed_form(request, container)
    state = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if not _STATUS.fullmatch(state):
        raise HTTPException(status_code=400, detail="MessageStatus malformed")
    found = await run_in_threadpool(
        outbox.record_delivery, container.uow(), provider_status=state,
        provider_id=_sid(params, required=False),
        key=request.query_params.get("key", ""),
        error_code=params.get("ErrorCode", "")[:MAX_ERROR_CODE])
    if not found:
        logger.info("delivery report for an unknown message (%s)", scrub(state))
    return Response(status_code=204)
