"""Settings of the quality-check service (env prefix XINREN_QC_)."""

from datetime import timedelta

from pydantic import Field, SecretStr

from xinren_shared.settings import ServiceSettings, service_config

from .storage import S3Settings


class QcSettings(ServiceSettings):
    model_config = service_config("XINREN_QC_")

    service_name: str = "qc"
    port: int = 8003
    # The seller's inbound shipment must reach the warehouse within this time of the case's routing.
    inbound_deadline_seconds: float = Field(default=5 * 86_400, gt=0)
    # An exchange's or reship's replacement of a QC product (already shipped by the seller when the case opens) must
    # reach the warehouse within this time; else the case expires and the refund service's case goes to the platform.
    replacement_inbound_deadline_seconds: float = Field(default=5 * 86_400, gt=0)
    # Strikes count as active (the strikes read) within this window. Suspension is the trust service's ladder now.
    strike_window_seconds: float = Field(default=90 * 86_400, gt=0)
    # A pass of a category with a checklist needs at least this many photos (uploaded evidence).
    min_pass_photos: int = Field(default=2, ge=0)
    # The seller may appeal a failure within this time of the verdict; the failure is final (qc.failed) after it.
    # 0: no appeals, failures are final at once.
    appeal_window_seconds: float = Field(default=48 * 3_600, ge=0)
    # Evidence: where the bytes go (a path or "file:///path": the local filesystem; "s3://bucket/prefix": an
    # S3-compatible object store, the production option) and the largest upload accepted.
    evidence_store: str = ".run/evidence"
    # The S3-compatible store: its endpoint (None: AWS S3 of the region), region, bucket addressing in the path
    # (MinIO, most self-hosted stores) and the time a call may take. Credentials come from the environment: these
    # two (XINREN_QC_EVIDENCE_S3_ACCESS_KEY_ID / _SECRET_ACCESS_KEY, e.g. from a secret), or when unset boto3's
    # own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an instance or pod role).
    evidence_s3_endpoint_url: str | None = None
    evidence_s3_region: str = "us-east-1"
    evidence_s3_path_style: bool = False
    evidence_s3_timeout_seconds: float = Field(default=10, gt=0)
    evidence_s3_access_key_id: str | None = None
    evidence_s3_secret_access_key: SecretStr | None = None
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # How often the warehouses' figures (queue, throughput, pass rate, time to verdict) are refreshed for /metrics,
    # and the window they are counted over.
    warehouse_metrics_seconds: float = Field(default=30, gt=0)
    warehouse_stats_window_seconds: float = Field(default=30 * 86_400, gt=0)

    @property
    def evidence_s3(self) -> S3Settings:
        secret = self.evidence_s3_secret_access_key
        return S3Settings(
            endpoint_url=self.evidence_s3_endpoint_url,
            region=self.evidence_s3_region,
            access_key_id=self.evidence_s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            path_style=self.evidence_s3_path_style,
            timeout_seconds=self.evidence_s3_timeout_seconds,
        )

    @property
    def inbound_deadline(self) -> timedelta:
        return timedelta(seconds=self.inbound_deadline_seconds)

    @property
    def replacement_inbound_deadline(self) -> timedelta:
        return timedelta(seconds=self.replacement_inbound_deadline_seconds)

    @property
    def strike_window(self) -> timedelta:
        return timedelta(seconds=self.strike_window_seconds)

    @property
    def appeal_window(self) -> timedelta:
        return timedelta(seconds=self.appeal_window_seconds)
