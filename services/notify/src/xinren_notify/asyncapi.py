"""The AsyncAPI 3.0 document of Xinren's topics, generated from the same event models the services publish.

`python -m xinren_notify.asyncapi > docs/asyncapi.yaml` writes it; a test regenerates it and compares, so a model
that changes without the committed document fails the build.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs installed
from pydantic.json_schema import models_json_schema

from xinren_shared import catalog
from xinren_shared.events import REGISTRY

# Who publishes each topic, as the CloudEvents `source` says.
TOPICS = {
    "xinren.orders.v1": ("/xinren/order", "The order service: orders, payment, shipping, money movements."),
    "xinren.qc.v1": (
        "/xinren/qc",
        "The quality-check service: inspection cases, verdicts, dispatch, shop enforcement.",
    ),
    "xinren.aftersales.v1": (
        "/xinren/refund",
        "The refund service: after-sales cases, refund and compensation requests.",
    ),
    "xinren.trust.v1": (
        "/xinren/trust",
        "The trust service: score bands, enforcement actions (warning to closure), appeals and reinstatements.",
    ),
}

DESCRIPTION = """\
The order lifecycle of Xinren (信任), a live-stream commerce platform, as events on Kafka.

* Every record is a CloudEvent 1.0 in Kafka binary mode: the JSON `data` is the record value, the attributes
  are `ce_*` headers (`ce_id` unique per event, `ce_type` as below, `ce_source`, `ce_time` UTC, `ce_subject`).
* The record key is the order id (the shop id for `xinren.qc.shop_suspended`), so one order's events are in
  order on one partition.
* Versioning: within a `.v1` topic fields are only ever added, and only as optional fields; ignore fields you
  do not know. A breaking change is a new topic (`.v2`) published side by side with the old one.
* Delivery is at least once: deduplicate on `ce_id`.

The operations describe a consumer of these topics (a partner's application): it receives what Xinren publishes.
"""

CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary mode (values are UTF-8 header bytes).",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "unique per event: deduplicate on it"},
        "ce_source": {"type": "string", "description": "the publishing service, e.g. /xinren/order"},
        "ce_type": {"type": "string", "description": "the event type, e.g. xinren.order.paid"},
        "ce_time": {"type": "string", "format": "date-time", "description": "when it happened, UTC"},
        "ce_subject": {"type": "string", "description": "the order id (shop id for shop events)"},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def _channel_id(topic: str) -> str:
    return topic.split(".")[1]  # xinren.orders.v1 -> orders


def document() -> dict[str, Any]:
    entries = catalog.entries()
    classes = [REGISTRY[e["type"]] for e in entries]
    refs, defs = models_json_schema(
        [(cls, "validation") for cls in classes], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = {"CloudEventsHeaders": CE_HEADERS, **dict(sorted(defs.get("$defs", {}).items()))}

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, (_source, about) in TOPICS.items():
        channels[_channel_id(topic)] = {"address": topic, "title": topic, "description": about, "messages": {}}
    for entry in entries:
        cls = REGISTRY[entry["type"]]
        type_, topic = entry["type"], entry["topic"]
        if topic not in TOPICS:
            raise ValueError(f"{type_} is on {topic}, which this document does not describe yet")
        key_field = entry["key"]
        example = entry["example"]
        messages[type_] = {
            "name": type_,
            "title": cls.__name__,
            "summary": entry["description"] or f"{type_} on {topic}",
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
            "payload": refs[(cls, "validation")],
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": f"the {key_field}"},
                    "bindingVersion": "0.5.0",
                }
            },
            "examples": [
                {
                    "name": "golden",
                    "headers": {
                        "ce_specversion": "1.0",
                        "ce_id": "4f6c2f0e-8a51-4c1e-9d53-0c8e7b1f2a90",
                        "ce_source": TOPICS[topic][0],
                        "ce_type": type_,
                        "ce_time": "2025-05-20T08:30:00Z",
                        "ce_subject": str(example.get(key_field, "")),
                        "content-type": "application/json",
                    },
                    "payload": example,
                }
            ],
        }
        channels[_channel_id(topic)]["messages"][type_] = {"$ref": f"#/components/messages/{type_}"}
    for topic in TOPICS:
        cid = _channel_id(topic)
        operations[f"receive_{cid}"] = {
            "action": "receive",
            "title": f"Consume {topic}",
            "summary": "What a partner or another service reads (consumer group of your own, key = order id).",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{t}"} for t in channels[cid]["messages"]],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Xinren order lifecycle events",
            "version": "1.0.0",
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "development": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "`make run` on a developer's machine",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]  # yaml is untyped here
    def ignore_aliases(self, data: Any) -> bool:
        return True  # plain YAML without anchors: easier to read and to diff


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None  # multi-line text as a readable block
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render() -> str:
    text: str = yaml.dump(document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return text


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
