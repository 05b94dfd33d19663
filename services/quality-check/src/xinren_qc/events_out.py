"""Every event quality check publishes, built from the case it is about: the parties are spelled once, here."""

from __future__ import annotations

from typing import Any

from xinren_shared.contracts.qc import (
    QcCaseOpened,
    QcCertificateRevoked,
    QcDispatched,
    QcExpired,
    QcFailed,
    QcItemReceived,
    QcPassed,
    QcReturnChecked,
)

from .models import QcCase, QcReturn, Warehouse


def parties(case: QcCase) -> dict[str, Any]:
    """What every qc.* event of a case carries: the order, the case, buyer, shop and warehouse, and the after-sales
    case whose replacement the case inspects (None: the order's own item)."""
    return {
        "order_id": case.order_id,
        "case_id": case.case_id,
        "shop_id": case.shop_id,
        "buyer_id": case.buyer_id,
        "warehouse_id": case.warehouse_id,
        "aftersale_case_id": case.aftersale_case_id,
    }


def case_opened(case: QcCase, warehouse: Warehouse) -> QcCaseOpened:
    return QcCaseOpened(**parties(case), warehouse_address=warehouse.address, inbound_deadline=case.inbound_deadline)


def item_received(case: QcCase) -> QcItemReceived:
    return QcItemReceived(**parties(case))


def passed(case: QcCase, *, reviewed_by: str | None = None) -> QcPassed:
    return QcPassed(
        **parties(case),
        certificate_no=case.certificate_no,
        inspector_id=case.inspector_id,
        seal_id=case.seal_id,
        reviewed_by=reviewed_by,
    )


def certificate_revoked(case: QcCase) -> QcCertificateRevoked:
    return QcCertificateRevoked(
        **(parties(case) | {"aftersale_case_id": case.certificate_revoked_for}),
        certificate_no=case.certificate_no,
        inspector_id=case.inspector_id,
        reason=case.certificate_revocation_reason,
    )


def failed(case: QcCase, *, reviewed_by: str | None = None) -> QcFailed:
    """The final failure (after the appeal window, or a review that upheld it)."""
    return QcFailed(
        **parties(case),
        reason=case.failure_reason,
        findings=case.findings,
        inspector_id=case.inspector_id,
        reviewed_by=reviewed_by,
        host_id=case.host_id,
        sku_ids=list(dict.fromkeys(str(item["sku_id"]) for item in case.items or [] if item.get("sku_id"))),
    )


def return_checked(case: QcCase, ret: QcReturn) -> QcReturnChecked:
    return QcReturnChecked(
        **(parties(case) | {"aftersale_case_id": ret.aftersale_case_id}),
        certificate_no=case.certificate_no,
        outcome=ret.status,
        seal_intact=bool(ret.seal_intact),
        mismatches=ret.mismatches or [],
        findings=ret.findings or "",
    )


def dispatched(case: QcCase) -> QcDispatched:
    return QcDispatched(
        **parties(case), to=case.dispatch_to, carrier=case.dispatch_carrier, tracking_no=case.dispatch_tracking_no
    )


def expired(case: QcCase) -> QcExpired:
    return QcExpired(**parties(case))
