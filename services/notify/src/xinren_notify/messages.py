"""The notify service's error codes in Chinese (the caller's language by default; English keeps the raised
message). `{name}` placeholders are filled from the error's details."""

MESSAGES_ZH: dict[str, str] = {
    "INVALID_LAST_EVENT_ID": "Last-Event-ID 不是该消息流中的事件编号。",
    "NO_INBOX": "该令牌没有可读取的消息箱。",
    "TOO_MANY_WEBHOOKS": "Webhook 订阅数量已达上限。",
    "UNKNOWN_EVENT_TYPE": "未知的事件类型。",
    "WEBHOOK_URL_REFUSED": "不允许向该地址发送 Webhook。",
    "WEBHOOK_URL_UNRESOLVABLE": "无法解析该 Webhook 地址。",
    "NO_SHOPS_GRANTED": "该合作方令牌未授权任何店铺，无法订阅事件。",
    "SHOP_NOT_GRANTED": "该合作方未获授权接收此店铺的事件。",
}
