"""Settings of the quality-check service (env prefix XINREN_QC_)."""

from xinren_shared.settings import ServiceSettings, service_config


class QcSettings(ServiceSettings):
    model_config = service_config("XINREN_QC_")

    service_name: str = "qc"
    port: int = 8003
