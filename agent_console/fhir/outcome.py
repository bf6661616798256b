"""Errors as FHIR OperationOutcome, carrying the booking core's stable error ids.

Every refusal under ``/fhir/R4`` is an OperationOutcome whose issue ``details.coding`` holds the
stable id (``slot_taken``, ``booking_blocked``, ...) in :data:`ERROR_SYSTEM`, with the HTTP status
the console's JSON API uses for the same id.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent_console.errors import status_of
from booking_core.errors import DomainError

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
ERROR_SYSTEM = "urn:registratura:error"
# HTTP status -> FHIR issue type (http://hl7.org/fhir/issue-type).
ISSUE_TYPE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
              405: "not-supported", 409: "conflict", 410: "deleted", 412: "conflict",
              422: "business-rule", 429: "throttled", 500: "exception"}
#: Ids this API adds to the booking core's (see agent_console.errors.STATUS for those).
EXTRA_STATUS = {"invalid_token": 401, "invalid_client": 401, "insufficient_scope": 403,
                "rate_limited": 429, "invalid_request": 400, "not_supported": 405,
                "hold_expired": 409, "not_cancellable": 409, "invalid_transition": 409}


class FhirError(Exception):
    """A refusal of the FHIR layer itself (bad parameters, scopes, rate limit)."""

    def __init__(self, status: int, error_id: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error_id, self.message = status, error_id, message
        self.headers = headers or {}


def http_status(error_id: str) -> int:
    return EXTRA_STATUS.get(error_id) or status_of(error_id)


def outcome(status: int, error_id: str, message: str, severity: str = "error") -> dict:  # type: ignore[type-arg]
    """A validated OperationOutcome as JSON."""
    resource = OperationOutcome.model_validate({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": severity, "code": ISSUE_TYPE.get(status, "processing"),
            "details": {"coding": [{"system": ERROR_SYSTEM, "code": error_id}], "text": message},
            "diagnostics": message,
        }],
    })
    return resource.model_dump(mode="json", exclude_none=True)


def error_response(status: int, error_id: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(outcome(status, error_id, message), status_code=status,
                        media_type=FHIR_JSON, headers=headers)


def install_outcome_handlers(app: FastAPI) -> None:
    """Every error of the FHIR app becomes an OperationOutcome; none leaks a traceback."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        logger.info("FHIR refused %s %s: %s", request.method, request.url.path, exc.code)
        return error_response(http_status(exc.code), exc.code, exc.message)

    @app.exception_handler(FhirError)
    async def fhir_error(request: Request, exc: FhirError) -> JSONResponse:
        return error_response(exc.status, exc.error_id, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query"))
                  for e in exc.errors()]
        return error_response(400, "invalid_request",
                              "invalid or missing: " + ", ".join(f for f in fields if f))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_id = {404: "not_found", 405: "not_supported"}.get(exc.status_code, "invalid_request")
        return error_response(exc.status_code, error_id, str(exc.detail))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("FHIR %s %s failed", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error: read the resource "
                              "before retrying (a retried $book with its idempotency key is safe)")
