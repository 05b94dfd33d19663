"""The inbox: every consumed event becomes one notification per concerned person (and queues partner webhooks);
readers mark what they have read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.consumer import EventContext
from xinren_shared.errors import NotFound
from xinren_shared.events import Envelope, Event
from xinren_shared.ids import new_id

from .. import templates
from ..access import NOTIFICATIONS
from ..domain import Parties, Recipient
from ..listener import INBOX_CHANNEL
from ..models import Notification, OrderView
from ..schemas import Lang, MarkedRead, NotificationPublic
from ..settings import NotifySettings
from .webhooks import queue_deliveries

# ---------------------------------------------------------------------------------------------------------------
# Events: every type of the catalog lands here


async def on_event(session: AsyncSession, event: Event, ctx: EventContext[NotifySettings]) -> None:
    """Learns who the order concerns, writes each concerned person's notification, queues partner webhooks."""
    if ctx.envelope.data.get("reask") is True:
        return  # a consistency repair asking a service again: no new fact for people or partners
    await record_event(session, ctx.envelope)


async def record_event(session: AsyncSession, envelope: Envelope) -> None:
    data = envelope.data
    parties = parties_of(envelope.type, data)
    order_id = data.get("order_id")
    if isinstance(order_id, str) and order_id:
        parties = parties.merged(await remember_order(session, order_id, parties))
    await write_notifications(session, envelope, parties)
    await queue_deliveries(session, envelope, parties.shop_id)


def parties_of(type_: str, data: dict[str, Any]) -> Parties:
    def text_or_none(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and value else None

    return Parties(
        buyer_id=text_or_none("buyer_id"),
        shop_id=text_or_none("shop_id"),
        host_id=text_or_none("host_id"),
        # order.paid names only a hint; the warehouse that takes the case is the one qc.case_opened names.
        warehouse_id=None if type_ == "xinren.order.paid" else text_or_none("warehouse_id"),
    )


async def remember_order(session: AsyncSession, order_id: str, parties: Parties) -> Parties:
    """Upserts the order view (a value the event names wins, a value it lacks is kept) and returns it."""
    values = {
        "buyer_id": parties.buyer_id,
        "shop_id": parties.shop_id,
        "host_id": parties.host_id,
        "warehouse_id": parties.warehouse_id,
    }
    stmt = insert(OrderView).values(order_id=order_id, **values)
    upsert = stmt.on_conflict_do_update(
        index_elements=["order_id"],
        set_={k: func.coalesce(stmt.excluded[k], getattr(OrderView, k)) for k in values} | {"updated_at": func.now()},
    ).returning(*(getattr(OrderView, k) for k in values))
    row = (await session.execute(upsert)).one()
    return Parties(buyer_id=row.buyer_id, shop_id=row.shop_id, host_id=row.host_id, warehouse_id=row.warehouse_id)


async def write_notifications(session: AsyncSession, envelope: Envelope, parties: Parties) -> None:
    """Every concerned person's notification and its announcement in one statement: the rows inserted (a replayed
    event inserts none) each NOTIFY their recipient's listeners, delivered at commit, never for a rolled-back
    transaction. Each notification takes its inbox sequence number when the transaction commits (migration 0006's
    trigger), so no recipient's cursor is locked before then."""
    addressed: dict[Recipient, templates.Text] = {}
    for audience, text in templates.render(envelope.type, envelope.data).items():
        recipient = parties.recipient(audience)
        if recipient is not None:
            addressed[recipient] = text
    if not addressed:
        return
    links = templates.links(envelope.data)
    rows = [
        {
            "notification_id": new_id("ntf"),
            "recipient": recipient.key,
            "event_id": envelope.id,
            "event_type": envelope.type,
            "order_id": envelope.data.get("order_id"),
            "title_zh": text.title_zh,
            "body_zh": text.body_zh,
            "title_en": text.title_en,
            "body_en": text.body_en,
            "data": links,
            "occurred_at": envelope.time,
        }
        for recipient, text in sorted(addressed.items())
    ]
    inserted = (
        insert(Notification)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_notification_event_recipient")
        .returning(col(Notification.recipient))
        .cte("inserted")
    )
    await session.execute(select(func.pg_notify(INBOX_CHANNEL, inserted.c.recipient)).select_from(inserted))


# ---------------------------------------------------------------------------------------------------------------
# Commands of the inbox's reader


async def mark_read(
    uow: UnitOfWork[NotifySettings], principal: Principal, notification_id: str, lang: Lang
) -> NotificationPublic:
    """Idempotent: a notification read before keeps its first read time."""
    stmt = (
        update(Notification)
        .where(col(Notification.notification_id) == notification_id, NOTIFICATIONS.where(principal))
        .values(read_at=func.coalesce(col(Notification.read_at), func.now()))
        .returning(Notification)
    )
    found = (await uow.session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("no such notification", details={"notification_id": notification_id})
    return NotificationPublic.of(found, lang)


async def mark_all_read(uow: UnitOfWork[NotifySettings], principal: Principal, up_to_seq: int | None) -> MarkedRead:
    stmt = update(Notification).where(NOTIFICATIONS.where(principal), col(Notification.read_at).is_(None))
    if up_to_seq is not None:
        stmt = stmt.where(col(Notification.seq) <= up_to_seq)
    marked = (await uow.session.execute(stmt.values(read_at=func.now()).returning(col(Notification.seq)))).all()
    return MarkedRead(marked=len(marked))
