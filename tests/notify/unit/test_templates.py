"""Every event type has texts, in Chinese and English, and every placeholder resolves for its golden example."""

import re
import string

import pytest

import xinren_shared.contracts  # noqa: F401
from xinren_notify import templates
from xinren_notify.domain import Audience
from xinren_shared.catalog import example
from xinren_shared.events import REGISTRY

CJK = re.compile(r"[\u4e00-\u9fff]")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_every_event_type_has_texts_for_someone(type_):
    assert templates.TEMPLATES.get(type_), f"no template for {type_}: nobody would hear of it"
    rendered = templates.render(type_, example(type_))
    assert rendered
    for audience, text in rendered.items():
        assert CJK.search(text.title_zh) and CJK.search(text.body_zh), (type_, audience)
        assert text.title_en and text.body_en and not CJK.search(text.title_en), (type_, audience)
    for key, audiences in templates.TEMPLATES.items():
        for template in audiences.values():  # English texts are English; event values may still be Chinese
            assert not CJK.search(template.title_en + template.body_en), key


@pytest.mark.parametrize("key", sorted(templates.TEMPLATES))
def test_every_placeholder_is_a_field_of_the_event(key):
    type_ = key.split("[", 1)[0]
    assert type_ in REGISTRY, f"template for an unknown event type: {key}"
    data = example(type_)
    cls = REGISTRY[type_]
    names = set(cls.model_fields) | {f[: -len("_fen")] for f in cls.model_fields if f.endswith("_fen")}
    if "items" in cls.model_fields:
        names.add("item")
    for audience, template in templates.TEMPLATES[key].items():
        for text in (template.title_zh, template.body_zh, template.title_en, template.body_en):
            unknown = placeholders(text) - names
            assert not unknown, f"{key}/{audience}: {unknown}"
    # And with the golden example's values, nothing is left blank in the Chinese text.
    ctx = templates.context(data, zh=True)
    for template in templates.TEMPLATES[type_].values():
        missing = {p for p in placeholders(template.body_zh) if not ctx.get(p)}
        assert not missing, f"{type_}: the golden example lacks {missing}"


@pytest.mark.parametrize("type_,field", sorted(templates.VARIANT_FIELDS.items()))
def test_variant_fields_exist(type_, field):
    assert field in REGISTRY[type_].model_fields


def test_variants_pick_the_right_text():
    data = example("xinren.order.shipped") | {"destination": "QC_WAREHOUSE", "warehouse_id": "wh1"}
    assert set(templates.render("xinren.order.shipped", data)) == {Audience.BUYER, Audience.WAREHOUSE}
    data["destination"] = "BUYER"
    assert set(templates.render("xinren.order.shipped", data)) == {Audience.BUYER}
    paid = example("xinren.order.paid") | {"qc_required": True}
    assert "质检" in templates.render("xinren.order.paid", paid)[Audience.BUYER].body_zh


def test_formats():
    assert templates.yuan(128000) == "¥1,280.00"
    assert templates.yuan(5) == "¥0.05"
    ctx_zh = templates.context({"inbound_deadline": "2025-05-20T16:30:00Z", "reason": "COUNTERFEIT"}, zh=True)
    ctx_en = templates.context({"inbound_deadline": "2025-05-20T16:30:00Z", "reason": "COUNTERFEIT"}, zh=False)
    assert ctx_zh["inbound_deadline"] == "2025-05-21 00:30（北京时间）" and ctx_zh["reason"] == "假货"
    assert ctx_en["inbound_deadline"] == "2025-05-20 16:30 UTC" and ctx_en["reason"] == "counterfeit"


def test_a_missing_field_renders_blank_and_never_fails():
    rendered = templates.render("xinren.qc.passed", {"order_id": "o1"})
    assert rendered[Audience.BUYER].body_zh.startswith("好消息！订单 o1")


@pytest.mark.parametrize(
    ("kind", "audience"), [("SHOP", Audience.SHOP), ("HOST", Audience.HOST), ("PRODUCT", Audience.SHOP)]
)
@pytest.mark.parametrize("type_", sorted(t for t in REGISTRY if t.startswith("xinren.trust.")))
def test_a_trust_event_speaks_to_its_subject_alone(type_, kind, audience):
    """The event names the shop and the host alike: a shop's action is not the host's, nor a host's the shop's."""
    rendered = templates.render(type_, {**example(type_), "subject_kind": kind})
    assert set(rendered) <= {audience}, (type_, kind, set(rendered))
    if audience in templates.TEMPLATES[type_]:
        assert set(rendered) == {audience}
