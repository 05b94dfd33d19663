"""Database engine and sessions (SQLAlchemy async over asyncpg), one engine per service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .settings import to_async_url


def make_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout_seconds: float = 30.0,
    recycle_seconds: int = 1800,
) -> AsyncEngine:
    # No ping before every checkout (a round trip per request): connections are recycled after `recycle_seconds`,
    # and one that turns out dead is invalidated on its error so the next checkout opens a fresh one.
    return create_async_engine(
        to_async_url(database_url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        pool_recycle=recycle_seconds,
        pool_pre_ping=False,
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back on any exception."""
    async with factory() as session, session.begin():
        yield session
