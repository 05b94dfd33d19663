"""Hosts and cooperations as commands and reads share them: loading rows (404 when missing or not the caller's), the
active cooperations an order consults, and their public shapes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.auth import Principal
from xinren_shared.errors import NotFound

from . import schemas
from .access import COOPERATIONS
from .commission import CooperationStatus, Terms
from .models import Cooperation, Host


async def load_host(session: AsyncSession, host_id: str, *, lock: bool = False) -> Host | None:
    query = select(Host).where(Host.host_id == host_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def host_for(session: AsyncSession, host_id: str) -> Host:
    host = await load_host(session, host_id)
    if host is None:
        raise NotFound(f"host {host_id} not found")
    return host


async def cooperation_for(
    session: AsyncSession, principal: Principal, shop_id: str, cooperation_id: str, *, lock: bool = False
) -> Cooperation:
    """The shop's cooperation if the principal may see it; otherwise 404."""
    query = select(Cooperation).where(Cooperation.cooperation_id == cooperation_id, Cooperation.shop_id == shop_id)
    if lock:
        query = query.with_for_update()
    coop = (await session.execute(query)).scalar_one_or_none()
    if coop is None or not COOPERATIONS.allows(principal, coop):
        raise NotFound(f"cooperation {cooperation_id} not found")
    return coop


def terms_of(coop: Cooperation) -> Terms:
    skus = frozenset(coop.sku_ids) if coop.sku_ids is not None else None
    return Terms(coop.cooperation_id, coop.commission_bps, skus)


async def active_terms(session: AsyncSession, shop_id: str, host_id: str) -> list[Terms]:
    """The host's active cooperations with the shop, oldest first (one query)."""
    query = (
        select(Cooperation)
        .where(
            Cooperation.shop_id == shop_id,
            Cooperation.host_id == host_id,
            Cooperation.status == CooperationStatus.ACTIVE.value,
        )
        .order_by(col(Cooperation.created_at), col(Cooperation.cooperation_id))
    )
    return [terms_of(c) for c in (await session.execute(query)).scalars()]


def host_public(host: Host) -> schemas.HostPublic:
    return schemas.HostPublic(host_id=host.host_id, name=host.name, created_at=host.created_at)


def cooperation_public(coop: Cooperation) -> schemas.CooperationPublic:
    return schemas.CooperationPublic(
        cooperation_id=coop.cooperation_id,
        shop_id=coop.shop_id,
        host_id=coop.host_id,
        commission_bps=coop.commission_bps,
        sku_ids=list(coop.sku_ids) if coop.sku_ids is not None else None,
        status=coop.status,
        created_at=coop.created_at,
        ended_at=coop.ended_at,
    )
