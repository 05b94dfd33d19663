"""The inbox: every consumed event becomes one notification per concerned person (and queues partner webhooks);
readers mark what they have read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, DateTime, String, Text, bindparam, func, text, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared import sql
from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.consumer import EventContext
from xinren_shared.errors import NotFound
from xinren_shared.events import Envelope, Event
from xinren_shared.ids import new_id
from xinren_shared.listen import notify_after_commit

from .. import templates
from ..access import NOTIFICATIONS
from ..domain import Parties
from ..listener import INBOX_CHANNEL
from ..models import Notification
from ..schemas import Lang, MarkedRead, NotificationPublic
from ..settings import NotifySettings
from .webhooks import Subscribed, queue_deliveries

# ---------------------------------------------------------------------------------------------------------------
# Events: every type of the catalog lands here


async def on_event(session: AsyncSession, event: Event, ctx: EventContext[NotifySettings]) -> None:
    """Learns who the order concerns, writes each concerned person's notification, queues partner webhooks."""
    if ctx.envelope.data.get("reask") is True:
        return  # a consistency repair asking a service again: no new fact for people or partners
    await record_event(session, ctx.envelope)


async def record_event(session: AsyncSession, envelope: Envelope) -> None:
    """One statement for the event (it runs for every event of every order): the order view learns the parties the
    event names and gives back the ones it knew, every concerned person's notification is written and announced,
    and the partners' subscriptions that want the event are read. Their deliveries, if any, are a second one."""
    data = envelope.data
    parties = parties_of(envelope.type, data)
    order_id = data.get("order_id")
    texts = sorted(templates.render(envelope.type, data).items())
    params = {
        "order_id": order_id if isinstance(order_id, str) and order_id else None,
        "buyer_id": parties.buyer_id,
        "shop_id": parties.shop_id,
        "host_id": parties.host_id,
        "warehouse_id": parties.warehouse_id,
        "notification_ids": [new_id("ntf") for _ in texts],
        "audiences": [str(audience) for audience, _ in texts],
        "titles_zh": [text.title_zh for _, text in texts],
        "bodies_zh": [text.body_zh for _, text in texts],
        "titles_en": [text.title_en for _, text in texts],
        "bodies_en": [text.body_en for _, text in texts],
        "event_id": envelope.id,
        "event_type": envelope.type,
        "notification_order_id": order_id if isinstance(order_id, str) else None,
        "links": templates.links(data),
        "occurred_at": envelope.time,
    }
    rows = await _RECORD.fetch(await sql.driver(session), params)
    for recipient in rows[0]["recipients"] or ():
        notify_after_commit(session, INBOX_CHANNEL, recipient)  # wakes the recipient's live streams, once committed
    subscribed = [Subscribed(r["webhook_id"], r["disabled"]) for r in rows if r["webhook_id"] is not None]
    await queue_deliveries(session, envelope, subscribed)


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


def _varchars(*names: str) -> list[BindParameter[Any]]:
    return [bindparam(name, type_=ARRAY(Text)) for name in names]


# The order view keeps what earlier events told (a value the event names wins, one it lacks is kept) and gives back
# the parties as they now stand; an event of no order leaves the view alone and names its parties itself. Each
# notification's recipient is "<audience>:<id>" (domain.Recipient.key); an audience without an id gets none. The
# recipients of the rows inserted (a replayed event inserts none) come back with every row, for their listeners to
# be told once the transaction commits; each row takes its inbox sequence number at commit (migration 0006's
# trigger), so no recipient's cursor is locked before then. The subscriptions the event goes to are those asking
# for its type (or all types) that receive its shop (NULL: every shop): an event of no known shop goes to no partner
# of a shop. The one row `announced` always gives keeps the recipients when no subscription is found.
_RECORD = sql.Statement(
    text(
        """
        WITH view AS (
            INSERT INTO order_view AS v (order_id, buyer_id, shop_id, host_id, warehouse_id)
            SELECT :order_id, :buyer_id, :shop_id, :host_id, :warehouse_id WHERE :order_id IS NOT NULL
            ON CONFLICT (order_id) DO UPDATE SET
                buyer_id = coalesce(excluded.buyer_id, v.buyer_id),
                shop_id = coalesce(excluded.shop_id, v.shop_id),
                host_id = coalesce(excluded.host_id, v.host_id),
                warehouse_id = coalesce(excluded.warehouse_id, v.warehouse_id),
                updated_at = now()
            RETURNING v.buyer_id, v.shop_id, v.host_id, v.warehouse_id
        ), parties AS (
            SELECT coalesce(view.buyer_id, :buyer_id) AS buyer_id,
                   coalesce(view.shop_id, :shop_id) AS shop_id,
                   coalesce(view.host_id, :host_id) AS host_id,
                   coalesce(view.warehouse_id, :warehouse_id) AS warehouse_id
            FROM (SELECT) AS one LEFT JOIN view ON true
        ), addressed AS (
            SELECT line.*, CASE line.audience WHEN 'buyer' THEN p.buyer_id WHEN 'shop' THEN p.shop_id
                               WHEN 'host' THEN p.host_id WHEN 'warehouse' THEN p.warehouse_id END AS party
            FROM unnest(:notification_ids, :audiences, :titles_zh, :bodies_zh, :titles_en, :bodies_en)
                     AS line(notification_id, audience, title_zh, body_zh, title_en, body_en)
            CROSS JOIN parties AS p
        ), inserted AS (
            INSERT INTO notification (notification_id, recipient, event_id, event_type, order_id,
                                      title_zh, body_zh, title_en, body_en, data, occurred_at)
            SELECT notification_id, audience || ':' || party, :event_id, :event_type, :notification_order_id,
                   title_zh, body_zh, title_en, body_en, :links, :occurred_at
            FROM addressed WHERE party <> ''
            ON CONFLICT ON CONSTRAINT uq_notification_event_recipient DO NOTHING
            RETURNING recipient
        ), announced AS (
            SELECT array_agg(recipient) AS recipients FROM inserted
        )
        SELECT s.webhook_id, s.disabled_at IS NOT NULL AS disabled, announced.recipients
        FROM announced
        CROSS JOIN parties AS p
        LEFT JOIN webhook_subscription AS s
            ON s.deleted_at IS NULL AND s.event_types ?| array[:event_type, '*']
            AND (s.shops IS NULL OR s.shops ? p.shop_id)
        """
    ).bindparams(
        bindparam("order_id", type_=String),
        bindparam("buyer_id", type_=String),
        bindparam("shop_id", type_=String),
        bindparam("host_id", type_=String),
        bindparam("warehouse_id", type_=String),
        *_varchars("notification_ids", "audiences", "titles_zh", "bodies_zh", "titles_en", "bodies_en"),
        bindparam("event_id", type_=String),
        bindparam("event_type", type_=String),
        bindparam("notification_order_id", type_=String),
        bindparam("links", type_=JSONB),
        bindparam("occurred_at", type_=DateTime(timezone=True)),
    )
)


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
