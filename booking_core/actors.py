"""Who does something, through which channel, from where: written into every audit entry."""

from __future__ import annotations

from dataclasses import dataclass

from models.tables import Channel


@dataclass(frozen=True)
class Actor:
    kind: str  # "patient", "agent", "system"
    ident: str
    channel: str
    source: str = ""
    # A per-clinic console user acts for that clinic only; None: everybody else (regional
    # users, patients, the system, API clients), whom the clinic scope does not narrow.
    clinic_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.ident}" if self.ident else self.kind

    @classmethod
    def patient(cls, patient_id: int | None, channel: str, source: str = "") -> Actor:
        return cls("patient", str(patient_id or ""), channel, source)

    @classmethod
    def agent(cls, username: str, source: str = "", channel: str = Channel.CONSOLE,
              clinic_id: int | None = None) -> Actor:
        return cls("agent", username, channel, source, clinic_id)

    @classmethod
    def system(cls, what: str = "") -> Actor:
        return cls("system", what, Channel.SYSTEM)
