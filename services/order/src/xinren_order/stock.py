"""A product's stock, held in buckets (`ProductStock`): the product's stock is their sum. Migration 0014 says why,
and takes a new order's stock as it commits; this module is every other writer and reader.

Writers lock buckets as the order's trigger does, so that none waits for another in a circle: products in sku
order; within a product, either one bucket (without waiting when another will do) or all of them in bucket order.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .models import ProductStock

BUCKETS = 8  # for a new product; a product keeps the buckets it has

_STOCK = ProductStock.__table__  # type: ignore[attr-defined]


def spread(quantity: int, buckets: int = BUCKETS) -> list[int]:
    """`quantity` in `buckets` shares as even as can be, the larger ones first."""
    share, rest = divmod(quantity, buckets)
    return [share + (b < rest) for b in range(buckets)]


def total_of(sku_id: Any) -> Any:
    """The stock of the product whose sku is `sku_id` (a column or a value), as a scalar subquery."""
    return select(func.coalesce(func.sum(_STOCK.c.available), 0)).where(_STOCK.c.sku_id == sku_id).scalar_subquery()


async def levels(session: AsyncSession, skus: Iterable[str]) -> dict[str, int]:
    """Each named product's stock (0 for one without buckets)."""
    wanted = sorted(set(skus))
    stmt = (
        select(_STOCK.c.sku_id, func.sum(_STOCK.c.available))
        .where(_STOCK.c.sku_id.in_(wanted))
        .group_by(_STOCK.c.sku_id)
    )
    found = {sku: int(total) for sku, total in (await session.execute(stmt)).all()}
    return {sku: found.get(sku, 0) for sku in wanted}


def stock_new(sku_id: str, quantity: int) -> list[ProductStock]:
    """A new product's buckets holding `quantity` (to add to the session after the product)."""
    return [ProductStock(sku_id=sku_id, bucket=b, available=n) for b, n in enumerate(spread(quantity))]


async def _all_locked(session: AsyncSession, sku_id: str) -> list[ProductStock]:
    """The product's buckets, locked in bucket order (waiting for the transactions that hold them), as they are now."""
    stmt = (
        select(ProductStock)
        .where(col(ProductStock.sku_id) == sku_id)
        .order_by(col(ProductStock.bucket))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def restock(session: AsyncSession, sku_id: str, quantity: int, *, limit: int) -> int | None:
    """Adds `quantity` to the product's stock, spread over its buckets (the emptiest get the larger shares); the new
    stock, or None (nothing changed) when it would exceed `limit`."""
    buckets = await _all_locked(session, sku_id)
    total = sum(b.available for b in buckets)
    if not buckets or total + quantity > limit:
        return None
    emptiest_first = sorted(buckets, key=lambda b: (b.available, b.bucket))
    for bucket, share in zip(emptiest_first, spread(quantity, len(buckets)), strict=True):
        bucket.available += share
    await session.flush()
    return total + quantity


async def take_upto(session: AsyncSession, sku_id: str, quantity: int) -> int:
    """Takes up to `quantity` of the product's stock, as much as there is, from the fullest buckets; how much."""
    buckets = sorted(await _all_locked(session, sku_id), key=lambda b: (-b.available, b.bucket))
    taken = 0
    for bucket in buckets:
        n = min(bucket.available, quantity - taken)
        if n <= 0:
            break
        bucket.available -= n
        taken += n
    await session.flush()
    return taken


def _give_to_emptiest(wait: bool) -> sa.Update:
    """Adds :more to the emptiest bucket of product :sku: one held by no other transaction, or (`wait`) any."""
    emptiest = (
        select(_STOCK.c.bucket)
        .where(_STOCK.c.sku_id == sa.bindparam("sku"))
        .order_by(_STOCK.c.available, _STOCK.c.bucket)
        .limit(1)
        .with_for_update(skip_locked=not wait)
    )
    return (
        sa.update(_STOCK)
        .where(_STOCK.c.sku_id == sa.bindparam("sku"), _STOCK.c.bucket == emptiest.scalar_subquery())
        .values(available=_STOCK.c.available + sa.bindparam("more"))
    )


_GIVE_FREE, _GIVE_ANY = _give_to_emptiest(wait=False), _give_to_emptiest(wait=True)


async def give_back(session: AsyncSession, quantities: Mapping[str, int]) -> None:
    """Adds each product's quantity back to its stock (a cancelled order's, a refunded line's), into one bucket:
    one that no order is committing from if there is one, so that a flash sale's orders wait for none. A product
    without buckets is passed over."""
    for sku_id, quantity in sorted(quantities.items()):
        if quantity <= 0:
            continue
        params = {"sku": sku_id, "more": quantity}
        if (await session.execute(_GIVE_FREE, params)).rowcount == 0:  # type: ignore[attr-defined]
            await session.execute(_GIVE_ANY, params)
