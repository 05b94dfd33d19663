"""Settings of the notify service (env prefix XINREN_NOTIFY_)."""

from xinren_shared.settings import ServiceSettings, service_config


class NotifySettings(ServiceSettings):
    model_config = service_config("XINREN_NOTIFY_")

    service_name: str = "notify"
    port: int = 8004
    # Outgoing webhooks never reach private or loopback addresses unless this allows it (tests, a dev machine).
    webhook_allow_private: bool = False
