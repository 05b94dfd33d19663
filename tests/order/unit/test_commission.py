"""Pure rules of host commission: cooperation status, which cooperation covers a sku, the order's rate, clawbacks."""

import pytest

from xinren_order import commission
from xinren_order.commission import CooperationStatus as C
from xinren_order.commission import ReleasedShares, Terms
from xinren_shared.errors import IllegalTransition

SHOP_WIDE = Terms("coop_shop", 300, None)
JADE = Terms("coop_jade", 800, frozenset({"jade_1", "jade_2"}))


@pytest.mark.parametrize("current,target", commission.COOPERATION.pairs(), ids=lambda s: s.value)
def test_every_cooperation_pair(current, target):
    allowed = (current, target) == (C.ACTIVE, C.ENDED)
    assert commission.COOPERATION.can(current, target) is allowed
    if allowed:
        assert commission.COOPERATION.move(current, target) is True
    elif current is target:
        assert commission.COOPERATION.move(current, target) is False  # ending an ended one changes nothing
    else:
        with pytest.raises(IllegalTransition):
            commission.COOPERATION.move(current, target)


def test_a_per_sku_cooperation_wins_over_a_shop_wide_one():
    assert commission.covering([SHOP_WIDE, JADE], ["jade_1", "tea"]) == {"jade_1": JADE, "tea": SHOP_WIDE}
    assert commission.covering([JADE, SHOP_WIDE], ["jade_2"]) == {"jade_2": JADE}
    # Without a shop-wide cooperation, a sku the per-sku ones do not name is not covered.
    assert commission.covering([JADE], ["jade_1", "tea"]) == {"jade_1": JADE}
    assert commission.covering([], ["tea"]) == {}


def test_overlapping_cooperations():
    assert commission.overlaps(None, [SHOP_WIDE]) is SHOP_WIDE
    assert commission.overlaps(None, [JADE]) is None
    assert commission.overlaps(frozenset({"jade_2", "x"}), [SHOP_WIDE, JADE]) is JADE
    assert commission.overlaps(frozenset({"x"}), [SHOP_WIDE, JADE]) is None


def test_the_order_rate():
    assert commission.order_rate_bps([]) == 0
    assert commission.order_rate_bps([(100, 300), (900, 300)]) == 300
    assert commission.order_rate_bps([(3_000, 800), (1_000, 300)]) == 675
    assert commission.order_rate_bps([(1, 800), (2, 300)]) == 466  # 1400/3, rounded down


def test_the_host_rate_is_bounded_by_the_highest_platform_rate():
    assert commission.max_host_bps({"default": 500, "jade": 600}) == 9_400


SHARES = ReleasedShares(released_fen=10_000, platform_fen=500, host_fen=1_001)


@pytest.mark.parametrize(
    "amounts",
    [[10_000], [5_000, 5_000], [3_333, 3_333, 3_334], [1, 1, 1, 9_997], [7, 9_000], [9_999, 1]],
)
def test_clawbacks_over_several_refunds_add_up_to_one_refund_of_their_sum(amounts):
    shares, took = SHARES, []
    for amount in amounts:
        platform, host = commission.clawback(shares, amount)
        assert 0 <= platform <= amount and 0 <= host <= amount - platform
        took.append((platform, host))
        shares = ReleasedShares(
            released_fen=shares.released_fen,
            platform_fen=shares.platform_fen,
            host_fen=shares.host_fen,
            platform_clawed_fen=shares.platform_clawed_fen + platform,
            host_clawed_fen=shares.host_clawed_fen + host,
            refunded_after_release_fen=shares.refunded_after_release_fen + amount,
        )
    refunded = sum(amounts)
    assert shares.platform_clawed_fen == refunded * 500 // 10_000
    assert shares.platform_clawed_fen + shares.host_clawed_fen == refunded * 1_501 // 10_000
    assert shares.host_clawed_fen >= refunded * 1_001 // 10_000
    if refunded == 10_000:  # refunded in full: every fen of commission went back
        assert (shares.platform_clawed_fen, shares.host_clawed_fen) == (500, 1_001)


def test_clawback_examples_and_bounds():
    assert commission.clawback(SHARES, 3_000) == (150, 300)  # 450.3 rounded down: the seller's part carries .3
    assert commission.clawback(ReleasedShares(), 3_000) == (0, 0)  # never released
    # Never more than the order paid, even asked for more than was released.
    assert commission.clawback(SHARES, 50_000) == (500, 1_001)
    clawed = ReleasedShares(10_000, 500, 1_001, 500, 1_001, 10_000)
    assert commission.clawback(clawed, 100) == (0, 0)
