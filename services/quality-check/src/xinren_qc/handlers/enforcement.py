"""Strikes: a record of what quality check found against a shop (a counterfeit or a missed inbound deadline).

Quality check no longer suspends shops: the trust service counts qc.failed (COUNTERFEIT) and qc.expired on its
enforcement ladder and publishes the shop's standing (xinren.trust.v1). A strike here is a read of what was inspected.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from xinren_shared.ids import new_id

from ..domain import StrikeReason
from ..models import QcCase
from ..models import Strike as StrikeRow
from .cases import QcUnit


async def strike(uow: QcUnit, case: QcCase, reason: StrikeReason) -> None:
    """Records a strike against the case's shop, once per case (a redelivered or repeated failure adds none)."""
    await uow.session.execute(
        insert(StrikeRow)
        .values(
            strike_id=new_id("sk"),
            shop_id=case.shop_id,
            case_id=case.case_id,
            order_id=case.order_id,
            reason=reason,
            struck_at=uow.now,
        )
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
