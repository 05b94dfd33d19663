"""An exchange (换货) for another variant of the line's product: the order service names each line's variants on
order.delivered (its product group in the same shop); the buyer may ask for one of them instead of the same SKU.
Price difference refunded or refused: a cheaper variant refunds (unit price difference × quantity) once the goods
are back, a dearer one is refused (the buyer would owe money, and after-sales collects none)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xinren_shared.contracts.orders import ProductVariant
from xinren_shared.contracts.vocabulary import AfterSaleType
from xinren_shared.errors import Unprocessable

from .intake import CaseItem, OrderFacts


def with_variants(items: Sequence[dict[str, Any]], variants: Sequence[ProductVariant]) -> list[dict[str, Any]]:
    """The order view's lines, each with the other variants of its product: [{sku_id, title, unit_price_fen}]."""
    group = {v.sku_id: v.product_id for v in variants}
    out = []
    for item in items:
        pid = group.get(str(item["sku_id"]))
        others = [
            {"sku_id": v.sku_id, "title": v.title, "unit_price_fen": v.unit_price_fen}
            for v in variants
            if pid is not None and v.product_id == pid and v.sku_id != item["sku_id"]
        ]
        out.append({**item, "variants": others})
    return out


def exchange_for_variant(
    type_: AfterSaleType,
    items: Sequence[CaseItem],
    order: OrderFacts,
    view_items: Sequence[dict[str, Any]],
    replacement_sku_id: str,
) -> tuple[int, list[dict[str, object]]]:
    """The case's amount (the price difference to refund) and lines, naming the replacement; raises when refused."""
    if type_ is not AfterSaleType.EXCHANGE:
        raise Unprocessable(
            "only an exchange names a replacement variant",
            code="REPLACEMENT_ONLY_FOR_EXCHANGE",
            details={"type": str(type_)},
        )
    if len(items) != 1:
        raise Unprocessable(
            "an exchange for another variant concerns one order line: name it in items",
            code="REPLACEMENT_NEEDS_ONE_LINE",
            details={"lines": [i.sku_id for i in items]},
        )
    [item] = items
    offered = {
        str(v["sku_id"]): int(v["unit_price_fen"])
        for i in view_items
        if i["sku_id"] == item.sku_id
        for v in i.get("variants", [])
    }
    if replacement_sku_id not in offered:
        raise Unprocessable(
            f"{replacement_sku_id} is not another variant of {item.sku_id}'s product in this shop",
            code="NOT_A_VARIANT",
            details={"sku_id": item.sku_id, "replacement_sku_id": replacement_sku_id, "variants": sorted(offered)},
        )
    line = next(x for x in order.lines if x.sku_id == item.sku_id)
    unit, refundable_fen = line.unit_price_fen, min(order.refundable_fen, line.refundable_fen)
    price = offered[replacement_sku_id]
    if price > unit:
        raise Unprocessable(
            f"{replacement_sku_id} costs {price} fen, more than the {unit} fen paid: a dearer variant is refused",
            code="REPLACEMENT_DEARER",
            details={"unit_price_fen": unit, "replacement_unit_price_fen": price},
        )
    difference = (unit - price) * item.quantity
    if difference > refundable_fen:
        raise Unprocessable(
            f"the price difference of {difference} fen exceeds the {refundable_fen} fen still refundable",
            code="DIFFERENCE_NOT_REFUNDABLE",
            details={"difference_fen": difference, "refundable_fen": refundable_fen},
        )
    return difference, [{**item.as_json(), "amount_fen": difference, "replacement_sku_id": replacement_sku_id}]
