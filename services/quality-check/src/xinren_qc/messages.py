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
    "NOT_AN_IMAGE": "文件不是 JPEG、PNG 或 WebP 图片。",
    "EVIDENCE_TOO_LARGE": "文件过大。",
    "UNKNOWN_EVIDENCE": "找不到所引用的凭证，请先上传照片。",
    "EVIDENCE_NOT_FOUND": "凭证不存在。",
    "CHECKLIST_INCOMPLETE": "质检通过需完成该品类的检测清单：缺少测量项、照片或封签。",
    "SEAL_IN_USE": "该防拆封签已用于其他已认证商品。",
    "NOT_ASSIGNED_INSPECTOR": "该质检单已指派给其他质检员。",
    "VERDICT_NOT_FINAL": "卖家仍可申诉该质检结果，申诉期结束或复检后才能寄出。",
    "APPEAL_WINDOW_CLOSED": "申诉期已过，质检结果为最终结果。",
    "SAME_INSPECTOR": "申诉须由另一名质检员复检。",
    "NO_RETURN_EXPECTED": "该商品没有待查验的退货。",
    "RETURN_ALREADY_CHECKED": "该退货已查验。",
}
