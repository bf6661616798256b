"""HL7 FHIR R4 scheduling API under ``/fhir/R4``: other channels (the portal, infomats, the MIS)
on the same booking core, as OAuth2 clients whose channel the core judges."""

from __future__ import annotations

from fastapi import FastAPI

from agent_console.fhir import appointments, auth, capability, directory, patients, slots
from agent_console.fhir.auth import RateLimiter, SharedRateLimiter
from agent_console.fhir.outcome import install_outcome_handlers
from registratura.bootstrap import Container

MOUNT_PATH = "/fhir/R4"


def create_fhir_app(container: Container) -> FastAPI:
    """The FHIR app, mounted by the console app at :data:`MOUNT_PATH`."""
    app = FastAPI(title="Registratura FHIR R4 scheduling API", version="0.1.0",
                  docs_url=None, redoc_url=None, openapi_url=None)  # metadata is the reference
    app.state.container = container
    # PostgreSQL: counted across every console process.  SQLite keeps the console in one
    # process, where memory is the same count without a write (an fsync) per request.
    app.state.rate_limiter = (RateLimiter() if container.settings.is_sqlite
                              else SharedRateLimiter(container.uow))
    install_outcome_handlers(app)
    for module in (capability, auth, directory, slots, patients, appointments):
        app.include_router(module.router)
    return app
