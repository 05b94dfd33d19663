"""Statement rules: shares that always sum exactly, the figures of each kind of transaction, and payout periods."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from xinren_order.statement_rules import (
    Figures,
    LineWeights,
    Party,
    Posting,
    allocate,
    figures_of,
    order_lines,
    period_of,
)

SHOP, HOST = Party("SHOP", "s1"), Party("HOST", "h1")


@given(st.integers(-(10**9), 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=8))
def test_allocation_sums_exactly_and_follows_the_weights(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total and len(parts) == len(weights)
    if sum(weights):
        for part, w in zip(parts, weights, strict=True):
            assert abs(part - total * w / sum(weights)) < 1 or w == 0 and part == 0


def release_then_hold_refund() -> list[Posting]:
    return [
        Posting(1, "RELEASE", "escrow:o1", -10_000),
        Posting(1, "RELEASE", "platform:commission", 500),
        Posting(1, "RELEASE", "host_pending:h1", 1_000),
        Posting(1, "RELEASE", "seller_pending:s1", 8_500),
        # 2,000 refunded during the hold: the commission on it back, the rest from the seller's pending share.
        Posting(2, "REFUND", "platform:commission", -100),
        Posting(2, "REFUND", "host_pending:h1", -200),
        Posting(2, "REFUND", "seller_pending:s1", -1_700),
        Posting(2, "REFUND", "external:payouts", 2_000),
        Posting(3, "HOLD_RELEASE", "seller_pending:s1", -6_800),
        Posting(3, "HOLD_RELEASE", "seller:s1", 6_800),
        Posting(3, "HOLD_RELEASE", "host_pending:h1", -800),
        Posting(3, "HOLD_RELEASE", "host:h1", 800),
    ]


def test_a_shop_line_sums_to_what_became_available():
    f = figures_of(SHOP, release_then_hold_refund())
    assert f == Figures(gross_fen=10_000, platform_commission_fen=400, host_commission_fen=800, refunds_fen=2_000)
    assert f.payout("SHOP") == 6_800


def test_a_host_line_is_its_commission_less_what_was_taken_back():
    f = figures_of(HOST, release_then_hold_refund())
    assert (f.host_commission_fen, f.refunds_fen, f.payout("HOST")) == (1_000, 200, 800)


def test_a_fine_paid_partly_by_the_deposit_costs_the_payout_only_its_own_part():
    f = figures_of(
        SHOP,
        [
            Posting(9, "FINE", "seller:s1", -300),
            Posting(9, "FINE", "deposit:s1", -700),
            Posting(9, "FINE", "platform:fines", 1_000),
        ],
    )
    assert (f.fines_fen, f.adjustments_fen, f.payout("SHOP")) == (1_000, 700, -300)


def test_debt_repayment_and_a_returned_payout_are_adjustments():
    assert figures_of(SHOP, [Posting(4, "DEBT_REPAYMENT", "seller:s1", -250)]).payout("SHOP") == -250
    assert figures_of(SHOP, [Posting(5, "PAYOUT_RETURN", "seller:s1", 900)]).payout("SHOP") == 900


def test_order_lines_share_every_column_and_the_payout_exactly():
    figures = figures_of(SHOP, release_then_hold_refund())
    weights = [LineWeights("a", 3_333, 600, 1_000), LineWeights("b", 6_667, 400, 1_000)]
    lines = order_lines("o1", figures, weights)
    assert sum(line.figures.payout("SHOP") for line in lines) == 6_800
    assert sum(line.figures.gross_fen for line in lines) == 10_000
    assert sum(line.figures.platform_commission_fen for line in lines) == 400


def test_periods_are_named_by_their_start():
    name, nxt = period_of(datetime(2026, 11, 30, 15, 4, tzinfo=UTC), 24 * 3600)
    assert name == "2026-11-30T00:00:00Z" and nxt == datetime(2026, 12, 1, tzinfo=UTC)
