"""Reads of the order service: shops, products, orders, ledger views and the ledger check (no state changes)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.auth import Principal, Role
from xinren_shared.errors import Forbidden, Unprocessable
from xinren_shared.pagination import keyset_page
from xinren_shared.runtime import ServiceRuntime

from . import domain, ledger, schemas, stock
from .access import COOPERATIONS, ORDERS, SHOP_STAFF, ShopRef
from .cooperations import cooperation_public, host_for, host_public
from .domain import OrderStatus
from .models import Cooperation, LedgerTransaction, Product, SalesOrder, TrustBand
from .repository import load_order, load_shop, order_for, product_for, shop_for
from .settings import OrderSettings
from .views import ledger_transaction_public, order_view, order_views, product_public, shop_public

Runtime = ServiceRuntime[OrderSettings]

Bands = dict[tuple[str, str], schemas.TrustBandPublic]
_UNKNOWN = schemas.TrustBandPublic()


async def trust_bands(session: AsyncSession, *, shops: Collection[str] = (), skus: Collection[str] = ()) -> Bands:
    """The known public bands of these shops and products, in one query, keyed by (kind, id)."""
    wanted = [("SHOP", s) for s in shops] + [("PRODUCT", p) for p in skus]
    if not wanted:
        return {}
    key = tuple_(col(TrustBand.subject_kind), col(TrustBand.subject_id))
    rows = (await session.execute(select(TrustBand).where(key.in_(wanted)))).scalars()
    return {(b.subject_kind, b.subject_id): schemas.TrustBandPublic(band=b.band, score=b.score) for b in rows}


def _with_band(view: schemas.ShopPublic | schemas.ProductPublic, band: schemas.TrustBandPublic | None) -> None:
    if band is not None:
        view.trust_band, view.trust_score = band.band, band.score


async def with_trust(session: AsyncSession, views: list[schemas.OrderPublic]) -> list[schemas.OrderPublic]:
    """The orders' views with their shop's and each line's product band today (None where unknown)."""
    bands = await trust_bands(
        session, shops={v.shop_id for v in views}, skus={i.sku_id for v in views for i in v.items}
    )
    for v in views:
        v.trust = schemas.OrderTrust(
            shop=bands.get(("SHOP", v.shop_id), _UNKNOWN),
            items=[
                schemas.ItemTrustPublic(sku_id=i.sku_id, **bands.get(("PRODUCT", i.sku_id), _UNKNOWN).model_dump())
                for i in v.items
            ],
        )
    return views


async def get_shop(runtime: Runtime, principal: Principal, shop_id: str) -> schemas.ShopPublic:
    async with runtime.snapshot() as session:
        shop = await shop_for(session, shop_id)
        deposit, seller = await ledger.balances(
            session, domain.deposit_account(shop_id), domain.seller_account(shop_id)
        )
        view = shop_public(shop, principal, deposit, seller)
        _with_band(view, (await trust_bands(session, shops={shop_id})).get(("SHOP", shop_id)))
        return view


async def get_product(runtime: Runtime, sku_id: str) -> schemas.ProductPublic:
    async with runtime.snapshot() as session:
        product = await product_for(session, sku_id)
        view = product_public(product, runtime.settings.qc_policy(), (await stock.levels(session, [sku_id]))[sku_id])
        _with_band(view, (await trust_bands(session, skus={sku_id})).get(("PRODUCT", sku_id)))
        return view


async def list_products(
    runtime: Runtime, shop_id: str, limit: int, cursor: str | None
) -> tuple[list[schemas.ProductPublic], str | None]:
    policy = runtime.settings.qc_policy()
    async with runtime.snapshot() as session:
        await shop_for(session, shop_id)
        query = select(Product).where(Product.shop_id == shop_id)
        rows, next_cursor = await keyset_page(session, query, [Product.sku_id], cursor, limit)
        bands = await trust_bands(session, skus={p.sku_id for p in rows})
        levels = await stock.levels(session, [p.sku_id for p in rows])
        views = [product_public(p, policy, levels[p.sku_id]) for p in rows]
        for view in views:
            _with_band(view, bands.get(("PRODUCT", view.sku_id)))
        return views, next_cursor


async def get_order(runtime: Runtime, principal: Principal, order_id: str) -> schemas.OrderPublic:
    async with runtime.snapshot() as session:
        order = await order_for(session, principal, order_id, lock=False)
        return (await with_trust(session, [await order_view(session, principal, order)]))[0]


@dataclass(frozen=True)
class OrderFilters:
    statuses: list[OrderStatus] | None = None
    shop_id: str | None = None
    buyer_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None  # words of an item title, case-insensitive


def _title_contains(text: str) -> ColumnElement[bool]:
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    item = func.jsonb_array_elements(col(SalesOrder.items)).table_valued("value").alias("item")
    return exists(select(literal(1)).select_from(item).where(item.c.value.op("->>")("title").ilike(pattern)))


async def list_orders(
    runtime: Runtime, principal: Principal, filters: OrderFilters, *, limit: int, cursor: str | None
) -> tuple[list[schemas.OrderPublic], str | None]:
    """Newest first, of the orders the principal may see."""
    query = select(SalesOrder).where(ORDERS.where(principal))
    if filters.statuses is not None:
        query = query.where(col(SalesOrder.status).in_([s.value for s in filters.statuses]))
    if filters.shop_id is not None:
        query = query.where(SalesOrder.shop_id == filters.shop_id)
    if filters.buyer_id is not None:
        query = query.where(SalesOrder.buyer_id == filters.buyer_id)
    if filters.created_after is not None:
        query = query.where(col(SalesOrder.created_at) >= filters.created_after)
    if filters.created_before is not None:
        query = query.where(col(SalesOrder.created_at) < filters.created_before)
    if filters.q is not None:
        query = query.where(_title_contains(filters.q))
    columns = [SalesOrder.created_at, SalesOrder.order_id]
    async with runtime.snapshot() as session:
        rows, next_cursor = await keyset_page(session, query, columns, cursor, limit, descending=True)
        return await with_trust(session, await order_views(session, principal, rows)), next_cursor


async def order_ledger(
    runtime: Runtime, principal: Principal, order_id: str, limit: int, cursor: str | None
) -> tuple[list[schemas.LedgerTransactionPublic], str | None]:
    async with runtime.snapshot() as session:
        await order_for(session, principal, order_id, lock=False)
        query = select(LedgerTransaction).where(LedgerTransaction.order_id == order_id)
        txns, next_cursor = await keyset_page(session, query, [LedgerTransaction.id], cursor, limit)
        entries = await ledger.entries_of(session, [t.id for t in txns if t.id is not None])
        return [ledger_transaction_public(t, entries.get(t.id or 0, [])) for t in txns], next_cursor


async def account_balance(runtime: Runtime, principal: Principal, account: str) -> schemas.BalancePublic:
    kind, _, owner = account.partition(":")
    if kind == "receivable" and domain.is_account(f"seller:{owner}"):
        _may_read_account(principal, "seller", owner, None)
        async with runtime.snapshot() as session:
            shop = await load_shop(session, owner)
            return schemas.BalancePublic(account=account, balance_fen=shop.guarantee_debt_fen if shop else 0)
    if not domain.is_account(account):
        raise Unprocessable(f"{account!r} is not a ledger account", code="INVALID_ACCOUNT")
    async with runtime.snapshot() as session:
        order_shop = None
        if kind == "escrow" and principal.role is Role.SELLER:
            order = await load_order(session, owner, lock=False)
            order_shop = order.shop_id if order else None
        _may_read_account(principal, kind, owner, order_shop)
        return schemas.BalancePublic(account=account, balance_fen=await ledger.balance(session, account))


def _may_read_account(principal: Principal, kind: str, owner: str, escrow_shop: str | None) -> None:
    """Admins read any account; a shop's staff its `seller:`, `seller_pending:` and `deposit:` accounts and its
    orders' `escrow:`; a host its own `host:` and `host_pending:` accounts."""
    shop = owner if kind in ("seller", "seller_pending", "deposit") else escrow_shop if kind == "escrow" else None
    if principal.is_admin:
        return
    if shop is not None and SHOP_STAFF.allows(principal, ShopRef(shop)):
        return
    if principal.role is Role.HOST and kind in ("host", "host_pending") and owner == principal.sub:
        return
    raise Forbidden("this account is not yours to read")


async def check_ledger(runtime: Runtime) -> schemas.LedgerCheckPublic:
    async with runtime.snapshot() as session:
        return schemas.LedgerCheckPublic(**await ledger.check(session))


async def get_host(runtime: Runtime, host_id: str) -> schemas.HostPublic:
    async with runtime.snapshot() as session:
        return host_public(await host_for(session, host_id))


async def list_cooperations(
    runtime: Runtime,
    principal: Principal,
    *,
    shop_id: str | None = None,
    host_id: str | None = None,
    status: str | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[schemas.CooperationPublic], str | None]:
    """Newest first, of the cooperations of a shop or of a host that the principal may see (a 404 for an unknown
    shop or host)."""
    query = select(Cooperation).where(COOPERATIONS.where(principal))
    async with runtime.snapshot() as session:
        if shop_id is not None:
            await shop_for(session, shop_id)
            query = query.where(Cooperation.shop_id == shop_id)
        if host_id is not None:
            await host_for(session, host_id)
            query = query.where(Cooperation.host_id == host_id)
        if status is not None:
            query = query.where(Cooperation.status == status)
        columns = [Cooperation.created_at, Cooperation.cooperation_id]
        rows, next_cursor = await keyset_page(session, query, columns, cursor, limit, descending=True)
        return [cooperation_public(c) for c in rows], next_cursor
