"""The refund service's reads: a case, the case and compensation lists, an order's eligibility."""

from __future__ import annotations

from enum import Enum

from sqlmodel import select

from xinren_shared.auth import Principal
from xinren_shared.contracts.vocabulary import CompensationKind, TrustRight
from xinren_shared.pagination import Page, keyset_page
from xinren_shared.runtime import ServiceRuntime

from . import access, repository
from .domain import CaseStatus, CompensationStatus, Policy
from .models import AfterSaleCase, CaseMessage, Compensation, OrderView
from .schemas import CasePublic, CaseSummary, CompensationPublic, EligibilityPublic, MessagePublic
from .settings import RefundSettings
from .views import case_public, case_summary, compensation_public, message_public

Runtime = ServiceRuntime[RefundSettings]


# Lists are newest first; the id breaks ties of one instant.
_CASE_ORDER = (AfterSaleCase.created_at, AfterSaleCase.case_id)
_COMPENSATION_ORDER = (Compensation.created_at, Compensation.compensation_id)


async def get_case(runtime: Runtime, principal: Principal, case_id: str) -> CasePublic:
    async with runtime.snapshot() as s:
        case = await s.get(AfterSaleCase, case_id)
        if case is None or not access.CASES.allows(principal, case):
            raise access.case_not_found(case_id)
        return await case_public(s, case)


async def list_cases(
    runtime: Runtime,
    principal: Principal,
    *,
    order_id: str | None,
    status: CaseStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[CaseSummary]:
    stmt = select(AfterSaleCase).where(access.CASES.where(principal))
    if order_id:
        stmt = stmt.where(AfterSaleCase.order_id == order_id)
    if status:
        stmt = stmt.where(AfterSaleCase.status == status.value)
    async with runtime.snapshot() as s:
        rows, next_cursor = await keyset_page(s, stmt, _CASE_ORDER, cursor, limit, descending=True)
    return Page[CaseSummary](items=[case_summary(c) for c in rows], next_cursor=next_cursor)


async def list_compensations(
    runtime: Runtime,
    principal: Principal,
    *,
    order_id: str | None,
    case_id: str | None,
    kind: CompensationKind | None,
    status: CompensationStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[CompensationPublic]:
    stmt = select(Compensation).where(access.COMPENSATIONS.where(principal))
    if order_id:
        stmt = stmt.where(Compensation.order_id == order_id)
    if case_id:
        stmt = stmt.where(Compensation.case_id == case_id)
    if kind:
        stmt = stmt.where(Compensation.kind == kind.value)
    if status:
        stmt = stmt.where(Compensation.status == status.value)
    async with runtime.snapshot() as s:
        rows, next_cursor = await keyset_page(s, stmt, _COMPENSATION_ORDER, cursor, limit, descending=True)
    return Page[CompensationPublic](items=[compensation_public(c) for c in rows], next_cursor=next_cursor)


async def eligibility(runtime: Runtime, principal: Principal, order_id: str) -> EligibilityPublic:
    """How much of an order can still be asked for, and until when a no-reason return is possible."""
    async with runtime.snapshot() as s:
        view = await s.get(OrderView, order_id)
        if view is None or not access.ORDERS.allows(principal, view):
            raise access.order_not_found(order_id)
        facts = await repository.facts(s, view)
    ends = None
    if view.delivered_at is not None and TrustRight.SEVEN_DAY_RETURN in facts.trust_rights:
        ends = view.delivered_at + Policy.from_settings(runtime.settings).seven_day_return_window
    return EligibilityPublic(
        order_id=view.order_id,
        status=view.status,
        paid_fen=view.paid_fen,
        refunded_fen=view.refunded_total_fen,
        reserved_fen=facts.reserved_fen,
        refundable_fen=facts.refundable_fen,
        trust_rights=sorted(facts.trust_rights),
        shipped_at=view.shipped_at,
        delivered_at=view.delivered_at,
        seven_day_return_ends_at=ends,
        certificate_no=view.certificate_no,
    )


async def list_messages(
    runtime: Runtime, principal: Principal, case_id: str, *, limit: int, cursor: str | None
) -> Page[MessagePublic]:
    async with runtime.snapshot() as s:
        case = await s.get(AfterSaleCase, case_id)
        if case is None or not access.CASES.allows(principal, case):
            raise access.case_not_found(case_id)
        stmt = select(CaseMessage).where(CaseMessage.case_id == case_id)
        rows, next_cursor = await keyset_page(s, stmt, (CaseMessage.at, CaseMessage.message_id), cursor, limit)
    return Page[MessagePublic](items=[message_public(m) for m in rows], next_cursor=next_cursor)


class Sight(Enum):
    """What the order view knows of an order a buyer asks about."""

    UNSEEN = "UNSEEN"  # nothing yet (or not whose it is)
    UNPAID = "UNPAID"  # the buyer's, not (yet) seen paid
    READY = "READY"  # the buyer's, paid, or cancelled unpaid: the command can answer
    FOREIGN = "FOREIGN"  # another buyer's


async def order_sight(runtime: Runtime, principal: Principal, order_id: str) -> Sight:
    """One primary-key read of the view in a short transaction of its own (its connection goes back at once)."""
    stmt = select(OrderView.buyer_id, OrderView.shop_id, OrderView.paid_fen, OrderView.status).where(
        OrderView.order_id == order_id
    )
    async with runtime.snapshot() as s:
        row = (await s.execute(stmt)).one_or_none()
    if row is None or row.buyer_id is None:
        return Sight.UNSEEN
    if not access.ORDERS.allows(principal, row):  # type: ignore[arg-type]  # a row has the view's columns
        return Sight.FOREIGN
    if row.paid_fen > 0 or row.status == "CANCELLED":
        return Sight.READY
    return Sight.UNPAID
