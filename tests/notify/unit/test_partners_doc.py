"""docs/partners.md: its two examples are real code: the consumer decodes what the services publish, the
receiver accepts what the notify service signs and refuses anything else."""

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from xinren_notify.webhooks import body_of, derive_secret, new_salt, sign
from xinren_shared.contracts.orders import OrderShipped
from xinren_shared.contracts.vocabulary import Destination
from xinren_shared.events import Envelope

DOC = Path(__file__).resolve().parents[3] / "docs" / "partners.md"


def examples() -> dict[str, str]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return {block.split(":", 1)[0].strip('"'): block for block in blocks}


def load(name: str) -> dict:
    source = examples()[name]
    namespace = {"__name__": f"partners_{name.replace('.', '_')}"}
    exec(compile(source, name, "exec"), namespace)
    return namespace


def test_the_guide_covers_topics_and_webhooks():
    text = DOC.read_text(encoding="utf-8")
    for needle in (
        "consumer group",
        "Key = order id",
        "ce_id",
        "ce_type",
        "Versioning rules",
        ".v2",
        "webhook-id",
        "webhook-signature",
        "standardwebhooks",
        "redeliver",
        "DEAD",
        "/recover",
        "DISABLED",
        "backlog",
        "NO_SHOPS_GRANTED",
        "make token ROLE=partner SUB=acme SHOPS=a,b",
    ):
        assert needle.lower() in text.lower(), needle
    assert set(examples()) == {"consume.py", "receiver.py"}


def test_the_consumer_example_decodes_a_published_record():
    decode = load("consume.py")["decode"]
    env = Envelope.of(
        OrderShipped(order_id="ord_1", destination=Destination.BUYER, carrier="SF", tracking_no="SF9"), "/xinren/order"
    )
    key, value, headers = env.to_kafka()
    event_id, type_, order_id, data = decode(SimpleNamespace(key=key, value=value, headers=headers))
    assert (event_id, type_, order_id, data["tracking_no"]) == (env.id, "xinren.order.shipped", "ord_1", "SF9")
    assert decode(SimpleNamespace(key=b"x", value=b"{}", headers=[])) is None


def test_the_receiver_example_verifies_what_notify_signs():
    receiver = load("receiver.py")
    secret = derive_secret(b"k" * 32, "wh_1", new_salt())
    env = Envelope.of(
        OrderShipped(order_id="ord_1", destination=Destination.BUYER, carrier="SF", tracking_no="SF9"), "/xinren/order"
    )
    body = body_of(env.to_structured())
    headers = {"content-type": "application/json", **sign(secret, env.id, datetime.now(UTC), body)}
    assert receiver["receive"](secret, body.encode(), headers) == 204
    assert receiver["receive"](secret, body.encode(), headers) == 204  # a retry: accepted, not handled twice
    assert receiver["handled"] == {env.id}
    assert receiver["receive"](secret, body.replace("SF9", "SF0").encode(), headers) == 400
    other = derive_secret(b"k" * 32, "wh_2", new_salt())
    assert receiver["receive"](other, body.encode(), headers) == 400
