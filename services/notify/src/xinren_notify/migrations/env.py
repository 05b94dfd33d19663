"""Alembic environment of the notify service."""

from xinren_notify.models import metadata
from xinren_shared.migrate import run_env

run_env(metadata)
