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
    # Strikes count as active (the strikes read) within this window. Suspension is the trust service's ladder now.
    strike_window_seconds: float = Field(default=90 * 86_400, gt=0)
    # A pass of a category with a checklist needs at least this many photos (uploaded evidence).
    min_pass_photos: int = Field(default=2, ge=0)
    # The seller may appeal a failure within this time of the verdict; the failure is final (qc.failed) after it.
    # 0: no appeals, failures are final at once.
    appeal_window_seconds: float = Field(default=48 * 3_600, ge=0)
    # Evidence: where the bytes go ("file:///path" or a path: the local filesystem; see README for S3) and the
    # largest upload accepted.
    evidence_store: str = ".run/evidence"
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # How often the warehouses' figures (queue, throughput, pass rate, time to verdict) are refreshed for /metrics,
    # and the window they are counted over.
    warehouse_metrics_seconds: float = Field(default=30, gt=0)
    warehouse_stats_window_seconds: float = Field(default=30 * 86_400, gt=0)

    @property
    def inbound_deadline(self) -> timedelta:
        return timedelta(seconds=self.inbound_deadline_seconds)

    @property
    def strike_window(self) -> timedelta:
        return timedelta(seconds=self.strike_window_seconds)

    @property
    def appeal_window(self) -> timedelta:
        return timedelta(seconds=self.appeal_window_seconds)
