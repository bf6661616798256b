"""Helpers for tests of the FHIR API: client credentials, tokens, operation inputs."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

ALL_SCOPES = ("system/*.read", "system/Appointment.write", "system/Patient.search")
POLICY_SYSTEM = "http://fhir.ru/ig/RuSEMD/systems/OMS"


@dataclass(frozen=True)
class ApiClientCreds:
    client_id: str
    secret: str


def get_token(base: str, creds: ApiClientCreds) -> str:
    """A bearer token through the client-credentials grant (HTTP Basic, as RFC 6749 prefers)."""
    r = httpx.post(f"{base}/auth/token", data={"grant_type": "client_credentials"},
                   auth=(creds.client_id, creds.secret))
    assert r.status_code == 200, r.text
    return r.json()["access_token"]  # type: ignore[no-any-return]


def parameters(**values: object) -> dict:  # type: ignore[type-arg]
    """A Parameters resource: resources as such, anything else as valueString
    (``appointment_resource`` becomes ``appointment-resource``)."""
    out = []
    for name, value in values.items():
        key = name.replace("_", "-") if not name.startswith("_") else name
        if isinstance(value, dict) and "resourceType" in value:
            out.append({"name": key, "resource": value})
        else:
            out.append({"name": key, "valueString": str(value)})
    return {"resourceType": "Parameters", "parameter": out}


def requested(slot_ref: str, patient_ref: str, appointment_id: str | None = None) -> dict:  # type: ignore[type-arg]
    """The ``$hold``/``$book`` input: an appointment naming one slot and one patient."""
    appt: dict = {"resourceType": "Appointment", "status": "proposed",  # type: ignore[type-arg]
                  "slot": [{"reference": slot_ref}],
                  "participant": [{"actor": {"reference": patient_ref},
                                   "status": "needs-action"}]}
    if appointment_id:
        appt["id"] = appointment_id
    return parameters(appointment_resource=appt)
