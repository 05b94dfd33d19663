"""The refund service's consistency check: a refund the order service never answered is found, and the repair asks
again with `reask` (so an answer given before is given again)."""

from sqlalchemy import select

from xinren_shared.testing.http import serve

from ..conftest import _service
from ..support import ADMIN, Service, case_reaches, open_case, place_order


async def test_an_unanswered_refund_is_found_and_asked_for_again(make_database, kafka_bootstrap, publish):
    app, settings = await _service(
        make_database, kafka_bootstrap, consistency_money_answer_bound_seconds=0, consistency_interval_seconds=0
    )
    async with serve(app) as client:
        svc = Service(client, app, settings)
        order = await place_order(svc, publish)  # paid, not shipped: no order service runs here to answer
        case = await open_case(svc, order)
        await case_reaches(svc, case["case_id"], "REFUNDING")

        report = (await client.get("/v1/admin/consistency", headers=ADMIN)).json()
        [finding] = [f for f in report["findings"] if f["subject"] == case["case_id"]]
        assert finding["check"] == "refund_unanswered" and finding["repairable"] is True
        assert report["counts"]["refund_unanswered"] == 1

        repaired = (await client.post("/v1/admin/consistency/repair", headers=ADMIN)).json()
        assert {
            "check": "refund_unanswered",
            "subject": case["case_id"],
            "done": "refund.requested published again (reask)",
        } in repaired["repaired"]
        outbox = svc.runtime.tables.outbox
        async with svc.runtime.session_factory() as s:
            asked = (
                (
                    await s.execute(
                        select(outbox.c.data)
                        .where(outbox.c.type == "xinren.refund.requested", outbox.c.key == order.order_id)
                        .order_by(outbox.c.seq)
                    )
                )
                .scalars()
                .all()
            )
        assert [a.get("reask", False) for a in asked] == [False, True]
        assert asked[0]["refund_id"] == asked[1]["refund_id"] and asked[0]["amount_fen"] == asked[1]["amount_fen"]
