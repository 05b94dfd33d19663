"""Verified returns: a certified item sent back on an after-sales return comes through the warehouse, which checks
the seal and the certificate's measurements before the refund service releases the refund."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.aftersales import AfterSaleReturnShipped
from xinren_shared.errors import Conflict
from xinren_shared.ids import utcnow

from .. import checklists, domain, events_out
from ..domain import ReturnStatus
from ..models import QcCaseEvent, QcReturn
from ..schemas import CasePublic, ReturnCheckIn
from ..settings import QcSettings
from ..views import case_public
from .cases import QcUnit, lock_case_held_by_buyer, lock_own_case
from .evidence import attach

log = logging.getLogger("xinren.qc")

REFUND_SERVICE = "refund-service"


async def on_return_shipped(
    session: AsyncSession, event: AfterSaleReturnShipped, ctx: EventContext[QcSettings]
) -> None:
    """A return of an item we certified and sent to the buyer: the warehouse expects it (once per after-sales case)."""
    case = await lock_case_held_by_buyer(session, event.order_id)
    if case is None:
        return  # not an item we certified and sent on
    now = utcnow()
    added = await session.execute(
        insert(QcReturn)
        .values(
            aftersale_case_id=event.case_id,
            case_id=case.case_id,
            order_id=case.order_id,
            status=ReturnStatus.EXPECTED,
            expected_at=now,
        )
        .on_conflict_do_nothing(index_elements=["aftersale_case_id"])
        .returning(col(QcReturn.aftersale_case_id))
    )
    if added.first() is None:
        return  # a redelivery
    session.add(
        QcCaseEvent(
            case_id=case.case_id,
            at=now,
            status=case.status,
            actor=REFUND_SERVICE,
            reason=f"return expected (after-sales case {event.case_id}): check the seal and the measurements",
        )
    )


async def _the_return(uow: QcUnit, case_id: str, aftersale_case_id: str | None) -> QcReturn:
    stmt = select(QcReturn).where(col(QcReturn.case_id) == case_id).order_by(col(QcReturn.expected_at).desc())
    if aftersale_case_id is not None:
        stmt = stmt.where(col(QcReturn.aftersale_case_id) == aftersale_case_id)
    rows = list((await uow.session.scalars(stmt.with_for_update())).all())
    expected = [r for r in rows if r.status == ReturnStatus.EXPECTED]
    if expected:
        return expected[0]
    if rows:
        return rows[0]
    raise Conflict("no return of this item is expected", code="NO_RETURN_EXPECTED")


async def record_return_check(uow: QcUnit, principal: Principal, case_id: str, body: ReturnCheckIn) -> CasePublic:
    """The seal first (missing, broken or not the certificate's: SEAL_BROKEN), then the measurements against the
    certificate (MISMATCH); else VERIFIED. qc.return_checked tells the refund service which."""
    case = await lock_own_case(uow.session, principal, case_id)
    ret = await _the_return(uow, case.case_id, body.aftersale_case_id)
    if ret.status != ReturnStatus.EXPECTED:
        if (ret.seal_id, ret.seal_intact, ret.findings) == (body.seal_id, body.seal_intact, body.findings):
            return await case_public(uow.session, principal, case)  # the same check again
        raise Conflict(
            f"the return of after-sales case {ret.aftersale_case_id} was already checked: {ret.status}",
            code="RETURN_ALREADY_CHECKED",
            details={"outcome": ret.status},
        )
    photo_ids = await attach(uow.session, body.photo_ids, case.case_id, "RETURN")
    checklist = checklists.checklist_for(case.category)
    mismatches = checklists.mismatches(checklist, case.measurements or {}, body.measurements)
    outcome = domain.return_outcome(case.seal_id, body.seal_id, body.seal_intact, mismatches)
    ret.status = outcome
    ret.seal_id, ret.seal_intact = body.seal_id, body.seal_intact
    ret.measurements = dict(body.measurements)
    ret.mismatches = mismatches
    ret.photo_ids = photo_ids
    ret.findings = body.findings
    ret.checked_by, ret.checked_at = principal.sub, uow.now
    detail = f"return of after-sales case {ret.aftersale_case_id} checked: {outcome}"
    if mismatches:
        detail += f" ({', '.join(mismatches)})"
    uow.session.add(
        QcCaseEvent(case_id=case.case_id, at=uow.now, status=case.status, actor=principal.actor, reason=detail)
    )
    case.updated_at = uow.now
    await uow.runtime.outbox.add(uow.session, events_out.return_checked(case, ret))
    if outcome is not ReturnStatus.VERIFIED:
        log.warning("certified item of order %s came back %s", case.order_id, outcome)
    return await case_public(uow.session, principal, case)
