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
    "TRACKING_MISMATCH": "物流单号与该质检单等待的包裹不符（应为 {expected_tracking_no}）。",
    "RETURN_ADDRESS_MISSING": "店铺尚未设置退货地址，请在请求中提供寄回地址。",
    "SHIPPING_ADDRESS_MISSING": "订单没有收货地址，请在请求中提供收货地址。",
    "DISPATCH_ADDRESS_CONFLICT": "寄出地址与订单给出的地址不一致，不能改寄他处。",
}
