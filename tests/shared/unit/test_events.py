"""The event contract: golden examples still parse, the envelope round-trips in Kafka binary mode."""

from datetime import UTC, datetime

import pytest

from xinren_shared import catalog
from xinren_shared.contracts.orders import OrderPaid
from xinren_shared.contracts.qc import QcShopSuspended
from xinren_shared.events import REGISTRY, Envelope


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_golden_example_parses(type_):
    model = REGISTRY[type_].model_validate(catalog.example(type_))
    # Nothing the example says is dropped: every field it carries is one the model knows.
    assert set(catalog.example(type_)) <= set(model.model_dump(exclude_none=True))


def test_every_event_type_is_in_the_catalog_with_schema_and_example():
    entries = {e["type"]: e for e in catalog.entries()}
    assert set(entries) == set(REGISTRY)
    for e in entries.values():
        assert e["topic"] in {"xinren.orders.v1", "xinren.qc.v1", "xinren.aftersales.v1", "xinren.trust.v1"}
        assert e["schema"]["type"] == "object" and e["example"]


def test_envelope_round_trips_in_binary_mode():
    evt = OrderPaid.model_validate(catalog.example("xinren.order.paid"))
    env = Envelope.of(evt, "/xinren/order", time=datetime(2026, 11, 20, 8, 15, tzinfo=UTC))
    key, value, headers = env.to_kafka()
    names = dict(headers)
    assert key == evt.order_id.encode()
    assert names["ce_specversion"] == b"1.0" and names["ce_type"] == b"xinren.order.paid"
    assert names["ce_subject"] == evt.order_id.encode() and names["content-type"] == b"application/json"
    back = Envelope.from_kafka("xinren.orders.v1", key, value, headers)
    assert back.id == env.id and back.time == env.time and back.parse() == evt


def test_shop_suspension_is_keyed_by_shop():
    env = Envelope.of(QcShopSuspended(shop_id="s1", strikes=3), "/xinren/qc")
    assert env.key == "s1" and env.subject == "s1"


@pytest.mark.parametrize(
    "headers,value",
    [
        ([], b"{}"),
        ([("ce_specversion", b"1.0"), ("ce_type", b"t"), ("ce_source", b"/s"), ("ce_id", b"1")], b"not json"),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_type", b"t"),
                ("ce_source", b"/s"),
                ("ce_id", b"1"),
                ("content-type", b"application/json"),
            ],
            b"[1]",
        ),
    ],
)
def test_malformed_records_are_refused(headers, value):
    with pytest.raises(ValueError):
        Envelope.from_kafka("xinren.orders.v1", b"k", value, headers)


def test_consumers_ignore_unknown_fields():
    data = dict(catalog.example("xinren.order.paid"), added_in_a_later_minor_version="x")
    assert OrderPaid.model_validate(data).order_id == data["order_id"]
