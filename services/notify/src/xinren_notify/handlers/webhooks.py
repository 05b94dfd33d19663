"""Partner webhooks: subscriptions (create with their signing secret, delete), the deliveries each event queues,
and a manual redelivery."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal, Role
from xinren_shared.commands import UnitOfWork
from xinren_shared.errors import Conflict, Unprocessable
from xinren_shared.events import REGISTRY, Envelope
from xinren_shared.ids import new_id

from .. import webhooks
from ..access import delivery_of, subscription_of
from ..domain import DELIVERY, OPEN_STATUSES, DeliveryStatus
from ..listener import announce
from ..models import WebhookDelivery, WebhookSubscription
from ..schemas import DeliveryPublic, WebhookCreate, WebhookCreated, WebhookPublic
from ..settings import NotifySettings
from .timers import SECRET_REPLAY_TIMER

# The subscriptions an event goes to: those asking for its type (or all types), of its shop or of every shop.
_SUBSCRIBED = text(
    """
    SELECT webhook_id FROM webhook_subscription
    WHERE deleted_at IS NULL AND event_types ?| array[:type, '*']
      AND (shop_id IS NULL OR shop_id = :shop_id)
    """
)


async def check_subscription(body: WebhookCreate, settings: NotifySettings) -> None:
    """What can be refused before any transaction: the event types, and the URL (a DNS lookup)."""
    unknown = sorted(t for t in body.event_types if t != "*" and t not in REGISTRY)
    if unknown:
        raise Unprocessable(
            "unknown event types", code="UNKNOWN_EVENT_TYPE", details={"unknown": unknown, "known": sorted(REGISTRY)}
        )
    await webhooks.check_url(body.url, settings)


async def create_subscription(
    uow: UnitOfWork[NotifySettings], principal: Principal, body: WebhookCreate
) -> WebhookCreated:
    """Call check_subscription first. The answer carries the signing secret, the only time it is shown."""
    settings = uow.settings
    count = (
        await uow.session.execute(
            select(func.count()).where(
                col(WebhookSubscription.owner) == principal.actor, col(WebhookSubscription.deleted_at).is_(None)
            )
        )
    ).scalar_one()
    if count >= settings.webhook_max_per_owner:
        raise Conflict(
            f"at most {settings.webhook_max_per_owner} webhooks per owner",
            code="TOO_MANY_WEBHOOKS",
            details={"count": count},
        )
    subscription = WebhookSubscription(
        webhook_id=new_id("wh"),
        owner=principal.actor,
        url=body.url,
        event_types=["*"] if "*" in body.event_types else sorted(set(body.event_types)),
        description=body.description,
        shop_id=principal.shop_id if principal.role is Role.PARTNER else None,
        secret_salt=webhooks.new_salt(),
        created_at=uow.now,
    )
    uow.session.add(subscription)
    await uow.session.flush()
    # The create response carries the secret; the Idempotency-Key replay store keeps it only this long.
    await uow.runtime.timers.schedule(
        uow.session,
        SECRET_REPLAY_TIMER,
        subscription.webhook_id,
        uow.now + timedelta(seconds=settings.webhook_secret_replay_seconds),
    )
    secret = webhooks.derive_secret(webhooks.service_key(settings), subscription.webhook_id, subscription.secret_salt)
    return WebhookCreated(**WebhookPublic.of(subscription).model_dump(), secret=secret)


async def delete_subscription(uow: UnitOfWork[NotifySettings], principal: Principal, webhook_id: str) -> None:
    subscription = await subscription_of(uow.session, principal, webhook_id, lock=True)
    subscription.deleted_at = uow.now
    # Open deliveries stop here; one being sent right now (locked) is cancelled by its worker when it comes back.
    open_rows = (
        select(col(WebhookDelivery.seq))
        .where(col(WebhookDelivery.webhook_id) == webhook_id, col(WebhookDelivery.status).in_(OPEN_STATUSES))
        .with_for_update(skip_locked=True)
    )
    await uow.session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.seq).in_(open_rows))
        .values(status=DeliveryStatus.CANCELLED, next_attempt_at=None)
    )


async def queue_deliveries(session: AsyncSession, envelope: Envelope, shop_id: str | None) -> None:
    """One delivery per subscription that wants this event; an event queued before (a replay) is not again."""
    webhook_ids = (await session.execute(_SUBSCRIBED, {"type": envelope.type, "shop_id": shop_id})).scalars().all()
    if not webhook_ids:
        return
    event = {
        "event_id": envelope.id,
        "event_type": envelope.type,
        "order_key": envelope.key or envelope.subject or envelope.id,
        "payload": envelope.to_structured(),
        "status": DeliveryStatus.PENDING,
        "next_attempt_at": func.now(),
    }
    rows = [{"delivery_id": new_id("dlv"), "webhook_id": webhook_id, **event} for webhook_id in webhook_ids]
    queued = await session.execute(
        insert(WebhookDelivery)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_webhook_delivery_event")
        .returning(col(WebhookDelivery.seq))
    )
    if queued.first() is not None:
        await announce(session, webhooks.WEBHOOKS_CHANNEL)


async def redeliver(
    uow: UnitOfWork[NotifySettings], principal: Principal, webhook_id: str, delivery_id: str
) -> DeliveryPublic:
    """Sends the event again, now, with the same webhook-id and a fresh retry window."""
    delivery = await delivery_of(uow.session, principal, webhook_id, delivery_id, lock=True)
    if DELIVERY.move(delivery.status, DeliveryStatus.PENDING):
        delivery.status = DeliveryStatus.PENDING
        delivery.failures = 0
        delivery.window_ends_at = None
        delivery.next_attempt_at = uow.now
        await uow.session.flush()
        await announce(uow.session, webhooks.WEBHOOKS_CHANNEL)
    # else: it is pending already, on its way
    return DeliveryPublic.of(delivery)
