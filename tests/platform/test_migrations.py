"""Each service's Alembic history, applied to an empty database, gives exactly the tables its models declare, and
goes back down to the first revision and up again."""

import asyncio

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from xinren_notify.models import metadata as notify_metadata
from xinren_order.models import metadata as order_metadata
from xinren_qc.models import metadata as qc_metadata
from xinren_refund.models import metadata as refund_metadata
from xinren_shared import migrate
from xinren_shared.settings import to_async_url, to_plain_url
from xinren_trust.models import metadata as trust_metadata

SERVICES = {
    "xinren_order": order_metadata,
    "xinren_refund": refund_metadata,
    "xinren_qc": qc_metadata,
    "xinren_notify": notify_metadata,
    "xinren_trust": trust_metadata,
}


async def _drift(url: str, metadata: MetaData) -> list[object]:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize("package", SERVICES)
async def test_the_migrations_build_what_the_models_declare(package, make_database):
    url = await make_database(f"migrations_{package}")
    await migrate.upgrade_async(package, url)
    assert await _drift(url, SERVICES[package]) == []


@pytest.mark.parametrize("package", SERVICES)
async def test_the_latest_migration_goes_down_and_up_again(package, make_database):
    url = await make_database(f"migrations_down_{package}")
    await migrate.upgrade_async(package, url)
    config = migrate.alembic_config(package, url)
    await asyncio.to_thread(command.downgrade, config, "0002")
    await migrate.upgrade_async(package, url)
    assert await _drift(url, SERVICES[package]) == []


async def test_the_order_stock_moves_into_buckets_and_back(make_database):
    """Migration 0014 spreads each product's stock over its buckets (the remainder to the first ones), and going
    back sums them into the product again: no unit is lost either way."""
    url = await make_database("migrations_stock_buckets")
    config = migrate.alembic_config("xinren_order", url)
    await asyncio.to_thread(command.upgrade, config, "0013")
    conn = await asyncpg.connect(to_plain_url(url))
    try:
        await conn.execute(
            "INSERT INTO shop (shop_id, name, trust_rights, status, strikes, guarantee_debt_fen) "
            "VALUES ('s1', 'Shop', '[]', 'ACTIVE', 0, 0)"
        )
        await conn.executemany(
            "INSERT INTO product (sku_id, shop_id, title, category, price_fen, stock_available, qc_required) "
            "VALUES ($1, 's1', 'Item', 'snacks', 100, $2, false)",
            [("a", 13), ("b", 0), ("c", 3)],
        )
        await migrate.upgrade_async("xinren_order", url)
        rows = await conn.fetch(
            "SELECT sku_id, array_agg(available ORDER BY bucket) AS b FROM product_stock GROUP BY 1"
        )
        assert {r["sku_id"]: r["b"] for r in rows} == {
            "a": [2, 2, 2, 2, 2, 1, 1, 1],
            "b": [0] * 8,
            "c": [1, 1, 1, 0, 0, 0, 0, 0],
        }
        await conn.execute("UPDATE product_stock SET available = available + 1 WHERE sku_id = 'b' AND bucket = 6")
        await asyncio.to_thread(command.downgrade, config, "0013")
        rows = await conn.fetch("SELECT sku_id, stock_available FROM product ORDER BY sku_id")
        assert [(r["sku_id"], r["stock_available"]) for r in rows] == [("a", 13), ("b", 1), ("c", 3)]
    finally:
        await conn.close()
