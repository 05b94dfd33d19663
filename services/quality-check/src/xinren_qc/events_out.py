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
    QcShopSuspended,
)

from .models import QcCase, Warehouse


def parties(case: QcCase) -> dict[str, Any]:
    """What every qc.* event of a case carries: the order, the case, buyer, shop and warehouse."""
    return {
        "order_id": case.order_id,
        "case_id": case.case_id,
        "shop_id": case.shop_id,
        "buyer_id": case.buyer_id,
        "warehouse_id": case.warehouse_id,
    }


def case_opened(case: QcCase, warehouse: Warehouse) -> QcCaseOpened:
    return QcCaseOpened(**parties(case), warehouse_address=warehouse.address, inbound_deadline=case.inbound_deadline)


def item_received(case: QcCase) -> QcItemReceived:
    return QcItemReceived(**parties(case))


def passed(case: QcCase) -> QcPassed:
    return QcPassed(**parties(case), certificate_no=case.certificate_no, inspector_id=case.inspector_id)


def certificate_revoked(case: QcCase) -> QcCertificateRevoked:
    return QcCertificateRevoked(
        **parties(case),
        certificate_no=case.certificate_no,
        aftersale_case_id=case.certificate_revoked_for,
        inspector_id=case.inspector_id,
        reason=case.certificate_revocation_reason,
    )


def failed(case: QcCase) -> QcFailed:
    return QcFailed(**parties(case), reason=case.failure_reason, findings=case.findings)


def dispatched(case: QcCase) -> QcDispatched:
    return QcDispatched(
        **parties(case), to=case.dispatch_to, carrier=case.dispatch_carrier, tracking_no=case.dispatch_tracking_no
    )


def expired(case: QcCase) -> QcExpired:
    return QcExpired(**parties(case))


def shop_suspended(case: QcCase, strikes: int) -> QcShopSuspended:
    # Keyed by the shop, not the order: the suspension is about every order of the shop.
    return QcShopSuspended(shop_id=case.shop_id, strikes=strikes)
