"""Notification texts per event type and audience: Chinese first, English as the fallback. Pure, no I/O.

A template's placeholders are the event's fields, with `*_fen` amounts also given without the suffix as yuan
(`paid_fen` -> `{paid}` = "¥1,280.00"), times in Beijing time (zh) or UTC (en), codes as words, and `{item}` as the
first item's title. A placeholder the event lacks renders empty: a text never fails an event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..domain import Audience
from .aftersales import AFTERSALES_TEXTS
from .labels import LABELS
from .orders import ORDER_TEXTS
from .qc import QC_TEXTS
from .text import Template, Templates, Text
from .trust import TRUST_TEXTS

__all__ = [
    "LABELS",
    "REPLACEMENT_VARIANT_FIELD",
    "TEMPLATES",
    "VARIANT_FIELDS",
    "Template",
    "Text",
    "context",
    "links",
    "render",
    "yuan",
]

BEIJING = timezone(timedelta(hours=8))

TEMPLATES: Templates = ORDER_TEXTS | QC_TEXTS | AFTERSALES_TEXTS | TRUST_TEXTS

# Event types whose texts depend on one field: TEMPLATES["<type>[<field>=<value>]"] wins over TEMPLATES["<type>"].
VARIANT_FIELDS = {
    "xinren.order.paid": "qc_required",
    "xinren.order.cancelled": "was_paid",
    "xinren.order.shipped": "destination",
    "xinren.order.compensation_paid": "payer",
    "xinren.qc.dispatched": "to",
    "xinren.aftersale.approved": "type",
    "xinren.aftersale.message_posted": "author",  # each party hears of the other's messages, not of its own
    "xinren.compensation.granted": "payer",
    "xinren.aftersale.replacement_shipped": "status",  # REPLACEMENT_INSPECTING: the seller's parcel goes to QC
    "xinren.aftersale.replacement_inspected": "outcome",
}

# Quality-check events of a replacement's inspection (an exchange or reship of a QC product) carry the after-sales
# case; their texts speak of the replacement: TEMPLATES["<type>[aftersale_case_id]"] wins when the field is set.
REPLACEMENT_VARIANT_FIELD = "aftersale_case_id"

# Fields copied into a notification's `data` so an app can link to the order, the case, the certificate.
LINK_FIELDS = (
    "order_id",
    "case_id",
    "refund_id",
    "compensation_id",
    "certificate_no",
    "carrier",
    "tracking_no",
    "warehouse_id",
    "shop_id",
)


class _Blank(dict[str, str]):
    """A placeholder the event lacks renders empty: a text never fails an event."""

    def __missing__(self, key: str) -> str:
        return ""


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def _when(value: Any, zh: bool) -> str:
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if zh:
        return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M（北京时间）")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def context(data: dict[str, Any], *, zh: bool) -> dict[str, str]:
    ctx: dict[str, str] = _Blank()
    for key, value in data.items():
        if isinstance(value, bool) or value is None:
            ctx[key] = _plain(value)
        elif key.endswith("_fen") and isinstance(value, int):
            ctx[key] = str(value)
            ctx[key[: -len("_fen")]] = yuan(value)
        elif key.endswith(("_at", "_deadline", "_by")) or key in ("inbound_deadline", "promised_by"):
            ctx[key] = _when(value, zh)
        elif key in LABELS and isinstance(value, str):
            label = LABELS[key].get(value)
            ctx[key] = (label[0] if zh else label[1]) if label else value
        elif isinstance(value, (str, int, float)):
            ctx[key] = str(value)
    items = data.get("items")
    if isinstance(items, list) and items and isinstance(items[0], dict):
        first = str(items[0].get("title", ""))
        more = len(items) - 1
        ctx["item"] = first if not more else (f"{first} 等{len(items)}件商品" if zh else f"{first} and {more} more")
    return ctx


def templates_for(type_: str, data: dict[str, Any]) -> dict[Audience, Template]:
    if data.get(REPLACEMENT_VARIANT_FIELD):
        replacement = TEMPLATES.get(f"{type_}[{REPLACEMENT_VARIANT_FIELD}]")
        if replacement is not None:
            return replacement
    field = VARIANT_FIELDS.get(type_)
    if field is not None:
        variant = TEMPLATES.get(f"{type_}[{field}={_plain(data.get(field))}]")
        if variant is not None:
            return variant
    return TEMPLATES.get(type_, {})


# A trust event speaks to its subject alone: a shop's action to the shop, a host's to the host, a product's score
# to its shop. The event names both the shop and the host, and the order view knows an order's host: addressed to
# every party, a shop's fine over an order of a live room told the host "the platform took this action against
# you", and a host's told the shop.
_TRUST = "xinren.trust."
_SUBJECT_AUDIENCE = {"SHOP": Audience.SHOP, "HOST": Audience.HOST, "PRODUCT": Audience.SHOP}


def render(type_: str, data: dict[str, Any]) -> dict[Audience, Text]:
    """The text each concerned audience gets for one event; audiences without a template get nothing."""
    zh, en = context(data, zh=True), context(data, zh=False)
    chosen = templates_for(type_, data)
    if type_.startswith(_TRUST):
        subject = _SUBJECT_AUDIENCE.get(_plain(data.get("subject_kind")))
        chosen = {audience: t for audience, t in chosen.items() if audience is subject}
    return {audience: t.render(zh, en) for audience, t in chosen.items()}


def links(data: dict[str, Any]) -> dict[str, str]:
    return {k: str(data[k]) for k in LINK_FIELDS if data.get(k) is not None}
