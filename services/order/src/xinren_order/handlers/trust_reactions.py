"""The order service follows the trust service (xinren.trust.v1): the shop's standing (a suspension or closure stops
new orders, a reinstatement or an overturned suspension lets it trade again), fines charged from the shop's deposit
to the platform once per action id, an overturned fine given back, and the public trust bands of shops and products
(trust.score_changed) that buyers see on the order, shop and product reads."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import EventContext
from xinren_shared.contracts import trust as te
from xinren_shared.ids import utcnow

from .. import domain, ledger
from ..domain import ShopStatus
from ..models import Shop, TrustBand, metadata
from ..repository import load_shop
from ..settings import OrderSettings

log = logging.getLogger("xinren.order")

_txn = metadata.tables["ledger_transaction"]

# The trust events this module reacts to; each carries the shop's standing after it.
EVENTS: tuple[type[te.TrustEvent], ...] = (te.TrustActionTaken, te.TrustActionReversed, te.TrustShopReinstated)
TrustEvent = te.TrustActionTaken | te.TrustActionReversed | te.TrustShopReinstated


# The subjects whose public band this service keeps (hosts' bands are not shown here).
BAND_SUBJECTS = frozenset({te.TrustSubject.SHOP, te.TrustSubject.PRODUCT})
_band = metadata.tables["trust_band"]


async def on_score_changed(
    session: AsyncSession, event: te.TrustScoreChanged, ctx: EventContext[OrderSettings]
) -> None:
    """Keeps the newest band and score per shop or product, by the event's time: an older event arriving late (or
    a redelivery) changes nothing. One statement, no lock on the shop's or product's own row."""
    if event.subject_kind not in BAND_SUBJECTS:
        return
    values = {"band": event.band, "score": event.score, "changed_at": ctx.envelope.time}
    stmt = insert(TrustBand).values(subject_kind=event.subject_kind.value, subject_id=event.subject_id, **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[_band.c.subject_kind, _band.c.subject_id],
            set_=values,
            where=_band.c.changed_at <= stmt.excluded.changed_at,
        )
    )


def fine_key(action_id: str) -> str:
    return f"fine:{action_id}"


def fine_refund_key(action_id: str) -> str:
    return f"fine-refund:{action_id}"


async def on_trust_event(session: AsyncSession, event: TrustEvent, ctx: EventContext[OrderSettings]) -> None:
    if event.subject_kind is not te.TrustSubject.SHOP:
        return  # hosts' actions change nothing here
    shop = await load_shop(session, event.subject_id, lock=True)
    if shop is None:
        log.info("ignoring %s of unknown shop %s", event.TYPE, event.subject_id)
        return
    if event.shop_status is not None:
        _follow(shop, event.shop_status)
    if isinstance(event, te.TrustActionTaken) and event.kind is te.ActionKind.FINE and event.fine_fen > 0:
        await _charge(session, shop, event)
    elif isinstance(event, te.TrustActionReversed) and event.kind is te.ActionKind.FINE:
        await _give_back(session, shop, event.action_id)


def _follow(shop: Shop, standing: te.ShopStanding) -> None:
    if standing is te.ShopStanding.ACTIVE:
        shop.status, shop.suspended_at = ShopStatus.ACTIVE.value, None
    elif shop.status != ShopStatus.SUSPENDED:  # SUSPENDED or CLOSED: no new orders
        shop.status, shop.suspended_at = ShopStatus.SUSPENDED.value, utcnow()


async def _charge(session: AsyncSession, shop: Shop, event: te.TrustActionTaken) -> None:
    """Deposit -> platform:fines, at most what the deposit holds (the shop's row is locked: no overdraft)."""
    deposit = domain.deposit_account(shop.shop_id)
    take = min(event.fine_fen, await ledger.balance(session, deposit))
    if take < event.fine_fen:
        log.warning(
            "fine %s: the deposit of %s covers %d of %d fen", event.action_id, shop.shop_id, take, event.fine_fen
        )
    if take > 0:
        await ledger.post(
            session,
            key=fine_key(event.action_id),
            kind="FINE",
            entries=[(deposit, -take), (domain.PLATFORM_FINES, take)],
            shop_id=shop.shop_id,
            memo=f"fine {event.action_id}: {event.reason}",
        )


async def _give_back(session: AsyncSession, shop: Shop, action_id: str) -> None:
    """The fine's own entries reversed, once (nothing when it was never charged)."""
    charged = (await session.execute(select(_txn.c.id).where(_txn.c.idempotency_key == fine_key(action_id)))).scalar()
    if charged is None:
        return
    entries = (await ledger.entries_of(session, [charged])).get(charged, [])
    await ledger.post(
        session,
        key=fine_refund_key(action_id),
        kind="FINE",
        entries=[(account, -amount) for account, amount in entries],
        shop_id=shop.shop_id,
        memo=f"fine {action_id} overturned on appeal",
    )
