"""The audit log: who, when, from where, what, before and after (rule 15)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from booking_core.actors import Actor
from booking_core.uow import UnitOfWork
from models.tables import AuditLog


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A JSON-safe dict of ``fields`` of ``obj`` for the before/after columns."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, date | datetime | time) else value
    return out


def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the current transaction (it commits or rolls back with it)."""
    uow.session.add(
        AuditLog(
            at=uow.clock.now_utc(),
            actor=actor.label,
            actor_kind=actor.kind,
            channel=actor.channel,
            source=actor.source,
            action=action,
            entity=entity,
            entity_id=str(entity_id or ""),
            before=before,
            after=after,
        )
    )


def note(uow: UnitOfWork, actor: Actor, action: str, entity: str, entity_id: object,
         after: dict[str, Any] | None = None) -> None:
    """An audit entry in a transaction of its own, for actions outside the booking tables
    (a click-to-call placed from the console)."""
    with uow:
        record(uow, actor, action, entity, entity_id, None, after)
        uow.commit()
