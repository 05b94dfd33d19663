"""Hosts (主播) and their cooperations with shops: a host is registered once; a shop's seller binds it at a
commission rate, for the whole shop or some of its products, and may end the cooperation."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.errors import Conflict, Unprocessable
from xinren_shared.ids import new_id

from .. import commission, schemas
from ..commission import COOPERATION, CooperationStatus
from ..cooperations import active_terms, cooperation_for, cooperation_public, host_public, load_host
from ..models import Cooperation, Host, Product
from ..repository import shop_for
from ..settings import OrderSettings


class HostExists(Conflict):
    code = "HOST_EXISTS"


class CooperationExists(Conflict):
    code = "COOPERATION_EXISTS"


async def register_host(
    uow: UnitOfWork[OrderSettings], principal: Principal, body: schemas.HostCreate
) -> schemas.HostPublic:
    # One statement: of two concurrent registrations of the same id, one inserts and the other is told it exists.
    inserted = (
        await uow.session.execute(
            insert(Host)
            .values(host_id=body.host_id, name=body.name, created_at=uow.now)
            .on_conflict_do_nothing(index_elements=["host_id"])
            .returning(col(Host.host_id))
        )
    ).scalar()
    if inserted is None:
        raise HostExists(f"host {body.host_id} already exists", details={"host_id": body.host_id})
    return host_public(Host(host_id=body.host_id, name=body.name, created_at=uow.now))


async def create_cooperation(
    uow: UnitOfWork[OrderSettings], principal: Principal, shop_id: str, body: schemas.CooperationCreate
) -> schemas.CooperationPublic:
    session, settings = uow.session, uow.settings
    await shop_for(session, shop_id)
    bps = settings.default_host_commission_bps if body.commission_bps is None else body.commission_bps
    ceiling = commission.max_host_bps(settings.platform_commission_bps)
    if bps > ceiling:
        raise Unprocessable(
            "platform and host commission together may not exceed the whole price",
            code="COMMISSION_TOO_HIGH",
            details={"commission_bps": bps, "max_commission_bps": ceiling},
        )
    # The host's row, locked, serialises the checks below against another cooperation of the same host.
    if await load_host(session, body.host_id, lock=True) is None:
        raise Unprocessable(f"host {body.host_id} is not registered", code="HOST_NOT_FOUND")
    skus = frozenset(body.sku_ids) if body.sku_ids is not None else None
    if skus is not None:
        await _skus_of_shop(session, shop_id, sorted(skus))
    clash = commission.overlaps(skus, await active_terms(session, shop_id, body.host_id))
    if clash is not None:
        raise CooperationExists(
            "an active cooperation of this host with the shop already covers these products: end it first",
            details={"cooperation_id": clash.cooperation_id},
        )
    coop = Cooperation(
        cooperation_id=new_id("coop"),
        shop_id=shop_id,
        host_id=body.host_id,
        commission_bps=bps,
        sku_ids=body.sku_ids,
        status=CooperationStatus.ACTIVE.value,
        created_at=uow.now,
    )
    session.add(coop)
    await session.flush()
    return cooperation_public(coop)


async def _skus_of_shop(session: AsyncSession, shop_id: str, skus: list[str]) -> None:
    rows = await session.execute(select(Product.sku_id, Product.shop_id).where(col(Product.sku_id).in_(skus)))
    shop_of = {sku: shop for sku, shop in rows.all()}
    missing = [s for s in skus if s not in shop_of]
    if missing:
        raise Unprocessable("unknown products", code="UNKNOWN_SKU", details={"sku_ids": missing})
    foreign = [s for s in skus if shop_of[s] != shop_id]
    if foreign:
        raise Unprocessable("products of another shop", code="SKU_NOT_IN_SHOP", details={"sku_ids": foreign})


async def end_cooperation(
    uow: UnitOfWork[OrderSettings], principal: Principal, shop_id: str, cooperation_id: str
) -> schemas.CooperationPublic:
    """Ends the cooperation (ending an ended one changes nothing): later orders naming the host are refused; orders
    placed before keep the rate fixed on them."""
    coop = await cooperation_for(uow.session, principal, shop_id, cooperation_id, lock=True)
    if COOPERATION.move(coop.status, CooperationStatus.ENDED):
        coop.status, coop.ended_at = CooperationStatus.ENDED.value, uow.now
    return cooperation_public(coop)
