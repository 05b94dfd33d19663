"""The published event catalog: every event type with its topic, JSON Schema and golden example."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from . import contracts
from .events import REGISTRY


def example(type_: str) -> dict[str, Any]:
    text = resources.files(contracts).joinpath("examples", f"{type_}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def entries() -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "type": type_,
            "topic": cls.TOPIC,
            "key": "shop_id" if "order_id" not in cls.model_fields else "order_id",
            "description": (cls.__doc__ or "").strip() or None,
            "schema": cls.model_json_schema(),
            "example": example(type_),
        }
        for type_, cls in sorted(REGISTRY.items())
    )
