"""Who sees which case, compensation and order view; what every outgoing event carries."""

from datetime import UTC, datetime

import pytest

from xinren_refund import access, events_out
from xinren_refund.domain import CaseStatus
from xinren_refund.models import AfterSaleCase, Compensation, OrderView
from xinren_shared.auth import Principal, Role

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _case(status: CaseStatus = CaseStatus.REQUESTED) -> AfterSaleCase:
    return AfterSaleCase(
        case_id="as_1",
        order_id="ord_1",
        buyer_id="u1",
        shop_id="shop1",
        type="REFUND_ONLY",
        reason="OTHER",
        status=status.value,
        amount_fen=1_000,
        origin="BUYER",
        refund_id="rf_as_1",
        created_at=NOW,
        updated_at=NOW,
    )


def _compensation() -> Compensation:
    return Compensation(
        compensation_id="cp_1",
        order_id="ord_1",
        case_id="as_1",
        buyer_id="u1",
        shop_id="shop1",
        kind="COUNTERFEIT",
        payer="SHOP_DEPOSIT",
        amount_fen=50_000,
        status="GRANTED",
        dedupe_key="COUNTERFEIT:ord_1",
        granted_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


SEES = [
    (Principal("u1", Role.BUYER), True),
    (Principal("u2", Role.BUYER), False),
    (Principal("staff", Role.SELLER, shop_id="shop1"), True),
    (Principal("staff", Role.SELLER, shop_id="shop2"), False),
    (Principal("ops", Role.ADMIN), True),
    (Principal("h1", Role.HOST), False),
    (Principal("w1", Role.WAREHOUSE, warehouse_id="shop1"), False),
]


@pytest.mark.parametrize("principal,sees", SEES, ids=lambda v: str(v))
def test_the_parties_and_admins_see_a_case_its_compensations_and_its_order(principal, sees):
    view = OrderView(order_id="ord_1", buyer_id="u1", shop_id="shop1", status="PAID")
    assert access.CASES.allows(principal, _case()) is sees
    assert access.COMPENSATIONS.allows(principal, _compensation()) is sees
    assert access.ORDERS.allows(principal, view) is sees


def test_an_order_view_without_parties_is_seen_by_admins_only():
    view = OrderView(order_id="ord_1", status="CREATED")
    assert [access.ORDERS.allows(p, view) for p, _ in SEES] == [False, False, False, False, True, False, False]


def test_roles_without_after_sales_are_not_readers():
    assert set(access.READERS) == {Role.BUYER, Role.SELLER, Role.ADMIN}


def test_every_case_event_names_the_order_and_both_parties():
    for status, event_cls in events_out.CASE_EVENTS.items():
        event = events_out.case_event(_case(status))
        if event_cls is None:
            assert event is None
            continue
        assert type(event) is event_cls
        assert (event.order_id, event.buyer_id, event.shop_id, event.status) == ("ord_1", "u1", "shop1", status)


def test_money_requests_carry_their_stable_ids():
    refund = events_out.refund_requested(_case(CaseStatus.REFUNDING))
    assert (refund.order_id, refund.buyer_id, refund.shop_id, refund.refund_id) == ("ord_1", "u1", "shop1", "rf_as_1")
    granted = events_out.compensation_granted(_compensation())
    assert (granted.compensation_id, granted.case_id, granted.amount_fen) == ("cp_1", "as_1", 50_000)
    assert (granted.order_id, granted.buyer_id, granted.shop_id) == ("ord_1", "u1", "shop1")
