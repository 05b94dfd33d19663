"""Sample data the suites share."""

# A shipping address as buyers give it (China mainland).
ADDRESS = {
    "name": "王小明",
    "phone": "13800138000",
    "province": "广东省",
    "city": "广州市",
    "district": "天河区",
    "line1": "体育西路 1 号",
}
