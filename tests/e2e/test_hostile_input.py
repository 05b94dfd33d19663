"""Hostile input: schemathesis against every service's OpenAPI with valid tokens; malformed, mistyped, oversized,
overflowing and unknown input, each a clear 4xx with the error body and nothing changed; and malformed events on
every topic, each a dead letter while the consumers go on."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from xinren_shared.events import Envelope
from xinren_shared.testing.kafka import publish_raw

from .platform import ADDRESS, rid

ST = Path(sys.executable).with_name("st")
MIB = 1024 * 1024
OVERFLOWING = (-1, 2**63, 1e30)  # negative, past a PostgreSQL bigint, past any amount (a JSON float)


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A clear refusal: the status, and exactly the error body, with no trace of the server's insides."""
    where = f"{r.request.method} {r.request.url} → {r.status_code} {r.text[:300]}"
    assert r.status_code == status, where
    assert r.headers["content-type"].startswith("application/json"), where
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, where
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*", body["error"]["code"]) and body["error"]["message"], where
    if code is not None:
        assert body["error"]["code"] == code, where
    assert "Traceback" not in r.text and 'File "' not in r.text, where
    return body["error"]


def cursor_of(*values: Any) -> str:
    """A cursor as the services encode them, holding what no page ever gave out."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


# --- schemathesis ---------------------------------------------------------------------------------------------

# (service, role): admin reaches the most operations everywhere; the buyer, seller and inspector get past the role
# checks of the operations that are theirs (body and parameter validation run for every role).
ST_RUNS = [
    ("order", "admin"),
    ("refund", "admin"),
    ("qc", "admin"),
    ("notify", "admin"),
    ("trust", "admin"),
    ("order", "buyer"),
    ("refund", "buyer"),
    ("notify", "buyer"),
    ("order", "seller"),
    ("qc", "inspector"),
    ("trust", "seller"),
]
ST_CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "use_after_free",
    ]
)
ST_SECONDS = int(os.environ.get("XINREN_SCHEMATHESIS_SECONDS", "10"))
ST_PARALLEL = 2  # runs at a time: schemathesis itself is busy generating, more would only starve each other
ST_SEED = os.environ.get("XINREN_SCHEMATHESIS_SEED", "20261122")


def summarize_ndjson(path: Path) -> dict[str, Any]:
    """Test cases, failed checks (with what was sent and answered) and errors, from schemathesis' event stream."""
    cases, failures, errors = 0, [], []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if "ScenarioFinished" in event:
            recorder = event["ScenarioFinished"]["recorder"]
            cases += len(recorder.get("cases", {}))
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check["status"] == "failure":
                        case = recorder["cases"][case_id]["value"]
                        answer = recorder.get("interactions", {}).get(case_id, {}).get("response") or {}
                        sent = f"{case['method']} {case.get('path')} query={case.get('query')} body={case.get('body')}"
                        failures.append(
                            {
                                "operation": recorder["label"],
                                "check": check["name"],
                                "request": sent[:400],
                                "status": answer.get("status_code"),
                            }
                        )
        elif "NonFatalError" in event or "FatalError" in event:
            errors.append(json.dumps(event)[:500])
    return {"cases": cases, "failures": failures, "errors": errors}


async def run_schemathesis(stack, service: str, role: str, headers: dict[str, str], workdir: Path) -> dict[str, Any]:
    report = workdir / f"{service}-{role}.ndjson"
    command = [
        str(ST), "run", f"{stack.urls[service]}/openapi.json",
        "--header", f"Authorization: {headers['Authorization']}",
        "--checks", ST_CHECKS,
        "--max-examples", "25",
        "--max-time", str(ST_SECONDS),
        "--seed", ST_SEED,
        "--request-timeout", "10",
        "--generation-database", "none",
        # An endless Server-Sent Events stream: a request to it never completes.
        "--exclude-path", "/v1/notifications/stream",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        "--no-color",
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=ST_SECONDS + 60)
    text = output.decode(errors="replace")
    assert report.exists(), f"schemathesis wrote no report for {service} as {role}:\n{text[-3000:]}"
    return {"service": service, "role": role, "exit": proc.returncode, "output": text, **summarize_ndjson(report)}


async def test_schemathesis_finds_no_failure_in_any_service(stack, platform):
    p = platform
    shop = await p.shop(["SEVEN_DAY_RETURN"])
    warehouse_id = await p.warehouse(["schemathesis-items"])
    tokens = {
        "admin": p.admin,
        "buyer": p.buyer(),
        "seller": shop.seller,
        "inspector": p.inspector(warehouse_id),
    }
    slots = asyncio.Semaphore(ST_PARALLEL)

    async def run(service: str, role: str) -> dict[str, Any]:
        async with slots:
            return await run_schemathesis(stack, service, role, tokens[role], Path(tmp))

    with tempfile.TemporaryDirectory(prefix="xinren-st-") as tmp:
        results = await asyncio.gather(*(run(service, role) for service, role in ST_RUNS))

    per_service: Counter[str] = Counter()
    lines = [f"schemathesis ({ST_CHECKS}; seed {ST_SEED}, {ST_SECONDS}s a run):"]
    for r in results:
        per_service[r["service"]] += r["cases"]
        lines.append(
            f"  {r['service']:7} as {r['role']:9} {r['cases']:5} cases, {len(r['failures'])} failures, "
            f"{len(r['errors'])} errors, exit {r['exit']}"
        )
    lines.append("  cases per service: " + ", ".join(f"{s} {n}" for s, n in sorted(per_service.items())))
    print("\n".join(lines))

    problems: list[str] = []  # every run's, so that one failing run does not hide another's
    for r in results:
        who = f"{r['service']} as {r['role']}"
        if r["cases"] == 0:
            problems.append(f"{who} ran no test case:\n{r['output'][-3000:]}")
        problems += [f"{who}: {failure}" for failure in r["failures"][:20]]
        problems += [f"{who}: {error}" for error in r["errors"][:5]]
        if r["exit"] != 0 and not r["failures"] and not r["errors"]:
            problems.append(f"{who} exited {r['exit']}:\n{r['output'][-3000:]}")
    assert not problems, "\n".join(problems)
    for service in ("order", "refund", "qc", "notify", "trust"):
        assert per_service[service] > 0


# --- every service: malformed, oversized, mistyped, out-of-range parameters -------------------------------------

# One POST with a body and two lists per service, with tokens that pass their role checks.
BODY_ROUTES = {
    "order": ("/v1/shops", "admin"),
    "refund": ("/v1/after-sales", "buyer"),
    "qc": ("/v1/warehouses", "admin"),
    "notify": ("/v1/webhooks", "partner"),
    "trust": ("/v1/trust/appeals", "host"),
}
LIST_ROUTES = {
    "order": [("/v1/orders", "admin"), ("/v1/orders", "buyer")],
    "refund": [("/v1/after-sales", "admin"), ("/v1/compensations", "buyer")],
    "qc": [("/v1/qc/cases", "admin"), ("/v1/warehouses", "admin")],
    "notify": [("/v1/notifications", "buyer"), ("/v1/webhooks", "partner")],
    "trust": [("/v1/trust/actions", "admin"), ("/v1/trust/appeals", "admin")],
}
WRONG_BODIES = [b"[]", b'"a string"', b"42", b"null", b'{"name": {"a": ["b"]}, "url": 7, "order_id": [], "type": 1.5}']
BAD_CURSORS = [
    "this is no cursor",
    "!!!!",
    cursor_of(),
    cursor_of("2020-01-01T00:00:00+00:00", "x", "surplus"),
    cursor_of("not a time", "x"),
    base64.urlsafe_b64encode(b'{"not": "a list"}').decode(),
]
# Well-formed but never given out: a page (of whatever follows) or a 400/422, never a server error.
FORGED_CURSORS = [
    cursor_of("2020-01-01T00:00:00+00:00", 2**70),
    cursor_of("0001-01-01T00:00:00+14:00", "x"),
    cursor_of("9999-12-31T23:59:59+00:00", None),
    cursor_of(2**70),
    cursor_of(-1),
    cursor_of(True),
    cursor_of("\u0000"),
]


async def refused(request, status: int = 422, code: str | None = "VALIDATION_ERROR") -> dict[str, Any]:
    return assert_error(await request, status, code)


def token_for(platform, role: str) -> dict[str, str]:
    return {"admin": platform.admin, "partner": platform.partner}.get(role) or platform.s.token(role, rid(role))


@pytest.mark.parametrize("service", BODY_ROUTES)
async def test_malformed_oversized_and_mistyped_bodies_are_refused(stack, platform, service):
    path, role = BODY_ROUTES[service]
    http = stack.http(service)
    headers = {**token_for(platform, role), "content-type": "application/json"}

    def post(content) -> Any:
        return http.post(path, headers=headers, content=content)

    await refused(post(b'{"name": "unterminated'))
    await refused(post(b'{"name": 1,}'))
    await refused(post(b"\x80\x81 not UTF-8"), 400, None)
    for wrong in WRONG_BODIES:
        await refused(post(wrong))

    # Over the 1 MiB limit: 413, whether the size is announced or the body streams in chunks.
    huge = b'{"name": "' + b"x" * (MIB + 10) + b'"}'

    async def chunks():
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    await refused(post(huge), 413, "PAYLOAD_TOO_LARGE")
    await refused(post(chunks()), 413, "PAYLOAD_TOO_LARGE")
    keyed = {**headers, "Idempotency-Key": rid("idem")}  # the idempotency layer reads the body first
    await refused(http.post(path, headers=keyed, content=chunks()), 413, "PAYLOAD_TOO_LARGE")
    assert (await http.get("/readyz")).status_code == 200


@pytest.mark.parametrize("service", LIST_ROUTES)
async def test_bad_limits_and_cursors_are_refused(stack, platform, service):
    http = stack.http(service)
    for path, role in LIST_ROUTES[service]:
        headers = token_for(platform, role)
        assert (await http.get(path, headers=headers, params={"limit": 200})).status_code == 200
        for limit in (0, -1, 201, 2**63, "ten", 1.5):
            await refused(http.get(path, headers=headers, params={"limit": limit}))
        for cursor in BAD_CURSORS:
            await refused(http.get(path, headers=headers, params={"cursor": cursor}), 400, "INVALID_CURSOR")
        await refused(http.get(path, headers=headers, params={"cursor": "x" * 501}))
        for cursor in FORGED_CURSORS:
            r = await http.get(path, headers=headers, params={"cursor": cursor})
            if r.status_code != 200:
                assert r.status_code in (400, 422), (path, cursor, r.text)
                assert_error(r, r.status_code)


@pytest.mark.parametrize("service", ["order", "refund", "qc", "notify", "trust"])
async def test_nul_characters_in_paths_and_queries_are_refused(stack, platform, service):
    """PostgreSQL text cannot hold NUL: a 4xx, never a database error."""
    p = platform
    probes = {
        "order": [("GET", "/v1/orders/ord%00x", {}, p.admin), ("GET", "/v1/orders", {"buyer_id": "u\x00"}, p.admin)],
        "refund": [
            ("GET", "/v1/after-sales/as%00x", {}, p.admin),
            ("GET", "/v1/after-sales/eligibility", {"order_id": "o\x00"}, p.admin),
            ("GET", "/v1/compensations", {"case_id": "c\x00"}, p.admin),
        ],
        "qc": [
            ("GET", "/v1/qc/cases/qc%00x", {}, p.admin),
            ("GET", "/v1/warehouses", {"category": "jade\x00"}, p.admin),
        ],
        "notify": [
            ("GET", "/v1/webhooks/wh%00x", {}, p.partner),
            ("POST", "/v1/notifications/n%00x/read", {}, p.buyer()),
        ],
        "trust": [
            ("GET", "/v1/trust/shops/s%00x", {}, p.admin),
            ("GET", "/v1/trust/actions", {"shop_id": "s\x00"}, p.admin),
        ],
    }[service]
    for method, path, params, headers in probes:
        r = await stack.http(service).request(method, path, params=params, headers=headers)
        assert 400 <= r.status_code < 500, f"{path} {params} → {r.status_code} {r.text}"
        assert_error(r, r.status_code)
    body = {
        "order": ("/v1/shops", p.admin, {"name": "小店\x00", "trust_rights": [], "deposit_fen": 0}),
        "refund": ("/v1/after-sales", p.buyer(), {"order_id": "o\x00", "type": "REFUND_ONLY", "reason": "OTHER"}),
        "qc": ("/v1/warehouses", p.admin, {"name": "仓\x00", "address": "四会", "categories": ["nul-test"]}),
        "notify": ("/v1/webhooks", p.partner, {"url": "https://partner.example/\x00", "event_types": ["*"]}),
        "trust": ("/v1/trust/appeals/apl%00x/decide", p.admin, {"decision": "UPHOLD", "reason": "理由\x00"}),
    }[service]
    await refused(stack.http(service).post(body[0], headers=body[1], json=body[2]), 422, None)


# --- order service: amounts, enums, long strings, with the objects read back unchanged --------------------------


async def test_order_service_refuses_hostile_values_and_changes_nothing(stack, platform):
    p = platform
    http = stack.http("order")
    shop = await p.shop(["SEVEN_DAY_RETURN"], deposit_fen=1_000_000)
    sku = await p.product(shop, "apparel", 19_900, stock=5)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    order_id = order["order_id"]
    before_order = await p.get_order(order_id)
    before_shop = await p.call("order", "GET", f"/v1/shops/{shop.shop_id}", p.admin)
    before_product = await p.call("order", "GET", f"/v1/products/{sku}", p.admin)

    def pay(amount: Any) -> Any:
        body = {"amount_fen": amount, "method": "SANDBOX"}
        return http.post(f"/v1/orders/{order_id}/pay", headers={**buyer, "Idempotency-Key": rid("idem")}, json=body)

    def deposit(amount: Any) -> Any:
        headers = {**p.admin, "Idempotency-Key": rid("idem")}
        return http.post(f"/v1/shops/{shop.shop_id}/deposit", headers=headers, json={"amount_fen": amount})

    def add_product(**fields: Any) -> Any:
        body = {"title": "翡翠手镯", "category": "jade", "price_fen": 100, "stock": 1, **fields}
        return http.post(f"/v1/shops/{shop.shop_id}/products", headers=shop.seller, json=body)

    def create_order(quantity: Any = 1, **fields: Any) -> Any:
        body = {"shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": quantity}], "shipping_address": ADDRESS}
        return http.post("/v1/orders", headers={**buyer, "Idempotency-Key": rid("idem")}, json={**body, **fields})

    # Negative, overflowing and mistyped amounts; JSON true or "19900" is no amount either.
    for amount in (*OVERFLOWING, "19900x", [19_900], {"fen": 19_900}, None, True, "19900", 19_900.0):
        await refused(pay(amount), 422, None)  # VALIDATION_ERROR, or AMOUNT_MISMATCH for what parses as a number
        await refused(deposit(amount))
        await refused(add_product(price_fen=amount))
    for quantity in (0, -1, 2**63, 1e30, "many"):
        await refused(create_order(quantity))
        await refused(http.post(f"/v1/products/{sku}/stock", headers=shop.seller, json={"quantity": quantity}))

    # Unknown enum values.
    unknown_right = {"shop_id": rid("shop"), "name": "假店", "trust_rights": ["FAKE_ONE_PAY_HUNDRED"], "deposit_fen": 0}
    await refused(http.post("/v1/shops", headers=p.admin, json=unknown_right))
    await refused(http.get(f"/v1/shops/{unknown_right['shop_id']}", headers=p.admin), 404, None)
    await refused(http.get("/v1/orders", headers=p.admin, params={"status": "TELEPORTED"}))

    # Over-long strings.
    await refused(http.post(f"/v1/orders/{order_id}/cancel", headers=buyer, json={"reason": "不" * 501}))
    await refused(add_product(title="玉" * 201))
    await refused(create_order(shipping_address={**ADDRESS, "line1": "路" * 301}))
    await refused(create_order(host_id="h" * 201))
    await refused(http.post("/v1/shops", headers=p.admin, json={"shop_id": "s" * 65, "name": "x", "deposit_fen": 0}))

    # Nothing changed: the order unpaid, the shop's deposit, the product and the catalogue as they were.
    after_order = await p.get_order(order_id)
    assert after_order["paid_fen"] == 0 and after_order["refunded_fen"] == 0
    after_product = await p.call("order", "GET", f"/v1/products/{sku}", p.admin)
    assert after_product["price_fen"] == before_product["price_fen"]
    if after_order["status"] == "CREATED":  # else the unpaid order's timer cancelled it meanwhile (8 s here)
        assert after_order["timeline"] == before_order["timeline"]
        assert after_product["stock_available"] == before_product["stock_available"]
    after_shop = await p.call("order", "GET", f"/v1/shops/{shop.shop_id}", p.admin)
    assert after_shop["deposit_fen"] == before_shop["deposit_fen"]
    products = await p.call("order", "GET", f"/v1/shops/{shop.shop_id}/products", p.admin)
    assert [x["sku_id"] for x in products["items"]] == [sku]
    assert (await p.call("order", "GET", f"/v1/orders/{order_id}/ledger", p.admin))["items"] == []
    mine = await p.call("order", "GET", "/v1/orders", buyer)
    assert [o["order_id"] for o in mine["items"]] == [order_id]


# --- refund service ---------------------------------------------------------------------------------------------


async def test_refund_service_refuses_hostile_values_and_changes_nothing(stack, platform):
    p = platform
    http = stack.http("refund")
    shop = await p.shop(["SEVEN_DAY_RETURN", "FAST_REFUND"])
    sku = await p.product(shop, "apparel", 25_000)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    order_id = order["order_id"]
    await p.wait_order(order_id, "PAID")

    async def knows_paid():
        r = await http.get("/v1/after-sales/eligibility", params={"order_id": order_id}, headers=buyer)
        return r.json() if r.status_code == 200 and r.json()["paid_fen"] == 25_000 else None

    before = await stack.until(knows_paid, what="the refund service seeing the payment")
    good = {"order_id": order_id, "type": "REFUND_ONLY", "reason": "QUALITY_ISSUE", "evidence": []}

    def open_case(**fields: Any) -> Any:
        headers = {**buyer, "Idempotency-Key": rid("idem")}
        return http.post("/v1/after-sales", headers=headers, json={**good, **fields})

    # FAST_REFUND would pay any of these at once, were it taken.
    for amount in (*OVERFLOWING, 0, "lots", [1], True, "100", 100.0):
        await refused(open_case(amount_fen=amount))
    await refused(open_case(type="REFUND_EVERYTHING"))
    await refused(open_case(reason="BORED"))
    await refused(open_case(reason="QC_FAILED"))  # the platform's own reason, never a buyer's
    await refused(open_case(evidence=["javascript:alert(1)"]))
    await refused(open_case(evidence="https://img.example/1.jpg"))
    await refused(open_case(description="长" * 2001))
    await refused(open_case(order_id="o" * 201))
    await refused(open_case(amount_fen=25_001), 422, None)  # more than was paid
    await refused(http.get("/v1/after-sales", headers=buyer, params={"status": "LIMBO"}))
    await refused(http.get("/v1/compensations", headers=buyer, params={"kind": "FREE_MONEY"}))
    bad_decisions = (
        {"decision": "REFUND", "amount_fen": 2**63},
        {"decision": "REFUND", "amount_fen": -1},
        {"decision": "?"},
    )
    for decision in bad_decisions:
        await refused(http.post("/v1/after-sales/as_x/arbitrate", headers=p.admin, json={**decision, "reason": "x"}))

    # Nothing changed: no case, nothing refunded, as much refundable as before.
    assert (await p.call("refund", "GET", "/v1/after-sales", p.admin, params={"order_id": order_id}))["items"] == []
    after = await knows_paid()
    assert after["refundable_fen"] == before["refundable_fen"] == 25_000 and after["refunded_fen"] == 0
    assert (await p.get_order(order_id))["refunded_fen"] == 0
    p.orders[order_id] = "PAID"


# --- quality-check service --------------------------------------------------------------------------------------


async def test_qc_service_refuses_hostile_values_and_changes_nothing(stack, platform):
    p = platform
    http = stack.http("qc")
    category = f"jade-{uuid.uuid4().hex[:6]}"
    warehouse = {"warehouse_id": rid("wh"), "name": "质检仓", "address": "广东省四会市", "categories": [category]}
    for bad in (
        {"categories": category},
        {"categories": []},
        {"categories": [["jade"]]},
        {"categories": ["c" * 101]},
        {"name": "仓" * 201},
        {"address": "址" * 501},
        {"warehouse_id": "has spaces and / slashes"},
        {"capacity": 10},  # an unknown field
        {"name": 42},
    ):
        await refused(http.post("/v1/warehouses", headers=p.admin, json={**warehouse, **bad}))
    await refused(http.get(f"/v1/warehouses/{warehouse['warehouse_id']}", headers=p.admin), 404, None)
    assert (await p.call("qc", "GET", "/v1/warehouses", p.admin, params={"category": category}))["items"] == []
    await refused(http.get("/v1/qc/cases", headers=p.admin, params={"status": "LOST_IN_THE_MAIL"}))

    # A real case, awaiting the seller's parcel: hostile verdicts, arrivals and dispatches leave it as it was.
    await p.warehouse(["jade"])
    shop = await p.shop([])
    sku = await p.product(shop, "jade", 500_000)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    case = await p.qc_case(order["order_id"])
    case_path = f"/v1/qc/cases/{case['case_id']}"
    inspector, staff = p.inspector(case["warehouse_id"]), p.staff(case["warehouse_id"])
    verdict = {"result": "PASSED", "findings": "ok", "photos": []}
    for bad in (
        {"result": "PROBABLY_FINE"},
        {"result": "FAILED", "failure_reason": "UGLY"},
        {"photos": ["not a url"]},
        {"photos": "https://img.example/1.jpg"},
        {"findings": "察" * 10_001},
        {"certificate_no": "FORGED-1"},  # an unknown field: no client picks its certificate number
    ):
        await refused(http.post(f"{case_path}/verdict", headers=inspector, json={**verdict, **bad}))
    await refused(http.post(f"{case_path}/arrival", headers=staff, json={"tracking_no": "S" * 101}))
    await refused(http.post(f"{case_path}/arrival", headers=staff, json={"tracking_no": ["SF1"]}))
    dispatch = {"carrier": "SF", "tracking_no": "SF1", "to": "MOON"}
    await refused(http.post(f"{case_path}/dispatch", headers=staff, json=dispatch))

    after = await p.call("qc", "GET", case_path, p.admin)
    assert after["verdict"] is None and after["certificate_no"] is None and after["arrived_at"] is None
    assert after["inbound_shipment"] is None and after["dispatch"] is None
    # Settle the order (its inbound deadline would move it on while other tests run); should the deadline have
    # passed already, the refund comes from the expiry instead.
    cancel = {"reason": "changed my mind"}
    await p.call("order", "POST", f"/v1/orders/{order['order_id']}/cancel", buyer, json=cancel, expect=(200, 409))
    await settle_refunded(p, order["order_id"])


async def settle_refunded(p, order_id: str) -> dict:
    """Awaits a paid order's full refund and records the final status it ends in."""

    async def refunded():
        order = await p.get_order(order_id)
        done = order["refunded_fen"] == order["paid_fen"] > 0 and order["status"] in ("REFUNDED", "CANCELLED")
        return order if done else None

    order = await p.s.until(refunded, timeout=45, what=f"order {order_id} refunded in full")
    p.orders[order_id] = order["status"]
    return order


# --- notify service ---------------------------------------------------------------------------------------------


async def test_notify_service_refuses_hostile_values_and_changes_nothing(stack, platform):
    p = platform
    http = stack.http("notify")
    partner = stack.token("partner", rid("partner"))
    hook = {"url": "https://partner.example/hooks/xinren", "event_types": ["xinren.order.paid"]}
    for bad in (
        {"event_types": ["xinren.order.teleported"]},
        {"event_types": []},
        {"event_types": "xinren.order.paid"},
        {"url": "ftp://partner.example/hook"},
        {"url": "not a url"},
        {"url": "https://partner.example/" + "p" * 2000},
        {"url": 443},
        {"url": "https://xn--/"},  # an IDNA label that does not decode
        {"url": f"https://{'a' * 64}.example/"},  # a DNS label over 63 characters
        {"url": "https://a..example/"},
        {"url": "https://partner.example:99999/"},
        {"description": "述" * 501},
    ):
        await refused(http.post("/v1/webhooks", headers=partner, json={**hook, **bad}), 422, None)
    assert (await p.call("notify", "GET", "/v1/webhooks", partner))["items"] == []

    # A buyer with an unread notification: hostile read-alls mark nothing read.
    shop = await p.shop([])
    sku = await p.product(shop, "apparel", 9_900)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    p.orders[order["order_id"]] = "PAID"

    async def unread():
        return (await p.call("notify", "GET", "/v1/notifications/unread-count", buyer))["unread"]

    before = await stack.until(unread, what="a notification in the buyer's inbox")
    for seq in (-1, 2**63, 1e30, True, "3", [1], {"seq": 1}):
        await refused(http.post("/v1/notifications/read-all", headers=buyer, json={"up_to_seq": seq}))
    await refused(http.get("/v1/notifications", headers=buyer, params={"unread": "perhaps"}))
    await refused(http.get("/v1/notifications/stream", headers={**buyer, "Last-Event-ID": "yesterday"}), 400, None)
    assert await unread() >= before  # more may have come meanwhile; none was marked read


# --- malformed events: dead letters, and the consumers go on -------------------------------------------------------

# topic -> (a type of it whose data will not fit, the consumers that handle that type, every consumer of the topic):
# a record that is no event at all is dead-lettered by every consumer of the topic, an event that does not fit its
# type by those that handle the type (the others skip types they do not handle).
ALL_BUT_ORDER = {"refund", "qc", "notify", "trust"}
ALL_BUT_QC = {"order", "refund", "notify", "trust"}
POISON = {
    "xinren.orders.v1": ("xinren.order.paid", ALL_BUT_ORDER, ALL_BUT_ORDER),
    "xinren.qc.v1": ("xinren.qc.failed", ALL_BUT_QC, ALL_BUT_QC),
    "xinren.aftersales.v1": ("xinren.refund.requested", {"order", "notify"}, {"order", "qc", "notify", "trust"}),
    "xinren.trust.v1": ("xinren.trust.score_changed", {"order", "refund", "notify"}, {"order", "refund", "notify"}),
}


async def test_malformed_events_on_every_topic_are_dead_lettered_and_consumers_go_on(
    stack, platform, kafka_bootstrap, event_collector
):
    p = platform
    sent: list[tuple[str, bytes, set[str]]] = []
    for topic, (event_type, consumers, subscribers) in POISON.items():
        # Not a CloudEvent at all: no ce_* headers and a body that is not JSON.
        key = f"poison-{uuid.uuid4().hex}".encode()
        await publish_raw(kafka_bootstrap, topic, key=key, value=b"\xff\x00 not an event", headers=[("x-test", b"1")])
        sent.append((topic, key, subscribers))
        # A well-formed CloudEvent of a known type whose data does not fit the type's model.
        key = f"poison-{uuid.uuid4().hex}".encode()
        envelope = Envelope(
            type=event_type,
            source="/xinren/hostile-test",
            data={"order_id": {"not": "a string"}, "case_id": ["x"], "amount_fen": "lots"},
            topic=topic,
            key=key.decode(),
            subject=key.decode(),
        )
        _, value, headers = envelope.to_kafka()
        await publish_raw(kafka_bootstrap, topic, key=key, value=value, headers=headers)
        sent.append((topic, key, consumers))

    for topic, key, consumers in sent:
        letters = await event_collector.wait_for_raw(
            f"{topic}.dlq", lambda r, key=key: r.key == key, count=len(consumers), timeout=45
        )
        by = {dict(r.headers)["x-dlq-consumer"].decode() for r in letters}
        assert by == consumers, (topic, key, by)
        for letter in letters:
            headers = dict(letter.headers)
            assert headers["x-dlq-topic"].decode() == topic and headers["x-dlq-error"], headers
            assert b"Traceback" not in headers["x-dlq-error"]

    # Every consumer goes on: a jade order is paid (orders → qc), its case opens (qc → order), the buyer cancels
    # (orders → refund), the refund is asked for and made (after-sales → order), and the buyer is told (→ notify).
    await p.warehouse(["jade"])
    shop = await p.shop([])
    sku = await p.product(shop, "jade", 320_000)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    await p.wait_order(order["order_id"], "AWAITING_QC_INBOUND")
    await p.call("order", "POST", f"/v1/orders/{order['order_id']}/cancel", buyer, json={"reason": "after the poison"})
    refunded = await settle_refunded(p, order["order_id"])
    assert refunded["refunded_fen"] == 320_000

    async def told():
        page = await p.call("notify", "GET", "/v1/notifications", buyer)
        return [n for n in page["items"] if n.get("order_id") == order["order_id"]]

    await stack.until(told, what="the buyer's notifications about the order")
    for service in ("order", "refund", "qc", "notify"):
        ready = await stack.http(service).get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["workers"] == "ok", (service, ready.text)
