"""Scores as data: each indicator is a measure over observations in a rolling window, marked between a `worst` and
a `target` value; a score is the weighted mean of the marks on a 0-5 scale with two decimals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

from xinren_shared.contracts.trust import TrustSubject
from xinren_shared.contracts.vocabulary import TrustRight

MAX_SCORE = 5.0


class Measure(StrEnum):
    SHARE = "SHARE"  # Σnum / Σden: the share of bad outcomes (lower is better)
    GOOD_SHARE = "GOOD_SHARE"  # 1 - Σnum / Σden: the share of good outcomes (higher is better)
    MEAN = "MEAN"  # Σnum / Σden: a mean, e.g. hours to respond
    COUNT = "COUNT"  # Σnum: how many times it happened


@dataclass(frozen=True)
class IndicatorDef:
    """What an indicator measures; its numbers (weight, window, target) are settings."""

    name: str
    subject: TrustSubject
    measure: Measure
    description: str


INDICATORS: dict[str, IndicatorDef] = {
    d.name: d
    for d in (
        IndicatorDef(
            "on_time_shipment_rate", TrustSubject.SHOP, Measure.GOOD_SHARE, "orders shipped by their ship-by time"
        ),
        IndicatorDef("qc_pass_rate", TrustSubject.SHOP, Measure.GOOD_SHARE, "quality-check verdicts that passed"),
        IndicatorDef(
            "aftersales_rate", TrustSubject.SHOP, Measure.SHARE, "paid orders with a buyer's after-sales case"
        ),
        IndicatorDef("case_response_hours", TrustSubject.SHOP, Measure.MEAN, "hours to approve or reject a case"),
        IndicatorDef("arbitration_losses", TrustSubject.SHOP, Measure.COUNT, "cases the platform ruled against it"),
        IndicatorDef("counterfeit_findings", TrustSubject.SHOP, Measure.COUNT, "items the quality check found fake"),
        IndicatorDef(
            "host_aftersales_rate", TrustSubject.HOST, Measure.SHARE, "live-room orders with an after-sales case"
        ),
        IndicatorDef("host_counterfeit_rate", TrustSubject.HOST, Measure.SHARE, "live-room orders found counterfeit"),
        IndicatorDef(
            "product_quality_aftersales_rate",
            TrustSubject.PRODUCT,
            Measure.SHARE,
            "orders of the product with a quality, description or counterfeit case",
        ),
        IndicatorDef("product_qc_failures", TrustSubject.PRODUCT, Measure.COUNT, "quality-check failures"),
    )
}


class IndicatorSetting(BaseModel):
    """The numbers of one indicator: its share of the score, its rolling window, full marks at or beyond `target`,
    none at or beyond `worst` (linear between), and full marks while fewer than `min_count` observations exist."""

    weight: float = Field(ge=0)
    window_seconds: float = Field(gt=0)
    target: float
    worst: float
    min_count: int = Field(default=0, ge=0)


@dataclass(frozen=True)
class Sums:
    num: float = 0.0
    den: float = 0.0
    count: int = 0  # observations in the window


@dataclass(frozen=True)
class Explained:
    name: str
    value: float | None
    weight: float
    contribution: float


def value_of(measure: Measure, sums: Sums) -> float | None:
    if measure is Measure.COUNT:
        return sums.num
    if sums.den <= 0:
        return None if sums.num <= 0 else (0.0 if measure is Measure.GOOD_SHARE else 1.0)
    share = min(1.0, sums.num / sums.den) if measure is not Measure.MEAN else sums.num / sums.den
    return 1.0 - share if measure is Measure.GOOD_SHARE else share


def mark(value: float | None, setting: IndicatorSetting, count: int) -> float:
    """0..1: full marks without data or below the minimum count, else linear from worst (0) to target (1)."""
    if value is None or count < setting.min_count or setting.target == setting.worst:
        return 1.0
    return max(0.0, min(1.0, (value - setting.worst) / (setting.target - setting.worst)))


def explain(settings: Mapping[str, IndicatorSetting], sums: Mapping[str, Sums]) -> tuple[float, list[Explained]]:
    """The score (0-5, two decimals) and each indicator's value and contribution (contributions sum to the score,
    up to rounding)."""
    total_weight = sum(s.weight for s in settings.values()) or 1.0
    rows: list[Explained] = []
    score = 0.0
    for name, setting in settings.items():
        got = sums.get(name, Sums())
        value = value_of(INDICATORS[name].measure, got)
        contribution = MAX_SCORE * setting.weight / total_weight * mark(value, setting, got.count)
        score += contribution
        rows.append(Explained(name, None if value is None else round(value, 4), setting.weight, round(contribution, 2)))
    return round(score, 2), rows


def band_of(score: float, bands: Mapping[str, float]) -> str:
    """The highest band whose minimum the score reaches (bands: name -> minimum score)."""
    for name, minimum in sorted(bands.items(), key=lambda b: -b[1]):
        if score >= minimum:
            return name
    return min(bands.items(), key=lambda b: b[1])[0]


def rights_of(band: str, band_rights: Mapping[str, Sequence[TrustRight]]) -> list[TrustRight]:
    """The trust-card rights a shop in `band` may use (a band not listed: all of them)."""
    return sorted(band_rights.get(band, list(TrustRight)))
