"""A small world for the backbone tests: a fresh database with the infrastructure tables and an `effect` table."""

from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from fastapi import APIRouter, FastAPI
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from xinren_shared.consistency import Check
from xinren_shared.db import make_engine, make_session_factory
from xinren_shared.kafka import make_producer
from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.settings import ServiceSettings
from xinren_shared.tables import InfraTables, define_infra_tables
from xinren_shared.web import build_app


@dataclass
class World:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tables: InfraTables
    effect: Table

    async def bump(self, session: AsyncSession, key: str) -> None:
        """The side effect a handler has: counts how often it ran for `key`."""
        stmt = insert(self.effect).values(key=key, n=1)
        await session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"n": self.effect.c.n + 1}))

    async def count(self, key: str) -> int:
        async with self.sessions() as s:
            return (await s.execute(select(self.effect.c.n).where(self.effect.c.key == key))).scalar() or 0

    async def rows(self, table: Table) -> int:
        async with self.sessions() as s:
            return (await s.execute(select(func.count()).select_from(table))).scalar()


@pytest_asyncio.fixture
async def world(make_database):
    url = await make_database("backbone")
    metadata = MetaData()
    tables = define_infra_tables(metadata)
    effect = Table("effect", metadata, Column("key", String, primary_key=True), Column("n", Integer, nullable=False))
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield World(url, engine, make_session_factory(engine), tables, effect)
    await engine.dispose()


@pytest_asyncio.fixture
async def producer(kafka_bootstrap):
    p = make_producer(kafka_bootstrap, "backbone-test")
    await p.start()
    yield p
    await p.stop()


def web_app(
    world: World,
    kafka_bootstrap: str,
    name: str,
    router: APIRouter,
    secret: str,
    messages_zh: dict[str, str] | None = None,
    checks: list[Check] | None = None,
    **settings: Any,
) -> FastAPI:
    """A service app on the shared web layer over this world's database: `router` plus health, errors, the command
    runner and the middlewares, with no relay, consumer or migrations."""
    values: dict[str, Any] = {"run_migrations": False, "run_relay": False, **settings}
    config = ServiceSettings(
        database_url=world.url, kafka_bootstrap_servers=kafka_bootstrap, jwt_secret=secret, **values
    )
    return build_app(
        config,
        ServiceRuntime(config, ServiceSpec(name, "xinren_shared", world.tables, checks=checks or [])),
        title=name,
        routers=[router],
        messages_zh=messages_zh,
    )
