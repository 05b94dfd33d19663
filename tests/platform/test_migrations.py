"""Each service's Alembic history, applied to an empty database, gives exactly the tables its models declare, and
goes back down to the first revision and up again."""

import asyncio

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
from xinren_shared.settings import to_async_url
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
