"""The buyer's, seller's and admin's commands on cases; each runs in the unit of work the command runner gives it.

The caller's role has been checked by the api layer; here a case of another buyer or shop does not exist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleType, CompensationKind, TrustRight
from xinren_shared.errors import Conflict, IllegalTransition
from xinren_shared.ids import new_id

from .. import access, domain, events_out, repository
from ..domain import CASES, CloseCode, S, variants
from ..models import AfterSaleCase
from ..schemas import ArbitrateBody, CaseCreate, CasePublic
from ..settings import RefundSettings
from ..views import case_public
from . import cases, trust_bands
from .cases import CaseContext

Uow = UnitOfWork[RefundSettings]


class EscalationWindowClosed(Conflict):
    code = "ESCALATION_WINDOW_CLOSED"


async def _recent_refunds(s: AsyncSession, buyer_id: str, since: datetime) -> int:
    stmt = select(func.count()).where(
        AfterSaleCase.buyer_id == buyer_id,
        AfterSaleCase.origin == "BUYER",
        col(AfterSaleCase.status).in_([S.REFUNDING.value, S.REFUNDED.value]),
        col(AfterSaleCase.approved_at) >= since,
    )
    return int((await s.execute(stmt)).scalar() or 0)


async def open_case(uow: Uow, principal: Principal, body: CaseCreate) -> CasePublic:
    """A buyer asks for a refund (or a return and refund) on own order; the rules may approve it at once."""
    cx = CaseContext(uow, principal.actor)
    s, at, policy = uow.session, uow.now, cx.policy
    view = await repository.lock_order(s, body.order_id)
    if view is None or not access.ORDERS.allows(principal, view):
        raise access.order_not_found(body.order_id)
    facts = await repository.facts(s, view)
    recent = 0
    if TrustRight.FAST_REFUND in facts.trust_rights:
        recent = await _recent_refunds(s, principal.sub, at - policy.fast_refund_lookback)
        facts = await trust_bands.with_band(s, facts, view.shop_id)
    lines = None if body.items is None else tuple(domain.LineRequest(i.sku_id, i.quantity) for i in body.items)
    request = domain.CaseRequest(AfterSaleType(body.type), AfterSaleReason(body.reason), body.amount_fen, lines)
    intake = domain.assess_request(facts, request, recent, at, policy)
    amount, items = intake.amount_fen, [i.as_json() for i in intake.items]
    if body.replacement_sku_id is not None:
        wanted = body.replacement_sku_id
        amount, items = variants.exchange_for_variant(request.type, intake.items, facts, view.items, wanted)
    case = AfterSaleCase(
        case_id=new_id("as"),
        order_id=view.order_id,
        buyer_id=principal.sub,
        shop_id=view.shop_id or "",
        type=request.type.value,
        reason=request.reason.value,
        status=S.REQUESTED.value,
        amount_fen=amount,
        description=body.description,
        evidence=list(body.evidence),
        origin="BUYER",
        return_required=intake.return_required,
        items=items,
        rules_applied=list(intake.rules),
        certificate_no=view.certificate_no if intake.to_platform else None,
        created_at=at,
        updated_at=at,
    )
    await cases.start(cx, case, body.description, reviewed=intake.reviewed_by_seller)
    if intake.to_platform:
        note = f"the item passed quality check (certificate {view.certificate_no}): the platform decides"
        await cases.move(cx.by_system(), case, S.ARBITRATION, note)
    elif intake.approve_at_once:
        await cases.approve(cx.by_system(), case, f"approved at once: {', '.join(intake.rules)}")
    return await case_public(s, case)


async def approve_case(uow: Uow, principal: Principal, case_id: str, reason: str | None) -> CasePublic:
    case, _ = await repository.case_for_command(uow.session, principal, case_id)
    domain.require_seller_may_decide(case.certificate_no)
    await cases.approve(CaseContext(uow, principal.actor), case, reason or "approved by the seller")
    return await case_public(uow.session, case)


async def reject_case(uow: Uow, principal: Principal, case_id: str, reason: str) -> CasePublic:
    cx = CaseContext(uow, principal.actor)
    case, _ = await repository.case_for_command(uow.session, principal, case_id)
    domain.require_seller_may_decide(case.certificate_no)
    if await cases.move(cx, case, S.REJECTED, reason):
        case.decision_reason = reason
    return await case_public(uow.session, case)


async def ship_return(uow: Uow, principal: Principal, case_id: str, carrier: str, tracking_no: str) -> CasePublic:
    cx = CaseContext(uow, principal.actor)
    case, _ = await repository.case_for_command(uow.session, principal, case_id)
    if await cases.move(cx, case, S.RETURN_SHIPPED, f"{carrier} {tracking_no}"):
        case.return_carrier, case.return_tracking_no = carrier, tracking_no
    return await case_public(uow.session, case)


class ReturnAwaitsWarehouseCheck(Conflict):
    code = "RETURN_AWAITS_WAREHOUSE_CHECK"


async def confirm_return_received(uow: Uow, principal: Principal, case_id: str) -> CasePublic:
    cx = CaseContext(uow, principal.actor)
    case, view = await repository.case_for_command(uow.session, principal, case_id)
    if view.certificate_no and case.status == S.RETURN_SHIPPED:
        raise ReturnAwaitsWarehouseCheck(
            "a certified item comes back through the quality-check warehouse; its check releases the refund",
            details={"certificate_no": view.certificate_no},
        )
    if await cases.move(cx, case, S.RETURN_RECEIVED, "receipt confirmed by the seller"):
        await cases.after_return_received(cx, case, view)
    return await case_public(uow.session, case)


async def escalate_case(uow: Uow, principal: Principal, case_id: str, reason: str | None) -> CasePublic:
    cx = CaseContext(uow, principal.actor)
    case, _ = await repository.case_for_command(uow.session, principal, case_id)
    window_missed = case.close_code == CloseCode.NOT_ESCALATED or (
        case.status in domain.ESCALATABLE and case.escalation_due_at is not None and uow.now > case.escalation_due_at
    )
    if window_missed:
        raise EscalationWindowClosed(
            "the window to ask the platform after the rejection has closed",
            details={"escalation_window_seconds": uow.settings.escalation_window_seconds},
        )
    if case.status != S.ARBITRATION and case.status not in domain.ESCALATABLE:
        raise IllegalTransition(CASES.entity, case.status, S.ARBITRATION)
    await cases.move(cx, case, S.ARBITRATION, reason or "the buyer asks the platform")
    return await case_public(uow.session, case)


async def arbitrate_case(uow: Uow, principal: Principal, case_id: str, body: ArbitrateBody) -> CasePublic:
    cx = CaseContext(uow, principal.actor)
    case, view = await repository.case_for_command(uow.session, principal, case_id)
    target = S.APPROVED if body.decision == "REFUND" else S.CLOSED
    # Arbitration decides escalated cases only, although the machine lets other states close or be approved.
    if case.status != S.ARBITRATION:
        if target is S.CLOSED and case.status == S.CLOSED:
            return await case_public(uow.session, case)  # the same decision again
        raise IllegalTransition(CASES.entity, case.status, target)
    if target is S.CLOSED:
        await cases.close(cx, case, S.CLOSED, CloseCode.ARBITRATION_REJECTED, f"arbitration rejected: {body.reason}")
        case.decision_reason = body.reason
        return await case_public(uow.session, case)
    facts = await repository.facts(uow.session, view, exclude_case_id=case.case_id)
    if case.type in {t.value for t in domain.NO_MONEY}:
        # An exchange or reship the platform decides for the buyer becomes a refund of its lines, goods kept.
        by_sku = {line.sku_id: line for line in facts.lines}
        lines = [(by_sku[i["sku_id"]], int(i["quantity"])) for i in case.items if i["sku_id"] in by_sku]
        amount, items = domain.allocate(facts, lines, body.amount_fen)
        case.type, case.amount_fen, case.return_required = AfterSaleType.REFUND_ONLY.value, amount, False
        case.items = [i.as_json() for i in items]
    case.amount_fen = domain.arbitrated_amount(case.amount_fen, body.amount_fen, facts.refundable_fen)
    await cases.approve(cx, case, f"arbitration: refund. {body.reason}")
    if case.reason == AfterSaleReason.COUNTERFEIT.value:
        # A counterfeit confirmed by the platform: 假一赔十 (or 退一赔三 by law) on the refunded price. On a certified
        # item the platform's guarantee pays, and the certificate is revoked on counterfeit_upheld.
        certificate_no = case.certificate_no
        await cases.grant(
            cx,
            view,
            CompensationKind.COUNTERFEIT,
            price_fen=case.amount_fen,
            case=case,
            certified=certificate_no is not None,
        )
        if certificate_no is not None:
            await cx.publish(events_out.counterfeit_upheld(case, certificate_no))
    return await case_public(uow.session, case)


async def cancel_case(uow: Uow, principal: Principal, case_id: str, reason: str | None) -> CasePublic:
    """The buyer withdraws an open case (before any goods or money are on the way)."""
    case, _ = await repository.case_for_command(uow.session, principal, case_id)
    cx = CaseContext(uow, principal.actor)
    await cases.close(cx, case, S.CANCELLED, CloseCode.WITHDRAWN, reason or "withdrawn by the buyer")
    return await case_public(uow.session, case)
