"""The order service's own consistency checks (besides the outbox and timers every service checks): orders waiting
on another service's answer longer than they should."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.consistency import LISTED_PER_CHECK, Check, Finding
from xinren_shared.runtime import ServiceRuntime

from . import events_out
from .domain import OrderStatus
from .models import SalesOrder
from .repository import load_order

QC_CASE_MISSING = "qc_case_missing"


def _waiting_for_a_case(now: datetime, runtime: ServiceRuntime[Any]) -> Any:
    bound = now - timedelta(seconds=runtime.settings.consistency_qc_case_bound_seconds)
    return and_(
        col(SalesOrder.qc_required).is_(True),
        col(SalesOrder.status) == OrderStatus.PAID.value,
        col(SalesOrder.qc_case_id).is_(None),
        col(SalesOrder.paid_at) < bound,
    )


async def _find_qc_case_missing(
    session: AsyncSession, runtime: ServiceRuntime[Any], now: datetime
) -> tuple[int, list[Finding]]:
    """A paid QC order whose case the quality-check service never announced (it lost order.paid, or the order lost
    qc.case_opened)."""
    waiting = _waiting_for_a_case(now, runtime)
    count = (await session.execute(select(func.count()).select_from(SalesOrder).where(waiting))).scalar_one()
    rows = await session.execute(
        select(col(SalesOrder.order_id), col(SalesOrder.paid_at))
        .where(waiting)
        .order_by(col(SalesOrder.paid_at))
        .limit(LISTED_PER_CHECK)
    )
    return count, [
        Finding(QC_CASE_MISSING, order_id, "paid, quality check required, no case announced", paid_at, repairable=True)
        for order_id, paid_at in rows
    ]


async def _ask_qc_again(session: AsyncSession, runtime: ServiceRuntime[Any], finding: Finding) -> str:
    """order.paid again (a new event): the quality-check service opens the case, or announces the one it has."""
    order = await load_order(session, finding.subject, lock=True)
    if order is None or order.status != OrderStatus.PAID.value or order.qc_case_id is not None:
        return "nothing to do any more"
    await runtime.outbox.add(session, events_out.paid(order).model_copy(update={"reask": True}))
    return "order.paid published again for the quality-check service"


CHECKS = [
    Check(
        QC_CASE_MISSING,
        "paid orders that need quality check and have no QC case announced after the bound",
        _find_qc_case_missing,
        _ask_qc_again,
    ),
]
