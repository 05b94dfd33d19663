"""Settings of the notify service (env prefix XINREN_NOTIFY_)."""

from pydantic import model_validator

from xinren_shared.settings import ServiceSettings, service_config


class NotifySettings(ServiceSettings):
    model_config = service_config("XINREN_NOTIFY_")

    service_name: str = "notify"
    port: int = 8004

    # Live stream: keep-alive comments, and a poll that backs up LISTEN/NOTIFY should the listener be reconnecting.
    sse_ping_seconds: float = 15.0
    sse_poll_seconds: float = 5.0
    sse_batch_size: int = 100
    listener_reconnect_seconds: float = 1.0

    # Webhooks (Standard Webhooks). Outgoing calls never reach private or loopback addresses unless this allows it
    # (tests, a developer's machine).
    webhook_allow_private: bool = False
    webhook_require_https: bool = False
    # Key the per-subscription signing secrets are derived from (HMAC-SHA256); empty: derived from jwt_secret.
    webhook_secret_key: str = ""
    webhook_timeout_seconds: float = 10.0
    # Back-off after the n-th failure: first_retry * factor**(n-1), capped, +- jitter; retries stop (DEAD) once
    # the next attempt would fall beyond retry_window after the first attempt.
    webhook_first_retry_seconds: float = 5.0
    webhook_backoff_factor: float = 4.0
    webhook_max_backoff_seconds: float = 6 * 3600.0
    webhook_backoff_jitter: float = 0.1
    webhook_retry_window_seconds: float = 24 * 3600.0
    webhook_workers: int = 4
    webhook_poll_seconds: float = 1.0
    # The create response (with the secret) is kept for Idempotency-Key replays this long, then forgotten.
    webhook_secret_replay_seconds: float = 3600.0
    webhook_max_per_owner: int = 50
    # Recovery: while a subscription is FAILING, its oldest waiting delivery is tried again this often (a real,
    # signed delivery serves as the probe), so a receiver that is back is noticed within seconds, not at the next
    # back-off step. The same loop disables subscriptions failing for the whole retry window and refreshes the
    # backlog metrics.
    webhook_probe_seconds: float = 10.0
    # When a FAILING subscription answers again, its whole backlog becomes due at once, paced to this many
    # deliveries per second for that subscription so that a recovering receiver is not flooded.
    webhook_catchup_per_second: float = 100.0
    run_webhook_workers: bool = True

    @model_validator(mode="after")
    def _check_webhook_settings(self) -> "NotifySettings":
        if self.env == "production" and self.webhook_secret_key and len(self.webhook_secret_key) < 32:
            raise ValueError("webhook_secret_key needs at least 32 characters in production")
        if self.webhook_first_retry_seconds <= 0 or self.webhook_backoff_factor < 1:
            raise ValueError("webhook back-off must start above 0 and never shrink")
        if self.webhook_probe_seconds <= 0 or self.webhook_catchup_per_second <= 0:
            raise ValueError("webhook_probe_seconds and webhook_catchup_per_second must be above 0")
        if self.webhook_workers < 1:
            raise ValueError("webhook_workers must be at least 1")
        return self
