"""The settings base every service extends: one pydantic-settings class per service, built in create_app."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "xinren-dev-secret-do-not-use-in-production"
# Generous: they stop a runaway script, never a person or a partner's normal sync (admins are not limited).
DEFAULT_RATE_LIMITS = {
    "buyer": "6000/minute",
    "seller": "6000/minute",
    "host": "6000/minute",
    "warehouse": "6000/minute",
    "inspector": "6000/minute",
    "partner": "12000/minute",
}


class ServiceSettings(BaseSettings):
    """Common settings; a service subclass sets `model_config = service_config("XINREN_ORDER_")`."""

    model_config = SettingsConfigDict(env_prefix="XINREN_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    service_name: str = "xinren"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_partitions: int = 3
    # Replication of the topics a service creates. One local broker: 1 and 1; production clusters: 3 and 2, so an
    # acknowledged event (acks=all) is on two brokers before the outbox row is marked published.
    kafka_replication_factor: int = 1
    kafka_min_insync_replicas: int = 1
    jwt_secret: str = DEV_JWT_SECRET
    log_level: str = "INFO"
    # Tracing (xinren_shared.tracing): where spans go, as OTLP over HTTP (e.g. http://otel-collector:4318/v1/traces);
    # empty: nowhere (trace ids are still made, logged as correlation ids and passed on, but no span is recorded and
    # no exporter thread runs). Of the traces that start here, this share is recorded (a caller's decision is kept).
    otlp_endpoint: str = ""
    trace_sample_ratio: float = Field(default=1.0, ge=0, le=1)
    # Where clients reach this service (the OpenAPI document's `servers`); empty: relative to the document's host.
    public_url: str = ""
    max_body_bytes: int = 1_048_576
    run_migrations: bool = True
    # Background machinery; the app's tests turn these off when they drive a part by hand.
    run_relay: bool = True
    run_consumers: bool = True
    run_timers: bool = True
    relay_poll_seconds: float = 1.0
    # Under load the relay drains at most this often (a burst's commits go out together); idle, it goes at once.
    relay_min_interval_seconds: float = Field(default=0.01, ge=0)
    timer_poll_seconds: float = 1.0
    # Consistency checks (xinren_shared.consistency): how often they refresh their gauge (0: only on request), and
    # how old an unpublished outbox row or how late a timer must be to count as stuck.
    consistency_interval_seconds: float = Field(default=60.0, ge=0)
    consistency_outbox_bound_seconds: float = Field(default=60.0, gt=0)
    consistency_timer_bound_seconds: float = Field(default=120.0, gt=0)
    consumer_group: str = ""  # empty: xinren-<service>, shared by the service's replicas
    consumer_max_attempts: int = 5
    consumer_retry_base_seconds: float = 0.2
    consumer_batch_size: int = 100  # records of one partition handled in one transaction
    consumer_commit_interval_seconds: float = Field(default=1.0, ge=0)  # offsets committed at most this often
    # How long the broker may hold a fetch that finds nothing new (Kafka's fetch.max.wait.ms, default 500). A
    # partition whose records are being handled is left out of the fetch sent meanwhile; its next records then
    # wait for that fetch to come back, up to this long.
    consumer_fetch_max_wait_ms: int = Field(default=100, ge=1, le=500)
    # Housekeeping (xinren_shared.housekeeping): how long the infrastructure tables keep rows no longer needed, in
    # hours (0: forever), how often each worker sweeps (0: never) and how many rows one transaction deletes. The
    # inbox must keep its rows longer than the topics keep their records (Kafka's default: 7 days).
    housekeeping_interval_seconds: float = Field(default=300.0, ge=0)
    housekeeping_batch: int = Field(default=5_000, ge=1)
    outbox_retention_hours: float = Field(default=168.0, ge=0)  # published events
    inbox_retention_hours: float = Field(default=336.0, ge=0)  # ids of handled events
    timer_retention_hours: float = Field(default=168.0, ge=0)  # fired or cancelled timers
    idempotency_retention_hours: float = Field(default=168.0, ge=0)  # recorded answers to Idempotency-Keys
    exit_with_parent: bool = True  # a worker stops once its supervisor (uvicorn's main process) is gone
    # The garbage collector's thresholds once a worker has started and frozen what it holds (xinren_shared.gcpause):
    # the youngest generation collected after this many allocations (Python's default: 700), the older ones after
    # this many collections of the one below. As an environment variable, JSON: '[10000, 10, 10]'.
    gc_thresholds: tuple[int, int, int] = (10_000, 10, 10)
    # Load shedding: requests handled at once (0: no bound) and how long one may wait for a database connection;
    # beyond either, 503 with Retry-After at once instead of a 500 after a long wait.
    max_in_flight: int = 200
    # Connections kept open (pool) and opened beyond them under a burst (overflow, closed again when returned). All
    # are kept: an overflow connection costs a connect (a new server process) and prepares its statements anew just
    # when the database is slowest. When a stall of the disk held the commits back for a moment, the order service
    # opened and closed 30-90 of them, and its intake never caught up again (at 330 orders/s: p50 110-140 ms, p99
    # 0.8-1.2 s); with the same 30 connections kept, none was opened and the p99 stayed at 135-226 ms.
    db_pool_size: int = 30
    db_max_overflow: int = 0
    # Of those, opened as the process starts (before it reports ready), rather than under the first burst.
    db_pool_open_at_start: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = 5.0
    # Rate limits (xinren_shared.ratelimit): each role's budget, e.g. "6000/minute"; a role missing or "" is not
    # limited. Spent per token, a partner's per partner. Counted in each process: N replicas allow N times as much.
    # As an environment variable, JSON: XINREN_ORDER_RATE_LIMITS='{"buyer": "20/second"}' (replaces the whole map).
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # Test-only fault hook (honoured only with env=test): "POST /v1/orders" ends the process right after that
    # route's transaction committed, before it answers, as a kill -9 would.
    fault_crash_after_commit: str = ""

    @model_validator(mode="after")
    def _refuse_dev_secret_outside_dev(self) -> ServiceSettings:
        if self.env == "production" and (self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32):
            raise ValueError("a production service needs its own JWT secret of at least 32 characters")
        return self

    @field_validator("rate_limits")
    @classmethod
    def _readable_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        from .ratelimit import parse_rate_limits  # a bad budget fails at start-up, not at the first request

        parse_rate_limits(value)
        return value

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)


def service_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore")


def to_async_url(url: str) -> str:
    """postgresql://… → postgresql+asyncpg://… (SQLAlchemy's asyncpg dialect)."""
    for scheme in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+asyncpg://" + url[len(scheme) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def to_plain_url(url: str) -> str:
    """postgresql+asyncpg://… → postgresql://… (for asyncpg itself)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
