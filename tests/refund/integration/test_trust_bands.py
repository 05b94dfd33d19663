"""The shop's trust band (trust.score_changed, played here as the trust service would publish it) decides whether
FAST_REFUND still applies: a band that does not allow it sends the request to the seller's review; no band known
keeps today's behaviour (tests/refund/integration/test_cases.py); a late, older band changes nothing."""

import dataclasses
from datetime import UTC, datetime, timedelta

from xinren_shared.contracts.trust import TrustScoreChanged, TrustSubject
from xinren_shared.contracts.vocabulary import TrustRight as TR
from xinren_shared.events import Envelope

from ..support import eventually, open_case, place_order

TRUST = "/xinren/trust"
GOOD = [TR.SEVEN_DAY_RETURN, TR.REFUND_WITHOUT_RETURN, TR.RETURN_SHIPPING_SUBSIDY, TR.FAKE_ONE_PAY_TEN]
EXCELLENT = [*GOOD, TR.FAST_REFUND]


def band(shop_id: str, name: str, rights: list[TR], *, at: datetime) -> Envelope:
    event = TrustScoreChanged(
        subject_kind=TrustSubject.SHOP, subject_id=shop_id, shop_id=shop_id, score=4.2, band=name, rights=rights
    )
    return dataclasses.replace(Envelope.of(event, TRUST), time=at)


async def test_fast_refund_only_while_the_shops_band_allows_it(refund, publish):
    order = await place_order(
        refund, publish, paid_fen=50_000, rights=[TR.FAST_REFUND], delivered_at=datetime.now(UTC) - timedelta(days=1)
    )
    now = datetime.now(UTC)
    [dropped] = await publish(band(order.shop_id, "GOOD", GOOD, at=now))
    await eventually(lambda: refund.handled(dropped.id), what="the GOOD band stored")
    reviewed = await open_case(refund, order, type="REFUND_ONLY", reason="QUALITY_ISSUE", amount_fen=3_000)
    assert (reviewed["status"], reviewed["rules_applied"]) == ("REQUESTED", [])

    # Back in the top band: fast again. A GOOD band from before it, arriving late, does not take it away.
    back = band(order.shop_id, "EXCELLENT", EXCELLENT, at=now + timedelta(seconds=1))
    stale = band(order.shop_id, "GOOD", GOOD, at=now + timedelta(milliseconds=500))
    [_, late] = await publish(back, stale)
    await eventually(lambda: refund.handled(late.id), what="the late band handled")
    fast = await open_case(refund, order, type="REFUND_ONLY", reason="QUALITY_ISSUE", amount_fen=3_000)
    assert fast["status"] in ("REFUNDING", "APPROVED") and fast["rules_applied"] == ["FAST_REFUND"], fast


async def test_a_hosts_band_and_a_shop_without_the_right_change_nothing(refund, publish):
    order = await place_order(refund, publish, paid_fen=50_000, delivered_at=datetime.now(UTC) - timedelta(days=1))
    host = TrustScoreChanged(subject_kind=TrustSubject.HOST, subject_id=order.shop_id, score=1.0, band="POOR")
    [first, second] = await publish(host, band(order.shop_id, "EXCELLENT", EXCELLENT, at=datetime.now(UTC)))
    await eventually(lambda: refund.handled(second.id), what="the bands handled")
    assert await refund.handled(first.id)
    # The band allows FAST_REFUND, but the order does not carry the shop's right: the seller reviews.
    case = await open_case(refund, order, type="REFUND_ONLY", reason="QUALITY_ISSUE", amount_fen=3_000)
    assert (case["status"], case["rules_applied"]) == ("REQUESTED", [])
