"""What every FHIR route needs from the app: the container and the clinic's time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import Request

from registratura.bootstrap import Container


def container_of(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def clinic_tz(request: Request) -> ZoneInfo:
    return ZoneInfo(container_of(request).settings.timezone)
