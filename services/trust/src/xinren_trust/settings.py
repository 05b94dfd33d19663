"""Settings of the trust service (env prefix XINREN_TRUST_): every indicator, band and ladder step is data here.

As environment variables the maps are JSON and replace the whole map, e.g.
XINREN_TRUST_SHOP_LADDERS='{"COUNTERFEIT": {"window_seconds": 60, "steps": [{"at": 1, "action": "WARNING"}]}}'.
"""

from pydantic import Field

from xinren_shared.contracts.trust import ActionKind as K
from xinren_shared.contracts.trust import Violation
from xinren_shared.contracts.vocabulary import TrustRight as R
from xinren_shared.settings import ServiceSettings, service_config

from .domain import IndicatorSetting, LadderSetting, StepSetting

DAY = 86_400.0


def _i(weight: float, days: float, target: float, worst: float, min_count: int = 0) -> IndicatorSetting:
    return IndicatorSetting(weight=weight, window_seconds=days * DAY, target=target, worst=worst, min_count=min_count)


def _ladder(days: float, *steps: tuple[int, K, int]) -> LadderSetting:
    return LadderSetting(
        window_seconds=days * DAY, steps=[StepSetting(at=at, action=a, fine_fen=fen) for at, a, fen in steps]
    )


def _shop_indicators() -> dict[str, IndicatorSetting]:
    return {
        # Higher is better: full marks at 95 % on time, none at 70 % (at least 5 shipments in 90 days to count).
        "on_time_shipment_rate": _i(0.25, 90, 0.95, 0.70, 5),
        "qc_pass_rate": _i(0.15, 90, 0.98, 0.80, 3),
        # Lower is better: full marks at 3 % of paid orders with a buyer's case, none at 25 %.
        "aftersales_rate": _i(0.15, 90, 0.03, 0.25, 5),
        "case_response_hours": _i(0.10, 30, 4, 48, 3),
        # Counts: full marks at none, no marks at 3 lost arbitrations (90 days) or 2 counterfeits (365 days).
        "arbitration_losses": _i(0.20, 90, 0, 3),
        "counterfeit_findings": _i(0.15, 365, 0, 2),
    }


def _host_indicators() -> dict[str, IndicatorSetting]:
    return {
        "host_aftersales_rate": _i(0.5, 90, 0.03, 0.25, 5),
        "host_counterfeit_rate": _i(0.5, 365, 0.0, 0.05, 5),
    }


def _product_indicators() -> dict[str, IndicatorSetting]:
    return {
        "product_quality_aftersales_rate": _i(0.6, 90, 0.02, 0.20, 5),
        "product_qc_failures": _i(0.4, 180, 0, 3),
    }


def _shop_ladders() -> dict[Violation, LadderSetting]:
    return {
        # A reinstated shop keeps its count: the 4th counterfeit suspends it again, the 5th closes it.
        Violation.COUNTERFEIT: _ladder(
            365, (1, K.WARNING, 0), (2, K.FINE, 200_000), (3, K.SUSPENSION, 0), (4, K.SUSPENSION, 0), (5, K.CLOSURE, 0)
        ),
        Violation.FALSE_PROMISE: _ladder(
            90,
            (1, K.WARNING, 0),
            (3, K.FINE, 50_000),
            (5, K.TRAFFIC_LIMIT, 0),
            (8, K.SUSPENSION, 0),
            (12, K.CLOSURE, 0),
        ),
        Violation.QC_EXPIRED: _ladder(
            90, (1, K.WARNING, 0), (3, K.FINE, 20_000), (5, K.TRAFFIC_LIMIT, 0), (8, K.SUSPENSION, 0)
        ),
        Violation.ARBITRATION_LOST: _ladder(
            90, (2, K.WARNING, 0), (4, K.FINE, 20_000), (6, K.TRAFFIC_LIMIT, 0), (10, K.SUSPENSION, 0)
        ),
    }


def _host_ladders() -> dict[Violation, LadderSetting]:
    # Hosts have no deposit: their ladder has no fines.
    return {
        Violation.COUNTERFEIT: _ladder(365, (1, K.WARNING, 0), (2, K.TRAFFIC_LIMIT, 0), (3, K.SUSPENSION, 0)),
    }


def _band_rights() -> dict[str, list[R]]:
    def without(*taken: R) -> list[R]:
        return [r for r in R if r not in taken]

    return {
        "GOOD": without(R.FAST_REFUND),
        "FAIR": without(R.FAST_REFUND, R.REFUND_WITHOUT_RETURN),
        "POOR": without(R.FAST_REFUND, R.REFUND_WITHOUT_RETURN, R.RETURN_SHIPPING_SUBSIDY),
    }


class TrustSettings(ServiceSettings):
    model_config = service_config("XINREN_TRUST_")

    service_name: str = "trust"
    port: int = 8005

    # Indicators per subject: name -> weight, window, target, worst, min_count (domain/scores.py says what each
    # measures). An indicator left out of a map does not count.
    shop_indicators: dict[str, IndicatorSetting] = Field(default_factory=_shop_indicators)
    host_indicators: dict[str, IndicatorSetting] = Field(default_factory=_host_indicators)
    product_indicators: dict[str, IndicatorSetting] = Field(default_factory=_product_indicators)
    # Bands: name -> the minimum score (0-5) of the band; every score falls in the highest band it reaches.
    bands: dict[str, float] = Field(default_factory=lambda: {"EXCELLENT": 4.5, "GOOD": 4.0, "FAIR": 3.0, "POOR": 0.0})
    # The trust-card rights a shop of each band may use (a band not listed: all). FAST_REFUND only in the top band.
    band_rights: dict[str, list[R]] = Field(default_factory=_band_rights)
    # The enforcement ladder per violation kind, for shops and for hosts (steps: at the n-th violation within the
    # window, an action; beyond the last step the last step again).
    shop_ladders: dict[Violation, LadderSetting] = Field(default_factory=_shop_ladders)
    host_ladders: dict[Violation, LadderSetting] = Field(default_factory=_host_ladders)
    # A seller or host may appeal an action within this time of it.
    appeal_window_seconds: float = Field(default=15 * DAY, gt=0)
