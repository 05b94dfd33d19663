"""Partner webhooks: subscriptions (create with their signing secret and the shops they receive, delete), the
deliveries each event queues, a manual redelivery and a partner's recovery of what failed since a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.db import lock_name
from xinren_shared.errors import Conflict, Forbidden, Unprocessable
from xinren_shared.events import REGISTRY, Envelope
from xinren_shared.ids import new_id
from xinren_shared.listen import notify_after_commit

from .. import health, webhooks
from ..access import delivery_of, subscription_of
from ..domain import DELIVERY, OPEN_STATUSES, RECOVERABLE_STATUSES, DeliveryStatus, granted_shops
from ..models import WebhookDelivery, WebhookSubscription
from ..schemas import DeliveryPublic, RecoveryStarted, WebhookCreate, WebhookCreated, WebhookPublic
from ..settings import NotifySettings
from .timers import SECRET_REPLAY_TIMER


class NoShopsGranted(Unprocessable):
    code = "NO_SHOPS_GRANTED"


class ShopNotGranted(Forbidden):
    code = "SHOP_NOT_GRANTED"


def subscribed_shops(principal: Principal, shop_id: str | None) -> list[str] | None:
    """The shops a new subscription receives: the token's grants, or the one shop it narrows to; None: every shop
    (an admin not narrowing)."""
    granted = granted_shops(principal)
    if granted is not None and not granted:
        raise NoShopsGranted(
            "this partner token grants no shops: ask for a token with a `shops` claim",
            details={"claims": ["shops", "shop_id"]},
        )
    if shop_id is None:
        return None if granted is None else sorted(granted)
    if not principal.serves_shop(shop_id):
        raise ShopNotGranted(
            "the partner token does not grant this shop", details={"shop_id": shop_id, "granted": sorted(granted or ())}
        )
    return [shop_id]


# An owner's subscriptions are created one at a time (db.lock_name, the owner's name in this space).
_OWNER_LOCK_SPACE = 4_200_101


async def check_subscription(principal: Principal, body: WebhookCreate, settings: NotifySettings) -> None:
    """What can be refused before any transaction: the shops, the event types, and the URL (a DNS lookup)."""
    subscribed_shops(principal, body.shop_id)
    unknown = sorted(t for t in body.event_types if t != "*" and t not in REGISTRY)
    if unknown:
        raise Unprocessable(
            "unknown event types", code="UNKNOWN_EVENT_TYPE", details={"unknown": unknown, "known": sorted(REGISTRY)}
        )
    await webhooks.check_url(body.url, settings)


async def create_subscription(
    uow: UnitOfWork[NotifySettings], principal: Principal, body: WebhookCreate
) -> WebhookCreated:
    """Call check_subscription first. The answer carries the signing secret, the only time it is shown.

    The owner's lock is held from the count to the commit: of subscriptions created at once for the owner's last
    free place, one takes it and the others, counting after it, are refused (TOO_MANY_WEBHOOKS), where counting
    without it let them all pass the quota."""
    settings = uow.settings
    await lock_name(uow.session, _OWNER_LOCK_SPACE, principal.actor)
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
        shops=subscribed_shops(principal, body.shop_id),
        shop_id=body.shop_id,
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
    return WebhookCreated(**WebhookPublic.of(subscription, backlog=0).model_dump(), secret=secret)


async def delete_subscription(uow: UnitOfWork[NotifySettings], principal: Principal, webhook_id: str) -> None:
    subscription = await subscription_of(uow.session, principal, webhook_id, lock=True)
    subscription.deleted_at = uow.now
    # Open deliveries stop here; one being sent right now (locked) is cancelled by its worker when it comes back.
    open_rows = (
        select(col(WebhookDelivery.seq))
        .where(col(WebhookDelivery.webhook_id) == webhook_id, col(WebhookDelivery.status).in_(OPEN_STATUSES))
        .with_for_update(skip_locked=True, key_share=True)
    )
    await uow.session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.seq).in_(open_rows))
        .values(status=DeliveryStatus.CANCELLED, next_attempt_at=None)
    )


class Subscribed(NamedTuple):
    """A partner's subscription that wants an event (read with the event's notifications, handlers/inbox.py)."""

    webhook_id: str
    disabled: bool


async def queue_deliveries(session: AsyncSession, envelope: Envelope, subscribed: list[Subscribed]) -> None:
    """One delivery per subscription that wants this event; an event queued before (a replay) is not again."""
    if not subscribed:
        return
    event = {
        "event_id": envelope.id,
        "event_type": envelope.type,
        "order_key": envelope.key or envelope.subject or envelope.id,
        "payload": envelope.to_structured(),
    }
    # A disabled subscription attempts nothing: its deliveries are recorded DEAD, for the partner to recover.
    rows = [
        {
            "delivery_id": new_id("dlv"),
            "webhook_id": s.webhook_id,
            **event,
            "status": DeliveryStatus.DEAD if s.disabled else DeliveryStatus.PENDING,
            "next_attempt_at": None if s.disabled else func.now(),
        }
        for s in subscribed
    ]
    queued = await session.execute(
        insert(WebhookDelivery)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_webhook_delivery_event")
        .returning(col(WebhookDelivery.status))
    )
    if any(status == DeliveryStatus.PENDING for status in queued.scalars()):
        notify_after_commit(session, webhooks.WEBHOOKS_CHANNEL)


async def redeliver(
    uow: UnitOfWork[NotifySettings], principal: Principal, webhook_id: str, delivery_id: str
) -> DeliveryPublic:
    """Sends the event again, now, with the same webhook-id and a fresh retry window."""
    delivery = await delivery_of(uow.session, principal, webhook_id, delivery_id, lock=True)
    await enable(uow.session, webhook_id)
    if DELIVERY.move(delivery.status, DeliveryStatus.PENDING):
        delivery.status = DeliveryStatus.PENDING
        delivery.failures = 0
        delivery.window_ends_at = None
        delivery.next_attempt_at = uow.now
        await uow.session.flush()
        notify_after_commit(uow.session, webhooks.WEBHOOKS_CHANNEL)
    # else: it is pending already, on its way
    return DeliveryPublic.of(delivery)


async def enable(session: AsyncSession, webhook_id: str) -> None:
    """The partner asks for deliveries again: a disabled subscription attempts again, as from a fresh start."""
    await session.execute(
        update(WebhookSubscription)
        .where(col(WebhookSubscription.webhook_id) == webhook_id, col(WebhookSubscription.disabled_at).is_not(None))
        .values(disabled_at=None, failing_since=None, next_probe_at=None)
    )


async def recover(
    uow: UnitOfWork[NotifySettings], principal: Principal, webhook_id: str, since: datetime
) -> RecoveryStarted:
    """Every failed (retrying) or dead delivery queued since `since` is sent again with a fresh retry window, in
    order per order, paced like a catch-up; a disabled subscription is enabled again. One being sent right now
    keeps its own outcome."""
    subscription = await subscription_of(uow.session, principal, webhook_id, lock=True)
    await enable(uow.session, webhook_id)
    again = (
        select(col(WebhookDelivery.seq))
        .where(
            col(WebhookDelivery.webhook_id) == webhook_id,
            col(WebhookDelivery.created_at) >= since,
            col(WebhookDelivery.status).in_(RECOVERABLE_STATUSES),
        )
        .with_for_update(skip_locked=True, key_share=True)
    )
    requeued = (
        await uow.session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.seq).in_(again))
            .values(status=DeliveryStatus.PENDING, failures=0, window_ends_at=None, next_attempt_at=uow.now)
            .returning(col(WebhookDelivery.seq))
        )
    ).all()
    if requeued:
        await health.release_backlog(uow.session, webhook_id, uow.now, uow.settings.webhook_catchup_per_second)
        notify_after_commit(uow.session, webhooks.WEBHOOKS_CHANNEL)
    return RecoveryStarted(webhook_id=subscription.webhook_id, since=since, requeued=len(requeued))
