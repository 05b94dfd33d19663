"""Webhook catch-up after a partner's outage: the notify service runs as a real uvicorn process against the real
Kafka and PostgreSQL; a local receiver subscribed to every event (of its granted shop) answers 503 for `--outage`
seconds while the events of `--orders` order lifecycles are published; then it answers 200. Reports the seconds from
the receiver's return to the last delivery, and checks that every event arrived once (one 2xx each), in order per
order, with a valid signature. Results go to bench/results/webhook-catchup.json.

    .venv/bin/python bench/webhook_catchup.py                 # 80 orders, a 120 s outage, the service's defaults
    .venv/bin/python bench/webhook_catchup.py --outage 30     # shorter, on a busy machine
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xinren_shared.auth import mint_token
from xinren_shared.catalog import example
from xinren_shared.events import REGISTRY, Envelope
from xinren_shared.testing.infra import free_port, provide
from xinren_shared.testing.kafka import publish_events
from xinren_shared.testing.plugin import create_database

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret-0123456789abcdef"
PLAIN = ["xinren.order.created", "xinren.order.paid", "xinren.order.shipped", "xinren.order.delivered"]
QC = ["xinren.qc.case_opened", "xinren.qc.item_received", "xinren.qc.passed", "xinren.qc.dispatched"]


def lifecycle(order_id: str, shop_id: str, with_qc: bool) -> list[Envelope]:
    """An order's events as the services publish them (golden examples with this order's ids); every other order
    goes through a quality check."""
    types = PLAIN + (QC if with_qc else []) + ["xinren.order.completed"]
    out = []
    for type_ in types:
        data = {**example(type_), "order_id": order_id}
        if "shop_id" in REGISTRY[type_].model_fields:
            data["shop_id"] = shop_id
        source = "/xinren/qc" if type_.startswith("xinren.qc.") else "/xinren/order"
        out.append(Envelope.of(REGISTRY[type_].model_validate(data), source))
    return out


class Receiver:
    def __init__(self, secret_box: dict[str, str]) -> None:
        self.up = False
        self.up_at = 0.0
        self.secret_box = secret_box
        self.accepted: list[tuple[float, str, str]] = []  # (time, webhook-id, subject) of each 2xx
        self.refused = 0
        self.bad_signatures = 0

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        if not self.up:
            self.refused += 1
            return Response(status_code=503)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            event = Webhook(self.secret_box["secret"]).verify(body, headers)
        except Exception:
            self.bad_signatures += 1
            return Response(status_code=400)
        self.accepted.append((time.monotonic(), headers["webhook-id"], event.get("subject") or ""))
        return Response(status_code=204)


async def _serve_notify(database_url: str, kafka: str, namespace: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    log = ROOT / "bench" / "results" / "webhook-catchup-notify.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'shared' / 'src'}:{ROOT / 'services' / 'notify' / 'src'}",
        "XINREN_TOPIC_NAMESPACE": namespace,
        "XINREN_NOTIFY_DATABASE_URL": database_url,
        "XINREN_NOTIFY_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "XINREN_NOTIFY_JWT_SECRET": SECRET,
        "XINREN_NOTIFY_ENV": "test",
        "XINREN_NOTIFY_LOG_LEVEL": "WARNING",
        "XINREN_NOTIFY_CONSUMER_GROUP": f"bench-notify-{uuid.uuid4().hex}",
        "XINREN_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "xinren_notify.app:create_app", "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(
        *cmd, "--no-access-log", cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as c:
        for _ in range(1200):
            if proc.returncode is not None:
                raise RuntimeError(f"the notify service exited with {proc.returncode}; see {log}")
            try:
                if (await c.get(f"{url}/readyz")).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError("the notify service did not become ready")


async def run(orders: int, outage: float, timeout: float) -> dict[str, Any]:
    infra = provide(ROOT, durable=True)
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    os.environ["XINREN_TOPIC_NAMESPACE"] = namespace  # this process publishes to the same topics
    database_url = await create_database(infra.database_url, "bench_notify")
    secret_box: dict[str, str] = {}
    receiver = Receiver(secret_box)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    proc, url = await _serve_notify(database_url, infra.kafka_bootstrap, namespace)
    try:
        shop = f"shop_{uuid.uuid4().hex[:10]}"
        partner = {"Authorization": f"Bearer {mint_token(SECRET, 'acme', 'partner', shops=[shop])}"}
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            r = await client.post(
                "/v1/webhooks", headers=partner, json={"url": f"http://127.0.0.1:{port}/hook", "event_types": ["*"]}
            )
            r.raise_for_status()
            hook = r.json()
            secret_box["secret"] = hook["secret"]

            # The outage: the lifecycles advance stage by stage across the orders over the first 90 % of it.
            lifecycles = [lifecycle(f"ord_{uuid.uuid4().hex[:12]}", shop, i % 2 == 0) for i in range(orders)]
            stages = max(len(lc) for lc in lifecycles)
            down_at = time.monotonic()
            for stage in range(stages):
                await publish_events(infra.kafka_bootstrap, [lc[stage] for lc in lifecycles if stage < len(lc)])
                await asyncio.sleep(max(0.0, down_at + outage * 0.9 * (stage + 1) / stages - time.monotonic()))
            sent = [env for lc in lifecycles for env in lc]
            await asyncio.sleep(max(0.0, down_at + outage - time.monotonic()))
            before = (await client.get(f"/v1/webhooks/{hook['webhook_id']}", headers=partner)).json()
            receiver.up_at, receiver.up = time.monotonic(), True

            deadline = receiver.up_at + timeout
            while len({a[1] for a in receiver.accepted}) < len(sent) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            after = (await client.get(f"/v1/webhooks/{hook['webhook_id']}", headers=partner)).json()
    finally:
        proc.terminate()
        await proc.wait()
        server.should_exit = True
        await serving

    ids = [a[1] for a in receiver.accepted]
    in_order = all(
        [i for _, i, s in receiver.accepted if s == order_id] == [e.id for e in sent if e.subject == order_id]
        for order_id in {e.subject for e in sent}
    )
    complete = set(ids) == {e.id for e in sent}
    return {
        "orders": orders,
        "events": len(sent),
        "outage_s": outage,
        "catchup_s": round(max(a[0] for a in receiver.accepted) - receiver.up_at, 2) if complete else None,
        "first_delivery_after_recovery_s": round(min(a[0] for a in receiver.accepted) - receiver.up_at, 2)
        if receiver.accepted
        else None,
        "delivered": len(set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "in_order_per_order": in_order,
        "bad_signatures": receiver.bad_signatures,
        "refused_attempts_during_outage": receiver.refused,
        "state_at_recovery": {k: before.get(k) for k in ("state", "failing_since", "backlog")},
        "state_after": {k: after.get(k) for k in ("state", "failing_since", "backlog")},
        "settings": "service defaults: back-off 5 s x4, probe every 10 s, catch-up 100 deliveries/s per subscription",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=80)
    parser.add_argument("--outage", type=float, default=120.0, help="seconds the receiver answers 503")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the catch-up")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "webhook-catchup.json"))
    args = parser.parse_args()
    result = asyncio.run(run(args.orders, args.outage, args.timeout))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
