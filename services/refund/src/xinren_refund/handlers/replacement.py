"""Exchange (换货) and reship (补寄): the seller ships the replacement, which is delivered (the carrier partner's
delivery report on the replacement's tracking number, or the buyer's confirmation) or assumed received when nobody
reported in time; the case then COMPLETES. No money moves; the order service reserves and restocks the stock.
A QC product's replacement goes through the quality-check warehouse first (replacement_inspection.py)."""

from __future__ import annotations

from xinren_shared.auth import Principal, Role
from xinren_shared.commands import UnitOfWork
from xinren_shared.contracts.vocabulary import AfterSaleType
from xinren_shared.errors import Unprocessable

from .. import access, events_out, repository
from ..domain import CASES, S
from ..models import AfterSaleCase, OrderView
from ..schemas import CasePublic
from ..settings import RefundSettings
from ..views import case_public
from . import cases
from . import replacement_inspection as inspection
from .cases import CaseContext

Uow = UnitOfWork[RefundSettings]
REPLACED = frozenset({AfterSaleType.EXCHANGE.value, AfterSaleType.RESHIP.value})


async def ship_replacement(uow: Uow, principal: Principal, case_id: str, carrier: str, tracking_no: str) -> CasePublic:
    cx = CaseContext(uow, principal.actor)
    case, view = await repository.case_for_command(uow.session, principal, case_id)
    if case.type not in REPLACED:
        raise Unprocessable(
            f"a {case.type} case has no replacement to ship", code="NOT_A_REPLACEMENT", details={"type": case.type}
        )
    if not view.qc_required:
        CASES.require(case.status, S.REPLACEMENT_SHIPPED)
        note = f"replacement shipped: {carrier} {tracking_no}"
        target = S.REPLACEMENT_SHIPPED
    else:
        # 先验后发: a QC product's replacement goes to the quality-check warehouse, which inspects it and ships it on.
        CASES.require(case.status, S.REPLACEMENT_INSPECTING)
        inspection.refuse_the_failed_parcel(case, tracking_no)
        # A new parcel, a new inspection: whatever the last one still says concerns the parcel that failed.
        case.replacement_qc_case_id = case.replacement_certificate_no = None
        note = f"replacement shipped to the quality-check warehouse: {carrier} {tracking_no}"
        target = S.REPLACEMENT_INSPECTING
    case.replacement_carrier, case.replacement_tracking_no = carrier, tracking_no
    case.replacement_shipped_at = uow.now
    await cases.move(cx, case, target, note, announce=False)
    await cx.publish(events_out.replacement_shipped(case, view.qc_required))
    return await case_public(uow.session, case)


async def replacement_received(uow: Uow, principal: Principal, case_id: str) -> CasePublic:
    """The replacement arrived: the buyer confirms it, or a partner of its carrier (or an admin) reports its
    delivery. Anyone else: the case does not exist for them."""
    s = uow.session
    if principal.role is Role.BUYER:
        case, _ = await repository.case_for_command(s, principal, case_id)
        by = "BUYER"
    else:
        found, view = await repository.lock_case_with_order(s, case_id)
        if found is None or not _reports(principal, found, view):
            raise access.case_not_found(case_id)
        case, by = found, "CARRIER"
    inspection.refuse_while_at_the_warehouse(case)
    CASES.require(case.status, S.COMPLETED)
    await complete(CaseContext(uow, principal.actor), case, by)
    return await case_public(s, case)


def _reports(principal: Principal, case: AfterSaleCase, view: OrderView | None) -> bool:
    if principal.is_admin:
        return True
    if principal.role is not Role.PARTNER or case.replacement_carrier is None:
        return False
    return principal.serves_carrier(case.replacement_carrier) or principal.serves_shop(case.shop_id)


async def complete(cx: CaseContext, case: AfterSaleCase, confirmed_by: str) -> None:
    if not await cases.move(cx, case, S.COMPLETED, f"replacement delivered ({confirmed_by.lower()})", announce=False):
        return
    case.completed_at = cx.now
    await cx.publish(events_out.replacement_delivered(case, confirmed_by))
