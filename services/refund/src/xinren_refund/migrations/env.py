"""Alembic environment of the refund service."""

from xinren_refund.models import metadata
from xinren_shared.migrate import run_env

run_env(metadata)
