"""Rules 11 and 21: three no-shows without cancellation block remote booking for exactly 30
days (the day of the block is the first, ``blocked_until`` the last); no-shows older than the
look-back window (12 months by default) no longer count."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlmodel import col, func, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.errors import NotFound
from booking_core.rules import block_until, no_show_lookback_start
from booking_core.scope import check_patient
from booking_core.uow import UnitOfWork
from models.tables import Appointment, AppointmentStatus, NoShowBlock

logger = logging.getLogger(__name__)


def apply_no_show_rule(uow: UnitOfWork, patient_id: int, actor: Actor) -> NoShowBlock | None:
    """Inside a transaction: block the patient if the no-shows since the last block reach N."""
    today = uow.clock.today()
    last = uow.session.exec(
        select(NoShowBlock)
        .where(NoShowBlock.patient_id == patient_id)
        .order_by(col(NoShowBlock.blocked_from).desc())
    ).first()
    if last is not None and last.lifted_at is None and last.blocked_until >= today:
        return None  # already blocked
    # No-shows up to the day of the last block were counted by it; only later ones count again,
    # and none older than the look-back window.
    since = datetime.combine(
        no_show_lookback_start(today, uow.rules.no_show_lookback_months), time.min)
    if last is not None:
        since = max(since, datetime.combine(last.blocked_from + timedelta(days=1), time.min))
    count = uow.session.exec(
        select(func.count()).select_from(Appointment).where(
            Appointment.patient_id == patient_id,
            Appointment.status == AppointmentStatus.NO_SHOW,
            Appointment.starts_at >= since,
        )
    ).one()
    if count < uow.rules.no_show_block_threshold:
        return None
    block = NoShowBlock(
        patient_id=patient_id, blocked_from=today,
        blocked_until=block_until(today, uow.rules.no_show_block_days),
        reason=f"{count} no-shows", created_at=uow.clock.now_utc(),
    )
    uow.session.add(block)
    uow.flush()
    audit.record(uow, actor, "block", "patient", patient_id, None,
                 audit.snapshot(block, ("blocked_from", "blocked_until", "reason")))
    logger.info("patient %s blocked for remote booking until %s", patient_id, block.blocked_until)
    return block


def lift_block(block_id: int, actor: Actor, uow: UnitOfWork) -> None:
    """An agent lifts a block early (the patient explained the no-shows at the desk)."""
    with uow:
        block = uow.session.get(NoShowBlock, block_id)
        if block is None:
            raise NotFound("block not found")
        check_patient(uow, actor, block.patient_id)
        block.lifted_at = uow.clock.now_utc()
        audit.record(uow, actor, "unblock", "patient", block.patient_id, None,
                     {"block_id": block_id})
        uow.commit()


def block_status(patient_id: int, uow: UnitOfWork) -> tuple[int, NoShowBlock | None]:
    """(total no-shows, block in force today or None) for the patient card."""
    from booking_core.eligibility import active_block

    with uow.reading():
        count = uow.session.exec(
            select(func.count()).select_from(Appointment).where(
                Appointment.patient_id == patient_id,
                Appointment.status == AppointmentStatus.NO_SHOW,
            )
        ).one()
        return count, active_block(uow, patient_id, uow.clock.today())
