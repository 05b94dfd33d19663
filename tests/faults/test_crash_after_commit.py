"""Exactly-once answers: the order service killed between the commit of `POST /v1/orders` and its response.

The service runs as a real process (uvicorn, as in make run) with the test-only fault hook
XINREN_ORDER_FAULT_CRASH_AFTER_COMMIT, which ends the process (os._exit, as kill -9 would) right after the
transaction of the named route committed. The client sees its connection drop, the service is started again without
the hook, and the retry with the same Idempotency-Key gets the original answer: one order, one stock reservation.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.samples import ADDRESS
from xinren_shared.testing.http import bearer
from xinren_shared.testing.infra import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "faults-test-secret-0123456789abcdef"


@asynccontextmanager
async def order_service(
    database_url: str, kafka: str, log: Path, **extra: str
) -> AsyncIterator[tuple[httpx.AsyncClient, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {
        **os.environ,
        "XINREN_ORDER_DATABASE_URL": database_url,
        "XINREN_ORDER_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "XINREN_ORDER_JWT_SECRET": SECRET,
        "XINREN_ORDER_ENV": "test",
        "XINREN_ORDER_CONSUMER_GROUP": f"faults-order-{uuid.uuid4().hex}",
        "XINREN_ORDER_LOG_LEVEL": "WARNING",
        **{f"XINREN_ORDER_{k}": v for k, v in extra.items()},
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "xinren_order.app:create_app", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the order service exited with {proc.returncode}; see {log}"
            try:
                if (await client.get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the order service did not become ready; see {log}"
            await asyncio.sleep(0.2)
        yield client, proc
    finally:
        await client.aclose()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.faults_smoke
async def test_a_crash_between_commit_and_response_answers_the_retry_with_the_original_order(
    make_database, kafka_bootstrap, tmp_path
):
    database_url = await make_database("faults_order")
    log = tmp_path / "order.log"
    admin, shop_id = bearer(SECRET, "admin", "ops_1"), f"shop_{uuid.uuid4().hex[:12]}"
    seller = bearer(SECRET, "seller", f"u_{shop_id}", shop_id=shop_id)
    buyer = bearer(SECRET, "buyer", "buyer_faults")
    sku = f"sku_{uuid.uuid4().hex[:12]}"
    body = {"shop_id": shop_id, "items": [{"sku_id": sku, "quantity": 2}], "shipping_address": ADDRESS}
    key = {"Idempotency-Key": uuid.uuid4().hex}

    async with order_service(database_url, kafka_bootstrap, log, FAULT_CRASH_AFTER_COMMIT="POST /v1/orders") as (
        c,
        proc,
    ):
        shop = {"shop_id": shop_id, "name": "Fault shop", "trust_rights": [], "deposit_fen": 0}
        assert (await c.post("/v1/shops", json=shop, headers=admin)).status_code == 201
        product = {"sku_id": sku, "title": "Tea", "category": "snacks", "price_fen": 5000, "stock": 10}
        assert (await c.post(f"/v1/shops/{shop_id}/products", json=product, headers=seller)).status_code == 201
        with pytest.raises(httpx.TransportError):  # committed, then the process died before it answered
            await c.post("/v1/orders", json=body, headers={**buyer, **key})
        assert await asyncio.to_thread(proc.wait, 30) != 0

    async with order_service(database_url, kafka_bootstrap, log) as (c, _):
        retry = await c.post("/v1/orders", json=body, headers={**buyer, **key})
        assert retry.status_code == 201, retry.text
        assert retry.headers.get("idempotent-replayed") == "true"
        again = await c.post("/v1/orders", json=body, headers={**buyer, **key})
        assert again.json() == retry.json()

        listed = await c.get("/v1/orders", params={"buyer_id": "buyer_faults"}, headers=admin)
        orders = listed.json()["items"]
        assert [o["order_id"] for o in orders] == [retry.json()["order_id"]]
        stock = (await c.get(f"/v1/products/{sku}", headers=admin)).json()
        assert stock["stock_available"] == 8, stock  # reserved once: 10 - 2
