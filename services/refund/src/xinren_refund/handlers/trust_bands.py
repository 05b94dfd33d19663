"""The shops' trust bands (xinren.trust.v1): each trust.score_changed of a shop stores its band and the rights the
band allows; FAST_REFUND is then used only while the band allows it (domain.intake's FAST_REFUND rule)."""

from __future__ import annotations

import dataclasses

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.consumer import EventContext
from xinren_shared.contracts.trust import TrustScoreChanged, TrustSubject
from xinren_shared.contracts.vocabulary import TrustRight

from ..domain import OrderFacts
from ..models import ShopBand
from ..settings import RefundSettings


async def on_score_changed(s: AsyncSession, event: TrustScoreChanged, ctx: EventContext[RefundSettings]) -> None:
    """Keeps the newest band per shop; an older event arriving late changes nothing."""
    if event.subject_kind is not TrustSubject.SHOP:
        return  # hosts' and products' bands carry no rights here
    at = ctx.envelope.time
    values = {"band": event.band, "rights": [r.value for r in event.rights], "changed_at": at}
    stmt = insert(ShopBand).values(shop_id=event.subject_id, **values)
    await s.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_id"], set_=values, where=col(ShopBand.changed_at) <= stmt.excluded.changed_at
        )
    )


async def with_band(s: AsyncSession, facts: OrderFacts, shop_id: str | None) -> OrderFacts:
    """The order's facts with the rights its shop's band allows today (unchanged when no band is known)."""
    if shop_id is None:
        return facts
    rights = (await s.execute(select(col(ShopBand.rights)).where(col(ShopBand.shop_id) == shop_id))).scalar()
    if rights is None:
        return facts
    return dataclasses.replace(facts, band_rights=frozenset(TrustRight(r) for r in rights))
