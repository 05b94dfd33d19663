"""Reads: inbox pages, the stream's catch-up, webhook lists and the delivery log (keyset pagination), each shaped
as the API answers it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.pagination import Page, keyset_page

from .access import NOTIFICATIONS, WEBHOOKS, delivery_of, subscription_of
from .domain import OPEN_STATUSES, DeliveryStatus, Recipient
from .models import InboxCursor, Notification, WebhookAttempt, WebhookDelivery, WebhookSubscription
from .schemas import AttemptPublic, DeliveryDetail, DeliveryPublic, Lang, NotificationPublic, UnreadCount, WebhookPublic

M = TypeVar("M")
P = TypeVar("P")


async def _newest_first(
    session: AsyncSession,
    stmt: Select[M],
    key: Sequence[Any],
    cursor: str | None,
    limit: int,
    shape: Callable[[M], P],
) -> Page[P]:
    """One page of every list here: newest first by `key`, each row shaped as the API shows it."""
    rows, next_cursor = await keyset_page(session, stmt, key, cursor, limit, descending=True)
    return Page(items=[shape(r) for r in rows], next_cursor=next_cursor)


# ---------------------------------------------------------------------------------------------------------------
# Inbox


async def notifications_page(
    session: AsyncSession, principal: Principal, *, unread: bool | None, lang: Lang, limit: int, cursor: str | None
) -> Page[NotificationPublic]:
    """Newest first."""
    stmt = select(Notification).where(NOTIFICATIONS.where(principal))
    if unread is True:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    elif unread is False:
        stmt = stmt.where(col(Notification.read_at).is_not(None))
    shape = partial(NotificationPublic.of, lang=lang)
    return await _newest_first(session, stmt, [Notification.seq], cursor, limit, shape)


async def unread_count(session: AsyncSession, principal: Principal) -> UnreadCount:
    stmt = select(func.count()).where(NOTIFICATIONS.where(principal), col(Notification.read_at).is_(None))
    return UnreadCount(unread=(await session.execute(stmt)).scalar_one())


async def current_seq(session: AsyncSession, recipient: Recipient) -> int:
    """The last stream number given out: a stream without Last-Event-ID starts after it."""
    stmt = select(col(InboxCursor.last_seq)).where(col(InboxCursor.recipient) == recipient.key)
    return (await session.execute(stmt)).scalar_one_or_none() or 0


async def notifications_after(
    session: AsyncSession, principal: Principal, after_seq: int, limit: int
) -> Sequence[Notification]:
    """Oldest first: what a stream has not sent yet (the SSE id is the seq, so Last-Event-ID resumes exactly)."""
    stmt = (
        select(Notification)
        .where(NOTIFICATIONS.where(principal), col(Notification.seq) > after_seq)
        .order_by(col(Notification.seq))
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


# ---------------------------------------------------------------------------------------------------------------
# Webhooks


async def subscriptions_page(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> Page[WebhookPublic]:
    """Newest first."""
    stmt = select(WebhookSubscription).where(col(WebhookSubscription.deleted_at).is_(None), WEBHOOKS.where(principal))
    key = [WebhookSubscription.created_at, WebhookSubscription.webhook_id]
    rows, next_cursor = await keyset_page(session, stmt, key, cursor, limit, descending=True)
    backlogs = await _backlogs(session, [r.webhook_id for r in rows])
    return Page(
        items=[WebhookPublic.of(r, backlog=backlogs.get(r.webhook_id, 0)) for r in rows], next_cursor=next_cursor
    )


async def subscription(session: AsyncSession, principal: Principal, webhook_id: str) -> WebhookPublic:
    found = await subscription_of(session, principal, webhook_id)
    return WebhookPublic.of(found, backlog=(await _backlogs(session, [webhook_id])).get(webhook_id, 0))


async def _backlogs(session: AsyncSession, webhook_ids: list[str]) -> dict[str, int]:
    """Open deliveries per subscription, in one query (the partial index of open deliveries serves it)."""
    if not webhook_ids:
        return {}
    stmt = (
        select(col(WebhookDelivery.webhook_id), func.count())
        .where(col(WebhookDelivery.webhook_id).in_(webhook_ids), col(WebhookDelivery.status).in_(OPEN_STATUSES))
        .group_by(col(WebhookDelivery.webhook_id))
    )
    return {webhook_id: count for webhook_id, count in (await session.execute(stmt)).all()}


async def deliveries_page(
    session: AsyncSession,
    principal: Principal,
    webhook_id: str,
    *,
    status: DeliveryStatus | None,
    order_id: str | None,
    event_type: str | None,
    limit: int,
    cursor: str | None,
) -> Page[DeliveryPublic]:
    """The delivery log of a webhook the caller sees, newest first."""
    await subscription_of(session, principal, webhook_id)
    stmt = select(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == webhook_id)
    if status is not None:
        stmt = stmt.where(col(WebhookDelivery.status) == status)
    if order_id is not None:
        stmt = stmt.where(col(WebhookDelivery.order_key) == order_id)
    if event_type is not None:
        stmt = stmt.where(col(WebhookDelivery.event_type) == event_type)
    return await _newest_first(session, stmt, [WebhookDelivery.seq], cursor, limit, DeliveryPublic.of)


async def delivery_detail(
    session: AsyncSession, principal: Principal, webhook_id: str, delivery_id: str
) -> DeliveryDetail:
    """One delivery with the event as sent and every attempt."""
    delivery = await delivery_of(session, principal, webhook_id, delivery_id)
    attempts = (
        await session.execute(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_seq) == delivery.seq)
            .order_by(col(WebhookAttempt.id))
        )
    ).scalars()
    return DeliveryDetail(
        **DeliveryPublic.of(delivery).model_dump(),
        event=delivery.payload,
        attempt_log=[AttemptPublic.model_validate(a.model_dump()) for a in attempts],
    )
