"""Settings of the quality-check service (env prefix XINREN_QC_)."""

from datetime import timedelta

from pydantic import Field

from xinren_shared.settings import ServiceSettings, service_config


class QcSettings(ServiceSettings):
    model_config = service_config("XINREN_QC_")

    service_name: str = "qc"
    port: int = 8003
    # The seller's inbound shipment must reach the warehouse within this time of the case's routing.
    inbound_deadline_seconds: float = Field(default=5 * 86_400, gt=0)
    # Seller enforcement (匹诺曹): this many strikes within the window suspend the shop.
    strike_threshold: int = Field(default=3, ge=1)
    strike_window_seconds: float = Field(default=90 * 86_400, gt=0)

    @property
    def inbound_deadline(self) -> timedelta:
        return timedelta(seconds=self.inbound_deadline_seconds)

    @property
    def strike_window(self) -> timedelta:
        return timedelta(seconds=self.strike_window_seconds)
