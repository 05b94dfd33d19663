"""Every qc.* event is built from its case and names the case's buyer, shop and warehouse."""

from datetime import UTC, datetime, timedelta

from xinren_qc import events_out
from xinren_qc.models import QcCase, Warehouse
from xinren_shared.contracts.vocabulary import DispatchTarget, QcFailureReason


def _case() -> QcCase:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return QcCase(
        case_id="qc_1",
        order_id="ord_1",
        buyer_id="u_1",
        shop_id="shop_1",
        category="jade",
        items=[],
        paid_fen=100,
        status="DISPATCHED",
        warehouse_id="wh_1",
        inbound_deadline=now + timedelta(days=5),
        failure_reason=QcFailureReason.COUNTERFEIT,
        findings="resin-filled",
        certificate_no="XR-A",
        inspector_id="insp_chen",
        certificate_revoked_for="as_1",
        certificate_revocation_reason="a counterfeit claim on the certified item was upheld after sale",
        dispatch_to=DispatchTarget.SELLER,
        dispatch_carrier="SF",
        dispatch_tracking_no="SF9",
    )


def test_every_case_event_carries_the_parties_of_its_case():
    case = _case()
    warehouse = Warehouse(warehouse_id="wh_1", name="Ruili", address="1 Jiegao Road", categories=["jade"])
    built = [
        events_out.case_opened(case, warehouse),
        events_out.item_received(case),
        events_out.passed(case),
        events_out.failed(case),
        events_out.dispatched(case),
        events_out.expired(case),
        events_out.certificate_revoked(case),
    ]
    for evt in built:
        data = evt.model_dump()
        assert {k: data[k] for k in ("order_id", "case_id", "buyer_id", "shop_id", "warehouse_id")} == {
            "order_id": "ord_1",
            "case_id": "qc_1",
            "buyer_id": "u_1",
            "shop_id": "shop_1",
            "warehouse_id": "wh_1",
        }, type(evt).__name__
        assert evt.partition_key() == "ord_1"
    opened, _, passed, failed, dispatched, _, revoked = built
    assert opened.warehouse_address == "1 Jiegao Road" and opened.inbound_deadline == case.inbound_deadline
    assert (passed.certificate_no, passed.inspector_id) == ("XR-A", "insp_chen")
    assert (revoked.certificate_no, revoked.aftersale_case_id, revoked.inspector_id) == ("XR-A", "as_1", "insp_chen")
    assert revoked.reason.startswith("a counterfeit claim")
    assert (failed.reason, failed.findings) == (QcFailureReason.COUNTERFEIT, "resin-filled")
    assert (dispatched.to, dispatched.carrier, dispatched.tracking_no) == (DispatchTarget.SELLER, "SF", "SF9")
