"""The trust service's error codes in Chinese (the caller's language by default; English keeps the raised
message). `{name}` placeholders are filled from the error's details."""

MESSAGES_ZH: dict[str, str] = {
    "ACTION_NOT_FOUND": "处理记录不存在。",
    "APPEAL_NOT_FOUND": "申诉不存在。",
    "ACTION_NOT_APPEALABLE": "该处理当前不可申诉（已申诉、已裁决或已撤销）。",
    "APPEAL_WINDOW_CLOSED": "已超过申诉期限。",
    "APPEAL_DECIDED": "该申诉已处理。",
    "SHOP_CLOSED": "店铺已被永久关闭，不能恢复经营。",
    "SHOP_NOT_SUSPENDED": "店铺未被暂停经营，无需恢复。",
}
