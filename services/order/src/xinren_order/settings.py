"""Settings of the order service (env prefix XINREN_ORDER_)."""

from xinren_shared.settings import ServiceSettings, service_config


class OrderSettings(ServiceSettings):
    model_config = service_config("XINREN_ORDER_")

    service_name: str = "order"
    port: int = 8001
