"""Each indicator's measure and mark, the weighted score and its explanation, bands and the rights they allow."""

import pytest

from xinren_shared.contracts.vocabulary import TrustRight
from xinren_trust import domain
from xinren_trust.domain import INDICATORS, IndicatorSetting, Measure, Sums
from xinren_trust.domain.scores import mark, value_of
from xinren_trust.settings import TrustSettings

SETTINGS = TrustSettings()
ALL = {**SETTINGS.shop_indicators, **SETTINGS.host_indicators, **SETTINGS.product_indicators}


def test_every_indicator_has_a_definition_and_default_settings():
    assert set(ALL) == set(INDICATORS)
    for subject_settings in (SETTINGS.shop_indicators, SETTINGS.host_indicators, SETTINGS.product_indicators):
        assert sum(s.weight for s in subject_settings.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "measure,sums,value",
    [
        (Measure.SHARE, Sums(1, 10, 11), 0.1),
        (Measure.SHARE, Sums(0, 0, 0), None),
        (Measure.SHARE, Sums(2, 0, 2), 1.0),  # cases seen before their orders: all bad, never more than 1
        (Measure.GOOD_SHARE, Sums(1, 4, 4), 0.75),
        (Measure.GOOD_SHARE, Sums(5, 4, 5), 0.0),
        (Measure.MEAN, Sums(30, 3, 3), 10.0),
        (Measure.COUNT, Sums(2, 0, 2), 2.0),
        (Measure.COUNT, Sums(0, 0, 0), 0.0),
    ],
)
def test_values(measure, sums, value):
    assert value_of(measure, sums) == (pytest.approx(value) if value is not None else None)


# name -> (sums giving full marks, sums giving none, sums in between and the expected mark)
CASES = {
    "on_time_shipment_rate": (Sums(0, 10, 10), Sums(5, 10, 10), (Sums(2, 12, 12), (1 - 2 / 12 - 0.70) / 0.25)),
    "qc_pass_rate": (Sums(0, 50, 50), Sums(3, 10, 10), (Sums(1, 10, 10), (0.9 - 0.8) / 0.18)),
    "aftersales_rate": (Sums(1, 100, 101), Sums(3, 10, 13), (Sums(1, 10, 11), (0.25 - 0.1) / 0.22)),
    "case_response_hours": (Sums(3, 3, 3), Sums(150, 3, 3), (Sums(78, 3, 3), (48 - 26) / 44)),
    "arbitration_losses": (Sums(0, 0, 0), Sums(3, 0, 3), (Sums(1, 0, 1), 2 / 3)),
    "counterfeit_findings": (Sums(0, 0, 0), Sums(2, 0, 2), (Sums(1, 0, 1), 0.5)),
    "host_aftersales_rate": (Sums(0, 20, 20), Sums(10, 20, 30), (Sums(2, 20, 22), (0.25 - 0.1) / 0.22)),
    "host_counterfeit_rate": (Sums(0, 20, 20), Sums(1, 20, 21), (Sums(1, 40, 41), 0.5)),
    "product_quality_aftersales_rate": (Sums(0, 9, 9), Sums(2, 9, 11), (Sums(1, 10, 11), (0.2 - 0.1) / 0.18)),
    "product_qc_failures": (Sums(0, 0, 0), Sums(3, 0, 3), (Sums(1, 0, 1), 2 / 3)),
}


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_each_indicator_marks_full_none_and_between(name):
    setting, measure = ALL[name], INDICATORS[name].measure
    full, none, (between, expected) = CASES[name]
    assert mark(value_of(measure, full), setting, full.count) == 1.0
    assert mark(value_of(measure, none), setting, none.count) == 0.0
    assert mark(value_of(measure, between), setting, between.count) == pytest.approx(expected)


def test_too_few_observations_keep_full_marks():
    setting = IndicatorSetting(weight=1, window_seconds=60, target=0.95, worst=0.7, min_count=5)
    assert mark(0.0, setting, 4) == 1.0 and mark(0.0, setting, 5) == 0.0


def test_score_is_the_weighted_sum_of_contributions_with_two_decimals():
    score, rows = domain.explain(SETTINGS.shop_indicators, {})
    assert score == 5.0 and all(r.value in (None, 0.0) for r in rows)
    sums = {"arbitration_losses": Sums(2, 0, 2), "on_time_shipment_rate": Sums(5, 10, 10)}
    score, rows = domain.explain(SETTINGS.shop_indicators, sums)
    by_name = {r.name: r for r in rows}
    assert by_name["on_time_shipment_rate"].contribution == 0.0 and by_name["on_time_shipment_rate"].value == 0.5
    assert by_name["arbitration_losses"].contribution == pytest.approx(round(5 * 0.20 / 3, 2))
    assert score == pytest.approx(5 - 1.25 - 5 * 0.2 * 2 / 3, abs=0.01)
    assert score == round(score, 2) and abs(sum(r.contribution for r in rows) - score) <= 0.03


@pytest.mark.parametrize(
    "score,band", [(5.0, "EXCELLENT"), (4.5, "EXCELLENT"), (4.49, "GOOD"), (3.0, "FAIR"), (0.0, "POOR")]
)
def test_bands(score, band):
    assert domain.band_of(score, SETTINGS.bands) == band


def test_fast_refund_only_in_the_top_band():
    assert TrustRight.FAST_REFUND in domain.rights_of("EXCELLENT", SETTINGS.band_rights)
    for band in ("GOOD", "FAIR", "POOR"):
        assert TrustRight.FAST_REFUND not in domain.rights_of(band, SETTINGS.band_rights)
    assert TrustRight.SEVEN_DAY_RETURN in domain.rights_of("POOR", SETTINGS.band_rights)
