"""Typed integration events, their registry, and the CloudEvents 1.0 envelope in Kafka binary mode."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """An integration event: a versioned contract. Consumers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore")

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]

    def partition_key(self) -> str:
        # Not declared here: events keyed otherwise override this; the others all have an `order_id` field.
        return str(getattr(self, "order_id"))  # noqa: B009

    def subject(self) -> str | None:
        return getattr(self, "order_id", None)


REGISTRY: dict[str, type[Event]] = {}
E = TypeVar("E", bound=type[Event])


def event(type_: str, topic: str) -> Callable[[E], E]:
    """Class decorator: registers an event model under its CloudEvents type and topic."""

    def register(cls: E) -> E:
        if type_ in REGISTRY:
            raise ValueError(f"event type {type_} registered twice")
        cls.TYPE = type_
        cls.TOPIC = topic
        REGISTRY[type_] = cls
        return cls

    return register


def topics() -> list[str]:
    return sorted({cls.TOPIC for cls in REGISTRY.values()})


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def physical(topic: str) -> str:
    """The broker's name of a catalog topic: `XINREN_TOPIC_NAMESPACE` (empty in production) + the topic.

    A namespace lets several independent runs (test sessions, say) share one broker without seeing each other.
    """
    return os.environ.get("XINREN_TOPIC_NAMESPACE", "") + topic


def logical(topic: str) -> str:
    """The catalog name of a broker topic (the inverse of `physical`)."""
    namespace = os.environ.get("XINREN_TOPIC_NAMESPACE", "")
    return topic[len(namespace) :] if namespace and topic.startswith(namespace) else topic


class UnknownEventType(Exception):
    pass


@dataclass
class Envelope:
    """One CloudEvent as it travels: attributes, JSON data, and the Kafka topic and key."""

    type: str
    source: str
    data: dict[str, Any]
    topic: str
    key: str
    subject: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The W3C trace context the event was published in (CloudEvents distributed tracing extension): a `traceparent`
    # header in Kafka, a `traceparent` attribute in structured mode.
    traceparent: str | None = None

    @classmethod
    def of(cls, evt: Event, source: str, *, id: str | None = None, time: datetime | None = None) -> Envelope:
        return cls(
            type=evt.TYPE,
            source=source,
            data=evt.model_dump(mode="json", exclude_none=True),
            topic=evt.TOPIC,
            key=evt.partition_key(),
            subject=evt.subject(),
            id=id or str(uuid.uuid4()),
            time=time or datetime.now(UTC),
        )

    def parse(self) -> Event:
        cls = REGISTRY.get(self.type)
        if cls is None:
            raise UnknownEventType(self.type)
        return cls.model_validate(self.data)

    def cloud_event(self) -> CloudEvent:
        attributes: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "datacontenttype": "application/json",
        }
        if self.subject:
            attributes["subject"] = self.subject
        return CloudEvent(attributes=attributes, data=self.data)

    def to_kafka(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """(key, value, headers) in CloudEvents Kafka binary mode: ce_* headers and the JSON data as the value."""
        message = ce_kafka.to_binary_event(self.cloud_event(), key_mapper=lambda _: self.key)
        key = message.key.encode() if isinstance(message.key, str) else (message.key or b"")
        headers = list(message.headers.items())
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode("latin-1")))
        return key, message.value, headers

    def to_structured(self) -> dict[str, Any]:
        """The CloudEvent as one JSON object (structured mode), as webhooks carry it."""
        body: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }
        if self.subject:
            body["subject"] = self.subject
        if self.traceparent:
            body["traceparent"] = self.traceparent
        return body

    @classmethod
    def from_kafka(cls, topic: str, key: bytes | None, value: bytes | None, headers: Any) -> Envelope:
        """Parse a binary-mode record; raises ValueError for anything that is not a valid CloudEvent."""
        header_map = {k: v for k, v in (headers or [])}
        traceparent = header_map.pop("traceparent", None)
        try:
            ce = ce_kafka.from_binary_event(ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""))
        except Exception as exc:  # the SDK raises several types for malformed input
            raise ValueError(f"not a CloudEvent: {exc}") from exc
        data = ce.get_data()
        if isinstance(data, (bytes, str)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise ValueError("the event data is not JSON") from exc
        if not isinstance(data, dict):
            raise ValueError("the event data is not a JSON object")
        when = ce.get_time() or datetime.now(UTC)
        return cls(
            type=ce.get_type(),
            source=ce.get_source(),
            data=data,
            topic=topic,
            key=(key or b"").decode(errors="replace"),
            subject=ce.get_subject(),
            id=ce.get_id(),
            time=when,
            traceparent=traceparent.decode("latin-1") if isinstance(traceparent, bytes) else None,
        )
