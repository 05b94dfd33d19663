"""Reads: inbox pages, the stream's catch-up, webhook lists and the delivery log (keyset pagination)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import DateTime, and_, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.auth import Principal
from xinren_shared.pagination import InvalidCursor, decode_cursor, encode_cursor

from .domain import Recipient
from .handlers import owner_of
from .models import InboxCursor, Notification, WebhookAttempt, WebhookDelivery, WebhookSubscription


def _int_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    (value,) = decode_cursor(cursor, 1)
    # A sequence number is a bigint: anything else (a bool, a number past 2**63) was not given out by this API.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise InvalidCursor("the cursor is not one this API gave out")
    return value


async def notifications_page(
    session: AsyncSession, recipient: Recipient, *, unread: bool | None, limit: int, cursor: str | None
) -> tuple[Sequence[Notification], str | None]:
    """Newest first."""
    stmt = select(Notification).where(Notification.recipient == recipient.key)
    if unread is True:
        stmt = stmt.where(Notification.read_at.is_(None))
    elif unread is False:
        stmt = stmt.where(Notification.read_at.is_not(None))
    before = _int_cursor(cursor)
    if before is not None:
        stmt = stmt.where(Notification.seq < before)
    rows = (await session.execute(stmt.order_by(Notification.seq.desc()).limit(limit + 1))).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].seq) if more else None


async def unread_count(session: AsyncSession, recipient: Recipient) -> int:
    stmt = select(func.count()).where(and_(Notification.recipient == recipient.key, Notification.read_at.is_(None)))
    return (await session.execute(stmt)).scalar_one()


async def current_seq(session: AsyncSession, recipient: Recipient) -> int:
    stmt = select(InboxCursor.last_seq).where(InboxCursor.recipient == recipient.key)
    return (await session.execute(stmt)).scalar_one_or_none() or 0


async def notifications_after(
    session: AsyncSession, recipient: Recipient, after_seq: int, limit: int
) -> Sequence[Notification]:
    """Oldest first: what a stream has not sent yet."""
    stmt = (
        select(Notification)
        .where(and_(Notification.recipient == recipient.key, Notification.seq > after_seq))
        .order_by(Notification.seq)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def subscriptions_page(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[Sequence[WebhookSubscription], str | None]:
    stmt = select(WebhookSubscription).where(WebhookSubscription.deleted_at.is_(None))
    if not principal.is_admin:
        stmt = stmt.where(WebhookSubscription.owner == owner_of(principal))
    if cursor is not None:
        created_at, webhook_id = decode_cursor(cursor, 2)
        try:
            after = datetime.fromisoformat(str(created_at))
        except ValueError as exc:
            raise InvalidCursor("the cursor is not one this API gave out") from exc
        stmt = stmt.where(
            tuple_(WebhookSubscription.created_at, WebhookSubscription.webhook_id)
            < tuple_(literal(after, DateTime(timezone=True)), literal(str(webhook_id)))
        )
    stmt = stmt.order_by(WebhookSubscription.created_at.desc(), WebhookSubscription.webhook_id.desc()).limit(limit + 1)
    rows = (await session.execute(stmt)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at.isoformat(), rows[-1].webhook_id) if more else None


async def deliveries_page(
    session: AsyncSession,
    webhook_id: str,
    *,
    status: str | None,
    order_id: str | None,
    event_type: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[WebhookDelivery], str | None]:
    """Newest first."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if order_id is not None:
        stmt = stmt.where(WebhookDelivery.order_key == order_id)
    if event_type is not None:
        stmt = stmt.where(WebhookDelivery.event_type == event_type)
    before = _int_cursor(cursor)
    if before is not None:
        stmt = stmt.where(WebhookDelivery.seq < before)
    rows = (await session.execute(stmt.order_by(WebhookDelivery.seq.desc()).limit(limit + 1))).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].seq) if more else None


async def attempts_of(session: AsyncSession, delivery_seq: int) -> Sequence[WebhookAttempt]:
    stmt = select(WebhookAttempt).where(WebhookAttempt.delivery_seq == delivery_seq).order_by(WebhookAttempt.id)
    return (await session.execute(stmt)).scalars().all()
