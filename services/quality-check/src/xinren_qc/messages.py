"""The quality-check service's error codes in Chinese (the caller's language by default; English keeps the raised
message). `{name}` placeholders are filled from the error's details."""

MESSAGES_ZH: dict[str, str] = {
    "CASE_NOT_FOUND": "质检单不存在。",
    "CERTIFICATE_NOT_FOUND": "未找到该质检证书。",
    "ORDER_ID_REQUIRED": "请提供订单号（order_id）。",
    "OTHER_SHOP": "该质检单属于其他店铺。",
    "OTHER_WAREHOUSE": "该质检单属于其他质检仓。",
    "UNKNOWN_WAREHOUSE": "质检仓不存在。",
    "WAREHOUSE_EXISTS": "该质检仓编号已存在。",
    "WAREHOUSE_NOT_FOUND": "质检仓不存在。",
}
