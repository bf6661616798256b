"""Patient: found by OMS policy and date of birth, with the phone's uniform answer (rule 3).

Policy and date of birth travel only in a POST body (``Patient/_search``), never in a URL.  An
unknown policy and a wrong date of birth both give an empty Bundle; failures count against the
policy exactly as on the phone, so the API cannot be used to test stolen data either.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from agent_console.fhir.auth import PatientReader, PatientSearcher
from agent_console.fhir.bundles import resource_response, searchset
from agent_console.fhir.deps import container_of
from agent_console.fhir.outcome import FhirError
from agent_console.fhir.parameters import parameter_values
from agent_console.fhir.resources import patient
from booking_core.commands import Identify
from booking_core.errors import NotIdentified
from booking_core.identification import identify
from booking_core.patients import patient_view

router = APIRouter()


@router.get("/Patient", include_in_schema=False)
def refuse_get_search(request: Request, client: PatientSearcher) -> Response:
    raise FhirError(400, "invalid_request", "personal data never goes in a URL: POST the "
                    "identifier and birthdate as a form to Patient/_search")


@router.post("/Patient/_search", summary="Find a patient by OMS policy and date of birth",
             openapi_extra={"requestBody": {"content": {
                 "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                 "application/fhir+json": {"schema": {"type": "object"}}}}})
async def search_patient(request: Request, client: PatientSearcher) -> Response:
    """The FHIR form post (``identifier=system|policy&birthdate=YYYY-MM-DD``), or the same two
    as a ``Parameters`` resource for clients that post JSON only."""
    identifier, birthdate = await _search_terms(request)
    system, _, policy = identifier.rpartition("|")
    policy_system = container_of(request).settings.fhir_policy_system
    if system and system != policy_system:
        raise FhirError(400, "invalid_request", f"identifier system must be {policy_system}")
    try:
        born = date.fromisoformat(birthdate)
    except ValueError:
        raise FhirError(400, "invalid_request", "birthdate must be YYYY-MM-DD") from None
    uow = container_of(request).uow()
    try:
        found = await run_in_threadpool(identify, Identify(policy, born, client.channel), uow)
    except NotIdentified:
        return _no_store(searchset(request, [], total=0))
    return _no_store(searchset(request, [patient(found, policy_system, policy)], total=1))


async def _search_terms(request: Request) -> tuple[str, str]:
    if "json" in request.headers.get("content-type", ""):
        try:
            body = await request.json()
        except ValueError:
            raise FhirError(400, "invalid_request", "the body is not JSON") from None
        terms = parameter_values(body)
    else:
        form = await request.form()
        terms = {k: v for k, v in form.items() if isinstance(v, str)}
    identifier, birthdate = terms.get("identifier", ""), terms.get("birthdate", "")
    if not identifier or not birthdate or len(identifier) > 120 or len(birthdate) > 10:
        raise FhirError(400, "invalid_request", "identifier and birthdate are both required")
    return str(identifier), str(birthdate)


@router.get("/Patient/{patient_id}", summary="One patient by id (the MIS)")
def read_patient(patient_id: int, request: Request, client: PatientReader) -> Response:
    view = patient_view(patient_id, container_of(request).uow())
    return resource_response(patient(view, "", None), headers={"Cache-Control": "no-store"})


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
