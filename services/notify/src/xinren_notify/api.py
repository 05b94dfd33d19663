"""HTTP routes of the notify service: parse, authorize, call a handler, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from sse_starlette import EventSourceResponse

from xinren_shared import catalog
from xinren_shared.auth import CurrentPrincipal
from xinren_shared.errors import DomainError, NotFound, error_responses
from xinren_shared.pagination import Cursor, Limit, Page

from . import asyncapi, handlers, queries
from .domain import DeliveryStatus
from .schemas import (
    Catalog,
    CatalogEntry,
    DeliveryDetail,
    DeliveryPublic,
    Lang,
    MarkAllRead,
    MarkedRead,
    NotificationPublic,
    UnreadCount,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)
from .stream import notification_events

router = APIRouter(prefix="/v1")

AcceptLanguage = Annotated[
    str | None,
    Header(
        description="`en` for English texts in `title`/`body`; Chinese otherwise. Both are always in `*_zh`/`*_en`."
    ),
]


class InvalidLastEventId(DomainError):
    status, code = 400, "INVALID_LAST_EVENT_ID"


def preferred_lang(accept_language: str | None) -> Lang:
    """The first of zh/en by the header's q-values; Chinese when neither is asked for."""
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("zh", "en"):
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or q > best[0] or (q == best[0] and position < best[1])):
            best = (q, position, primary)  # type: ignore[assignment]
    return best[2] if best else "zh"


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


# ---------------------------------------------------------------------------------------------------------------
# Inbox


@router.get("/notifications", response_model=Page[NotificationPublic], tags=["inbox"], responses=error_responses(403))
async def list_notifications(
    request: Request,
    principal: CurrentPrincipal,
    accept_language: AcceptLanguage = None,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[NotificationPublic]:
    """The token's own inbox, newest first. A seller reads the shop's inbox, warehouse staff their warehouse's."""
    recipient = handlers.inbox_of(principal)
    lang = preferred_lang(accept_language)
    async with _runtime(request).transaction() as session:
        rows, next_cursor = await queries.notifications_page(
            session, recipient, unread=unread, limit=limit, cursor=cursor
        )
    return Page(items=[NotificationPublic.of(r, lang) for r in rows], next_cursor=next_cursor)


@router.get("/notifications/unread-count", response_model=UnreadCount, tags=["inbox"], responses=error_responses(403))
async def count_unread(request: Request, principal: CurrentPrincipal) -> UnreadCount:
    recipient = handlers.inbox_of(principal)
    async with _runtime(request).transaction() as session:
        return UnreadCount(unread=await queries.unread_count(session, recipient))


@router.get(
    "/notifications/stream", tags=["inbox"], response_class=EventSourceResponse, responses=error_responses(400, 403)
)
async def stream_notifications(
    request: Request,
    principal: CurrentPrincipal,
    accept_language: AcceptLanguage = None,
    last_event_id: Annotated[
        str | None, Header(description="the `id` of the last event received: the stream resumes right after it")
    ] = None,
) -> EventSourceResponse:
    """Server-Sent Events: one `notification` event per new notification, `id` = the inbox sequence. Without
    Last-Event-ID the stream starts with what arrives from now on; with it, it first replays what came after."""
    recipient = handlers.inbox_of(principal)
    if last_event_id is not None and last_event_id.strip():
        try:
            after = int(last_event_id.strip())
        except ValueError:
            raise InvalidLastEventId("Last-Event-ID must be the id of an event of this stream") from None
        if after < 0:
            raise InvalidLastEventId("Last-Event-ID must be the id of an event of this stream")
    else:
        async with _runtime(request).transaction() as session:
            after = await queries.current_seq(session, recipient)
    settings = request.app.state.settings
    events = notification_events(
        recipient=recipient,
        after_seq=after,
        lang=preferred_lang(accept_language),
        hub=request.app.state.hub,
        session_factory=_runtime(request).session_factory,
        batch_size=settings.sse_batch_size,
        poll_seconds=settings.sse_poll_seconds,
    )
    return EventSourceResponse(events, ping=settings.sse_ping_seconds)


@router.post("/notifications/read-all", response_model=MarkedRead, tags=["inbox"], responses=error_responses(403))
async def read_all(
    request: Request, principal: CurrentPrincipal, body: Annotated[MarkAllRead | None, Body()] = None
) -> MarkedRead:
    recipient = handlers.inbox_of(principal)
    async with _runtime(request).transaction() as session:
        marked = await handlers.mark_all_read(session, recipient, body.up_to_seq if body else None)
    return MarkedRead(marked=marked)


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationPublic,
    tags=["inbox"],
    responses=error_responses(403, 404),
)
async def read_notification(
    request: Request, principal: CurrentPrincipal, notification_id: str, accept_language: AcceptLanguage = None
) -> NotificationPublic:
    recipient = handlers.inbox_of(principal)
    async with _runtime(request).transaction() as session:
        row = await handlers.mark_read(session, recipient, notification_id)
    return NotificationPublic.of(row, preferred_lang(accept_language))


# ---------------------------------------------------------------------------------------------------------------
# Webhooks


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    tags=["webhooks"],
    responses=error_responses(403, 409),
)
async def create_webhook(request: Request, principal: CurrentPrincipal, body: WebhookCreate) -> WebhookCreated:
    """Subscribes a URL to event types. The signing secret is in this response only."""
    runtime = _runtime(request)
    await handlers.check_subscription(principal, body, runtime.settings)
    async with runtime.transaction() as session:
        row, secret = await handlers.create_subscription(session, principal, body, runtime.settings, runtime)
    return WebhookCreated(**WebhookPublic.of(row).model_dump(), secret=secret)


@router.get("/webhooks", response_model=Page[WebhookPublic], tags=["webhooks"], responses=error_responses(403))
async def list_webhooks(
    request: Request, principal: CurrentPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Page[WebhookPublic]:
    handlers.require_webhook_role(principal)
    async with _runtime(request).transaction() as session:
        rows, next_cursor = await queries.subscriptions_page(session, principal, limit=limit, cursor=cursor)
    return Page(items=[WebhookPublic.of(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/webhooks/{webhook_id}", response_model=WebhookPublic, tags=["webhooks"], responses=error_responses(403, 404)
)
async def get_webhook(request: Request, principal: CurrentPrincipal, webhook_id: str) -> WebhookPublic:
    async with _runtime(request).transaction() as session:
        return WebhookPublic.of(await handlers.get_subscription(session, principal, webhook_id))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["webhooks"],
    responses=error_responses(403, 404),
)
async def delete_webhook(request: Request, principal: CurrentPrincipal, webhook_id: str) -> Response:
    """Stops the subscription; deliveries not yet made are cancelled."""
    async with _runtime(request).transaction() as session:
        await handlers.delete_subscription(session, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[DeliveryPublic],
    tags=["webhooks"],
    responses=error_responses(403, 404),
)
async def list_deliveries(
    request: Request,
    principal: CurrentPrincipal,
    webhook_id: str,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    order_id: Annotated[str | None, Query(max_length=200)] = None,
    event_type: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryPublic]:
    """The delivery log, newest first."""
    async with _runtime(request).transaction() as session:
        await handlers.get_subscription(session, principal, webhook_id)
        rows, next_cursor = await queries.deliveries_page(
            session,
            webhook_id,
            status=str(status_) if status_ else None,
            order_id=order_id,
            event_type=event_type,
            limit=limit,
            cursor=cursor,
        )
    return Page(items=[DeliveryPublic.of(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    tags=["webhooks"],
    responses=error_responses(403, 404),
)
async def get_delivery(
    request: Request, principal: CurrentPrincipal, webhook_id: str, delivery_id: str
) -> DeliveryDetail:
    """One delivery with the event as sent and every attempt."""
    async with _runtime(request).transaction() as session:
        row = await handlers.get_delivery(session, principal, webhook_id, delivery_id)
        attempts = await queries.attempts_of(session, row.seq)
    return DeliveryDetail(
        **DeliveryPublic.of(row).model_dump(),
        event=row.payload,
        attempt_log=[a.model_dump() for a in attempts],
    )


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryPublic,
    tags=["webhooks"],
    responses=error_responses(403, 404, 409),
)
async def redeliver(request: Request, principal: CurrentPrincipal, webhook_id: str, delivery_id: str) -> DeliveryPublic:
    """Sends the event again now (same webhook-id), with a fresh retry window. 409 for a cancelled delivery."""
    async with _runtime(request).transaction() as session:
        row = await handlers.redeliver(session, principal, webhook_id, delivery_id)
    return DeliveryPublic.of(row)


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
