"""The browser phone: call the IVR from the console page, no Asterisk needed.

``router`` serves

* ``GET /phone`` — the page (``templates/phone.html`` + ``static/phone.js``): a keypad (also the
  computer keyboard: 0-9, *, #; Enter calls, Escape hangs up), a call/hang-up button, the
  transcript of what the IVR says, and the prompts' audio through ``<audio>``;
* ``GET /phone/audio/{file}`` — a prompt WAV from the IVR's prompt cache by the cache's
  relative name (``ru/<24 hex>.wav``), validated strictly (no path tricks);
* ``WS /phone/ws`` — one call: :func:`ivr.dialogue.service.run_registry_call` on a
  :class:`ivr.transports.browser.BrowserCallIO` in a worker thread (the flows are synchronous),
  bridged to the socket with thread-safe queues.  The browser's first message
  ``{"type": "start", "caller": "+7..."}`` sets the caller number the flow sees (callback
  requests use it; personal data never travels in the URL).  An escalation ends the call with
  "Соединяю с оператором": the flow has saved the call record as usual, so it shows up in the
  console's queue.

Only registrars (agents and admins) may use the phone, and the call runs on their behalf: the
console user is the actor of every booking, cancellation and callback request made there, and
identification failures count against them (``CallInfo.operator``); a per-clinic user's
bookings stay within their clinic (``CallInfo.operator_clinic_id``, checked by the booking
core).  The app includes this
router behind :func:`agent_console.deps.phone_user`, which checks the session, the role and the
websocket's ``Origin`` and leaves the user in ``websocket.state.agent``; a socket without one
is closed.

The IVR runtime comes from ``app.state.container.extras["ivr_runtime"]`` (an
:class:`ivr.runtime.IvrRuntime`, set by ``registratura serve``).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.websockets import WebSocketState

from booking_core.masking import mask_phone
from ivr.dialogue.service import run_registry_call
from ivr.io import CallInfo
from ivr.transports.browser import BrowserCallIO

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ivr.runtime import IvrRuntime
    from speech.prompt_cache import PromptCache

logger = logging.getLogger(__name__)

router = APIRouter(tags=["phone"])

_HERE = Path(__file__).resolve().parent
PAGE = _HERE / "templates" / "phone.html"
SCRIPT = _HERE / "static" / "phone.js"

#: Browser calls at once (each holds a worker thread for the length of the call).
MAX_BROWSER_CALLS = 16
#: Largest message accepted from the browser.
MAX_MESSAGE_BYTES = 2048
#: Seconds to wait for the browser's ``start`` message before the call starts without it.
START_WAIT_SECONDS = 5.0

TRANSFER_TEXT = {"ru": "Соединяю с оператором…", "en": "Connecting you to an agent…"}

_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
_KEY = re.compile(r"[0-9a-f]{24}")
_CALLER = re.compile(r"\+?\d{3,15}")

_slots = threading.BoundedSemaphore(MAX_BROWSER_CALLS)


def _runtime(app: FastAPI) -> IvrRuntime | None:
    container = getattr(app.state, "container", None)
    extras = getattr(container, "extras", None) or {}
    return extras.get("ivr_runtime")  # type: ignore[no-any-return]


def audio_file(cache: PromptCache, file: str) -> Path | None:
    """The WAV for a cache file name ``[<subdir>/]<locale>/<key>.wav``, or None if the name is
    not exactly that shape or the file does not exist inside the sounds directory."""
    prefix = f"{cache.subdir}/" if cache.subdir else ""
    if not file.startswith(prefix) or not file.endswith(".wav"):
        return None
    locale, sep, key = file[len(prefix):-len(".wav")].partition("/")
    if not sep or not _LOCALE.fullmatch(locale) or not _KEY.fullmatch(key):
        return None
    root = cache.sounds_dir.resolve()
    path = cache.wav_path(file[:-len(".wav")]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


@router.get("/phone", response_class=HTMLResponse, include_in_schema=False)
def phone_page(request: Request) -> HTMLResponse:
    """The browser phone page."""
    base = request.url.path.rstrip("/")
    page = PAGE.read_text(encoding="utf-8").replace("__PHONE_BASE__", html.escape(base))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/phone/phone.js", include_in_schema=False)
def phone_script() -> Response:
    """The page's script (plain JavaScript, no external dependencies)."""
    return FileResponse(SCRIPT, media_type="text/javascript")


@router.get("/phone/audio/{file:path}", name="phone_audio", include_in_schema=False)
def phone_audio(file: str, request: Request) -> Response:
    """A rendered prompt (8 kHz 16-bit mono WAV) by its prompt-cache name."""
    runtime = _runtime(request.app)
    if runtime is None:
        raise HTTPException(503, "the IVR is not running")
    path = audio_file(runtime.cache, file)
    if path is None:
        raise HTTPException(404)
    # Names are content hashes: a file never changes.
    return FileResponse(path, media_type="audio/wav",
                        headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.websocket("/phone/ws")
async def phone_socket(websocket: WebSocket) -> None:
    """One browser call (see :mod:`ivr.transports.browser` for the message protocol)."""
    agent = getattr(websocket.state, "agent", None)
    if agent is None:  # included without phone_user: nobody to act as
        await websocket.close(code=1008)
        return
    await websocket.accept()
    runtime = _runtime(websocket.app)
    if runtime is None:
        await websocket.send_json({"type": "error", "text": "IVR is not running"})
        await websocket.close(code=1011)
        return
    if not _slots.acquire(blocking=False):
        await websocket.send_json({"type": "busy", "text": "Все линии заняты, перезвоните"})
        await websocket.close(code=1013)
        return
    # From here the call's worker thread owns the slot and releases it when the flow ends.
    try:
        caller, early = await _start_message(websocket)
    except BaseException:
        _slots.release()
        raise
    await _call(websocket, runtime, agent.username, caller, early, agent.clinic_id)


async def _start_message(websocket: WebSocket) -> tuple[str, dict[str, Any] | None]:
    """The caller number from the browser's ``start`` message (``""`` without one), and any
    other message that came first instead (handed to the call)."""
    try:
        data = await asyncio.wait_for(websocket.receive_json(), START_WAIT_SECONDS)
    except (TimeoutError, ValueError, KeyError):
        return "", None
    if not isinstance(data, dict):
        return "", None
    if data.get("type") != "start":
        return "", data
    caller = str(data.get("caller", "")).strip()
    return (caller if _CALLER.fullmatch(caller) else ""), None


async def _call(websocket: WebSocket, runtime: IvrRuntime, operator: str, caller: str,
                early: dict[str, Any] | None, clinic_id: int | None = None) -> None:
    loop = asyncio.get_running_loop()
    outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def send(message: dict[str, Any] | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
            loop.call_soon_threadsafe(outbox.put_nowait, message)

    try:
        info = CallInfo(call_uid=f"web-{secrets.token_hex(6)}", caller_number=caller,
                        channel="browser", operator=operator, operator_clinic_id=clinic_id,
                        operator_source=websocket.client.host if websocket.client else "")
        audio_base = websocket.url.path.rsplit("/", 1)[0] + "/audio/"
        io = BrowserCallIO(info, runtime.cache, send, audio_base=audio_base)
        if early is not None and isinstance(early.get("type"), str):
            io.feed(early)
        worker = threading.Thread(target=_worker, args=(io, runtime, send),
                                  name=f"phone-{info.call_uid}", daemon=True)
        worker.start()
    except BaseException:
        _slots.release()
        raise
    logger.info("browser phone: call %s by %s as %s started", info.call_uid, operator,
                mask_phone(info.caller_number) or "anonymous")
    sender = asyncio.create_task(_pump(websocket, outbox))
    receiver = asyncio.create_task(_listen(websocket, io))
    done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    if receiver in done:
        io.caller_gone()  # the browser hung up or went away; the flow stops at its next step
        sender.cancel()
    else:
        receiver.cancel()
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()
    for task in (sender, receiver):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _worker(io: BrowserCallIO, runtime: IvrRuntime,
            send: Callable[[dict[str, Any] | None], None]) -> None:
    """The flow thread: the dialogue, then the closing messages."""
    outcome = "error"
    try:
        runtime.refresh_clinic_name()
        call = run_registry_call(io, runtime.deps)
        if io.escalated:
            send({"type": "transfer",
                  "text": TRANSFER_TEXT.get(call.state.locale, TRANSFER_TEXT["ru"]),
                  "call_id": io.variables.get("REG_CALL_ID", ""),
                  "reason": io.variables.get("REG_REASON", "")})
            outcome = "escalated"
        elif io.caller_hung_up:
            outcome = "caller_hangup"
        else:
            outcome = "completed"
        send({"type": "end", "outcome": outcome, "call_id": call.state.call_id})
    except Exception:  # the thread must always close the call (logged below)
        logger.exception("browser phone: call %s failed", io.info.call_uid)
        send({"type": "end", "outcome": "error"})
    finally:
        send(None)
        _slots.release()
        logger.info("browser phone: call %s ended (%s)", io.info.call_uid, outcome)


async def _pump(websocket: WebSocket, outbox: asyncio.Queue[dict[str, Any] | None]) -> None:
    """Flow thread -> browser, until the flow is done (``None``) or the socket fails."""
    while True:
        message = await outbox.get()
        if message is None:
            return
        try:
            await websocket.send_json(message)
        except Exception:  # noqa: BLE001 - the browser went away; the receiver notices it
            return


async def _listen(websocket: WebSocket, io: BrowserCallIO) -> None:
    """Browser -> flow thread, until the socket closes."""
    while True:
        try:
            message = await websocket.receive()
        except Exception:  # noqa: BLE001 - any receive failure means the caller is gone
            return
        if message.get("type") == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None and message.get("bytes") is not None:
            raw = message["bytes"].decode("utf-8", "replace")
        if not raw or len(raw) > MAX_MESSAGE_BYTES:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            io.feed(data)
