"""FHIR responses: resources and searchset Bundles with paging links (``Bundle.link``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from agent_console.fhir.outcome import FHIR_JSON, FhirError

DEFAULT_COUNT = 50
MAX_COUNT = 200


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def base_url(request: Request) -> str:
    """``http://host/fhir/R4``: the service base the resources' full URLs hang from."""
    return str(request.base_url).rstrip("/")


def resource_response(resource: Resource, status_code: int = 200,
                      headers: dict[str, str] | None = None) -> FhirResponse:
    return FhirResponse(resource.model_dump(mode="json", exclude_none=True),
                        status_code=status_code, headers=headers)


def searchset(request: Request, resources: Sequence[Resource], *, offset: int = 0,
              count: int | None = None, has_more: bool = False,
              total: int | None = None) -> FhirResponse:
    """A searchset Bundle; ``next``/``previous`` links repeat the query with another offset."""
    base = base_url(request)
    links = [{"relation": "self", "url": str(request.url)}]
    if count is not None and has_more:
        links.append({"relation": "next", "url": _with_offset(request, offset + count)})
    if count is not None and offset > 0:
        links.append({"relation": "previous",
                      "url": _with_offset(request, max(0, offset - count))})
    shell: dict = {"resourceType": "Bundle", "type": "searchset", "link": links}  # type: ignore[type-arg]
    if total is not None:
        shell["total"] = total
    # The shell is validated; the entries' resources were validated when they were built, so
    # they are dumped once instead of being parsed again as part of the Bundle.
    data = Bundle.model_validate(shell).model_dump(mode="json", exclude_none=True)
    data["entry"] = [{**({"fullUrl": f"{base}/{r.get_resource_type()}/{r.id}"} if r.id else {}),
                      "resource": r.model_dump(mode="json", exclude_none=True),
                      "search": {"mode": "match"}} for r in resources]
    return FhirResponse(data)


def _with_offset(request: Request, offset: int) -> str:
    return str(request.url.include_query_params(_offset=offset))


def page(count: int | None, offset: int | None) -> tuple[int, int]:
    """Validated ``_count`` and ``_offset``."""
    count = DEFAULT_COUNT if count is None else count
    offset = offset or 0
    if not 1 <= count <= MAX_COUNT:
        raise FhirError(400, "invalid_request", f"_count must be 1-{MAX_COUNT}")
    if offset < 0:
        raise FhirError(400, "invalid_request", "_offset must not be negative")
    return count, offset


def reference_id(value: str | None, resource_type: str) -> int | None:
    """``Practitioner/12`` or ``12`` -> 12; anything else is a 400 naming the parameter."""
    if not value:
        return None
    raw = value.rsplit("/", 1)[-1] if value.startswith(f"{resource_type}/") or "/" not in value \
        else None
    if raw is None or not raw.isdigit():
        raise FhirError(400, "invalid_request", f"expected a {resource_type} reference")
    return int(raw)


def date_range(values: Sequence[str], tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """FHIR date search prefixes (``ge``, ``gt``, ``le``, ``lt``, ``eq``) as a clinic-local
    [start, end) interval; a date without a time means the whole day."""
    start: datetime | None = None
    end: datetime | None = None
    for value in values:
        prefix, raw = (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt", "eq") \
            else ("eq", value)
        lo, hi = _parse_moment(raw, tz)
        if prefix in ("ge", "gt", "eq"):
            start = max(start, lo) if start else lo
        if prefix in ("le", "lt", "eq"):
            bound = lo if prefix == "lt" else hi
            end = min(end, bound) if end else bound
    return start, end


def _parse_moment(raw: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The [lo, hi) a FHIR date or dateTime stands for, in clinic-local naive time."""
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            lo = datetime.combine(day, time.min)
            return lo, datetime.combine(date.fromordinal(day.toordinal() + 1), time.min)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(400, "invalid_request", "dates must be YYYY-MM-DD or an instant with "
                        "its offset") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz).replace(tzinfo=None)
    return moment, moment
