"""Errors in the caller's language: the error body's `message` follows `Accept-Language` (Chinese unless English
is preferred), while `code` stays the stable English identifier clients branch on.

Handlers raise errors with an English message; the texts in Chinese are kept per error code (the shared ones here,
each service's own in its `messages.py`) and chosen when the response leaves, so every error answers in the
caller's language: domain errors, validation errors, load shedding and replayed Idempotency-Key answers alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Lang = Literal["zh", "en"]

# The errors every service can answer with. `{name}` placeholders are filled from the error's details.
SHARED_MESSAGES_ZH: dict[str, str] = {
    "BAD_REQUEST": "请求有误。",
    "VALIDATION_ERROR": "请求内容不符合要求，请检查后重试。",
    "UNAUTHORIZED": "需要登录。",
    "UNAUTHENTICATED": "需要登录凭证（Bearer 令牌）。",
    "TOKEN_EXPIRED": "登录凭证已过期，请重新登录。",
    "INVALID_TOKEN": "登录凭证无效。",
    "FORBIDDEN": "您无权执行此操作。",
    "NOT_FOUND": "未找到所请求的内容。",
    "METHOD_NOT_ALLOWED": "不支持该请求方法。",
    "CONFLICT": "当前状态下无法执行此操作。",
    "ILLEGAL_TRANSITION": "当前状态为 {current_status}，无法变为 {requested_status}。",
    "UNPROCESSABLE": "请求无法处理。",
    "PAYLOAD_TOO_LARGE": "请求内容过大。",
    "UNSUPPORTED_MEDIA_TYPE": "不支持该内容类型。",
    "TOO_MANY_REQUESTS": "请求过于频繁，请稍后重试。",
    "RATE_LIMITED": "请求过于频繁，请稍后重试。",
    "INVALID_CURSOR": "分页游标无效，请从第一页重新获取。",
    "BAD_IDEMPOTENCY_KEY": "Idempotency-Key 长度不符合要求。",
    "IDEMPOTENCY_KEY_IN_FLIGHT": "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试。",
    "IDEMPOTENCY_KEY_REUSED": "该 Idempotency-Key 已用于另一个请求。",
    "SERVER_BUSY": "服务繁忙，请稍后重试。",
    "DATABASE_BUSY": "服务繁忙，请稍后重试。",
    "DATABASE_UNAVAILABLE": "服务暂时不可用，请稍后重试。",
    "INTERNAL": "服务内部错误，请稍后重试。",
}


def preferred_lang(accept_language: str | None) -> Lang:
    """The first of zh/en by the header's q-values; Chinese when neither is asked for."""
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("zh", "en"):
            continue
        lang: Lang = "zh" if primary == "zh" else "en"
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or q > best[0] or (q == best[0] and position < best[1])):
            best = (q, position, lang)
    return best[2] if best else "zh"


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def localize(messages_zh: Mapping[str, str], lang: Lang, code: str, message: str, details: Any) -> str:
    """The message of an error with `code` in `lang`: the Chinese text of the code (its placeholders filled from
    the details), or the English message as raised."""
    if lang == "en":
        return message
    text = messages_zh.get(code)
    if text is None:
        return message
    return text.format_map(_Blank(details if isinstance(details, dict) else {}))


class LocalizedErrorsMiddleware:
    """Rewrites the `message` of every JSON error body (status >= 400) into the caller's language."""

    def __init__(self, app: ASGIApp, *, messages_zh: Mapping[str, str]):
        self.app = app
        self.messages_zh = {**SHARED_MESSAGES_ZH, **messages_zh}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lang = preferred_lang(Headers(scope=scope).get("accept-language"))
        start: Message | None = None
        chunks: list[bytes] = []

        async def localizing_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                is_json_error = message["status"] >= 400 and headers.get("content-type", "").startswith(
                    "application/json"
                )
                if not is_json_error:
                    await send(message)
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = self._localized(b"".join(chunks), lang)
            out = MutableHeaders(raw=list(start["headers"]))
            out["content-length"] = str(len(body))
            out["content-language"] = lang
            out.add_vary_header("Accept-Language")
            await send({**start, "headers": out.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, localizing_send)

    def _localized(self, body: bytes, lang: Lang) -> bytes:
        try:
            document = json.loads(body)
            error = document["error"]
            code, message = error["code"], error["message"]
        except (ValueError, TypeError, KeyError):
            return body
        if not isinstance(code, str) or not isinstance(message, str):
            return body
        error["message"] = localize(self.messages_zh, lang, code, message, error.get("details"))
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
