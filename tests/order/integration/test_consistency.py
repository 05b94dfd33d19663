"""The order service's consistency check: a paid QC order whose case was never announced is found (report, gauge and
the xinren-check command) and repaired by asking the quality-check service again with order.paid."""

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.order.conftest import SECRET, Driver, admin, order_settings, uid
from xinren_order.app import create_app
from xinren_shared.testing.http import serve


async def test_a_qc_order_without_its_case_is_found_and_the_quality_check_asked_again(
    make_database, kafka_bootstrap, event_collector
):
    url = await make_database("order_consistency")
    settings = order_settings(url, kafka_bootstrap, consistency_qc_case_bound_seconds=0, consistency_interval_seconds=0)
    app = create_app(settings)
    async with serve(app) as client:
        api = Driver(client, app)
        shop = await api.shop()
        sku = await api.product(shop, category="jade", price_fen=6_000_000, stock=2)
        order = await api.paid_order(shop, sku, uid("u"))
        oid = order["order_id"]  # no quality-check service runs here: its case is never announced

        report = (await client.get("/v1/admin/consistency", headers=admin())).json()
        assert report["counts"]["qc_case_missing"] >= 1 and not report["ok"]
        [finding] = [f for f in report["findings"] if f["subject"] == oid]
        assert finding["check"] == "qc_case_missing" and finding["repairable"] is True

        # The command line sees the same from the service's own settings.
        env = {
            **os.environ,
            "XINREN_ORDER_DATABASE_URL": url,
            "XINREN_ORDER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "XINREN_ORDER_JWT_SECRET": SECRET,
            "XINREN_ORDER_ENV": "test",
            "XINREN_ORDER_CONSISTENCY_QC_CASE_BOUND_SECONDS": "0",
        }
        cli = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "xinren-check"), "order", "--json",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await cli.communicate()
        assert cli.returncode == 1, err.decode()[-2000:]
        assert oid in {f["subject"] for f in json.loads(out)["findings"]}

        paid_events = lambda e: e.key == oid and e.type == "xinren.order.paid"  # noqa: E731
        await event_collector.wait_for(paid_events)
        repaired = (await client.post("/v1/admin/consistency/repair", headers=admin())).json()
        assert {
            "check": "qc_case_missing",
            "subject": oid,
            "done": "order.paid published again for the quality-check service",
        } in repaired["repaired"]
        first, again = await event_collector.wait_for(paid_events, count=2)
        assert again.id != first.id and again.data == {**first.data, "reask": True}
