"""The console's FastAPI application factory: pages for registrars, the JSON API under /api,
the live queue feed, OpenAPI docs at /docs (Swagger UI 5 from the fastapi-swagger package)."""

from __future__ import annotations

import importlib
import importlib.resources
import logging
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from agent_console.deps import CurrentAgent, phone_user
from agent_console.errors import install_handlers
from agent_console.feed import QueueFeed
from agent_console.fhir import MOUNT_PATH as FHIR_MOUNT_PATH
from agent_console.fhir import create_fhir_app
from agent_console.routers import (
    absences,
    api_clients,
    appointments,
    audit,
    auth,
    callbacks,
    clinics,
    dashboard,
    desk,
    doctor_schedules,
    doctors,
    exports,
    imports,
    patients,
    queue,
    registry,
    restrictions,
    schedule,
    specialties,
    telephony,
    users,
    waitlist,
)
from agent_console.security import SESSION_COOKIE, SESSION_MAX_AGE, SharedLoginThrottle
from agent_console.templating import make_templates
from registratura.bootstrap import Container

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
SWAGGER_UI_DIR = importlib.resources.files("fastapi_swagger") / "resources"
SSE_MAX_SECONDS = 20.0  # then the browser reconnects; lets a server shut down promptly

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
       "form-action 'self'")
#: Pages of other modules (browser phone, Swagger UI) bring their own scripts: no CSP there.
CSP_EXEMPT = ("/docs", "/phone", "/webhooks")

DESCRIPTION = """
JSON API of the registry console.  Authenticate with `POST /api/session` (session cookie);
send the returned `csrf_token` as the `X-CSRF-Token` header with every POST, PATCH and DELETE.
Errors are `{"error": {"id": "...", "message": "..."}}` with stable ids (`slot_taken`,
`forbidden`, `csrf_failed`, `not_found`, `invalid_input`, ...).  Policy numbers, phone numbers
and dates of birth are only ever sent in request bodies, never in URLs.
"""


#: Responses under these paths may carry personal data: never stored by a browser or proxy.
NO_STORE_PATHS = ("/api/", "/openapi.json")
HSTS = b"max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """Adds the usual browser hardening headers to every HTTP response; ``no-store`` on the
    API (patient data); HSTS when the console is served over https."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"same-origin"),
                         (b"x-frame-options", b"DENY")]
                if not path.startswith(CSP_EXEMPT):
                    extra.append((b"content-security-policy", CSP.encode()))
                if path.startswith(NO_STORE_PATHS):
                    extra.append((b"cache-control", b"no-store"))
                if self.hsts:
                    extra.append((b"strict-transport-security", HSTS))
                headers += [(k, v) for k, v in extra if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _optional_router(module: str) -> object | None:
    """``module.router`` if that module exists (modules written alongside this one)."""
    try:
        return importlib.import_module(module).router
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # the module exists but something it imports is missing: say so
        return None


def create_app(container: Container, *, poll_interval: float = 1.0,
               sse_max_seconds: float = SSE_MAX_SECONDS) -> FastAPI:
    """Build the web app around an already wired container."""
    # The schema and /docs are served below, behind the login (they map the whole API).
    app = FastAPI(title="Registratura console API", version="0.1.0", description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.container = container
    app.state.templates = make_templates(container.settings.timezone)
    app.state.feed = QueueFeed(container, interval=poll_interval)
    app.state.sse_max_seconds = sse_max_seconds

    settings = container.settings
    secret = settings.secret_key
    if secret is None:  # bootstrap() always resolves it; a hand-built container must too
        raise RuntimeError("settings carry no secret key: build the container with bootstrap()")
    # Failed logins are counted in the database: every console process sees the same count.
    app.state.login_throttle = SharedLoginThrottle(container.uow, secret.get_secret_value())
    https = settings.public_base_url.strip().lower().startswith("https://")
    app.add_middleware(SessionMiddleware, secret_key=secret.get_secret_value(),
                       session_cookie=SESSION_COOKIE,
                       max_age=SESSION_MAX_AGE, same_site="lax", https_only=https)
    app.add_middleware(SecurityHeaders, hsts=https)
    # Outermost: the client address (login throttle, audit) is the forwarded one only when
    # the request came from a configured proxy; nobody else can choose their address.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Swagger UI 5 from the fastapi-swagger package: it reads OpenAPI 3.1 (FastAPI's output; the
    # 4.x bundle said "Unable to render this definition"), and /docs works offline.
    app.mount("/swagger-ui", StaticFiles(directory=str(SWAGGER_UI_DIR)), name="swagger-ui")
    install_handlers(app)
    # Other channels (portal, infomat, MIS): their own app with OAuth2 and OperationOutcome.
    app.mount(FHIR_MOUNT_PATH, create_fhir_app(container))

    @app.get("/healthz", tags=["system"])
    def healthz() -> JSONResponse:
        """Liveness and database reachability, for load balancers and the README check."""
        db_ok = container.check_database()
        body = {"status": "ok" if db_ok else "degraded", "database": "ok" if db_ok else "down"}
        return JSONResponse(body, status_code=200 if db_ok else 503)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(agent: CurrentAgent) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(agent: CurrentAgent) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="Registratura API",
            swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            swagger_ui_parameters={"tryItOutEnabled": False, "filter": True})

    for module in (auth, queue, patients, schedule, appointments, callbacks, absences,
                   restrictions, waitlist, audit, dashboard, users, desk, telephony,
                   api_clients,
                   # administration of the clinic (admin role)
                   clinics, specialties, doctors, doctor_schedules, registry, exports):
        app.include_router(module.router)
        app.include_router(module.api)
    app.include_router(imports.router)  # a page only: the JSON way is `registratura import`

    # --- routers written by the telephony side (present once their modules land) ----------
    phone_router = _optional_router("agent_console.phone")  # /phone page + websocket
    if phone_router is not None:
        app.include_router(phone_router, dependencies=[Depends(phone_user)])  # type: ignore[arg-type]
    # Twilio SMS webhooks: they authenticate by Twilio's signature, not by a console session,
    # so their router carries no CSRF dependency of ours.
    webhooks_router = _optional_router("agent_console.webhooks")
    if webhooks_router is not None:
        app.include_router(webhooks_router)  # type: ignore[arg-type]
    app.state.has_phone = phone_router is not None

    logger.info("console ready (Asterisk LiveBoard: %s, browser phone: %s)",
                "yes" if container.extras.get("live_board") is not None else "no",
                "yes" if phone_router is not None else "no")
    return app
