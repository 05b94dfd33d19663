"""Shops (trust-card rights, deposit, suspension) and their products and stock."""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.consumer import EventContext
from xinren_shared.contracts import qc as qe
from xinren_shared.errors import Conflict, Forbidden, Unprocessable
from xinren_shared.ids import new_id, utcnow

from .. import domain, ledger, schemas, stock
from ..access import SHOP_STAFF
from ..domain import ShopStatus
from ..models import Product, Shop
from ..repository import insert_new, load_shop, product_for, shop_for
from ..settings import OrderSettings
from ..views import product_public, shop_public

log = logging.getLogger("xinren.order")

MAX_STOCK = 2_000_000_000  # within one bucket's 32-bit integer, which may come to hold it all


async def create_shop(
    uow: UnitOfWork[OrderSettings], principal: Principal, body: schemas.ShopCreate
) -> schemas.ShopPublic:
    session, shop_id = uow.session, body.shop_id or new_id("shop")
    shop = Shop(
        shop_id=shop_id,
        name=body.name,
        trust_rights=[r.value for r in body.trust_rights],
        return_address=body.return_address.model_dump() if body.return_address else None,
        created_at=uow.now,
    )
    if not await insert_new(session, shop):
        raise Conflict(f"shop {shop_id} already exists", code="SHOP_EXISTS")
    if body.deposit_fen:
        await _deposit(session, shop_id, body.deposit_fen, key=f"deposit:{shop_id}:initial", memo="initial deposit")
    return shop_public(shop, principal, body.deposit_fen, 0)


async def top_up_deposit(
    uow: UnitOfWork[OrderSettings], principal: Principal, shop_id: str, amount_fen: int, key: str
) -> schemas.ShopPublic:
    session = uow.session
    shop = await shop_for(session, shop_id, lock=True)
    # Scoped to the caller, as Idempotency-Keys are; hashed so that any key fits the column.
    scoped = hashlib.sha256(f"{principal.actor}\n{key}".encode()).hexdigest()
    await _deposit(
        session, shop_id, amount_fen, key=f"deposit:{shop_id}:{scoped}", memo=f"deposit top-up by {principal.actor}"
    )
    deposit, seller = await ledger.balances(session, domain.deposit_account(shop_id), domain.seller_account(shop_id))
    return shop_public(shop, principal, deposit, seller)


async def _deposit(session: AsyncSession, shop_id: str, amount_fen: int, *, key: str, memo: str) -> None:
    await ledger.post(
        session,
        key=key,
        kind="DEPOSIT",
        entries=[(domain.EXTERNAL_PAYMENTS, -amount_fen), (domain.deposit_account(shop_id), amount_fen)],
        shop_id=shop_id,
        memo=memo,
    )


async def update_shop(
    uow: UnitOfWork[OrderSettings], principal: Principal, shop_id: str, body: schemas.ShopUpdate
) -> schemas.ShopPublic:
    """Its name and return address (orders paid from now on carry the new return address)."""
    session = uow.session
    shop = await shop_for(session, shop_id, lock=True)
    if body.name is not None:
        shop.name = body.name
    if body.return_address is not None:
        shop.return_address = body.return_address.model_dump()
    if body.restock_returns is not None:
        shop.restock_returns = body.restock_returns
    deposit, seller = await ledger.balances(session, domain.deposit_account(shop_id), domain.seller_account(shop_id))
    return shop_public(shop, principal, deposit, seller)


async def reinstate_shop(uow: UnitOfWork[OrderSettings], principal: Principal, shop_id: str) -> schemas.ShopPublic:
    """Refused: the trust service owns the shop's standing, and a shop reinstated here alone would be suspended
    again by its next trust event. Reinstatement is POST /v1/trust/shops/{shop_id}/reinstate; this shop follows it
    (trust.shop_reinstated, handlers/trust_reactions.py)."""
    await shop_for(uow.session, shop_id)  # an unknown shop is still a 404
    raise Conflict(
        f"shop {shop_id} is reinstated by the trust service: POST /v1/trust/shops/{shop_id}/reinstate",
        code="REINSTATE_VIA_TRUST",
        details={"shop_id": shop_id, "route": f"POST /v1/trust/shops/{shop_id}/reinstate"},
    )


async def add_product(
    uow: UnitOfWork[OrderSettings], principal: Principal, shop_id: str, body: schemas.ProductCreate
) -> schemas.ProductPublic:
    session, policy = uow.session, uow.settings.qc_policy()
    sku_id = body.sku_id or new_id("sku")
    await shop_for(session, shop_id)
    product_id = body.product_id or sku_id
    if body.product_id is not None:
        await _require_own_group(session, shop_id, body.product_id)
    product = Product(
        sku_id=sku_id,
        shop_id=shop_id,
        title=body.title,
        category=body.category,
        price_fen=body.price_fen,
        qc_required=policy.requires_qc(body.category, body.price_fen),
        created_at=uow.now,
        product_id=product_id,
    )
    if not await insert_new(session, product):  # the product's row first: its buckets refer to it
        raise Conflict(f"product {sku_id} already exists", code="PRODUCT_EXISTS")
    session.add_all(stock.stock_new(sku_id, body.stock))
    await session.flush()
    return product_public(product, policy, body.stock)


async def _require_own_group(session: AsyncSession, shop_id: str, product_id: str) -> None:
    """A variant group belongs to one shop: another shop's product_id (or sku) is refused."""
    stmt = select(Product.shop_id).where(
        or_(col(Product.product_id) == product_id, col(Product.sku_id) == product_id), Product.shop_id != shop_id
    )
    if (await session.execute(stmt.limit(1))).first() is not None:
        raise Conflict(
            f"product group {product_id} belongs to another shop",
            code="PRODUCT_GROUP_OF_ANOTHER_SHOP",
            details={"product_id": product_id},
        )


async def add_stock(
    uow: UnitOfWork[OrderSettings], principal: Principal, sku_id: str, quantity: int
) -> schemas.ProductPublic:
    product = await product_for(uow.session, sku_id)  # its buckets, which the restock locks, are its stock
    if not SHOP_STAFF.allows(principal, product):
        raise Forbidden("a seller manages only its own shop")
    total = await stock.restock(uow.session, sku_id, quantity, limit=MAX_STOCK)
    if total is None:
        raise Unprocessable(f"stock may not exceed {MAX_STOCK}", code="STOCK_TOO_HIGH")
    return product_public(product, uow.settings.qc_policy(), total)


async def on_shop_suspended(session: AsyncSession, event: qe.QcShopSuspended, ctx: EventContext[OrderSettings]) -> None:
    shop = await load_shop(session, event.shop_id, lock=True)
    if shop is None:
        log.info("ignoring suspension of unknown shop %s", event.shop_id)
        return
    shop.strikes = max(shop.strikes, event.strikes)
    if shop.status != ShopStatus.SUSPENDED:
        shop.status, shop.suspended_at = ShopStatus.SUSPENDED.value, utcnow()
