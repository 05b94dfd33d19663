"""Alembic environment of the order service."""

from xinren_order.models import metadata
from xinren_shared.migrate import run_env

run_env(metadata)
