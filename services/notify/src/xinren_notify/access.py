"""Who sees what: one visibility table per entity, and the loaders that reads and commands share (a row is
found only when the caller may see it, otherwise it is a 404)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.access import RowAccess
from xinren_shared.auth import Principal, Role
from xinren_shared.errors import Forbidden, NotFound

from .domain import INBOX_ROLES, Recipient, recipient_of
from .models import Notification, WebhookDelivery, WebhookSubscription

M = TypeVar("M")


def _inbox_key(principal: Principal) -> str | None:
    recipient = recipient_of(principal)
    return recipient.key if recipient is not None else None


# A notification belongs to one inbox: the token's own, its shop's or its warehouse's (see recipient_of).
NOTIFICATIONS = RowAccess(Notification, {role: lambda p: {"recipient": _inbox_key(p)} for role in INBOX_ROLES})
# A partner sees the webhooks it created; an admin sees every one.
WEBHOOKS = RowAccess(WebhookSubscription, {Role.PARTNER: lambda p: {"owner": p.actor}, Role.ADMIN: True})


def require_inbox(principal: Principal) -> Recipient:
    """The inbox the token reads; partners, admins and tokens without their scope claim have none."""
    recipient = recipient_of(principal)
    if recipient is None:
        raise Forbidden(
            f"role {principal.role} has no inbox",
            code="NO_INBOX",
            details={"allowed_roles": [str(r) for r in INBOX_ROLES]},
        )
    return recipient


async def subscription_of(
    session: AsyncSession, principal: Principal, webhook_id: str, *, lock: bool = False
) -> WebhookSubscription:
    stmt = select(WebhookSubscription).where(
        col(WebhookSubscription.webhook_id) == webhook_id,
        col(WebhookSubscription.deleted_at).is_(None),
        WEBHOOKS.where(principal),
    )
    return await _one(session, stmt, lock, NotFound("no such webhook", details={"webhook_id": webhook_id}))


async def delivery_of(
    session: AsyncSession, principal: Principal, webhook_id: str, delivery_id: str, *, lock: bool = False
) -> WebhookDelivery:
    """A delivery of a webhook the caller sees (the webhook is checked first: its 404 comes before this one)."""
    await subscription_of(session, principal, webhook_id)
    stmt = select(WebhookDelivery).where(
        col(WebhookDelivery.webhook_id) == webhook_id, col(WebhookDelivery.delivery_id) == delivery_id
    )
    return await _one(session, stmt, lock, NotFound("no such delivery", details={"delivery_id": delivery_id}))


async def _one(session: AsyncSession, stmt: Select[M], lock: bool, missing: NotFound) -> M:
    """The one row `stmt` selects (locked for this transaction if asked), or the 404."""
    found = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise missing
    return found
