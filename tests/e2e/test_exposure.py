"""Secrets and exposure: webhook secrets shown once and never stored in plain text, no token or secret in the
services' logs, no stack trace in any error body, nothing private on the public certificate."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xinren_shared.auth import mint_token
from xinren_shared.testing.infra import free_port

from .conftest import SECRET
from .platform import ADDRESS, rid

JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
INSIDES = ("Traceback", 'File "', ".py", "sqlalchemy", "asyncpg", "SELECT ", "site-packages")

# Every token and secret these tests handle, to look for in the logs at the end.
SEEN_SECRETS: set[str] = {SECRET}


def remember(headers: dict[str, str]) -> dict[str, str]:
    SEEN_SECRETS.add(headers["Authorization"].removeprefix("Bearer "))
    return headers


@pytest_asyncio.fixture
async def receiver():
    """A partner's receiver on loopback: answers 503 to the first attempt of each event, 204 afterwards."""
    received: list[tuple[dict[str, str], bytes]] = []
    attempts: dict[str, int] = {}

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        event_id = request.headers.get("webhook-id", "")
        attempts[event_id] = attempts.get(event_id, 0) + 1
        return Response(status_code=503 if attempts[event_id] == 1 else 204)

    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
        host="127.0.0.1", port=port, log_level="warning", lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}/hook", received
    server.should_exit = True
    await task


async def rows_holding(database_url: str, needles: list[str]) -> dict[str, int]:
    """Per table of the database: how many rows hold any of the needles anywhere in their text form."""
    found: dict[str, int] = {}
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            for needle in needles:
                count = await conn.fetchval(f"SELECT count(*) FROM {name} AS r WHERE strpos(r::text, $1) > 0", needle)
                if count:
                    found[f"{name} ∋ {needle[:12]}…"] = count
    finally:
        await conn.close()
    return found


async def test_a_webhook_secret_is_shown_once_and_never_stored_in_plain_text(stack, platform, receiver):
    p = platform
    url, received = receiver
    shop = await p.shop([])
    partner = remember(stack.token("partner", rid("erp"), shop_id=shop.shop_id))
    http = stack.http("notify")
    # A partner's URL may carry a token of theirs: it must not reach the logs either.
    partner_url_token = f"ptk_{uuid.uuid4().hex}"
    SEEN_SECRETS.add(partner_url_token)
    body = {"url": f"{url}?token={partner_url_token}", "event_types": ["*"], "description": "ERP of the shop"}
    created = await p.call("notify", "POST", "/v1/webhooks", partner, json=body, expect=201)
    webhook_id, secret = created["webhook_id"], created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    SEEN_SECRETS.add(secret)
    secret_b64 = secret.removeprefix("whsec_")
    secret_hex = base64.b64decode(secret_b64).hex()

    # Traffic: an order of the shop is created, paid and cancelled (so refunded); each event is signed with the
    # secret, refused once by the receiver (a retry), then accepted; one delivery is sent again by hand.
    sku = await p.product(shop, "apparel", 12_900)
    buyer = remember(p.buyer())
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    await p.call("order", "POST", f"/v1/orders/{order['order_id']}/cancel", buyer, json={"reason": "暴露测试"})

    async def delivered():
        page = await p.call("notify", "GET", f"/v1/webhooks/{webhook_id}/deliveries", partner, params={"limit": 200})
        done = [d for d in page["items"] if d["status"] == "DELIVERED" and d["attempts"] >= 2]
        return page if len(done) >= 3 else None

    deliveries = await stack.until(delivered, timeout=45, what="three deliveries retried and delivered")
    first = deliveries["items"][-1]
    redelivered = await p.call(
        "notify", "POST", f"/v1/webhooks/{webhook_id}/deliveries/{first['delivery_id']}/redeliver", partner, expect=202
    )
    assert redelivered["status"] == "PENDING"

    async def sent_again():
        return sum(h.get("webhook-id") == first["event_id"] for h, _ in received) >= 3  # refused, retried, redelivered

    await stack.until(sent_again, what="the redelivery at the receiver")
    verifier = Webhook(secret)
    for headers, payload in received:
        verifier.verify(payload, headers)  # every delivery signed with the secret the partner was shown
        assert secret not in payload.decode() and secret_b64 not in str(headers)

    # Shown once: no read gives the secret back.
    reads = [
        await http.get("/v1/webhooks", headers=partner),
        await http.get(f"/v1/webhooks/{webhook_id}", headers=partner),
        await http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=partner),
        await http.get(f"/v1/webhooks/{webhook_id}/deliveries/{first['delivery_id']}", headers=partner),
        await http.get("/v1/webhooks", headers=p.admin),
    ]
    for r in reads:
        assert r.status_code == 200, r.text
        assert secret_b64 not in r.text and "whsec_" not in r.text and '"secret"' not in r.text, r.text[:500]
    listed = [w for w in reads[0].json()["items"] if w["webhook_id"] == webhook_id]
    assert len(listed) == 1 and "secret" not in listed[0]

    # Not stored in plain text: no row of the notify database holds the secret, in any encoding (the search itself
    # finds what is there: the subscription's id).
    assert await rows_holding(stack.databases["notify"], [webhook_id])
    assert await rows_holding(stack.databases["notify"], [secret_b64, secret_hex, secret_b64[:24]]) == {}
    await settle(p, order["order_id"])


async def settle(p, order_id: str) -> None:
    async def refunded():
        order = await p.get_order(order_id)
        done = order["refunded_fen"] == order["paid_fen"] > 0 and order["status"] in ("REFUNDED", "CANCELLED")
        return order if done else None

    p.orders[order_id] = (await p.s.until(refunded, timeout=45, what=f"{order_id} refunded"))["status"]


# --- error bodies -------------------------------------------------------------------------------------------------


def tokens_that_fail() -> dict[str, str]:
    claims = {"sub": "intruder", "role": "admin"}
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(b'{"sub":"intruder","role":"admin","exp":9999999999}').decode().rstrip("=")
    failing = {
        "expired": mint_token(SECRET, "intruder", "admin", ttl_seconds=-60),
        "wrongly signed": jwt.encode({**claims, "exp": 9999999999}, "not-the-secret-" + "y" * 32, algorithm="HS256"),
        "alg none": f"{header}.{payload}.",
        "garbage": "not.a.token",
    }
    SEEN_SECRETS.update(failing.values())
    return failing


# Per service: a list, a POST with a body, an admin-only read, and a path to an object that does not exist.
ROUTES = {
    "order": ("/v1/orders", "/v1/shops", "/v1/ledger/check", "/v1/orders/ord_{}"),
    "refund": ("/v1/after-sales", "/v1/after-sales", "/v1/compensations", "/v1/after-sales/as_{}"),
    "qc": ("/v1/qc/cases", "/v1/warehouses", "/v1/qc/cases", "/v1/qc/cases/qc_{}"),
    "notify": ("/v1/notifications", "/v1/webhooks", "/v1/webhooks", "/v1/webhooks/wh_{}"),
}


@pytest.mark.parametrize("service", ROUTES)
async def test_error_bodies_carry_no_stack_trace_or_internals(stack, platform, service):
    p = platform
    http = stack.http(service)
    answers: list[tuple[str, httpx.Response]] = []

    async def hit(what: str, method: str, path: str, **kw: Any) -> None:
        answers.append((what, await http.request(method, path, **kw)))

    listing, poster, admin_only, missing = ROUTES[service]
    buyer = remember(p.buyer())
    lister = buyer if service == "notify" else p.admin
    owner = p.partner if service == "notify" else p.admin
    as_json = {**p.admin, "content-type": "application/json"}

    await hit("no token", "GET", listing)
    for name, token in tokens_that_fail().items():
        await hit(f"{name} token", "GET", listing, headers={"Authorization": f"Bearer {token}"})
    await hit("wrong role", "GET", admin_only, headers=remember(stack.token("host", rid("host"))))
    await hit("unknown route", "GET", "/v1/no/such/thing", headers=p.admin)
    await hit("unknown object", "GET", missing.format("missing"), headers=owner)
    await hit("NUL in the path", "GET", missing.format("%00x"), headers=owner)
    await hit("wrong method", "PUT", listing, headers=lister)
    await hit("malformed JSON", "POST", poster, headers=as_json, content=b"{oops")
    await hit("not UTF-8", "POST", poster, headers=as_json, content=b"\x80\x81")
    await hit("too large", "POST", poster, headers=as_json, content=b"[" + b"1," * 600_000 + b"1]")
    await hit("bad cursor", "GET", listing, headers=lister, params={"cursor": "@@@"})
    await hit("bad limit", "GET", listing, headers=lister, params={"limit": 10_000})
    if service == "order":
        shop = await p.shop([])
        sku = await p.product(shop, "apparel", 5_000)
        order_id = (await p.order(buyer, shop, sku))["order_id"]
        await hit("illegal transition", "POST", f"/v1/orders/{order_id}/confirm-receipt", headers=buyer)
        pay = {"amount_fen": 1, "method": "SANDBOX"}
        await hit("amount mismatch", "POST", f"/v1/orders/{order_id}/pay", headers=buyer, json=pay)

    statuses = set()
    for what, r in answers:
        where = f"{service} {what}: {r.status_code} {r.text[:400]}"
        assert 400 <= r.status_code < 500, where
        body = r.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, where
        for inside in INSIDES:
            assert inside not in r.text, where
        assert not JWT_SHAPE.search(r.text) and SECRET not in r.text, where
        statuses.add(r.status_code)
    assert {400, 401, 403, 404, 405, 413, 422} | ({409} if service == "order" else set()) <= statuses, statuses
    assert all(r.status_code == 401 for what, r in answers if "token" in what), [(w, r.status_code) for w, r in answers]


# --- the public certificate ---------------------------------------------------------------------------------------

CERTIFICATE_FIELDS = {
    "certificate_no", "order_id", "case_id", "verdict", "items", "category", "findings", "photos", "warehouse",
    "inspector", "issued_at", "dispatched", "status", "revoked_at", "revocation_reason",
    "seal_id", "measurements", "inspected_at", "qr",
}  # fmt: skip


async def test_the_public_certificate_shows_nothing_private(stack, platform):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop(["FAKE_ONE_PAY_TEN"], deposit_fen=12_345_678)
    sku = await p.product(shop, "jade", 777_000)
    buyer_id = rid("buyer")
    buyer = remember(stack.token("buyer", buyer_id))
    host_id = await p.host(shop)
    order, case = await p.jade_order_at_warehouse(buyer, shop, sku, host_id=host_id, live_room_id=rid("room"))
    passed = await p.verdict(case, "PASSED")
    await p.wait_order(order["order_id"], "QC_PASSED")
    number = passed["certificate_no"]

    r = await stack.http("qc").get(f"/v1/certificates/{number}")  # no token: anyone may verify
    assert r.status_code == 200, r.text
    cert = r.json()
    assert cert["certificate_no"] == number and cert["verdict"] == "PASSED" and cert["order_id"] == order["order_id"]
    assert set(cert) <= CERTIFICATE_FIELDS, set(cert) - CERTIFICATE_FIELDS
    assert all(set(item) <= {"title", "category"} for item in cert["items"]), cert["items"]
    assert set(cert["warehouse"]) <= {"warehouse_id", "name"} and set(cert["inspector"]) <= {"inspector_id", "name"}
    inbound = (case.get("inbound_shipment") or {}).get("tracking_no")
    private = [
        buyer_id, host_id, "buyer", "host", "phone", "address", "shipping", "_fen", "777000", "12345678", "tracking",
        ADDRESS["name"], ADDRESS["phone"], ADDRESS["district"], ADDRESS["line1"], *([inbound] if inbound else []),
    ]  # fmt: skip
    for value in private:
        assert value not in r.text, f"the certificate shows {value!r}: {r.text}"
    assert not JWT_SHAPE.search(r.text)

    # A token adds nothing: the owner buyer sees the same public certificate.
    assert (await stack.http("qc").get(f"/v1/certificates/{number}", headers=buyer)).json() == cert
    missing = await stack.http("qc").get("/v1/certificates/XR-NO-SUCH-NUMBER")
    assert missing.status_code == 404 and set(missing.json()) == {"error"}


# --- the logs, after all of the above -------------------------------------------------------------------------------


async def test_no_token_or_secret_reaches_the_logs(stack):
    log = stack.log.read_text(errors="replace")
    for service in ("order", "refund", "quality-check", "notify"):  # honcho prefixes each service's lines
        assert f"{service}.1 " in log, f"no line of {service} in {stack.log}"
    assert not JWT_SHAPE.findall(log), JWT_SHAPE.findall(log)[:3]
    assert "whsec_" not in log
    leaked = [s[:16] + "…" for s in SEEN_SECRETS if s in log]
    assert not leaked, f"secrets in {stack.log}: {leaked}"
    assert "Bearer ey" not in log
