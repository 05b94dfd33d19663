"""Reads of the order service: shops, products, orders, ledger views and the ledger check (no state changes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from xinren_shared.auth import Principal, Role
from xinren_shared.errors import Forbidden, NotFound, Unprocessable
from xinren_shared.pagination import InvalidCursor, decode_cursor, encode_cursor
from xinren_shared.runtime import ServiceRuntime

from . import domain, ledger, schemas
from .domain import OrderStatus
from .handlers import load_order, load_shop, order_for, qc_policy, settings_of
from .models import Product, SalesOrder
from .views import order_view, order_views, product_public, shop_public


async def get_shop(runtime: ServiceRuntime, principal: Principal, shop_id: str) -> schemas.ShopPublic:
    async with runtime.transaction() as session:
        shop = await load_shop(session, shop_id)
        if shop is None:
            raise NotFound(f"shop {shop_id} not found")
        deposit = await ledger.balance(session, domain.deposit_account(shop_id))
        seller = await ledger.balance(session, domain.seller_account(shop_id))
        return shop_public(shop, principal, deposit, seller)


async def get_product(runtime: ServiceRuntime, sku_id: str) -> schemas.ProductPublic:
    async with runtime.transaction() as session:
        product = await session.get(Product, sku_id)
        if product is None:
            raise NotFound(f"product {sku_id} not found")
        return product_public(product, qc_policy(settings_of(runtime)))


async def list_products(
    runtime: ServiceRuntime, shop_id: str, limit: int, cursor: str | None
) -> tuple[list[schemas.ProductPublic], str | None]:
    async with runtime.transaction() as session:
        if await load_shop(session, shop_id) is None:
            raise NotFound(f"shop {shop_id} not found")
        query = select(Product).where(Product.shop_id == shop_id).order_by(Product.sku_id).limit(limit + 1)
        if cursor:
            (after,) = decode_cursor(cursor, 1)
            query = query.where(Product.sku_id > str(after))
        rows = list((await session.execute(query)).scalars())
        policy = qc_policy(settings_of(runtime))
        page = rows[:limit]
        return [product_public(p, policy) for p in page], encode_cursor(page[-1].sku_id) if len(rows) > limit else None


async def get_order(runtime: ServiceRuntime, principal: Principal, order_id: str) -> schemas.OrderPublic:
    async with runtime.transaction() as session:
        order = await order_for(session, principal, order_id, lock=False)
        return await order_view(session, principal, order)


async def list_orders(
    runtime: ServiceRuntime,
    principal: Principal,
    *,
    status: OrderStatus | None,
    shop_id: str | None,
    buyer_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[schemas.OrderPublic], str | None]:
    query = select(SalesOrder)
    match principal.role:
        case Role.BUYER:
            query = query.where(SalesOrder.buyer_id == principal.sub)
        case Role.SELLER:
            query = query.where(SalesOrder.shop_id == principal.shop_id)
        case Role.HOST:
            query = query.where(SalesOrder.host_id == principal.sub)
        case Role.ADMIN:
            pass
        case _:
            raise Forbidden(f"role {principal.role} may not list orders")
    if status is not None:
        query = query.where(SalesOrder.status == status.value)
    if shop_id is not None:
        query = query.where(SalesOrder.shop_id == shop_id)
    if buyer_id is not None:
        query = query.where(SalesOrder.buyer_id == buyer_id)
    if cursor:
        at, oid = decode_cursor(cursor, 2)
        try:
            at_dt = datetime.fromisoformat(str(at))
        except ValueError:
            raise InvalidCursor("the cursor is not one this API gave out") from None
        query = query.where(
            or_(SalesOrder.created_at < at_dt, and_(SalesOrder.created_at == at_dt, SalesOrder.order_id < str(oid)))
        )
    query = query.order_by(SalesOrder.created_at.desc(), SalesOrder.order_id.desc()).limit(limit + 1)
    async with runtime.transaction() as session:
        rows = list((await session.execute(query)).scalars())
        page = rows[:limit]
        nxt = encode_cursor(page[-1].created_at.isoformat(), page[-1].order_id) if len(rows) > limit else None
        return await order_views(session, principal, page), nxt


async def order_ledger(
    runtime: ServiceRuntime, principal: Principal, order_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    after = None
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        if not isinstance(after, int):
            raise InvalidCursor("the cursor is not one this API gave out")
    async with runtime.transaction() as session:
        await order_for(session, principal, order_id, lock=False)
        rows = await ledger.transactions_of_order(session, order_id, after_id=after, limit=limit + 1)
        page = rows[:limit]
        return page, encode_cursor(page[-1]["transaction_id"]) if len(rows) > limit else None


async def account_balance(runtime: ServiceRuntime, principal: Principal, account: str) -> schemas.BalancePublic:
    kind, _, owner = account.partition(":")
    if kind == "receivable" and domain.is_account(f"seller:{owner}"):
        _may_read_account(principal, "seller", owner, None)
        async with runtime.transaction() as session:
            shop = await load_shop(session, owner)
            return schemas.BalancePublic(account=account, balance_fen=shop.guarantee_debt_fen if shop else 0)
    if not domain.is_account(account):
        raise Unprocessable(f"{account!r} is not a ledger account", code="INVALID_ACCOUNT")
    async with runtime.transaction() as session:
        order_shop = None
        if kind == "escrow" and principal.role is Role.SELLER:
            order = await load_order(session, owner, lock=False)
            order_shop = order.shop_id if order else None
        _may_read_account(principal, kind, owner, order_shop)
        return schemas.BalancePublic(account=account, balance_fen=await ledger.balance(session, account))


def _may_read_account(principal: Principal, kind: str, owner: str, escrow_shop: str | None) -> None:
    if principal.is_admin:
        return
    if principal.role is Role.SELLER and (
        (kind in ("seller", "deposit") and owner == principal.shop_id)
        or (kind == "escrow" and escrow_shop == principal.shop_id)
    ):
        return
    if principal.role is Role.HOST and kind == "host" and owner == principal.sub:
        return
    raise Forbidden("this account is not yours to read")


async def check_ledger(runtime: ServiceRuntime) -> schemas.LedgerCheckPublic:
    async with runtime.transaction() as session:
        return schemas.LedgerCheckPublic(**await ledger.check(session))
