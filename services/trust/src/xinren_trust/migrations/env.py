"""Alembic environment of the trust service."""

from xinren_shared.migrate import run_env
from xinren_trust.models import metadata

run_env(metadata)
