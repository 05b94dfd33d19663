"""The AsyncAPI document in docs/ is what the event models generate today, and lists every event type."""

from pathlib import Path

import yaml

import xinren_shared.contracts  # noqa: F401
from xinren_notify import asyncapi
from xinren_shared.events import REGISTRY, topics

DOC = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"


def test_the_committed_document_matches_the_models():
    assert DOC.exists(), "docs/asyncapi.yaml is missing: python -m xinren_notify.asyncapi > docs/asyncapi.yaml"
    assert DOC.read_text(encoding="utf-8") == asyncapi.render(), (
        "docs/asyncapi.yaml is out of date with the event models: "
        "regenerate it with `python -m xinren_notify.asyncapi > docs/asyncapi.yaml`"
    )


def test_every_event_type_is_a_message_on_its_topic():
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["components"]["messages"]) == set(REGISTRY)
    by_address = {c["address"]: c for c in doc["channels"].values()}
    assert set(by_address) == set(topics())
    for type_, cls in REGISTRY.items():
        assert type_ in by_address[cls.TOPIC]["messages"], type_
        message = doc["components"]["messages"][type_]
        ref = message["payload"]["$ref"]
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
        example = message["examples"][0]
        cls.model_validate(example["payload"])  # the golden example still fits the model
        assert example["headers"]["ce_type"] == type_


def test_every_reference_resolves():
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))

    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(doc):
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"dangling $ref {ref}"
            node = node[part]
