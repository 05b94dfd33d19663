"""HTTP routes of the notify service: parse, authorize, call a handler, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from sse_starlette import EventSourceResponse

from xinren_shared import catalog
from xinren_shared.auth import CurrentPrincipal, Role
from xinren_shared.commands import Commands, runtime_of
from xinren_shared.errors import DomainError, NotFound, error_responses
from xinren_shared.i18n import preferred_lang
from xinren_shared.pagination import Cursor, Limit, Page
from xinren_shared.runtime import ServiceRuntime

from . import asyncapi, queries
from .access import require_inbox
from .domain import DeliveryStatus
from .handlers import inbox, webhooks
from .schemas import (
    Catalog,
    CatalogEntry,
    DeliveryDetail,
    DeliveryPublic,
    MarkAllRead,
    MarkedRead,
    NotificationPublic,
    RecoverRequest,
    RecoveryStarted,
    UnreadCount,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)
from .settings import NotifySettings
from .stream import notification_events

router = APIRouter(prefix="/v1")

AcceptLanguage = Annotated[
    str | None,
    Header(
        description="`en` for English texts in `title`/`body`; Chinese otherwise. Both are always in `*_zh`/`*_en`."
    ),
]


RuntimeDep = Annotated[ServiceRuntime[NotifySettings], Depends(runtime_of)]
WEBHOOK_ROLES = (Role.PARTNER, Role.ADMIN)


class InvalidLastEventId(DomainError):
    status, code = 400, "INVALID_LAST_EVENT_ID"


def resume_after(last_event_id: str) -> int:
    """The sequence a Last-Event-ID names: the stream goes on right after it."""
    try:
        after = int(last_event_id.strip())
    except ValueError:
        raise InvalidLastEventId("Last-Event-ID must be the id of an event of this stream") from None
    if after < 0:
        raise InvalidLastEventId("Last-Event-ID must be the id of an event of this stream")
    return after


# ---------------------------------------------------------------------------------------------------------------
# Inbox


@router.get("/notifications", response_model=Page[NotificationPublic], tags=["inbox"], responses=error_responses(403))
async def list_notifications(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    accept_language: AcceptLanguage = None,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[NotificationPublic]:
    """The token's own inbox, newest first. A seller reads the shop's inbox, warehouse staff their warehouse's."""
    require_inbox(principal)
    lang = preferred_lang(accept_language)
    async with runtime.snapshot() as session:
        return await queries.notifications_page(
            session, principal, unread=unread, lang=lang, limit=limit, cursor=cursor
        )


@router.get("/notifications/unread-count", response_model=UnreadCount, tags=["inbox"], responses=error_responses(403))
async def count_unread(runtime: RuntimeDep, principal: CurrentPrincipal) -> UnreadCount:
    require_inbox(principal)
    async with runtime.snapshot() as session:
        return await queries.unread_count(session, principal)


@router.get(
    "/notifications/stream", tags=["inbox"], response_class=EventSourceResponse, responses=error_responses(400, 403)
)
async def stream_notifications(
    request: Request,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    accept_language: AcceptLanguage = None,
    last_event_id: Annotated[
        str | None, Header(description="the `id` of the last event received: the stream resumes right after it")
    ] = None,
) -> EventSourceResponse:
    """Server-Sent Events: one `notification` event per new notification, `id` = the inbox sequence. Without
    Last-Event-ID the stream starts with what arrives from now on; with it, it first replays what came after."""
    recipient = require_inbox(principal)
    if last_event_id is not None and last_event_id.strip():
        after = resume_after(last_event_id)
    else:
        async with runtime.transaction() as session:
            after = await queries.current_seq(session, recipient)
    settings = runtime.settings
    events = notification_events(
        principal=principal,
        recipient=recipient,
        after_seq=after,
        lang=preferred_lang(accept_language),
        hub=request.app.state.hub,
        session_factory=runtime.session_factory,
        batch_size=settings.sse_batch_size,
        poll_seconds=settings.sse_poll_seconds,
    )
    return EventSourceResponse(events, ping=settings.sse_ping_seconds)


@router.post("/notifications/read-all", response_model=MarkedRead, tags=["inbox"], responses=error_responses(403))
async def read_all(
    commands: Commands, principal: CurrentPrincipal, body: Annotated[MarkAllRead | None, Body()] = None
) -> MarkedRead:
    require_inbox(principal)
    return await commands.run(inbox.mark_all_read, principal, body.up_to_seq if body else None)


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationPublic,
    tags=["inbox"],
    responses=error_responses(403, 404),
)
async def read_notification(
    commands: Commands, principal: CurrentPrincipal, notification_id: str, accept_language: AcceptLanguage = None
) -> NotificationPublic:
    require_inbox(principal)
    return await commands.run(inbox.mark_read, principal, notification_id, preferred_lang(accept_language))


# ---------------------------------------------------------------------------------------------------------------
# Webhooks: partners and admins


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    tags=["webhooks"],
    responses=error_responses(403, 409),
)
async def create_webhook(
    runtime: RuntimeDep, commands: Commands, principal: CurrentPrincipal, body: WebhookCreate
) -> WebhookCreated:
    """Subscribes a URL to event types of the shops the partner token grants (or of one of them, `shop_id`); an
    admin's subscription receives every shop's. The signing secret is in this response only."""
    principal.require(*WEBHOOK_ROLES)
    await webhooks.check_subscription(principal, body, runtime.settings)
    return await commands.run(webhooks.create_subscription, principal, body)


@router.get("/webhooks", response_model=Page[WebhookPublic], tags=["webhooks"], responses=error_responses(403))
async def list_webhooks(
    runtime: RuntimeDep, principal: CurrentPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Page[WebhookPublic]:
    principal.require(*WEBHOOK_ROLES)
    async with runtime.snapshot() as session:
        return await queries.subscriptions_page(session, principal, limit=limit, cursor=cursor)


@router.get(
    "/webhooks/{webhook_id}", response_model=WebhookPublic, tags=["webhooks"], responses=error_responses(403, 404)
)
async def get_webhook(runtime: RuntimeDep, principal: CurrentPrincipal, webhook_id: str) -> WebhookPublic:
    principal.require(*WEBHOOK_ROLES)
    async with runtime.snapshot() as session:
        return await queries.subscription(session, principal, webhook_id)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["webhooks"],
    responses=error_responses(403, 404),
)
async def delete_webhook(commands: Commands, principal: CurrentPrincipal, webhook_id: str) -> Response:
    """Stops the subscription; deliveries not yet made are cancelled."""
    principal.require(*WEBHOOK_ROLES)
    await commands.run(webhooks.delete_subscription, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[DeliveryPublic],
    tags=["webhooks"],
    responses=error_responses(403, 404),
)
async def list_deliveries(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    webhook_id: str,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    order_id: Annotated[str | None, Query(max_length=200)] = None,
    event_type: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryPublic]:
    """The delivery log, newest first."""
    principal.require(*WEBHOOK_ROLES)
    async with runtime.snapshot() as session:
        return await queries.deliveries_page(
            session,
            principal,
            webhook_id,
            status=status_,
            order_id=order_id,
            event_type=event_type,
            limit=limit,
            cursor=cursor,
        )


@router.get(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    tags=["webhooks"],
    responses=error_responses(403, 404),
)
async def get_delivery(
    runtime: RuntimeDep, principal: CurrentPrincipal, webhook_id: str, delivery_id: str
) -> DeliveryDetail:
    """One delivery with the event as sent and every attempt."""
    principal.require(*WEBHOOK_ROLES)
    async with runtime.snapshot() as session:
        return await queries.delivery_detail(session, principal, webhook_id, delivery_id)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryPublic,
    tags=["webhooks"],
    responses=error_responses(403, 404, 409),
)
async def redeliver(
    commands: Commands, principal: CurrentPrincipal, webhook_id: str, delivery_id: str
) -> DeliveryPublic:
    """Sends the event again now (same webhook-id), with a fresh retry window. 409 for a cancelled delivery."""
    principal.require(*WEBHOOK_ROLES)
    return await commands.run(webhooks.redeliver, principal, webhook_id, delivery_id)


@router.post(
    "/webhooks/{webhook_id}/recover",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RecoveryStarted,
    tags=["webhooks"],
    responses=error_responses(403, 404),
)
async def recover_webhook(
    commands: Commands, principal: CurrentPrincipal, webhook_id: str, body: RecoverRequest
) -> RecoveryStarted:
    """Sends again every failed or dead delivery queued since `since`, in order per order and paced, each with a
    fresh retry window; a DISABLED subscription attempts again."""
    principal.require(*WEBHOOK_ROLES)
    return await commands.run(webhooks.recover, principal, webhook_id, body.since)


# ---------------------------------------------------------------------------------------------------------------
# Event catalog


def _entry(entry: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        type=entry["type"],
        topic=entry["topic"],
        key=entry["key"],
        description=entry["description"],
        json_schema=entry["schema"],
        example=entry["example"],
    )


@router.get("/events/catalog", response_model=Catalog, tags=["catalog"])
async def event_catalog(principal: CurrentPrincipal) -> Catalog:
    """Every event type: topic, record key, JSON Schema and a golden example. The whole catalog fits one page."""
    return Catalog(items=[_entry(e) for e in catalog.entries()])


@router.get(
    "/events/catalog/{event_type}", response_model=CatalogEntry, tags=["catalog"], responses=error_responses(404)
)
async def event_catalog_entry(principal: CurrentPrincipal, event_type: str) -> CatalogEntry:
    for entry in catalog.entries():
        if entry["type"] == event_type:
            return _entry(entry)
    raise NotFound("no such event type", details={"event_type": event_type})


@router.get("/events/asyncapi", tags=["catalog"])
async def asyncapi_document(principal: CurrentPrincipal) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the topics (also committed as docs/asyncapi.yaml)."""
    return asyncapi.document()
