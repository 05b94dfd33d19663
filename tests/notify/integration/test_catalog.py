"""The public event catalog: every event type with its topic, JSON Schema and example, from the same models."""

import xinren_shared.contracts  # noqa: F401
from xinren_notify import asyncapi
from xinren_shared.events import REGISTRY


async def test_the_catalog_lists_every_event_type_with_schema_and_example(notify):
    r = await notify.client.get("/v1/events/catalog", headers=notify.auth("partner"))
    assert r.status_code == 200
    body = r.json()
    assert body["next_cursor"] is None
    by_type = {e["type"]: e for e in body["items"]}
    assert set(by_type) == set(REGISTRY)
    for type_, cls in REGISTRY.items():
        entry = by_type[type_]
        assert entry["topic"] == cls.TOPIC
        assert entry["schema"] == cls.model_json_schema()  # the published schema is the model's own
        cls.model_validate(entry["example"])
        assert entry["key"] == ("order_id" if "order_id" in cls.model_fields else "shop_id")
    assert by_type["xinren.qc.shop_suspended"]["key"] == "shop_id"


async def test_one_entry_the_asyncapi_document_and_errors(notify):
    buyer = notify.auth("buyer")
    one = await notify.client.get("/v1/events/catalog/xinren.order.paid", headers=buyer)
    assert one.status_code == 200 and one.json()["topic"] == "xinren.orders.v1"
    missing = await notify.client.get("/v1/events/catalog/xinren.order.nope", headers=buyer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    doc = await notify.client.get("/v1/events/asyncapi", headers=buyer)
    assert doc.status_code == 200 and doc.json() == asyncapi.document()
    assert (await notify.client.get("/v1/events/catalog")).status_code == 401
