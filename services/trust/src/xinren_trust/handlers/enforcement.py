"""The graded 匹诺曹 ladder: a violation is recorded once, counted within its kind's window (a reinstated shop keeps
its history), and the step it reaches becomes an action, an event and the shop's new standing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.contracts.trust import ActionKind, ShopStanding, TrustSubject, Violation
from xinren_shared.errors import Conflict
from xinren_shared.ids import new_id, utcnow

from .. import domain, events_out
from ..domain import HOLDING, ActionStatus
from ..models import EnforcementAction, Standing, ViolationRecord
from ..settings import TrustSettings
from .scoring import Runtime

log = logging.getLogger("xinren.trust")

_DESCRIBED = {
    Violation.COUNTERFEIT: "counterfeit found by the quality check",
    Violation.FALSE_PROMISE: "shipping promise (FAST_SHIPPING) missed",
    Violation.QC_EXPIRED: "item never sent to the quality-check warehouse in time",
    Violation.ARBITRATION_LOST: "after-sales arbitration lost",
}


async def lock_standing(session: AsyncSession, kind: TrustSubject, subject_id: str) -> Standing:
    await session.execute(
        insert(Standing)
        .values(subject_kind=kind.value, subject_id=subject_id, status=ShopStanding.ACTIVE.value)
        .on_conflict_do_nothing(index_elements=["subject_kind", "subject_id"])
    )
    return (
        await session.scalars(
            select(Standing)
            .where(col(Standing.subject_kind) == kind.value, col(Standing.subject_id) == subject_id)
            .with_for_update()
        )
    ).one()


async def holding_kinds(session: AsyncSession, kind: TrustSubject, subject_id: str) -> list[ActionKind]:
    rows = await session.scalars(
        select(col(EnforcementAction.kind)).where(
            col(EnforcementAction.subject_kind) == kind.value,
            col(EnforcementAction.subject_id) == subject_id,
            col(EnforcementAction.kind).in_([ActionKind.SUSPENSION.value, ActionKind.CLOSURE.value]),
            col(EnforcementAction.status).in_([s.value for s in HOLDING]),
        )
    )
    return [ActionKind(k) for k in rows.all()]


async def violate(
    session: AsyncSession,
    runtime: Runtime,
    kind: TrustSubject,
    subject_id: str,
    violation: Violation,
    *,
    source: str,
    at: datetime,
    order_id: str | None,
    shop_id: str | None,
    host_id: str | None = None,
) -> EnforcementAction | None:
    """Records a violation once per `source` and takes the ladder step its count reaches, if any."""
    settings: TrustSettings = runtime.settings
    ladders = settings.shop_ladders if kind is TrustSubject.SHOP else settings.host_ladders
    ladder = ladders.get(violation)
    # Violations of one subject are counted under its standing's lock: each count reaches its step once.
    standing = await lock_standing(session, kind, subject_id)
    inserted = await session.execute(
        insert(ViolationRecord)
        .values(
            violation_id=new_id("vio"),
            subject_kind=kind.value,
            subject_id=subject_id,
            kind=violation.value,
            order_id=order_id,
            source=source,
            at=at,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["source"])
        .returning(col(ViolationRecord.violation_id))
    )
    violation_id = inserted.scalar()
    if violation_id is None or ladder is None:
        return None
    count = (
        await session.execute(
            select(func.count()).where(
                col(ViolationRecord.subject_kind) == kind.value,
                col(ViolationRecord.subject_id) == subject_id,
                col(ViolationRecord.kind) == violation.value,
                col(ViolationRecord.voided).is_(False),
                col(ViolationRecord.at) > at - timedelta(seconds=ladder.window_seconds),
            )
        )
    ).scalar_one()
    step = domain.action_for(ladder, count)
    if step is None or standing.status == ShopStanding.CLOSED:
        return None
    # Violations of one subject may arrive on several partitions: an action is dated when its step is taken (under
    # the lock), so the actions' order is the ladder's order.
    taken_at = max(at, utcnow())
    action = EnforcementAction(
        action_id=new_id("act"),
        subject_kind=kind.value,
        subject_id=subject_id,
        shop_id=shop_id,
        host_id=host_id,
        kind=step.action.value,
        violation=violation.value,
        violation_id=violation_id,
        step=count,
        fine_fen=step.fine_fen if step.action is ActionKind.FINE else 0,
        order_id=order_id,
        status=ActionStatus.ACTIVE.value,
        reason=f"{_DESCRIBED[violation]} ({count} within {ladder.window_seconds / 86_400:g} days)",
        at=taken_at,
        updated_at=taken_at,
    )
    session.add(action)
    await session.flush()
    new_standing = domain.standing_after([*await holding_kinds(session, kind, subject_id)])
    standing.status, standing.updated_at = new_standing.value, taken_at
    await runtime.outbox.add(session, events_out.action_taken(action, new_standing))
    log.warning("%s %s: %s after %s #%d", kind.value, subject_id, step.action.value, violation.value, count)
    return action


async def restand(session: AsyncSession, kind: TrustSubject, subject_id: str, at: datetime) -> ShopStanding:
    """The standing again from the actions that still hold (after one was overturned)."""
    standing = await lock_standing(session, kind, subject_id)
    new_standing = domain.standing_after(await holding_kinds(session, kind, subject_id))
    standing.status, standing.updated_at = new_standing.value, at
    return new_standing


async def reinstate_shop(uow: UnitOfWork[TrustSettings], principal: Principal, shop_id: str) -> dict[str, str]:
    """The platform lifts a shop's suspension after review: the suspensions are LIFTED, the history stays and counts
    on the ladder (the next violation climbs from where the shop was)."""
    session = uow.session
    standing = await lock_standing(session, TrustSubject.SHOP, shop_id)
    if standing.status == ShopStanding.CLOSED:
        raise Conflict(f"shop {shop_id} is closed for good", code="SHOP_CLOSED", details={"shop_id": shop_id})
    if standing.status != ShopStanding.SUSPENDED:
        raise Conflict(f"shop {shop_id} is not suspended", code="SHOP_NOT_SUSPENDED", details={"shop_id": shop_id})
    suspensions = (
        await session.scalars(
            select(EnforcementAction)
            .where(
                col(EnforcementAction.subject_kind) == TrustSubject.SHOP.value,
                col(EnforcementAction.subject_id) == shop_id,
                col(EnforcementAction.kind) == ActionKind.SUSPENSION.value,
                col(EnforcementAction.status).in_([s.value for s in HOLDING]),
            )
            .order_by(col(EnforcementAction.at).desc())
            .with_for_update()
        )
    ).all()
    for action in suspensions:
        if domain.ACTION.can(action.status, ActionStatus.LIFTED):
            domain.ACTION.move(action.status, ActionStatus.LIFTED)
            action.status, action.updated_at = ActionStatus.LIFTED.value, uow.now
    standing.status, standing.updated_at = ShopStanding.ACTIVE.value, uow.now
    last = suspensions[0].action_id if suspensions else ""
    await uow.runtime.outbox.add(session, events_out.shop_reinstated(shop_id, last, principal.actor))
    return {"shop_id": shop_id, "status": ShopStanding.ACTIVE.value}
