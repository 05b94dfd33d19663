"""The refund service's own consistency checks (besides the outbox and timers every service checks): money asked of
the order service whose answer has not come back within the bound. The repair asks again with `reask`, so the order
service answers again what it answered before (nothing moves twice) or does now what it never received."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.consistency import LISTED_PER_CHECK, Check, Finding
from xinren_shared.runtime import ServiceRuntime

from . import events_out
from .domain import CompensationStatus, S
from .models import AfterSaleCase, Compensation
from .repository import lock_case_with_order, lock_compensation, lock_order

REFUND_UNANSWERED = "refund_unanswered"
COMPENSATION_UNANSWERED = "compensation_unanswered"


def _bound(now: datetime, runtime: ServiceRuntime[Any]) -> datetime:
    return now - timedelta(seconds=runtime.settings.consistency_money_answer_bound_seconds)


async def _find_refunds(
    session: AsyncSession, runtime: ServiceRuntime[Any], now: datetime
) -> tuple[int, list[Finding]]:
    waiting = and_(col(AfterSaleCase.status) == S.REFUNDING.value, col(AfterSaleCase.updated_at) < _bound(now, runtime))
    count = (await session.execute(select(func.count()).select_from(AfterSaleCase).where(waiting))).scalar_one()
    rows = await session.execute(
        select(col(AfterSaleCase.case_id), col(AfterSaleCase.order_id), col(AfterSaleCase.updated_at))
        .where(waiting)
        .order_by(col(AfterSaleCase.updated_at))
        .limit(LISTED_PER_CHECK)
    )
    return count, [
        Finding(REFUND_UNANSWERED, case_id, f"refund of order {order_id} asked for, no answer", since, True)
        for case_id, order_id, since in rows
    ]


async def _reask_refund(session: AsyncSession, runtime: ServiceRuntime[Any], finding: Finding) -> str:
    case, _ = await lock_case_with_order(session, finding.subject)  # order first, then case: the lock order
    if case is None or case.status != S.REFUNDING.value:
        return "nothing to do any more"
    await runtime.outbox.add(session, events_out.refund_requested(case).model_copy(update={"reask": True}))
    return "refund.requested published again (reask)"


async def _find_compensations(
    session: AsyncSession, runtime: ServiceRuntime[Any], now: datetime
) -> tuple[int, list[Finding]]:
    waiting = and_(
        col(Compensation.status) == CompensationStatus.GRANTED.value,
        col(Compensation.created_at) < _bound(now, runtime),
    )
    count = (await session.execute(select(func.count()).select_from(Compensation).where(waiting))).scalar_one()
    rows = await session.execute(
        select(col(Compensation.compensation_id), col(Compensation.order_id), col(Compensation.created_at))
        .where(waiting)
        .order_by(col(Compensation.created_at))
        .limit(LISTED_PER_CHECK)
    )
    return count, [
        Finding(COMPENSATION_UNANSWERED, cid, f"compensation on order {order_id} granted, not paid", since, True)
        for cid, order_id, since in rows
    ]


async def _reask_compensation(session: AsyncSession, runtime: ServiceRuntime[Any], finding: Finding) -> str:
    order_id = (
        await session.execute(
            select(col(Compensation.order_id)).where(col(Compensation.compensation_id) == finding.subject)
        )
    ).scalar_one_or_none()
    if order_id is not None:
        await lock_order(session, order_id)  # the order first, like every writer
    cp = await lock_compensation(session, finding.subject, order_id=order_id)
    if cp is None or cp.status != CompensationStatus.GRANTED.value:
        return "nothing to do any more"
    await runtime.outbox.add(session, events_out.compensation_granted(cp).model_copy(update={"reask": True}))
    return "compensation.granted published again (reask)"


CHECKS = [
    Check(
        REFUND_UNANSWERED,
        "cases REFUNDING with no answer from the order service after the bound",
        _find_refunds,
        _reask_refund,
    ),
    Check(
        COMPENSATION_UNANSWERED,
        "compensations granted and not reported paid by the order service after the bound",
        _find_compensations,
        _reask_compensation,
    ),
]
