"""Alembic, one history per service: applied on start under an advisory lock, and a small CLI for developers.

A service keeps its history in `<package>/migrations/` with an env.py that calls `run_env(metadata)`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
from pathlib import Path
from typing import cast

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from .settings import to_async_url

# Any constant will do, so long as every replica of every service uses the same one for its own database.
_MIGRATION_LOCK = 7_301_994


def alembic_config(package: str, database_url: str) -> Config:
    location = Path(cast(str, importlib.import_module(package).__file__)).parent / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(package, database_url), revision)


async def upgrade_async(package: str, database_url: str) -> None:
    # env.py runs its own event loop, so Alembic goes to a worker thread.
    await asyncio.to_thread(upgrade, package, database_url)


def run_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    config = context.config
    url = config.attributes.get("database_url") or os.environ["DATABASE_URL"]

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            context.run_migrations()

    async def online() -> None:
        engine = create_async_engine(to_async_url(url))
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(online())


def main(argv: list[str] | None = None) -> None:
    """`python -m xinren_shared.migrate xinren_order revision -m "add x"` (autogenerates) or `... upgrade`."""
    parser = argparse.ArgumentParser(description="Alembic for one Xinren service.")
    parser.add_argument("package")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision")
    rev.add_argument("-m", "--message", required=True)
    sub.add_parser("upgrade")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    cfg = alembic_config(args.package, url)
    if args.cmd == "revision":
        command.revision(cfg, message=args.message, autogenerate=True)
    else:
        command.upgrade(cfg, "head")


if __name__ == "__main__":
    main()
