"""How a case is held and moved: its row locked for the change, its status moved through the state machine."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.contracts.vocabulary import DispatchTarget
from xinren_shared.errors import Forbidden, NotFound

from ..access import CASES
from ..domain import CASE, CaseStatus
from ..models import QcCase, QcCaseEvent
from ..settings import QcSettings

QcUnit = UnitOfWork[QcSettings]

INBOUND_DEADLINE = "qc_inbound_deadline"  # timer kind, key = case_id
SYSTEM = "system"
ORDER_SERVICE = "order-service"


def enter(uow: QcUnit, case: QcCase, target: CaseStatus, actor: str, reason: str | None = None) -> None:
    """Moves the case through the state machine (a repeat of the status it has is illegal: callers answer their
    own repeats first) and appends the move to its timeline."""
    move(uow, case, target)
    uow.session.add(QcCaseEvent(case_id=case.case_id, at=uow.now, status=target, actor=actor, reason=reason))


def move(uow: QcUnit, case: QcCase, target: CaseStatus) -> None:
    """The move alone, for a caller that writes its timeline entry in a statement of its own."""
    case.status = CASE.require(case.status, target)
    case.updated_at = uow.now


async def lock_case(session: AsyncSession, case_id: str) -> QcCase:
    case = (
        await session.execute(select(QcCase).where(col(QcCase.case_id) == case_id).with_for_update())
    ).scalar_one_or_none()
    if case is None:
        raise NotFound(f"qc case {case_id} not found", code="CASE_NOT_FOUND")
    return case


async def lock_case_of_order(session: AsyncSession, order_id: str) -> QcCase | None:
    """The case of the order's own item (not a replacement's), locked."""
    own = (col(QcCase.order_id) == order_id, col(QcCase.aftersale_case_id).is_(None))
    return (await session.execute(select(QcCase).where(*own).with_for_update())).scalar_one_or_none()


async def lock_case_held_by_buyer(session: AsyncSession, order_id: str) -> QcCase | None:
    """The certified case of the item the buyer holds, locked: the latest of the order's cases (its own item, or a
    replacement) the warehouse dispatched to the buyer with a certificate."""
    stmt = (
        select(QcCase)
        .where(
            col(QcCase.order_id) == order_id,
            col(QcCase.certificate_no).is_not(None),
            col(QcCase.dispatch_to) == DispatchTarget.BUYER,
        )
        .order_by(col(QcCase.dispatched_at).desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_own_case(session: AsyncSession, principal: Principal, case_id: str) -> QcCase:
    """The case, locked, when it is at the principal's warehouse; a case elsewhere is a 403 (reads answer 404)."""
    case = await lock_case(session, case_id)
    if not CASES.allows(principal, case):
        raise Forbidden("this case belongs to another warehouse", code="OTHER_WAREHOUSE")
    return case
