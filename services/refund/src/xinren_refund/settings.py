"""Settings of the refund service (env prefix XINREN_REFUND_)."""

from xinren_shared.settings import ServiceSettings, service_config


class RefundSettings(ServiceSettings):
    model_config = service_config("XINREN_REFUND_")

    service_name: str = "refund"
    port: int = 8002
