"""HTTP errors with stable ids.

Every refusal leaves the console as ``{"error": {"id": ..., "message": ...}}`` (JSON API) or
as a page / flash message naming the same id (browser).  Booking-core refusals keep their
``DomainError.code`` as the id; the console adds its own few (authentication, roles, CSRF).
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent_console import labels
from booking_core.errors import DomainError

logger = logging.getLogger(__name__)

#: HTTP status of each stable id; anything else a rule refuses is a 409 conflict.
STATUS = {
    "not_found": 404,
    "not_identified": 404,
    "slot_taken": 409,
    "call_taken": 409,
    "already_exists": 409,
    "duplicate": 409,
    "invalid_snils": 422,
    "invalid_birth_date": 422,
    "invalid_phone": 422,
    "invalid_input": 422,
    "invalid_policy": 422,
    "referral_required": 422,
    "age_mismatch": 422,
    "wrong_clinic": 422,
    "booking_blocked": 403,
    "channel_closed": 403,
    "forbidden": 403,
    "other_clinic": 403,
    "csrf_failed": 403,
    "not_authenticated": 401,
    "invalid_credentials": 401,
    "too_many_attempts": 429,
}


class ConsoleError(Exception):
    """A refusal of the console itself (not of a booking rule)."""

    code = "console_error"
    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.code)
        self.message = message or labels.error_text(self.code)


class NotAuthenticated(ConsoleError):
    code = "not_authenticated"
    status = 401


class Forbidden(ConsoleError):
    code = "forbidden"
    status = 403


class CsrfFailed(ConsoleError):
    code = "csrf_failed"
    status = 403


class TooManyLogins(ConsoleError):
    code = "too_many_attempts"
    status = 429


def status_of(code: str) -> int:
    return STATUS.get(code, 409)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"id": code, "message": message}}


def is_api(request: Request) -> bool:
    """JSON callers: the /api tree, or anyone who asks for JSON only."""
    path = request.url.path
    if path.startswith("/api/") or path in ("/api", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def safe_back(request: Request, default: str = "/") -> str:
    """Where to send the browser after a refused form: the same-origin page it came from."""
    referer = request.headers.get("referer", "")
    if not referer:
        return default
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.url.netloc:
        return default
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return default
    return path + (f"?{parts.query}" if parts.query else "")


def _page(request: Request, status: int, code: str, message: str) -> Response:
    from agent_console.templating import render

    return render(request, "error.html", {"status": status, "error_id": code,
                                          "message": message}, status_code=status)


def install_handlers(app: FastAPI) -> None:
    """Map every refusal to a stable id, as JSON for the API and as pages for people."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        status = status_of(exc.code)
        text = labels.error_text(exc.code, exc.message)
        logger.info("refused %s %s: %s", request.method, request.url.path, exc.code)
        if is_api(request):
            return JSONResponse(error_body(exc.code, exc.message), status_code=status)
        if request.method == "POST":
            # A refused form: back to the page it came from, saying why.
            from agent_console.security import flash

            flash(request, text, kind="error", code=exc.code)
            return RedirectResponse(safe_back(request), status_code=303)
        return _page(request, status, exc.code, text)

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError) -> Response:
        if is_api(request):
            return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)
        if isinstance(exc, NotAuthenticated):
            back = f"?next={quote(request.url.path)}" if request.method == "GET" else ""
            return RedirectResponse(f"/login{back}", status_code=303)
        return _page(request, exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields = [".".join(str(p) for p in e.get("loc", ()) if p != "body") for e in exc.errors()]
        message = "invalid or missing: " + ", ".join(f for f in fields if f)
        if is_api(request):
            return JSONResponse(error_body("invalid_input", message), status_code=422)
        if request.method == "POST":
            from agent_console.security import flash

            flash(request, labels.error_text("invalid_input"), kind="error", code="invalid_input")
            return RedirectResponse(safe_back(request), status_code=303)
        return _page(request, 422, "invalid_input", labels.error_text("invalid_input"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated",
                403: "forbidden"}.get(exc.status_code, f"http_{exc.status_code}")
        message = str(exc.detail) if exc.detail else code
        if is_api(request):
            return JSONResponse(error_body(code, message), status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        return _page(request, exc.status_code, code, labels.error_text(code, message))
