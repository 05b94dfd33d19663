"""Loading rows, by commands and reads alike: a missing row, or one the principal may not see, is a 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, exists, select

from xinren_shared.auth import Principal
from xinren_shared.errors import NotFound

from .access import ORDERS, reports_delivery
from .models import AfterSaleCase, Product, SalesOrder, Shop


async def load_order(session: AsyncSession, order_id: str, *, lock: bool) -> SalesOrder | None:
    query = select(SalesOrder).where(SalesOrder.order_id == order_id)
    if lock:
        # A row read earlier in the same transaction is read again under the lock, not taken from the session.
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


def order_not_found(order_id: str) -> NotFound:
    return NotFound(f"order {order_id} not found", code="ORDER_NOT_FOUND")


async def order_for(session: AsyncSession, principal: Principal, order_id: str, *, lock: bool = True) -> SalesOrder:
    """The order if it exists and is this principal's to see; otherwise 404 (another tenant's order is private)."""
    order = await load_order(session, order_id, lock=lock)
    if order is None or not ORDERS.allows(principal, order):
        raise order_not_found(order_id)
    return order


async def order_for_delivery(session: AsyncSession, principal: Principal, order_id: str) -> SalesOrder:
    """The order, locked, if the principal reports deliveries of its parcel (its carrier or its shop); else 404."""
    order = await load_order(session, order_id, lock=True)
    if order is None or not reports_delivery(principal, order):
        raise order_not_found(order_id)
    return order


async def order_and_return_address(
    session: AsyncSession, principal: Principal, order_id: str
) -> tuple[SalesOrder, dict[str, Any] | None]:
    """The order (unlocked, 404 as order_for) and its shop's current return address, in one query."""
    query = (
        select(SalesOrder, Shop.return_address)
        .join(Shop, col(Shop.shop_id) == col(SalesOrder.shop_id))
        .where(SalesOrder.order_id == order_id)
    )
    row = (await session.execute(query)).first()
    if row is None or not ORDERS.allows(principal, row[0]):
        raise order_not_found(order_id)
    return row[0], row[1]


async def load_shop(session: AsyncSession, shop_id: str, *, lock: bool = False) -> Shop | None:
    query = select(Shop).where(Shop.shop_id == shop_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def shop_for(session: AsyncSession, shop_id: str, *, lock: bool = False) -> Shop:
    shop = await load_shop(session, shop_id, lock=lock)
    if shop is None:
        raise NotFound(f"shop {shop_id} not found")
    return shop


async def product_for(session: AsyncSession, sku_id: str, *, lock: bool = False) -> Product:
    product = await session.get(Product, sku_id, with_for_update=True if lock else None)
    if product is None:
        raise NotFound(f"product {sku_id} not found")
    return product


async def case_open(session: AsyncSession, order_id: str) -> bool:
    """Whether an after-sales case of the order is open (it pauses auto-confirm and blocks completion)."""
    query = select(exists().where(col(AfterSaleCase.order_id) == order_id, col(AfterSaleCase.open)))
    return bool((await session.execute(query)).scalar())
