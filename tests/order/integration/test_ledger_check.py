"""The ledger check finds every kind of broken invariant (a ledger corrupted on purpose, in its own database)."""

from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import text

from xinren_order import ledger
from xinren_order.models import SalesOrder, Shop
from xinren_shared import migrate
from xinren_shared.db import make_engine, make_session_factory


@pytest_asyncio.fixture
async def sessions(make_database):
    url = await make_database("order_ledger")
    await migrate.upgrade_async("xinren_order", url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    await engine.dispose()


def order(order_id: str, status: str, paid: int, refunded: int) -> SalesOrder:
    now = datetime.now(UTC)
    return SalesOrder(
        order_id=order_id, buyer_id="b", shop_id="s1", status=status, category="snacks", total_fen=paid,
        paid_fen=paid, refunded_fen=refunded, created_at=now, updated_at=now,
    )  # fmt: skip


async def test_a_clean_ledger_passes_and_each_broken_invariant_is_reported(sessions):
    async with sessions() as s, s.begin():
        s.add(Shop(shop_id="s1", name="s1", guarantee_debt_fen=0))
        s.add(order("o_ok", "COMPLETED", 1000, 0))
        await ledger.post(
            s,
            key="pay:o_ok",
            kind="PAYMENT",
            entries=[("external:payments", -1000), ("escrow:o_ok", 1000)],
            order_id="o_ok",
        )
        await ledger.post(
            s, key="rel:o_ok", kind="RELEASE", order_id="o_ok",
            entries=[("escrow:o_ok", -1000), ("platform:commission", 50), ("seller:s1", 950)],
        )  # fmt: skip
        assert (
            await ledger.post(
                s, key="pay:o_ok", kind="PAYMENT", entries=[("external:payments", -5), ("escrow:o_ok", 5)]
            )
            is None
        )
        # Refunded in full after the release: the platform and the host gave their commission back.
        s.add(order("o_back", "REFUNDED", 1000, 1000))
        await ledger.post(
            s, key="pay:o_back", kind="PAYMENT", order_id="o_back",
            entries=[("external:payments", -1000), ("escrow:o_back", 1000)],
        )  # fmt: skip
        await ledger.post(
            s, key="rel:o_back", kind="RELEASE", order_id="o_back",
            entries=[("escrow:o_back", -1000), ("platform:commission", 50), ("host:h1", 100), ("seller:s1", 850)],
        )  # fmt: skip
        await ledger.post(
            s, key="ref:o_back", kind="REFUND", order_id="o_back", shop_id="s1",
            entries=[("platform:commission", -50), ("host:h1", -100), ("seller:s1", -850), ("external:payouts", 1000)],
        )  # fmt: skip
        # The QC guarantee's own liability: no debt for the shop.
        await ledger.post(
            s, key="gcomp:ok", kind="GUARANTEE_COMPENSATION", order_id="o_ok", shop_id="s1",
            entries=[("platform:guarantee", -700), ("external:payouts", 700)],
        )  # fmt: skip
    async with sessions() as s:
        clean = await ledger.check(s)
    assert clean == {"ok": True, "transactions": 6, "violations": []}

    async with sessions() as s, s.begin():
        s.add_all([order("o_closed", "COMPLETED", 1000, 0), order("o_over", "DELIVERED", 1000, 1000)])
        # Closed order with money left in escrow.
        await ledger.post(
            s,
            key="pay:o_closed",
            kind="PAYMENT",
            entries=[("external:payments", -1000), ("escrow:o_closed", 1000)],
            order_id="o_closed",
        )
        # More refunded than paid, from an escrow that goes negative.
        await ledger.post(
            s,
            key="pay:o_over",
            kind="PAYMENT",
            entries=[("external:payments", -1000), ("escrow:o_over", 1000)],
            order_id="o_over",
        )
        await ledger.post(
            s,
            key="ref:o_over",
            kind="REFUND",
            entries=[("escrow:o_over", -1200), ("external:payouts", 1200)],
            order_id="o_over",
        )
        # A transaction that does not balance, written behind the ledger's back.
        await s.execute(text("INSERT INTO ledger_transaction (idempotency_key, kind) VALUES ('bad', 'PAYMENT')"))
        await s.execute(
            text(
                "INSERT INTO ledger_entry (transaction_id, account, amount_fen) "
                "SELECT id, 'seller:s1', 7 FROM ledger_transaction WHERE idempotency_key = 'bad'"
            )
        )
        # A refund after the release that takes back more commission than the release paid.
        s.add(order("o_claw", "COMPLETED", 1000, 100))
        await ledger.post(
            s, key="pay:o_claw", kind="PAYMENT", order_id="o_claw",
            entries=[("external:payments", -1000), ("escrow:o_claw", 1000)],
        )  # fmt: skip
        await ledger.post(
            s, key="rel:o_claw", kind="RELEASE", order_id="o_claw",
            entries=[("escrow:o_claw", -1000), ("platform:commission", 50), ("seller:s1", 950)],
        )  # fmt: skip
        await ledger.post(
            s, key="ref:o_claw", kind="REFUND", order_id="o_claw",
            entries=[("platform:commission", -80), ("seller:s1", -20), ("external:payouts", 100)],
        )  # fmt: skip
        # The platform's liability charged to the shop's money.
        await ledger.post(
            s, key="gcomp:bad", kind="GUARANTEE_COMPENSATION", order_id="o_claw",
            entries=[("seller:s1", -100), ("external:payouts", 100)],
        )  # fmt: skip
        # A guarantee payment the shop's debt does not show.
        await ledger.post(
            s,
            key="comp:x",
            kind="COMPENSATION",
            shop_id="s1",
            entries=[("platform:guarantee", -300), ("external:payouts", 300)],
        )
    async with sessions() as s:
        report = await ledger.check(s)
    assert report["ok"] is False and report["transactions"] == 15
    rules = {
        (v["rule"], v.get("order_id") or v.get("account") or v.get("key") or v.get("shop_id"))
        for v in report["violations"]
    }
    assert rules == {
        ("TRANSACTION_UNBALANCED", "bad"),
        ("NEGATIVE_BALANCE", "escrow:o_over"),
        ("CLOSED_ORDER_ESCROW_NOT_ZERO", "o_closed"),
        ("REFUNDS_EXCEED_PAYMENT", "o_over"),
        ("ORDER_DISAGREES_WITH_LEDGER", "o_over"),
        ("GUARANTEE_DEBT_MISMATCH", "s1"),
        ("CLAWBACK_EXCEEDS_COMMISSION", "o_claw"),
        ("GUARANTEE_COMPENSATION_CHARGED_TO_SHOP", "seller:s1"),
    }


async def test_an_unbalanced_transaction_is_never_written(sessions):
    async with sessions() as s, s.begin():
        with pytest.raises(ledger.UnbalancedTransaction):
            await ledger.post(s, key="x", kind="PAYMENT", entries=[("external:payments", -10), ("escrow:o1", 9)])
        with pytest.raises(ValueError):
            await ledger.post(s, key="y", kind="PAYMENT", entries=[("bank:x", -10), ("escrow:o1", 10)])
    async with sessions() as s:
        assert (await ledger.check(s))["transactions"] == 0


async def test_a_transaction_is_written_once_with_its_entries_in_the_order_given(sessions):
    entries = [("external:payments", -300), ("escrow:o2", 200), ("platform:commission", 100)]
    async with sessions() as s, s.begin():
        first = await ledger.post(s, key="payment:o2", kind="PAYMENT", entries=entries, order_id="o2", memo="m")
        again = await ledger.post(s, key="payment:o2", kind="PAYMENT", entries=[("escrow:o2", 1), ("seller:s1", -1)])
    assert first is not None and again is None  # the key's second post writes nothing, its entries neither
    async with sessions() as s:
        assert await ledger.entries_of(s, [first]) == {first: entries}
        assert await ledger.balances(s, "escrow:o2", "seller:s1") == [200, 0]
        row = (
            await s.execute(text("SELECT kind, order_id, memo FROM ledger_transaction WHERE id = :i"), {"i": first})
        ).one()
        assert tuple(row) == ("PAYMENT", "o2", "m")
