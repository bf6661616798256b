"""``metadata``: the CapabilityStatement, the reference of what this FHIR API does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from agent_console.fhir.bundles import base_url, resource_response
from booking_core.api_clients import KNOWN_SCOPES

router = APIRouter()

_READ = [{"code": "read"}, {"code": "search-type"}]
RESOURCES = [
    ("Practitioner", _READ, [("name", "string"), ("specialty", "token")]),
    ("PractitionerRole", _READ, [("specialty", "token"), ("practitioner", "reference")]),
    ("HealthcareService", _READ, []),
    ("Location", _READ, []),
    ("Schedule", _READ, [("actor", "reference"), ("service-type", "token")]),
    ("Slot", _READ, [("service-type", "token"), ("specialty", "token"),
                     ("schedule", "reference"), ("start", "date"), ("status", "token")]),
    ("Patient", [{"code": "read"}, {"code": "search-type"}],
     [("identifier", "token"), ("birthdate", "date")]),
    ("Appointment", [{"code": "read"}, {"code": "search-type"}, {"code": "update"}],
     [("patient", "reference"), ("_lastUpdated", "date"), ("status", "token")]),
]
OPERATIONS = ["find", "hold", "book"]


@router.get("/metadata", summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    base = base_url(request)
    rest_resources = []
    for name, interactions, params in RESOURCES:
        entry = {"type": name, "interaction": interactions,
                 "searchParam": [{"name": n, "type": t} for n, t in params]}
        if name == "Appointment":
            entry["operation"] = [{"name": op, "definition":
                                   f"{base}/OperationDefinition/appointment-{op}"}
                                  for op in OPERATIONS]
        rest_resources.append(entry)
    statement = CapabilityStatement.model_validate({
        "resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
        "date": "2026-12-06", "fhirVersion": "4.0.1", "format": ["json"],
        "software": {"name": "Registratura"},
        "implementation": {"description": "Registratura scheduling API", "url": base},
        "rest": [{
            "mode": "server",
            "documentation": "Find, hold, book, cancel and reschedule on the clinic's booking "
                             "core. Scopes: " + ", ".join(KNOWN_SCOPES),
            "security": {
                "cors": False,
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "OAuth"}]}],
                "description": f"OAuth2 client credentials: POST {base}/auth/token",
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/"
                           "oauth-uris",
                    "extension": [{"url": "token", "valueUri": f"{base}/auth/token"}]}]},
            "resource": rest_resources,
        }],
    })
    return resource_response(statement)
