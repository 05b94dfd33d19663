"""Alembic environment of the quality-check service."""

from xinren_qc.models import metadata
from xinren_shared.migrate import run_env

run_env(metadata)
