"""Pure rules of the order service: every (from, to) pair of the state machine, QC policy, money split and sourcing."""

import itertools

import pytest

from xinren_order import domain
from xinren_order.domain import FundingSource as F
from xinren_order.domain import Line
from xinren_order.domain import OrderStatus as S
from xinren_order.handlers.qc_reactions import REACTIONS
from xinren_shared.errors import IllegalTransition

ALLOWED = {
    (S.CREATED, S.PAID), (S.CREATED, S.CANCELLED),
    (S.PAID, S.AWAITING_QC_INBOUND), (S.PAID, S.SHIPPED), (S.PAID, S.CANCELLED), (S.PAID, S.REFUNDED),
    (S.AWAITING_QC_INBOUND, S.IN_TRANSIT_TO_QC), (S.AWAITING_QC_INBOUND, S.IN_QC), (S.AWAITING_QC_INBOUND, S.QC_FAILED),
    (S.AWAITING_QC_INBOUND, S.CANCELLED), (S.AWAITING_QC_INBOUND, S.REFUNDED),
    (S.IN_TRANSIT_TO_QC, S.IN_QC), (S.IN_TRANSIT_TO_QC, S.QC_FAILED), (S.IN_TRANSIT_TO_QC, S.REFUNDED),
    (S.IN_QC, S.QC_PASSED), (S.IN_QC, S.QC_FAILED), (S.IN_QC, S.REFUNDED),
    (S.QC_PASSED, S.SHIPPED), (S.QC_PASSED, S.REFUNDED),
    (S.QC_FAILED, S.REFUNDED),
    (S.SHIPPED, S.DELIVERED), (S.SHIPPED, S.COMPLETED), (S.SHIPPED, S.REFUNDED),
    (S.DELIVERED, S.COMPLETED), (S.DELIVERED, S.REFUNDED),
    (S.COMPLETED, S.REFUNDED),
    (S.CANCELLED, S.REFUNDED),
}  # fmt: skip
PAIRS = domain.ORDER.pairs()


def test_the_table_is_the_design():
    assert {(a, b) for a, targets in domain.TRANSITIONS.items() for b in targets} == ALLOWED
    assert set(domain.TRANSITIONS) == set(S)
    assert set(PAIRS) == set(itertools.product(S, S))


@pytest.mark.parametrize("current,target", [p for p in PAIRS if p in ALLOWED], ids=lambda s: s.value)
def test_allowed_transition(current, target):
    assert domain.ORDER.require(current, target) is target
    assert domain.ORDER.require(current.value, target.value) is target
    assert domain.ORDER.move(current, target) is True
    assert domain.ORDER.can(current, target)


@pytest.mark.parametrize("current,target", [p for p in PAIRS if p not in ALLOWED], ids=lambda s: s.value)
def test_illegal_transition_is_409_with_the_current_status(current, target):
    # require: staying put is illegal too (a repeated command is a 409, as every order command answers it).
    with pytest.raises(IllegalTransition) as err:
        domain.ORDER.require(current, target)
    assert err.value.status == 409
    assert err.value.details == {"current_status": current.value, "requested_status": target.value}
    assert not domain.ORDER.can(current, target)
    if current is target:
        assert domain.ORDER.move(current, target) is False
    else:
        with pytest.raises(IllegalTransition):
            domain.ORDER.move(current, target)


def test_refunded_is_final_and_cancellation_only_before_shipment():
    assert domain.TRANSITIONS[S.REFUNDED] == frozenset()
    assert domain.ORDER.terminal == {S.REFUNDED}
    assert {a for a, b in ALLOWED if b is S.CANCELLED} == {S.CREATED, S.PAID, S.AWAITING_QC_INBOUND}


@pytest.mark.parametrize("event_type", list(REACTIONS), ids=lambda t: t.TYPE)
def test_every_qc_reaction_is_a_move_the_state_machine_allows(event_type):
    reaction = REACTIONS[event_type]
    assert reaction.from_states
    assert all(domain.ORDER.can(s, reaction.to) for s in reaction.from_states)


@pytest.mark.parametrize(
    "status,paid,refunded,closed",
    [
        (S.COMPLETED, 100, 0, True), (S.REFUNDED, 100, 100, True), (S.CANCELLED, 0, 0, True),
        (S.CANCELLED, 100, 0, False), (S.CANCELLED, 100, 100, True), (S.PAID, 100, 0, False),
        (S.DELIVERED, 100, 50, False),
    ],
)  # fmt: skip
def test_closed_orders(status, paid, refunded, closed):
    assert domain.is_closed(status, paid, refunded) is closed


POLICY = domain.QcPolicy(frozenset({"jade", "jewellery", "antiques", "luxury"}), 1_000_000, {"jade": "wh_sihui"})


@pytest.mark.parametrize(
    "category,price,qc",
    [("jade", 100, True), ("jewellery", 1, True), ("antiques", 5, True), ("luxury", 9, True),
     ("snacks", 1_000_000, False), ("snacks", 1_000_001, True), ("clothes", 9900, False)],
)  # fmt: skip
def test_qc_policy_by_category_and_value(category, price, qc):
    assert POLICY.requires_qc(category, price) is qc


def test_warehouse_hint_per_category_may_be_empty():
    assert POLICY.warehouse_hint("jade") == "wh_sihui"
    assert POLICY.warehouse_hint("luxury") is None


def test_main_category_is_the_most_valuable_line_needing_qc():
    lines = [Line("a", "snacks", 90_000, 3), Line("b", "jade", 50_000, 1, True), Line("c", "luxury", 40_000, 1, True)]
    assert domain.main_category(lines) == "jade"
    assert domain.main_category([Line("a", "snacks", 1, 1), Line("b", "toys", 5, 1)]) == "toys"


RATES = {"default": 500, "jade": 600}


@pytest.mark.parametrize("escrow", [1, 7, 99, 100, 9_999, 123_457, 6_000_000, 999_999_999])
@pytest.mark.parametrize("host_bps", [0, 1000, 2000])
def test_release_split_sums_exactly_and_the_remainder_goes_to_the_seller(escrow, host_bps):
    lines = [Line("a", "jade", 33_333, 2, host_bps=host_bps), Line("b", "snacks", 1_001, 3, host_bps=host_bps)]
    split = domain.split_release(escrow, lines, RATES)
    assert split.total_fen == escrow
    assert split.platform_fen >= 0 and split.host_fen >= 0 and split.seller_fen >= 0
    total = sum(line.subtotal_fen for line in lines)
    exact_platform = escrow * (66_666 * 600 + 3_003 * 500) / (total * 10_000)
    assert exact_platform - 1 < split.platform_fen <= exact_platform
    assert escrow * host_bps / 10_000 - 1 < split.host_fen <= escrow * host_bps / 10_000


def test_release_split_example():
    split = domain.split_release(6_000_000, [Line("a", "jade", 6_000_000, 1, host_bps=500)], RATES)
    assert (split.platform_fen, split.host_fen, split.seller_fen) == (360_000, 300_000, 5_340_000)
    assert domain.split_release(0, [Line("a", "jade", 1, 1, host_bps=500)], RATES).total_fen == 0
    with pytest.raises(ValueError):
        domain.split_release(100, [Line("a", "jade", 100, 1, host_bps=1_000)], {"default": 9_500})


def test_release_split_applies_each_lines_host_rate():
    # A per-product cooperation at 8% on the jade line, a shop-wide one at 3% on the snacks line.
    lines = [Line("a", "jade", 30_000, 1, host_bps=800), Line("b", "snacks", 10_000, 1, host_bps=300)]
    split = domain.split_release(40_000, lines, RATES)
    assert split.host_fen == 2_400 + 300 and split.platform_fen == 1_800 + 500
    assert split.seller_fen == 40_000 - 2_700 - 2_300
    # After a partial refund before the release: the same rates on what is left, pro rata.
    assert domain.split_release(20_000, lines, RATES).host_fen == 1_350


@pytest.mark.parametrize(
    "amount,escrow,seller,deposit,parts",
    [
        (100, 500, 0, 0, [(F.ESCROW, 100)]),
        (100, 0, 300, 900, [(F.SELLER_BALANCE, 100)]),
        (500, 0, 300, 900, [(F.SELLER_BALANCE, 300), (F.SHOP_DEPOSIT, 200)]),
        (1500, 0, 300, 900, [(F.SELLER_BALANCE, 300), (F.SHOP_DEPOSIT, 900), (F.PLATFORM_GUARANTEE, 300)]),
        (50, 0, -10, 0, [(F.PLATFORM_GUARANTEE, 50)]),
    ],
)
def test_refund_sources_in_order(amount, escrow, seller, deposit, parts):
    plan = domain.plan_refund(amount, escrow, seller, deposit)
    assert list(plan.parts) == parts
    assert plan.total_fen == amount


def test_refund_after_release_takes_the_commission_shares_first_then_the_sellers_part():
    plan = domain.plan_refund(1_000, 0, 300, 900, platform_back_fen=50, host_back_fen=100)
    assert list(plan.parts) == [
        (F.PLATFORM_COMMISSION, 50), (F.HOST_COMMISSION, 100), (F.SELLER_BALANCE, 300), (F.SHOP_DEPOSIT, 550),
    ]  # fmt: skip
    assert plan.label == "PLATFORM_COMMISSION+HOST_COMMISSION+SELLER_BALANCE+SHOP_DEPOSIT"
    assert domain.source_account(F.HOST_COMMISSION, order_id="o", shop_id="s", host_id="h1") == "host:h1"
    assert domain.source_account(F.PLATFORM_COMMISSION, order_id="o", shop_id="s") == "platform:commission"
    with pytest.raises(ValueError):
        domain.source_account(F.HOST_COMMISSION, order_id="o", shop_id="s")


def test_refund_source_label_and_guarantee_share():
    plan = domain.plan_refund(1500, 0, 300, 900)
    assert plan.label == "SELLER_BALANCE+SHOP_DEPOSIT+PLATFORM_GUARANTEE"
    assert plan.amount(F.PLATFORM_GUARANTEE) == 300
    with pytest.raises(ValueError):
        domain.plan_refund(0, 10, 0, 0)


def test_compensation_sources():
    assert list(domain.plan_compensation(500, "SHOP_DEPOSIT", 2000).parts) == [(F.SHOP_DEPOSIT, 500)]
    assert list(domain.plan_compensation(500, "SHOP_DEPOSIT", 200).parts) == [
        (F.SHOP_DEPOSIT, 200),
        (F.PLATFORM_GUARANTEE, 300),
    ]
    assert list(domain.plan_compensation(500, "SHOP_DEPOSIT", 0).parts) == [(F.PLATFORM_GUARANTEE, 500)]
    assert list(domain.plan_compensation(500, "PLATFORM", 2000).parts) == [(F.PLATFORM_SUBSIDY, 500)]
    # The QC guarantee pays a certified item's counterfeit compensation in full, whatever the deposit holds.
    guarantee = domain.plan_compensation(500, "PLATFORM_GUARANTEE", 2000)
    assert list(guarantee.parts) == [(F.QC_GUARANTEE, 500)] and guarantee.amount(F.PLATFORM_GUARANTEE) == 0
    assert domain.source_account(F.QC_GUARANTEE, order_id="o", shop_id="s") == "platform:guarantee"


@pytest.mark.parametrize(
    "name,ok",
    [("escrow:ord_1", True), ("seller:shop_a", True), ("deposit:shop-a.1", True), ("host:h1", True),
     ("platform:commission", True), ("platform:subsidy", True), ("platform:guarantee", True),
     ("external:payments", True), ("external:payouts", True),
     ("platform:other", False), ("seller:", False), ("escrow:a:b", False), ("bank:x", False),
     ("receivable:shop_a", False)],
)  # fmt: skip
def test_account_names(name, ok):
    assert domain.is_account(name) is ok


def test_only_reactions_that_concern_every_event_and_start_from_one_status_are_one_statement():
    from datetime import UTC, datetime

    from xinren_shared.contracts import qc as qe

    ids = {"order_id": "o", "case_id": "c", "shop_id": "s", "buyer_id": "b", "warehouse_id": "w"}
    opened = qe.QcCaseOpened(**ids, warehouse_address="a", inbound_deadline=datetime.now(UTC))
    move = REACTIONS[qe.QcCaseOpened].in_one_statement(opened)
    assert move is not None and (move.from_status, move.to, move.qc_to) == (
        "PAID",
        "AWAITING_QC_INBOUND",
        "AWAITING_INBOUND",
    )
    assert REACTIONS[qe.QcItemReceived].in_one_statement(qe.QcItemReceived(**ids)) is None  # two statuses to start from
    dispatched = qe.QcDispatched(**ids, to="BUYER", carrier="SF", tracking_no="SF1")
    assert REACTIONS[qe.QcDispatched].in_one_statement(dispatched) is None  # concerns some events, and does more
