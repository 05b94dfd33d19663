"""Seller enforcement (匹诺曹): a strike per counterfeit or missed deadline, and a shop suspended once."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from xinren_shared.ids import new_id, utcnow

from .. import domain, events_out
from ..domain import ShopStatus, StrikeReason
from ..models import QcCase, ShopEnforcement, Strike
from .cases import QcUnit

log = logging.getLogger("xinren.qc")


async def strike(uow: QcUnit, case: QcCase, reason: StrikeReason) -> None:
    """Records a strike (once per case) and suspends the shop once it reaches the threshold within the window."""
    session, settings = uow.session, uow.settings
    # Every strike of a shop is counted under the lock of the shop's enforcement row: one suspension, ever.
    await session.execute(
        insert(ShopEnforcement)
        .values(shop_id=case.shop_id, status=ShopStatus.ACTIVE)
        .on_conflict_do_nothing(index_elements=["shop_id"])
    )
    enforcement = (
        await session.scalars(
            select(ShopEnforcement).where(col(ShopEnforcement.shop_id) == case.shop_id).with_for_update()
        )
    ).one()
    # The time of the strike is taken under the lock, so strikes are counted in the order they are recorded: a
    # moment taken before waiting for the lock could precede a strike recorded meanwhile and miss it in the window.
    now = max(uow.now, utcnow())
    inserted = await session.execute(
        insert(Strike)
        .values(
            strike_id=new_id("sk"),
            shop_id=case.shop_id,
            case_id=case.case_id,
            order_id=case.order_id,
            reason=reason,
            struck_at=now,
        )
        .on_conflict_do_nothing(index_elements=["case_id"])
        .returning(col(Strike.strike_id))
    )
    if inserted.first() is None:
        return
    struck = (
        await session.scalars(
            select(col(Strike.struck_at)).where(
                col(Strike.shop_id) == case.shop_id, col(Strike.struck_at) > now - settings.strike_window
            )
        )
    ).all()
    active = domain.strikes_in_window(struck, now, settings.strike_window)
    if domain.should_suspend(ShopStatus(enforcement.status), active, settings.strike_threshold):
        enforcement.status = ShopStatus.SUSPENDED
        enforcement.suspended_at = now
        enforcement.strikes_at_suspension = active
        enforcement.updated_at = now
        await uow.runtime.outbox.add(session, events_out.shop_suspended(case, active))
        log.warning("shop %s suspended after %d strikes", case.shop_id, active)
