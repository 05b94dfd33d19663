"""One function per event or command, each inside the one transaction its caller gives it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.auth import Principal, Role
from xinren_shared.consumer import EventContext
from xinren_shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from xinren_shared.events import REGISTRY, Envelope, Event

from . import domain, templates, webhooks
from .domain import DeliveryStatus, Parties, Recipient
from .listener import INBOX_CHANNEL
from .models import InboxCursor, Notification, OrderView, WebhookDelivery, WebhookSubscription
from .schemas import WebhookCreate
from .settings import NotifySettings

SECRET_REPLAY_TIMER = "webhook_secret_replay_expiry"

notification_t = Notification.__table__
order_view_t = OrderView.__table__
cursor_t = InboxCursor.__table__
subscription_t = WebhookSubscription.__table__
delivery_t = WebhookDelivery.__table__


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------------------------------------------
# Events: every type of the catalog lands here


async def on_event(session: AsyncSession, event: Event, ctx: EventContext) -> None:
    """Learns who the order concerns, writes each concerned person's notification, queues partner webhooks."""
    envelope = ctx.envelope
    await record_event(session, envelope)


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
    stmt = insert(order_view_t).values(order_id=order_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["order_id"],
        set_={k: func.coalesce(stmt.excluded[k], order_view_t.c[k]) for k in values} | {"updated_at": func.now()},
    ).returning(*(order_view_t.c[k] for k in values))
    row = (await session.execute(stmt)).one()
    return Parties(buyer_id=row.buyer_id, shop_id=row.shop_id, host_id=row.host_id, warehouse_id=row.warehouse_id)


async def next_seq(session: AsyncSession, recipient: str) -> int:
    """Takes the recipient's next stream number; the row stays locked until this transaction ends."""
    stmt = insert(cursor_t).values(recipient=recipient, last_seq=1)
    stmt = stmt.on_conflict_do_update(index_elements=["recipient"], set_={"last_seq": cursor_t.c.last_seq + 1})
    return (await session.execute(stmt.returning(cursor_t.c.last_seq))).scalar_one()


async def write_notifications(session: AsyncSession, envelope: Envelope, parties: Parties) -> list[str]:
    texts = templates.render(envelope.type, envelope.data)
    addressed: dict[Recipient, templates.Text] = {}
    for audience, text_ in texts.items():
        recipient = parties.recipient(audience)
        if recipient is not None:
            addressed[recipient] = text_
    written: list[str] = []
    # Sorted, so that two transactions touching the same recipients lock their cursors in the same order.
    for recipient in sorted(addressed):
        text_ = addressed[recipient]
        seq = await next_seq(session, recipient.key)
        inserted = await session.execute(
            insert(notification_t)
            .values(
                notification_id=new_id("ntf"),
                recipient=recipient.key,
                seq=seq,
                event_id=envelope.id,
                event_type=envelope.type,
                order_id=envelope.data.get("order_id"),
                title_zh=text_.title_zh,
                body_zh=text_.body_zh,
                title_en=text_.title_en,
                body_en=text_.body_en,
                data=templates.links(envelope.data),
                occurred_at=envelope.time,
            )
            .on_conflict_do_nothing(constraint="uq_notification_event_recipient")
            .returning(notification_t.c.notification_id)
        )
        if inserted.first() is not None:
            written.append(recipient.key)
            # Delivered at commit to every replica's listener, never for a rolled-back transaction.
            await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": INBOX_CHANNEL, "p": recipient.key})
    return written


async def queue_deliveries(session: AsyncSession, envelope: Envelope, shop_id: str | None) -> int:
    subscriptions = (
        (
            await session.execute(
                text(
                    """
                SELECT webhook_id FROM webhook_subscription
                WHERE deleted_at IS NULL AND event_types ?| array[:type, '*']
                  AND (shop_id IS NULL OR shop_id = :shop_id)
                """
                ),
                {"type": envelope.type, "shop_id": shop_id},
            )
        )
        .scalars()
        .all()
    )
    if not subscriptions:
        return 0
    payload = envelope.to_structured()
    queued = 0
    for webhook_id in subscriptions:
        result = await session.execute(
            insert(delivery_t)
            .values(
                delivery_id=new_id("dlv"),
                webhook_id=webhook_id,
                event_id=envelope.id,
                event_type=envelope.type,
                order_key=envelope.key or envelope.subject or envelope.id,
                payload=payload,
                status=str(DeliveryStatus.PENDING),
                next_attempt_at=func.now(),
            )
            .on_conflict_do_nothing(constraint="uq_webhook_delivery_event")
            .returning(delivery_t.c.seq)
        )
        queued += result.first() is not None
    if queued:
        await session.execute(text("SELECT pg_notify(:c, '')"), {"c": webhooks.WEBHOOKS_CHANNEL})
    return queued


# ---------------------------------------------------------------------------------------------------------------
# Inbox commands


def inbox_of(principal: Principal) -> Recipient:
    recipient = domain.recipient_of(principal)
    if recipient is None:
        raise Forbidden(
            f"role {principal.role} has no inbox",
            code="NO_INBOX",
            details={"allowed_roles": [str(r) for r in domain.INBOX_ROLES]},
        )
    return recipient


async def mark_read(session: AsyncSession, recipient: Recipient, notification_id: str) -> Notification:
    """Idempotent: a notification read before keeps its first read time."""
    await session.execute(
        update(notification_t)
        .where(and_(notification_t.c.notification_id == notification_id, notification_t.c.recipient == recipient.key))
        .where(notification_t.c.read_at.is_(None))
        .values(read_at=func.now())
    )
    found = (
        await session.execute(
            select(Notification).where(
                and_(Notification.notification_id == notification_id, Notification.recipient == recipient.key)
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("no such notification", details={"notification_id": notification_id})
    return found


async def mark_all_read(session: AsyncSession, recipient: Recipient, up_to_seq: int | None) -> int:
    stmt = update(notification_t).where(
        and_(notification_t.c.recipient == recipient.key, notification_t.c.read_at.is_(None))
    )
    if up_to_seq is not None:
        stmt = stmt.where(notification_t.c.seq <= up_to_seq)
    return (await session.execute(stmt.values(read_at=func.now()))).rowcount


# ---------------------------------------------------------------------------------------------------------------
# Webhook commands


def owner_of(principal: Principal) -> str:
    return f"{principal.role}:{principal.sub}"


def require_webhook_role(principal: Principal) -> Principal:
    return principal.require(Role.PARTNER, Role.ADMIN)


async def check_subscription(principal: Principal, body: WebhookCreate, settings: NotifySettings) -> None:
    """What can be refused before any transaction: the role, the event types, and the URL (a DNS lookup)."""
    require_webhook_role(principal)
    unknown = sorted(t for t in body.event_types if t != "*" and t not in REGISTRY)
    if unknown:
        raise Unprocessable(
            "unknown event types", code="UNKNOWN_EVENT_TYPE", details={"unknown": unknown, "known": sorted(REGISTRY)}
        )
    await webhooks.check_url(body.url, settings)


async def create_subscription(
    session: AsyncSession, principal: Principal, body: WebhookCreate, settings: NotifySettings, runtime: Any
) -> tuple[WebhookSubscription, str]:
    """Call check_subscription first."""
    require_webhook_role(principal)
    owner = owner_of(principal)
    count = (
        await session.execute(
            select(func.count())
            .select_from(subscription_t)
            .where(and_(subscription_t.c.owner == owner, subscription_t.c.deleted_at.is_(None)))
        )
    ).scalar_one()
    if count >= settings.webhook_max_per_owner:
        raise Conflict(
            f"at most {settings.webhook_max_per_owner} webhooks per owner",
            code="TOO_MANY_WEBHOOKS",
            details={"count": count},
        )
    webhook_id = new_id("wh")
    salt = webhooks.new_salt()
    event_types = ["*"] if "*" in body.event_types else sorted(set(body.event_types))
    subscription = WebhookSubscription(
        webhook_id=webhook_id,
        owner=owner,
        url=body.url,
        event_types=event_types,
        description=body.description,
        shop_id=principal.shop_id if principal.role is Role.PARTNER else None,
        secret_salt=salt,
        created_at=datetime.now(UTC),
    )
    session.add(subscription)
    await session.flush()
    # The create response carries the secret; the Idempotency-Key replay store keeps it only this long.
    await runtime.timers.schedule(
        session,
        SECRET_REPLAY_TIMER,
        webhook_id,
        datetime.now(UTC) + timedelta(seconds=settings.webhook_secret_replay_seconds),
    )
    return subscription, webhooks.derive_secret(webhooks.service_key(settings), webhook_id, salt)


async def get_subscription(
    session: AsyncSession, principal: Principal, webhook_id: str, *, lock: bool = False
) -> WebhookSubscription:
    require_webhook_role(principal)
    stmt = select(WebhookSubscription).where(
        and_(WebhookSubscription.webhook_id == webhook_id, WebhookSubscription.deleted_at.is_(None))
    )
    if not principal.is_admin:
        stmt = stmt.where(WebhookSubscription.owner == owner_of(principal))
    if lock:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("no such webhook", details={"webhook_id": webhook_id})
    return found


async def delete_subscription(session: AsyncSession, principal: Principal, webhook_id: str) -> None:
    subscription = await get_subscription(session, principal, webhook_id, lock=True)
    subscription.deleted_at = datetime.now(UTC)
    # Open deliveries stop here; one being sent right now (locked) is cancelled by its worker when it comes back.
    open_rows = (
        select(delivery_t.c.seq)
        .where(
            and_(delivery_t.c.webhook_id == webhook_id, delivery_t.c.status.in_([str(s) for s in domain.OPEN_STATUSES]))
        )
        .with_for_update(skip_locked=True)
    )
    seqs = (await session.execute(open_rows)).scalars().all()
    if seqs:
        await session.execute(
            update(delivery_t)
            .where(delivery_t.c.seq.in_(seqs))
            .values(status=str(DeliveryStatus.CANCELLED), next_attempt_at=None)
        )


async def get_delivery(
    session: AsyncSession, principal: Principal, webhook_id: str, delivery_id: str, *, lock: bool = False
) -> WebhookDelivery:
    await get_subscription(session, principal, webhook_id)
    stmt = select(WebhookDelivery).where(
        and_(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.delivery_id == delivery_id)
    )
    if lock:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("no such delivery", details={"delivery_id": delivery_id})
    return found


async def redeliver(session: AsyncSession, principal: Principal, webhook_id: str, delivery_id: str) -> WebhookDelivery:
    """Sends the event again, now, with the same webhook-id and a fresh retry window."""
    delivery = await get_delivery(session, principal, webhook_id, delivery_id, lock=True)
    current = DeliveryStatus(delivery.status)
    domain.transition(current, DeliveryStatus.PENDING)
    if current is DeliveryStatus.PENDING:
        return delivery  # already on its way
    delivery.status = str(DeliveryStatus.PENDING)
    delivery.failures = 0
    delivery.window_ends_at = None
    delivery.next_attempt_at = datetime.now(UTC)
    await session.flush()
    await session.execute(text("SELECT pg_notify(:c, '')"), {"c": webhooks.WEBHOOKS_CHANNEL})
    return delivery


# ---------------------------------------------------------------------------------------------------------------
# Timers


async def on_secret_replay_expiry(session: AsyncSession, timer: Any, runtime: Any) -> None:
    """Forgets stored create responses (they hold a secret) once the replay period is over."""
    table = runtime.tables.idempotency
    cutoff = datetime.now(UTC) - timedelta(seconds=runtime.settings.webhook_secret_replay_seconds)
    await session.execute(
        delete(table).where(
            and_(table.c.scope == "POST /v1/webhooks", table.c.state == "DONE", table.c.created_at <= cutoff)
        )
    )
