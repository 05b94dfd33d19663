"""Settings of the order service (env prefix XINREN_ORDER_); every duration and rate of the rules is here."""

from pydantic import Field, model_validator

from xinren_shared.settings import ServiceSettings, service_config

from .domain import QcPolicy


class OrderSettings(ServiceSettings):
    model_config = service_config("XINREN_ORDER_")

    service_name: str = "order"
    port: int = 8001
    # The whole pool opened before the service reports ready (ServiceSettings opens 10): the order service takes a
    # flash sale's burst, and a pool still growing under it queues the first second's orders behind each new
    # connection. A fresh service offered 350 orders/s (2 workers, pools of 30), five alternated pairs of runs: in its
    # first second, p50 39-278 ms opened whole against 142-758 ms with 10 (lower in each pair; max 349-996 against
    # 556-2,015 ms).
    db_pool_open_at_start: int = Field(default=30, ge=0)

    # Timers (seconds).
    unpaid_timeout_seconds: float = 15 * 60
    # Auto-confirm after delivery: a delivery scan may bring auto-confirm this close, never push it later.
    auto_confirm_seconds: float = 10 * 24 * 3600
    # Auto-confirm after shipment to the buyer (direct, or the QC warehouse's dispatch): runs with no delivery scan.
    auto_confirm_after_shipment_seconds: float = 10 * 24 * 3600
    # A paid order that needs quality check and has no QC case announced after this long is reported as stuck
    # (GET /v1/admin/consistency), and a repair asks the quality-check service again.
    consistency_qc_case_bound_seconds: float = 600.0
    # What the buyer's one extension of the time to confirm receipt adds.
    receipt_extension_seconds: float = 3 * 24 * 3600
    fast_shipping_seconds: float = 48 * 3600
    # The time a seller has to ship after payment (ship_by); FAST_SHIPPING shops promise fast_shipping_seconds.
    ship_window_seconds: float = 72 * 3600

    # QC policy: these categories, and any item priced above the threshold, go through a QC warehouse.
    qc_categories: list[str] = Field(default_factory=lambda: ["jade", "jewellery", "antiques", "luxury"])
    qc_value_threshold_fen: int = Field(default=1_000_000, ge=0)  # ¥10,000
    # Warehouse routing hint per category (may be empty: the QC service picks the warehouse).
    qc_warehouse_by_category: dict[str, str] = Field(default_factory=dict)

    # Commission in basis points (1/100 of a percent). Platform: per category with a "default".
    platform_commission_bps: dict[str, int] = Field(
        default_factory=lambda: {"default": 500, "jade": 600, "jewellery": 600, "antiques": 600, "luxury": 400}
    )
    # Host commission: the rate a new cooperation gets when its seller names none (an order's host rate comes from
    # the cooperation that covers it, fixed on the order at creation). 300 = 3%.
    default_host_commission_bps: int = Field(default=300, ge=0, le=10_000)

    # How far in the future a partner's delivered_at may lie (clock skew).
    delivery_clock_skew_seconds: float = 300

    # Settlement (see settlement.py): on completion the seller's and the host's shares are held until the order's
    # after-sales window closes: 7 days for SEVEN_DAY_RETURN shops, the short window otherwise (0: available at once).
    settlement_hold_seconds: float = Field(default=7 * 24 * 3600, ge=0)
    settlement_hold_short_seconds: float = Field(default=24 * 3600, ge=0)
    # A hold that ends while an after-sales case is open is looked at again this much later.
    settlement_recheck_seconds: float = Field(default=3600, gt=0)
    # Payouts run once per period (its start names it: a second run in the same period pays nobody twice), each
    # available balance of at least the minimum; a failed send is retried, then its money returns to the balance.
    payout_period_seconds: float = Field(default=24 * 3600, gt=0)
    payout_minimum_fen: int = Field(default=100, ge=1)
    payout_max_attempts: int = Field(default=5, ge=1)
    payout_retry_seconds: float = Field(default=600, gt=0)
    # How often statements are reconciled with the ledger (xinren_settlement_reconciliation_difference_fen).
    reconciliation_interval_seconds: float = Field(default=24 * 3600, gt=0)

    def qc_policy(self) -> QcPolicy:
        return QcPolicy(frozenset(self.qc_categories), self.qc_value_threshold_fen, dict(self.qc_warehouse_by_category))

    @model_validator(mode="after")
    def _rates_fit(self) -> "OrderSettings":
        if "default" not in self.platform_commission_bps:
            raise ValueError("platform_commission_bps needs a 'default' rate")
        worst = max(self.platform_commission_bps.values()) + self.default_host_commission_bps
        if min(self.platform_commission_bps.values()) < 0 or worst > 10_000:
            raise ValueError("platform plus host commission must stay within 0..10000 bps")
        return self
