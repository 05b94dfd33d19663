"""Outgoing webhooks: signing secrets, the address guard, one signed HTTP attempt, and the durable delivery worker.

Secrets are never stored: each is HMAC-SHA256(service key, webhook id + random salt), so the database alone cannot
sign anything; the service key comes from `webhook_secret_key` (or, if unset, from the JWT secret with its own
label). Deliveries are rows claimed with FOR UPDATE SKIP LOCKED, so any number of workers and replicas share them;
a delivery is only claimed when no earlier event of the same subscription and order is still open.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from xinren_shared.errors import Unprocessable
from xinren_shared.ids import utcnow

from . import domain
from .domain import DELIVERY, DeliveryStatus, RetryPolicy
from .settings import NotifySettings

log = logging.getLogger("xinren.notify.webhooks")

WEBHOOK_ATTEMPTS = Counter("xinren_notify_webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"])

WEBHOOKS_CHANNEL = "xinren_notify_webhooks"
USER_AGENT = "Xinren-Webhooks/1.0"
_EXCERPT_BYTES = 1024

# ---------------------------------------------------------------------------------------------------------------
# Secrets


def service_key(settings: NotifySettings) -> bytes:
    material = settings.webhook_secret_key or settings.jwt_secret
    return hmac.new(material.encode(), b"xinren-notify/webhook-signing-secrets/v1", hashlib.sha256).digest()


def new_salt() -> str:
    return secrets.token_urlsafe(24)


def derive_secret(key: bytes, webhook_id: str, salt: str) -> str:
    """The subscription's Standard Webhooks secret, `whsec_<base64 of 32 bytes>`."""
    raw = hmac.new(key, f"{webhook_id}\n{salt}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(raw).decode()


def sign(secret: str, msg_id: str, at: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


def body_of(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------------------------
# Where a webhook may go


class WebhookUrlRefused(Unprocessable):
    code = "WEBHOOK_URL_REFUSED"


class AddressRefused(Exception):
    """At send time: the host resolves to an address webhooks may not reach, or does not resolve."""


def check_url_shape(url: str, *, require_https: bool) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
        parsed.host  # noqa: B018  (decodes the IDNA host, which may fail: "xn--", say)
    except (httpx.InvalidURL, ValueError) as exc:
        raise WebhookUrlRefused("the webhook URL is not a valid URL", details={"url": url}) from exc
    if parsed.scheme not in (("https",) if require_https else ("http", "https")):
        allowed = "https" if require_https else "http or https"
        raise WebhookUrlRefused(f"the webhook URL must use {allowed}", details={"url": url})
    if not parsed.host:
        raise WebhookUrlRefused("the webhook URL has no host", details={"url": url})
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise WebhookUrlRefused("the webhook URL's port is out of range", details={"url": url})
    if parsed.userinfo:
        raise WebhookUrlRefused("the webhook URL may not carry credentials; use the signature", details={"url": url})
    if parsed.fragment:
        raise WebhookUrlRefused("the webhook URL may not have a fragment", details={"url": url})
    return parsed


async def resolve(url: httpx.URL) -> list[str]:
    port = url.port or (443 if url.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def refusals(addresses: list[str]) -> dict[str, str]:
    return {a: reason for a in addresses if (reason := domain.forbidden_address(a)) is not None}


async def check_url(url: str, settings: NotifySettings) -> None:
    """Subscription-time check: a well-formed URL whose host resolves, only to public addresses unless allowed."""
    parsed = check_url_shape(url, require_https=settings.webhook_require_https)
    try:
        addresses = await resolve(parsed)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a host no DNS name can be (an empty or 64+ label)
        raise WebhookUrlRefused(
            "the webhook host does not resolve", code="WEBHOOK_URL_UNRESOLVABLE", details={"host": parsed.host}
        ) from exc
    if not settings.webhook_allow_private and (bad := refusals(addresses)):
        raise WebhookUrlRefused(
            "the webhook URL points to a private, loopback or link-local address",
            details={"host": parsed.host, "refused": bad},
        )


# ---------------------------------------------------------------------------------------------------------------
# One attempt


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    excerpt: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None and domain.is_success(self.status_code)


async def post_signed(
    client: httpx.AsyncClient, url: str, body: str, headers: dict[str, str], *, allow_private: bool, timeout: float
) -> AttemptResult:
    """POSTs once. The host is resolved and checked here, and the connection goes to the checked address (the Host
    header and TLS name stay the URL's), so a DNS answer that changes in between cannot redirect it."""
    started = time.perf_counter()

    def done(status: int | None, error: str | None, excerpt: str | None = None) -> AttemptResult:
        return AttemptResult(status, error, excerpt, int((time.perf_counter() - started) * 1000))

    try:
        async with asyncio.timeout(timeout):
            target = httpx.URL(url)
            try:
                addresses = await resolve(target)
            except OSError as exc:
                return done(None, f"dns: {exc}")
            if not allow_private and (bad := refusals(addresses)):
                return done(None, f"refused: {target.host} resolves to a non-public address {bad}")
            pinned = target.copy_with(host=addresses[0])
            send_headers = {**headers, "host": target.netloc.decode("ascii"), "user-agent": USER_AGENT}
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            request = client.build_request(
                "POST", pinned, content=body.encode(), headers=send_headers, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:
                excerpt = bytearray()
                async for chunk in response.aiter_raw():
                    excerpt += chunk
                    if len(excerpt) >= _EXCERPT_BYTES:
                        break
            finally:
                await response.aclose()
            return done(response.status_code, None, bytes(excerpt[:_EXCERPT_BYTES]).decode(errors="replace") or None)
    except TimeoutError:
        return done(None, f"timeout: no answer within {timeout:g}s")
    except httpx.HTTPError as exc:
        return done(None, f"{type(exc).__name__}: {exc}"[:500])
    except (OSError, ValueError) as exc:  # e.g. a name that resolves to nothing usable: a failed attempt, not a crash
        log.warning("webhook attempt to %s failed unexpectedly", url, exc_info=True)
        return done(None, f"{type(exc).__name__}: {exc}"[:500])


# ---------------------------------------------------------------------------------------------------------------
# The worker

_OPEN = "d.status IN ('PENDING', 'RETRYING')"
_NO_EARLIER_OPEN = """NOT EXISTS (
    SELECT 1 FROM webhook_delivery e
    WHERE e.webhook_id = d.webhook_id AND e.order_key = d.order_key AND e.seq < d.seq
      AND e.status IN ('PENDING', 'RETRYING'))"""

CLAIM = text(
    f"""
    SELECT d.seq, d.delivery_id, d.event_id, d.status, d.payload, d.attempts, d.failures, d.window_ends_at,
           s.webhook_id, s.url, s.secret_salt, s.deleted_at
    FROM webhook_delivery d JOIN webhook_subscription s ON s.webhook_id = d.webhook_id
    WHERE {_OPEN} AND d.next_attempt_at <= now() AND {_NO_EARLIER_OPEN}
    ORDER BY d.next_attempt_at, d.seq
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
    """
)
NEXT_DUE = text(
    f"""
    SELECT d.next_attempt_at FROM webhook_delivery d
    WHERE {_OPEN} AND {_NO_EARLIER_OPEN}
    ORDER BY d.next_attempt_at
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
    """
)
RECORD = text(
    """
    UPDATE webhook_delivery SET status = :status, attempts = attempts + 1, failures = :failures,
        next_attempt_at = :next_attempt_at, window_ends_at = :window_ends_at, last_attempt_at = :at,
        last_status_code = :status_code, last_error = :error,
        delivered_at = COALESCE(:delivered_at, delivered_at)
    WHERE seq = :seq
    """
)
LOG_ATTEMPT = text(
    """
    INSERT INTO webhook_attempt (delivery_seq, attempt, started_at, duration_ms, status_code, error, response_excerpt)
    VALUES (:seq, :attempt, :at, :duration_ms, :status_code, :error, :excerpt)
    """
)


def retry_policy(settings: NotifySettings) -> RetryPolicy:
    return RetryPolicy(
        first_retry_seconds=settings.webhook_first_retry_seconds,
        factor=settings.webhook_backoff_factor,
        max_backoff_seconds=settings.webhook_max_backoff_seconds,
        jitter=settings.webhook_backoff_jitter,
        window_seconds=settings.webhook_retry_window_seconds,
    )


class DeliveryWorkers:
    """`webhook_workers` loops, each sending one delivery at a time in its own transaction."""

    def __init__(self, settings: NotifySettings, session_factory: async_sessionmaker[AsyncSession]):
        self.settings = settings
        self.session_factory = session_factory
        self.policy = retry_policy(settings)
        self.key = service_key(settings)
        self.rng = random.Random()
        self._wakes = [asyncio.Event() for _ in range(settings.webhook_workers)]
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_seconds),
            follow_redirects=False,
            trust_env=False,  # never through an environment proxy: the address guard must see the real target
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    def wake(self, _payload: str | None = None) -> None:
        for event in self._wakes:
            event.set()

    async def close(self) -> None:
        await self.client.aclose()

    async def deliver_one(self) -> bool:
        """Claims one due delivery and makes one attempt; False when nothing is due."""
        async with self.session_factory() as session, session.begin():
            row = (await session.execute(CLAIM)).first()
            if row is None:
                return False
            if row.deleted_at is not None:
                await session.execute(
                    text("UPDATE webhook_delivery SET status = :status, next_attempt_at = NULL WHERE seq = :seq"),
                    {"seq": row.seq, "status": DELIVERY.require(row.status, DeliveryStatus.CANCELLED)},
                )
                return True
            now = utcnow()
            window_ends_at = row.window_ends_at or now + timedelta(seconds=self.policy.window_seconds)
            body = body_of(row.payload)
            secret = derive_secret(self.key, row.webhook_id, row.secret_salt)
            headers = {"content-type": "application/json", **sign(secret, row.event_id, now, body)}
            result = await post_signed(
                self.client,
                row.url,
                body,
                headers,
                allow_private=self.settings.webhook_allow_private,
                timeout=self.settings.webhook_timeout_seconds,
            )
            outcome = domain.after_attempt(
                DeliveryStatus(row.status),
                ok=result.ok,
                now=utcnow(),
                window_ends_at=window_ends_at,
                failures=row.failures,
                policy=self.policy,
                rng=self.rng,
            )
            error = result.error or (None if result.ok else f"HTTP {result.status_code}")
            await session.execute(
                RECORD,
                {
                    "seq": row.seq,
                    "status": str(outcome.status),
                    "failures": outcome.failures,
                    "next_attempt_at": outcome.next_attempt_at,
                    "window_ends_at": window_ends_at,
                    "at": now,
                    "status_code": result.status_code,
                    "error": error,
                    "delivered_at": now if outcome.status is DeliveryStatus.DELIVERED else None,
                },
            )
            await session.execute(
                LOG_ATTEMPT,
                {
                    "seq": row.seq,
                    "attempt": row.attempts + 1,
                    "at": now,
                    "duration_ms": result.duration_ms,
                    "status_code": result.status_code,
                    "error": error,
                    "excerpt": result.excerpt,
                },
            )
            WEBHOOK_ATTEMPTS.labels(str(outcome.status)).inc()
            log.info(
                "webhook %s event %s attempt %d: %s -> %s",
                row.webhook_id,
                row.event_id,
                row.attempts + 1,
                error or result.status_code,
                outcome.status,
            )
            return True

    async def next_due_in(self) -> float:
        async with self.session_factory() as session, session.begin():
            due: datetime | None = (await session.execute(NEXT_DUE)).scalar()
        poll = self.settings.webhook_poll_seconds
        if due is None:
            return poll
        return max(0.01, min(poll, (due - utcnow()).total_seconds()))

    async def run(self, index: int) -> None:
        wake = self._wakes[index]
        while True:
            try:
                wake.clear()
                while await self.deliver_one():
                    pass
                delay = await self.next_due_in()
                try:
                    await asyncio.wait_for(wake.wait(), delay)
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook worker %d failed; going on", index)
                await asyncio.sleep(self.settings.webhook_poll_seconds)
