"""The console's FastAPI application factory."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from registratura.bootstrap import Container

logger = logging.getLogger(__name__)


def create_app(container: Container) -> FastAPI:
    """Build the web app around an already wired container."""
    app = FastAPI(title="Registratura", version="0.1.0")
    app.state.container = container

    @app.get("/healthz", tags=["system"])
    def healthz() -> JSONResponse:
        """Liveness and database reachability, for load balancers and the README check."""
        db_ok = container.check_database()
        body = {"status": "ok" if db_ok else "degraded", "database": "ok" if db_ok else "down"}
        return JSONResponse(body, status_code=200 if db_ok else 503)

    return app
