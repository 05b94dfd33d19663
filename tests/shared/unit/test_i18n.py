"""Which language an error answers in, and how its Chinese text is filled."""

import pytest

from xinren_shared.i18n import SHARED_MESSAGES_ZH, localize, preferred_lang


@pytest.mark.parametrize(
    "header,lang",
    [
        (None, "zh"),
        ("", "zh"),
        ("fr-FR, de;q=0.8", "zh"),  # neither offered: Chinese
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en;q=0.5, zh-TW;q=0.8", "zh"),
        ("zh;q=0, en", "en"),  # q=0 means "not this one"
        ("en;q=abc, zh", "zh"),
        ("EN-gb", "en"),
    ],
)
def test_the_preferred_language_follows_the_q_values(header, lang):
    assert preferred_lang(header) == lang


def test_the_chinese_text_is_filled_from_the_details_and_english_keeps_the_raised_message():
    messages = {**SHARED_MESSAGES_ZH, "OUT_OF_STOCK": "库存不足：{sku_id}"}
    assert localize(messages, "zh", "OUT_OF_STOCK", "sku_1 is out of stock", {"sku_id": "sku_1"}) == "库存不足：sku_1"
    assert localize(messages, "en", "OUT_OF_STOCK", "sku_1 is out of stock", {"sku_id": "sku_1"}) == (
        "sku_1 is out of stock"
    )
    # Details that are not a mapping, or lack a placeholder's name, leave it empty rather than failing.
    assert localize(messages, "zh", "OUT_OF_STOCK", "x", [{"loc": ["body"]}]) == "库存不足："
    transition = localize(
        messages, "zh", "ILLEGAL_TRANSITION", "x", {"current_status": "PAID", "requested_status": "PAID"}
    )
    assert transition == "当前状态为 PAID，无法变为 PAID。"
    # A code without a Chinese text keeps the message it was raised with.
    assert localize(messages, "zh", "SOMETHING_NEW", "as raised", None) == "as raised"
