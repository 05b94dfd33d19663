"""Replacements (先验后发 for exchanges and reships): the replacement of a QC product is shipped by the seller to the
warehouse, not to the buyer; it becomes a case of its own (`aftersale_case_id`), inspected, passed or failed and
dispatched like the order's item, and its qc.* events name the after-sales case so the refund service follows it."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.commands import UnitOfWork
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.aftersales import AfterSaleItem, AfterSaleReplacementShipped
from xinren_shared.contracts.vocabulary import AfterSaleStatus
from xinren_shared.ids import new_id, utcnow

from ..domain import CaseStatus
from ..models import QcCase, QcCaseEvent
from ..settings import QcSettings
from .routing import announce_opened, choose_warehouse, routed_to, routing_lock

log = logging.getLogger("xinren.qc")

REFUND_SERVICE = "refund-service"


async def on_replacement_shipped(
    session: AsyncSession, event: AfterSaleReplacementShipped, ctx: EventContext[QcSettings]
) -> None:
    """The seller shipped a QC product's replacement to the warehouse (the refund case is REPLACEMENT_INSPECTING):
    a case for that parcel, at the warehouse that inspected the order's item when it still inspects the category,
    IN_TRANSIT with the parcel's number and the replacement inbound deadline; qc.case_opened. The warehouse
    shipping the item on (status REPLACEMENT_SHIPPED) and replacements of other products are not ours."""
    if not event.qc_required or event.status is not AfterSaleStatus.REPLACEMENT_INSPECTING:
        return
    uow = UnitOfWork(session, ctx.runtime, utcnow())
    await routing_lock(session, exclusive=False)
    original = (
        await session.scalars(
            select(QcCase).where(col(QcCase.order_id) == event.order_id, col(QcCase.aftersale_case_id).is_(None))
        )
    ).one_or_none()
    category = original.category if original is not None else ""
    hint = original.warehouse_id if original is not None else None
    warehouse = await choose_warehouse(session, category, hint) if category else None
    status = CaseStatus.IN_TRANSIT if warehouse else CaseStatus.AWAITING_ROUTING
    case = (
        await session.scalars(
            insert(QcCase)
            .values(
                case_id=new_id("qc"),
                order_id=event.order_id,
                aftersale_case_id=event.case_id,
                buyer_id=event.buyer_id or (original.buyer_id if original else ""),
                shop_id=event.shop_id or (original.shop_id if original else ""),
                host_id=original.host_id if original else None,
                category=category,
                items=replacement_items(original.items if original else [], event.items, category),
                paid_fen=original.paid_fen if original else 0,
                shipping_address=original.shipping_address if original else None,
                return_address=original.return_address if original else None,
                status=status,
                warehouse_id=warehouse.warehouse_id if warehouse else None,
                inbound_carrier=event.carrier,
                inbound_tracking_no=event.tracking_no,
                inbound_deadline=uow.now + uow.settings.replacement_inbound_deadline if warehouse else None,
                created_at=uow.now,
                updated_at=uow.now,
            )
            .on_conflict_do_nothing(index_elements=["aftersale_case_id", "inbound_tracking_no"])
            .returning(QcCase)
        )
    ).one_or_none()
    if case is None:
        log.info("replacement parcel %s of after-sales case %s already has a case", event.tracking_no, event.case_id)
        return
    reason = f"replacement for after-sales case {event.case_id} shipped by {event.carrier} {event.tracking_no}"
    if warehouse is None:
        reason += "; no warehouse inspects it yet"
        session.add(QcCaseEvent(case_id=case.case_id, at=uow.now, status=status, actor=REFUND_SERVICE, reason=reason))
        # Routed like any case waiting for a warehouse (a new warehouse for the category, or the admin's route).
        log.warning("replacement case %s of order %s awaits a warehouse", case.case_id, event.order_id)
        return
    await announce_opened(uow, case, warehouse, actor=REFUND_SERVICE, reason=f"{reason}; {routed_to(warehouse)}")


def replacement_items(ordered: list[dict[str, Any]], lines: list[AfterSaleItem], category: str) -> list[dict[str, Any]]:
    """What the replacement parcel holds, as the certificate shows it: the case's lines (the whole order when it
    names none) with the order's titles and categories, under the variant shipped instead where there is one."""
    if not lines:
        return list(ordered)
    by_sku = {str(i.get("sku_id")): i for i in ordered}
    items: list[dict[str, Any]] = []
    for line in lines:
        item = dict(by_sku.get(line.sku_id, {"title": line.title or line.sku_id, "category": category}))
        item["sku_id"], item["quantity"] = line.replacement_sku_id or line.sku_id, line.quantity
        items.append(item)
    return items
