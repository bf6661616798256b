"""Operation inputs: a FHIR ``Parameters`` resource read into plain values."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.parameters import Parameters
from pydantic import ValidationError

from agent_console.fhir.outcome import FhirError

_SCALARS = ("valueString", "valueCode", "valueDate", "valueDateTime", "valueInstant",
            "valueInteger", "valueUri")


def parameter_values(body: object) -> dict[str, Any]:
    """name -> value: a string for scalars, the reference string for a reference, the code of
    a Coding or CodeableConcept, or the resource itself."""
    try:
        params = Parameters.model_validate(body)
    except ValidationError as exc:
        raise FhirError(400, "invalid_request", "not a valid Parameters resource: "
                        f"{exc.error_count()} problem(s)") from None
    out: dict[str, Any] = {}
    for p in params.parameter or []:
        if p.resource is not None:
            out[p.name] = p.resource
        elif (scalar := next((getattr(p, a) for a in _SCALARS
                              if getattr(p, a, None) is not None), None)) is not None:
            out[p.name] = str(scalar)
        elif p.valueReference is not None:
            out[p.name] = p.valueReference.reference
        elif p.valueCoding is not None:
            out[p.name] = p.valueCoding.code
        elif p.valueCodeableConcept is not None and p.valueCodeableConcept.coding:
            out[p.name] = p.valueCodeableConcept.coding[0].code
    return out
