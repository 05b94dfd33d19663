"""Outgoing webhooks: signing secrets, the address guard and one signed HTTP attempt (the durable worker that
makes the attempts is in delivery.py).

Secrets are never stored: each is HMAC-SHA256(service key, webhook id + random salt), so the database alone cannot
sign anything; the service key comes from `webhook_secret_key` (or, if unset, from the JWT secret with its own
label).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from prometheus_client import Counter
from standardwebhooks import Webhook

from xinren_shared.errors import Unprocessable

from . import domain
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
