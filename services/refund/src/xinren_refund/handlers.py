"""One function per command, event and timer of the refund service; each runs in one transaction.

Locking: whatever touches an order's cases or reservations first locks its `order_view` row (FOR UPDATE), then
the case. Timer handlers lock it with NOWAIT: they already hold their timer row, and waiting for the order while
a request holding the order waits to cancel that timer would deadlock; a NOWAIT failure is simply retried.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.auth import Principal, Role
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.aftersales import (
    AfterSaleApproved,
    AfterSaleClosed,
    AfterSaleEscalated,
    AfterSaleEvent,
    AfterSaleRefunded,
    AfterSaleRejected,
    AfterSaleRequested,
    AfterSaleReturnReceived,
    AfterSaleReturnShipped,
    CompensationGranted,
    RefundRequested,
)
from xinren_shared.contracts.orders import (
    OrderCancelled,
    OrderCompensationPaid,
    OrderCompleted,
    OrderCreated,
    OrderDelivered,
    OrderPaid,
    OrderRefunded,
    OrderRefundRejected,
    OrderShipped,
    OrderShippingLate,
)
from xinren_shared.contracts.qc import QcExpired, QcFailed
from xinren_shared.contracts.vocabulary import (
    AfterSaleReason,
    AfterSaleType,
    CompensationKind,
    QcFailureReason,
    TrustRight,
)
from xinren_shared.errors import Forbidden, IllegalTransition, NotFound
from xinren_shared.pagination import InvalidCursor, Page, decode_cursor, encode_cursor
from xinren_shared.timers import DueTimer

from . import domain
from .domain import CaseStatus, CompensationStatus, Policy, S
from .models import AfterSaleCase, CaseTimelineEntry, Compensation, OrderView
from .schemas import (
    ArbitrateBody,
    CaseCreate,
    CasePublic,
    CaseSummary,
    CompensationPublic,
    EligibilityPublic,
    ReturnShipmentPublic,
    TimelineEntryPublic,
)

log = logging.getLogger("xinren.refund")

SYSTEM = "system"

# The event each status is entered with. AWAITING_RETURN and REFUNDING follow APPROVED / RETURN_RECEIVED within the
# same step: that step's event (with refund.requested for REFUNDING) announces them.
CASE_EVENTS: dict[CaseStatus, type[AfterSaleEvent] | None] = {
    S.REQUESTED: AfterSaleRequested,
    S.APPROVED: AfterSaleApproved,
    S.REJECTED: AfterSaleRejected,
    S.ARBITRATION: AfterSaleEscalated,
    S.AWAITING_RETURN: None,
    S.RETURN_SHIPPED: AfterSaleReturnShipped,
    S.RETURN_RECEIVED: AfterSaleReturnReceived,
    S.REFUNDING: None,
    S.REFUNDED: AfterSaleRefunded,
    S.CLOSED: AfterSaleClosed,
    S.CANCELLED: AfterSaleClosed,
}


class TimerKind:
    REVIEW = "review_deadline"
    RETURN_RECEIPT = "return_receipt_deadline"
    ESCALATION = "escalation_deadline"
    REFUND_RESEND = "refund_resend"
    COMPENSATION_RESEND = "compensation_resend"


# Order view statuses, in the order an order moves through them (a stale event never moves the view back).
_VIEW_RANK = {"CREATED": 0, "PAID": 1, "SHIPPED": 2, "DELIVERED": 3, "COMPLETED": 4, "CANCELLED": 5, "REFUNDED": 6}


def _now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def policy(runtime) -> Policy:
    return Policy.from_settings(runtime.settings)


def actor_of(principal: Principal) -> str:
    return f"{principal.role}:{principal.sub}"


# ------------------------------------------------------------------------------------------------ loading and locks


async def _lock_order(s: AsyncSession, order_id: str, *, nowait: bool = False) -> OrderView | None:
    stmt = (
        select(OrderView)
        .where(OrderView.order_id == order_id)
        .with_for_update(nowait=nowait)
        .execution_options(populate_existing=True)
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def _lock_case(s: AsyncSession, case_id: str) -> AfterSaleCase | None:
    stmt = (
        select(AfterSaleCase)
        .where(AfterSaleCase.case_id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def _lock_case_with_order(
    s: AsyncSession, case_id: str, *, nowait: bool = False
) -> tuple[AfterSaleCase, OrderView] | tuple[None, None]:
    """Order first, then case: the one lock order every writer follows."""
    order_id = (await s.execute(select(AfterSaleCase.order_id).where(AfterSaleCase.case_id == case_id))).scalar()
    if order_id is None:
        return None, None
    view = await _lock_order(s, order_id, nowait=nowait)
    case = await _lock_case(s, case_id)
    if view is None or case is None:
        return None, None
    return case, view


async def _reserved_fen(s: AsyncSession, order_id: str, *, exclude_case_id: str | None = None) -> int:
    stmt = select(func.coalesce(func.sum(AfterSaleCase.amount_fen), 0)).where(
        AfterSaleCase.order_id == order_id, AfterSaleCase.status.in_([str(x) for x in domain.RESERVING])
    )
    if exclude_case_id is not None:
        stmt = stmt.where(AfterSaleCase.case_id != exclude_case_id)
    return int((await s.execute(stmt)).scalar() or 0)


def _rights(view: OrderView) -> frozenset[TrustRight]:
    return frozenset(TrustRight(r) for r in view.trust_rights if r in TrustRight.__members__)


async def _facts(s: AsyncSession, view: OrderView, *, exclude_case_id: str | None = None) -> domain.OrderFacts:
    return domain.OrderFacts(
        paid_fen=view.paid_fen,
        refunded_fen=view.refunded_total_fen,
        reserved_fen=await _reserved_fen(s, view.order_id, exclude_case_id=exclude_case_id),
        trust_rights=_rights(view),
        shipped=view.shipped_at is not None or view.delivered_at is not None,
        delivered_at=view.delivered_at,
    )


async def _recent_refunds(s: AsyncSession, buyer_id: str, since: datetime) -> int:
    stmt = select(func.count()).where(
        AfterSaleCase.buyer_id == buyer_id,
        AfterSaleCase.origin == "BUYER",
        AfterSaleCase.status.in_([S.REFUNDING.value, S.REFUNDED.value]),
        AfterSaleCase.approved_at >= since,
    )
    return int((await s.execute(stmt)).scalar() or 0)


# ------------------------------------------------------------------------------------------------ case mechanics


def _event(case: AfterSaleCase, cls: type[AfterSaleEvent]) -> AfterSaleEvent:
    return cls(
        order_id=case.order_id,
        case_id=case.case_id,
        type=AfterSaleType(case.type),
        reason=AfterSaleReason(case.reason),
        amount_fen=case.amount_fen,
        status=CaseStatus(case.status),
        buyer_id=case.buyer_id,
        shop_id=case.shop_id,
    )


def _note(s: AsyncSession, case: AfterSaleCase, actor: str, reason: str | None, at: datetime) -> None:
    s.add(CaseTimelineEntry(case_id=case.case_id, at=at, status=case.status, actor=actor, reason=reason))


async def _move(
    s: AsyncSession, rt, case: AfterSaleCase, target: CaseStatus, *, actor: str, reason: str | None, at: datetime
) -> bool:
    """One transition: guarded by the state machine, written to the timeline, announced by exactly one event."""
    if not domain.transition(case.status, target):
        return False
    case.status = target.value
    case.updated_at = at
    _note(s, case, actor, reason, at)
    event_cls = CASE_EVENTS[target]
    if event_cls is not None:
        await rt.outbox.add(s, _event(case, event_cls))
    return True


async def _start(s: AsyncSession, rt, case: AfterSaleCase, *, actor: str, reason: str | None) -> None:
    s.add(case)
    _note(s, case, actor, reason, case.created_at)
    await rt.outbox.add(s, _event(case, AfterSaleRequested))


async def _approve(
    s: AsyncSession, rt, case: AfterSaleCase, view: OrderView, *, actor: str, reason: str | None, at: datetime
) -> None:
    await _move(s, rt, case, S.APPROVED, actor=actor, reason=reason, at=at)
    case.approved_at = at
    case.decision_reason = reason
    await rt.timers.cancel(s, TimerKind.REVIEW, case.case_id)
    nxt = domain.status_after_approval(case.return_required)
    if nxt is S.AWAITING_RETURN:
        await _move(
            s, rt, case, S.AWAITING_RETURN, actor=SYSTEM, reason="waiting for the buyer to send the goods back", at=at
        )
    else:
        await _request_refund(s, rt, case, at=at)


async def _request_refund(s: AsyncSession, rt, case: AfterSaleCase, *, at: datetime) -> None:
    """Money moves only through the order service: one refund.requested under a stable refund_id."""
    await _move(s, rt, case, S.REFUNDING, actor=SYSTEM, reason=f"refund of {case.amount_fen} fen requested", at=at)
    case.refund_id = domain.refund_id(case.case_id)
    case.refund_attempts = 1
    case.refund_requested_at = at
    await rt.outbox.add(s, _refund_requested(case))
    delay = domain.resend_delay(1, policy(rt))
    await rt.timers.schedule(
        s, TimerKind.REFUND_RESEND, f"{case.case_id}:1", at + delay, {"case_id": case.case_id, "attempt": 1}
    )


def _refund_requested(case: AfterSaleCase) -> RefundRequested:
    return RefundRequested(
        order_id=case.order_id,
        case_id=case.case_id,
        amount_fen=case.amount_fen,
        buyer_id=case.buyer_id,
        shop_id=case.shop_id,
        refund_id=case.refund_id,
    )


async def _close(
    s: AsyncSession, rt, case: AfterSaleCase, target: CaseStatus, *, actor: str, reason: str | None, at: datetime
) -> bool:
    """Ends a case without a refund (CLOSED or CANCELLED): its amount is no longer reserved."""
    if not domain.transition(case.status, target):
        return False
    case.close_reason = reason
    case.closed_at = at
    await _move(s, rt, case, target, actor=actor, reason=reason, at=at)
    for kind in (TimerKind.REVIEW, TimerKind.RETURN_RECEIPT, TimerKind.ESCALATION):
        await rt.timers.cancel(s, kind, case.case_id)
    return True


async def _after_return_received(s: AsyncSession, rt, case: AfterSaleCase, view: OrderView, *, at: datetime) -> None:
    await rt.timers.cancel(s, TimerKind.RETURN_RECEIPT, case.case_id)
    await _request_refund(s, rt, case, at=at)
    # 退货补运费: the goods came back, so the return was real; the platform pays the buyer's postage.
    await _grant(s, rt, view, CompensationKind.RETURN_SHIPPING, price_fen=case.amount_fen, case=case, at=at)


async def _grant(
    s: AsyncSession,
    rt,
    view: OrderView,
    kind: CompensationKind,
    *,
    price_fen: int,
    case: AfterSaleCase | None,
    at: datetime,
) -> Compensation | None:
    """Grants a compensation when the order's rights (or the law) owe it, at most once per dedupe key."""
    decision = domain.compensation_for(kind, price_fen, _rights(view), policy(rt))
    if decision is None:
        return None
    key = domain.compensation_dedupe_key(kind, view.order_id, case.case_id if case else None)
    existing = (await s.execute(select(Compensation).where(Compensation.dedupe_key == key))).scalar_one_or_none()
    if existing is not None:
        return existing
    cp = Compensation(
        compensation_id=new_id("cp"),
        order_id=view.order_id,
        case_id=case.case_id if case else None,
        buyer_id=view.buyer_id or "",
        shop_id=view.shop_id or "",
        kind=decision.kind.value,
        payer=decision.payer.value,
        amount_fen=decision.amount_fen,
        status=CompensationStatus.GRANTED.value,
        dedupe_key=key,
        attempts=1,
        granted_at=at,
        created_at=at,
        updated_at=at,
    )
    s.add(cp)
    await rt.outbox.add(s, _compensation_granted(cp))
    delay = domain.resend_delay(1, policy(rt))
    await rt.timers.schedule(
        s,
        TimerKind.COMPENSATION_RESEND,
        f"{cp.compensation_id}:1",
        at + delay,
        {"compensation_id": cp.compensation_id, "attempt": 1},
    )
    if case is not None:
        _note(
            s,
            case,
            SYSTEM,
            f"{kind} compensation of {cp.amount_fen} fen granted ({cp.compensation_id}, paid by {cp.payer})",
            at,
        )
    return cp


def _compensation_granted(cp: Compensation) -> CompensationGranted:
    return CompensationGranted(
        order_id=cp.order_id,
        compensation_id=cp.compensation_id,
        kind=CompensationKind(cp.kind),
        amount_fen=cp.amount_fen,
        payer=cp.payer,
        buyer_id=cp.buyer_id,
        shop_id=cp.shop_id,
        case_id=cp.case_id,
    )


async def _open_full_refund(
    s: AsyncSession, rt, view: OrderView, reason: AfterSaleReason, *, detail: str, at: datetime
) -> AfterSaleCase | None:
    """The platform's own REFUND_ONLY case for everything still refundable, approved at once; one per order."""
    key = f"full-refund:{view.order_id}"
    existing = (await s.execute(select(AfterSaleCase).where(AfterSaleCase.system_key == key))).scalar_one_or_none()
    if existing is not None:
        return existing
    if not view.buyer_id or not view.shop_id or view.paid_fen <= 0:
        log.warning("no full refund for order %s: its payment is unknown here", view.order_id)
        return None
    # The buyer's own open cases with nothing in motion are superseded: the platform refunds everything.
    open_cases = (
        (
            await s.execute(
                select(AfterSaleCase)
                .where(
                    AfterSaleCase.order_id == view.order_id,
                    AfterSaleCase.status.in_([x.value for x in domain.SUPERSEDABLE]),
                )
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    for other in open_cases:
        await _close(
            s, rt, other, S.CLOSED, actor=SYSTEM, reason=f"superseded by the platform's full refund ({reason})", at=at
        )
    amount = (await _facts(s, view)).refundable_fen
    if amount <= 0:
        log.info("no full refund for order %s: nothing is left to refund", view.order_id)
        return None
    case = AfterSaleCase(
        case_id=new_id("as"),
        order_id=view.order_id,
        buyer_id=view.buyer_id,
        shop_id=view.shop_id,
        type=AfterSaleType.REFUND_ONLY.value,
        reason=reason.value,
        status=S.REQUESTED.value,
        amount_fen=amount,
        description=detail,
        origin="SYSTEM",
        system_key=key,
        return_required=False,
        rules_applied=[reason.value],
        created_at=at,
        updated_at=at,
    )
    await _start(s, rt, case, actor=SYSTEM, reason=detail)
    await _approve(s, rt, case, view, actor=SYSTEM, reason=f"approved at once: {reason}", at=at)
    return case


# ------------------------------------------------------------------------------------------------ shaping


def _summary_fields(case: AfterSaleCase) -> dict[str, Any]:
    return dict(
        case_id=case.case_id,
        order_id=case.order_id,
        buyer_id=case.buyer_id,
        shop_id=case.shop_id,
        type=case.type,
        reason=case.reason,
        status=case.status,
        amount_fen=case.amount_fen,
        refunded_fen=case.refunded_fen,
        origin=case.origin,
        return_required=case.return_required,
        rules_applied=list(case.rules_applied or []),
        refund_id=case.refund_id,
        review_due_at=case.review_due_at,
        return_due_at=case.return_due_at,
        escalation_due_at=case.escalation_due_at,
        decision_reason=case.decision_reason,
        close_reason=case.close_reason,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


def _compensation_public(cp: Compensation) -> CompensationPublic:
    return CompensationPublic(
        compensation_id=cp.compensation_id,
        order_id=cp.order_id,
        case_id=cp.case_id,
        buyer_id=cp.buyer_id,
        shop_id=cp.shop_id,
        kind=cp.kind,
        payer=cp.payer,
        amount_fen=cp.amount_fen,
        status=cp.status,
        granted_at=cp.granted_at,
        paid_at=cp.paid_at,
    )


async def _public(s: AsyncSession, case: AfterSaleCase) -> CasePublic:
    await s.flush()
    timeline = (
        (
            await s.execute(
                select(CaseTimelineEntry)
                .where(CaseTimelineEntry.case_id == case.case_id)
                .order_by(CaseTimelineEntry.id)
            )
        )
        .scalars()
        .all()
    )
    compensations = (
        (
            await s.execute(
                select(Compensation).where(Compensation.case_id == case.case_id).order_by(Compensation.created_at)
            )
        )
        .scalars()
        .all()
    )
    shipment = None
    if case.return_carrier and case.return_tracking_no:
        shipment = ReturnShipmentPublic(carrier=case.return_carrier, tracking_no=case.return_tracking_no)
    return CasePublic(
        **_summary_fields(case),
        description=case.description,
        evidence=list(case.evidence or []),
        return_shipment=shipment,
        compensations=[_compensation_public(c) for c in compensations],
        timeline=[TimelineEntryPublic(at=t.at, status=t.status, actor=t.actor, reason=t.reason) for t in timeline],
    )


# ------------------------------------------------------------------------------------------------ authorization


def _can_see(principal: Principal, buyer_id: str | None, shop_id: str | None) -> bool:
    if principal.role is Role.ADMIN:
        return True
    if principal.role is Role.BUYER:
        return buyer_id == principal.sub
    if principal.role is Role.SELLER:
        return shop_id == principal.shop_id
    raise Forbidden(
        f"role {principal.role} has no after-sales", details={"allowed_roles": ["buyer", "seller", "admin"]}
    )


def _case_not_found(case_id: str) -> NotFound:
    return NotFound(f"after-sale case {case_id} not found", code="CASE_NOT_FOUND")


async def _case_for(
    s: AsyncSession, principal: Principal, case_id: str, *roles: Role
) -> tuple[AfterSaleCase, OrderView]:
    """Locks the case for a command by one of `roles`; another tenant's case does not exist for the caller."""
    principal.require(*roles)
    case, view = await _lock_case_with_order(s, case_id)
    if case is None or not _can_see(principal, case.buyer_id, case.shop_id):
        raise _case_not_found(case_id)
    return case, view


# ------------------------------------------------------------------------------------------------ commands


async def open_case(rt, principal: Principal, body: CaseCreate) -> CasePublic:
    principal.require(Role.BUYER)
    pol = policy(rt)
    at = _now()
    async with rt.transaction() as s:
        view = await _lock_order(s, body.order_id)
        if view is None or view.buyer_id != principal.sub:
            raise NotFound(f"order {body.order_id} not found", code="ORDER_NOT_FOUND")
        facts = await _facts(s, view)
        recent = 0
        if TrustRight.FAST_REFUND in facts.trust_rights:
            recent = await _recent_refunds(s, principal.sub, at - pol.fast_refund_lookback)
        request = domain.CaseRequest(AfterSaleType(body.type), AfterSaleReason(body.reason), body.amount_fen)
        intake = domain.assess_request(facts, request, recent, at, pol)
        case = AfterSaleCase(
            case_id=new_id("as"),
            order_id=view.order_id,
            buyer_id=principal.sub,
            shop_id=view.shop_id or "",
            type=request.type.value,
            reason=request.reason.value,
            status=S.REQUESTED.value,
            amount_fen=intake.amount_fen,
            description=body.description,
            evidence=list(body.evidence),
            origin="BUYER",
            return_required=intake.return_required,
            rules_applied=list(intake.rules),
            created_at=at,
            updated_at=at,
        )
        actor = actor_of(principal)
        await _start(s, rt, case, actor=actor, reason=body.description)
        if intake.approve_at_once:
            await _approve(
                s, rt, case, view, actor=SYSTEM, reason=f"approved at once: {', '.join(intake.rules)}", at=at
            )
        else:
            case.review_due_at = at + pol.review_sla
            await rt.timers.schedule(s, TimerKind.REVIEW, case.case_id, case.review_due_at, {"case_id": case.case_id})
        return await _public(s, case)


async def approve_case(rt, principal: Principal, case_id: str, reason: str | None) -> CasePublic:
    at = _now()
    async with rt.transaction() as s:
        case, view = await _case_for(s, principal, case_id, Role.SELLER)
        if domain.transition(case.status, S.APPROVED):
            await _approve(
                s, rt, case, view, actor=actor_of(principal), reason=reason or "approved by the seller", at=at
            )
        return await _public(s, case)


async def reject_case(rt, principal: Principal, case_id: str, reason: str) -> CasePublic:
    at = _now()
    async with rt.transaction() as s:
        case, view = await _case_for(s, principal, case_id, Role.SELLER)
        if await _move(s, rt, case, S.REJECTED, actor=actor_of(principal), reason=reason, at=at):
            case.decision_reason = reason
            case.escalation_due_at = at + policy(rt).escalation_window
            await rt.timers.cancel(s, TimerKind.REVIEW, case.case_id)
            await rt.timers.schedule(
                s, TimerKind.ESCALATION, case.case_id, case.escalation_due_at, {"case_id": case.case_id}
            )
        return await _public(s, case)


async def ship_return(rt, principal: Principal, case_id: str, carrier: str, tracking_no: str) -> CasePublic:
    at = _now()
    async with rt.transaction() as s:
        case, view = await _case_for(s, principal, case_id, Role.BUYER)
        reason = f"{carrier} {tracking_no}"
        if await _move(s, rt, case, S.RETURN_SHIPPED, actor=actor_of(principal), reason=reason, at=at):
            case.return_carrier, case.return_tracking_no = carrier, tracking_no
            case.return_due_at = at + policy(rt).return_receipt_sla
            await rt.timers.schedule(
                s, TimerKind.RETURN_RECEIPT, case.case_id, case.return_due_at, {"case_id": case.case_id}
            )
        return await _public(s, case)


async def confirm_return_received(rt, principal: Principal, case_id: str) -> CasePublic:
    at = _now()
    async with rt.transaction() as s:
        case, view = await _case_for(s, principal, case_id, Role.SELLER)
        if await _move(
            s, rt, case, S.RETURN_RECEIVED, actor=actor_of(principal), reason="receipt confirmed by the seller", at=at
        ):
            await _after_return_received(s, rt, case, view, at=at)
        return await _public(s, case)


async def escalate_case(rt, principal: Principal, case_id: str, reason: str | None) -> CasePublic:
    at = _now()
    async with rt.transaction() as s:
        case, view = await _case_for(s, principal, case_id, Role.BUYER)
        if await _move(
            s, rt, case, S.ARBITRATION, actor=actor_of(principal), reason=reason or "the buyer asks the platform", at=at
        ):
            case.escalation_due_at = None
            await rt.timers.cancel(s, TimerKind.ESCALATION, case.case_id)
        return await _public(s, case)


async def arbitrate_case(rt, principal: Principal, case_id: str, body: ArbitrateBody) -> CasePublic:
    at = _now()
    actor = actor_of(principal)
    async with rt.transaction() as s:
        case, view = await _case_for(s, principal, case_id, Role.ADMIN)
        target = S.APPROVED if body.decision == "REFUND" else S.CLOSED
        if case.status != S.ARBITRATION.value:
            if body.decision == "REJECT" and case.status == S.CLOSED.value:
                return await _public(s, case)  # the same decision again
            raise IllegalTransition("after-sale case", case.status, target)
        if body.decision == "REJECT":
            await _close(s, rt, case, S.CLOSED, actor=actor, reason=f"arbitration rejected: {body.reason}", at=at)
            case.decision_reason = body.reason
            return await _public(s, case)
        without_case = (await _facts(s, view, exclude_case_id=case.case_id)).refundable_fen
        case.amount_fen = domain.arbitrated_amount(case.amount_fen, body.amount_fen, without_case)
        await _approve(s, rt, case, view, actor=actor, reason=f"arbitration: refund. {body.reason}", at=at)
        if case.reason == AfterSaleReason.COUNTERFEIT.value:
            # A counterfeit confirmed by the platform: 假一赔十 (or 退一赔三 by law) on the refunded price.
            await _grant(s, rt, view, CompensationKind.COUNTERFEIT, price_fen=case.amount_fen, case=case, at=at)
        return await _public(s, case)


async def cancel_case(rt, principal: Principal, case_id: str, reason: str | None) -> CasePublic:
    at = _now()
    async with rt.transaction() as s:
        case, view = await _case_for(s, principal, case_id, Role.BUYER)
        await _close(
            s, rt, case, S.CANCELLED, actor=actor_of(principal), reason=reason or "withdrawn by the buyer", at=at
        )
        return await _public(s, case)


# ------------------------------------------------------------------------------------------------ queries


async def get_case(rt, principal: Principal, case_id: str) -> CasePublic:
    async with rt.transaction() as s:
        case = await s.get(AfterSaleCase, case_id)
        if case is None or not _can_see(principal, case.buyer_id, case.shop_id):
            raise _case_not_found(case_id)
        return await _public(s, case)


def _scope(stmt, principal: Principal, model):
    if principal.role is Role.BUYER:
        return stmt.where(model.buyer_id == principal.sub)
    if principal.role is Role.SELLER:
        return stmt.where(model.shop_id == principal.shop_id)
    if principal.role is Role.ADMIN:
        return stmt
    raise Forbidden(
        f"role {principal.role} has no after-sales", details={"allowed_roles": ["buyer", "seller", "admin"]}
    )


def _keyset(stmt, model, id_col, cursor: str | None, limit: int):
    if cursor:
        at_text, last_id = decode_cursor(cursor, 2)
        try:
            at = datetime.fromisoformat(at_text)
        except (TypeError, ValueError) as exc:
            raise InvalidCursor("the cursor is not one this API gave out") from exc
        if not isinstance(last_id, str):  # ids are text: a number here would fail in the database, not as a 400
            raise InvalidCursor("the cursor is not one this API gave out")
        stmt = stmt.where(tuple_(model.created_at, id_col) < tuple_(at, last_id))
    return stmt.order_by(model.created_at.desc(), id_col.desc()).limit(limit + 1)


def _page(rows: list, limit: int, id_of) -> tuple[list, str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at.isoformat(), id_of(rows[-1]))


async def list_cases(
    rt, principal: Principal, *, order_id: str | None, status: CaseStatus | None, limit: int, cursor: str | None
) -> Page[CaseSummary]:
    stmt = _scope(select(AfterSaleCase), principal, AfterSaleCase)
    if order_id:
        stmt = stmt.where(AfterSaleCase.order_id == order_id)
    if status:
        stmt = stmt.where(AfterSaleCase.status == status.value)
    stmt = _keyset(stmt, AfterSaleCase, AfterSaleCase.case_id, cursor, limit)
    async with rt.transaction() as s:
        rows = list((await s.execute(stmt)).scalars().all())
    rows, next_cursor = _page(rows, limit, lambda c: c.case_id)
    return Page[CaseSummary](items=[CaseSummary(**_summary_fields(c)) for c in rows], next_cursor=next_cursor)


async def list_compensations(
    rt,
    principal: Principal,
    *,
    order_id: str | None,
    case_id: str | None,
    kind: CompensationKind | None,
    status: CompensationStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[CompensationPublic]:
    stmt = _scope(select(Compensation), principal, Compensation)
    if order_id:
        stmt = stmt.where(Compensation.order_id == order_id)
    if case_id:
        stmt = stmt.where(Compensation.case_id == case_id)
    if kind:
        stmt = stmt.where(Compensation.kind == kind.value)
    if status:
        stmt = stmt.where(Compensation.status == status.value)
    stmt = _keyset(stmt, Compensation, Compensation.compensation_id, cursor, limit)
    async with rt.transaction() as s:
        rows = list((await s.execute(stmt)).scalars().all())
    rows, next_cursor = _page(rows, limit, lambda c: c.compensation_id)
    return Page[CompensationPublic](items=[_compensation_public(c) for c in rows], next_cursor=next_cursor)


async def eligibility(rt, principal: Principal, order_id: str) -> EligibilityPublic:
    pol = policy(rt)
    async with rt.transaction() as s:
        view = await s.get(OrderView, order_id)
        if view is None or not _can_see(principal, view.buyer_id, view.shop_id):
            raise NotFound(f"order {order_id} not found", code="ORDER_NOT_FOUND")
        facts = await _facts(s, view)
    rights = sorted(facts.trust_rights)
    ends = None
    if view.delivered_at is not None and TrustRight.SEVEN_DAY_RETURN in facts.trust_rights:
        ends = view.delivered_at + pol.seven_day_return_window
    return EligibilityPublic(
        order_id=view.order_id,
        status=view.status,
        paid_fen=view.paid_fen,
        refunded_fen=view.refunded_total_fen,
        reserved_fen=facts.reserved_fen,
        refundable_fen=facts.refundable_fen,
        trust_rights=rights,
        shipped_at=view.shipped_at,
        delivered_at=view.delivered_at,
        seven_day_return_ends_at=ends,
    )


# ------------------------------------------------------------------------------------------------ order view events


async def _upsert_view(s: AsyncSession, order_id: str, values: dict[str, Any]) -> OrderView:
    """Creates the view on the first event that can (order.created / order.paid), then locks it."""
    table = OrderView.__table__
    await s.execute(
        insert(table)
        .values(order_id=order_id, status="CREATED", **values)
        .on_conflict_do_nothing(index_elements=["order_id"])
    )
    view = await _lock_order(s, order_id)
    assert view is not None
    return view


def _advance(view: OrderView, status: str, at: datetime) -> None:
    if _VIEW_RANK.get(status, -1) > _VIEW_RANK.get(view.status, -1):
        view.status = status
    view.updated_at = at


async def on_order_created(s: AsyncSession, event: OrderCreated, ctx: EventContext) -> None:
    items = [i.model_dump(mode="json") for i in event.items]
    rights = [str(r) for r in event.trust_rights]
    view = await _upsert_view(
        s,
        event.order_id,
        dict(
            buyer_id=event.buyer_id,
            shop_id=event.shop_id,
            items=items,
            trust_rights=rights,
            total_fen=event.total_fen,
            qc_required=event.qc_required,
        ),
    )
    view.buyer_id = view.buyer_id or event.buyer_id
    view.shop_id = view.shop_id or event.shop_id
    view.items = view.items or items
    view.trust_rights = view.trust_rights or rights
    view.total_fen = view.total_fen or event.total_fen
    view.qc_required = view.qc_required or event.qc_required
    view.updated_at = _now()


async def on_order_paid(s: AsyncSession, event: OrderPaid, ctx: EventContext) -> None:
    items = [i.model_dump(mode="json") for i in event.items]
    rights = [str(r) for r in event.trust_rights]
    view = await _upsert_view(
        s,
        event.order_id,
        dict(
            buyer_id=event.buyer_id,
            shop_id=event.shop_id,
            items=items,
            trust_rights=rights,
            total_fen=sum(i.unit_price_fen * i.quantity for i in event.items),
            qc_required=event.qc_required,
        ),
    )
    view.buyer_id = view.buyer_id or event.buyer_id
    view.shop_id = view.shop_id or event.shop_id
    view.items = view.items or items
    # The rights the order was placed under; order.created's copy wins, order.paid fills a gap.
    view.trust_rights = view.trust_rights or rights
    view.qc_required = view.qc_required or event.qc_required
    view.paid_fen = event.paid_fen
    view.paid_at = view.paid_at or event.paid_at or ctx.envelope.time
    _advance(view, "PAID", _now())
    if view.pending_qc_outcome:
        outcome, view.pending_qc_outcome = view.pending_qc_outcome, None
        await _qc_outcome(s, ctx.runtime, view, outcome, _now())


async def on_order_shipped(s: AsyncSession, event: OrderShipped, ctx: EventContext) -> None:
    view = await _lock_order(s, event.order_id)
    if view is None:
        return
    view.shipped_at = view.shipped_at or ctx.envelope.time
    _advance(view, "SHIPPED", _now())


async def on_order_delivered(s: AsyncSession, event: OrderDelivered, ctx: EventContext) -> None:
    view = await _lock_order(s, event.order_id)
    if view is None:
        return
    view.delivered_at = event.delivered_at
    view.shipped_at = view.shipped_at or event.delivered_at
    _advance(view, "DELIVERED", _now())


async def on_order_completed(s: AsyncSession, event: OrderCompleted, ctx: EventContext) -> None:
    view = await _lock_order(s, event.order_id)
    if view is None:
        return
    view.completed_at = view.completed_at or ctx.envelope.time
    _advance(view, "COMPLETED", _now())


async def on_order_cancelled(s: AsyncSession, event: OrderCancelled, ctx: EventContext) -> None:
    view = await _lock_order(s, event.order_id)
    if view is None:
        return
    at = _now()
    view.cancelled_at = view.cancelled_at or ctx.envelope.time
    _advance(view, "CANCELLED", at)
    if event.was_paid:
        # A paid order cancelled before shipment: the platform refunds it, no review (the order service moves no
        # money itself).
        await _open_full_refund(
            s,
            ctx.runtime,
            view,
            AfterSaleReason.CANCELLED_BEFORE_SHIPMENT,
            detail=f"order cancelled by {event.by}: {event.reason}",
            at=at,
        )


async def _qc_outcome(s: AsyncSession, rt, view: OrderView, outcome: dict[str, Any], at: datetime) -> None:
    """A failed or expired quality check: the platform refunds everything, and pays for a counterfeit."""
    case = await _open_full_refund(s, rt, view, AfterSaleReason(outcome["reason"]), detail=outcome["detail"], at=at)
    if outcome.get("failure") == QcFailureReason.COUNTERFEIT.value:
        await _grant(s, rt, view, CompensationKind.COUNTERFEIT, price_fen=view.paid_fen, case=case, at=at)


async def _on_qc_outcome(
    s: AsyncSession,
    ctx: EventContext,
    order_id: str,
    buyer_id: str | None,
    shop_id: str | None,
    outcome: dict[str, Any],
) -> None:
    view = await _lock_order(s, order_id)
    if view is None or view.paid_fen <= 0:
        # QC events come on another topic than order.paid: keep the outcome until the payment is known here.
        view = view or await _upsert_view(s, order_id, dict(buyer_id=buyer_id, shop_id=shop_id))
        view.pending_qc_outcome = outcome
        log.warning(
            "%s for order %s before its payment is known here: kept until order.paid", outcome["reason"], order_id
        )
        return
    await _qc_outcome(s, ctx.runtime, view, outcome, _now())


async def on_qc_failed(s: AsyncSession, event: QcFailed, ctx: EventContext) -> None:
    detail = f"quality check {event.case_id} failed: {event.reason}. {event.findings}"
    outcome = {"reason": AfterSaleReason.QC_FAILED.value, "failure": event.reason.value, "detail": detail}
    await _on_qc_outcome(s, ctx, event.order_id, event.buyer_id, event.shop_id, outcome)


async def on_qc_expired(s: AsyncSession, event: QcExpired, ctx: EventContext) -> None:
    detail = f"the seller missed the quality-check inbound deadline ({event.case_id})"
    outcome = {"reason": AfterSaleReason.QC_EXPIRED.value, "failure": None, "detail": detail}
    await _on_qc_outcome(s, ctx, event.order_id, event.buyer_id, event.shop_id, outcome)


async def on_order_shipping_late(s: AsyncSession, event: OrderShippingLate, ctx: EventContext) -> None:
    view = await _lock_order(s, event.order_id)
    if view is None:
        return
    await _grant(s, ctx.runtime, view, CompensationKind.LATE_SHIPMENT, price_fen=view.paid_fen, case=None, at=_now())


# ------------------------------------------------------------------------------------------------ money answers


async def on_order_refunded(s: AsyncSession, event: OrderRefunded, ctx: EventContext) -> None:
    view = await _lock_order(s, event.order_id)
    if view is None:
        return
    at = _now()
    view.refunded_total_fen = max(view.refunded_total_fen, event.refunded_total_fen)
    if view.paid_fen and view.refunded_total_fen >= view.paid_fen:
        _advance(view, "REFUNDED", at)
    case = await _lock_case(s, event.case_id)
    if case is None or case.order_id != event.order_id:
        return  # a refund this service did not ask for: the total above is all it changes here
    if case.status != S.REFUNDING.value:
        if case.status != S.REFUNDED.value:
            log.error("order.refunded for case %s in status %s", case.case_id, case.status)
        return
    case.refunded_fen = event.amount_fen
    case.refunded_at = at
    await _move(
        s,
        ctx.runtime,
        case,
        S.REFUNDED,
        actor="order-service",
        reason=f"{event.amount_fen} fen refunded from {event.source}",
        at=at,
    )
    await ctx.runtime.timers.cancel(s, TimerKind.REFUND_RESEND, f"{case.case_id}:{case.refund_attempts}")


async def on_order_refund_rejected(s: AsyncSession, event: OrderRefundRejected, ctx: EventContext) -> None:
    view = await _lock_order(s, event.order_id)
    if view is None:
        return
    case = await _lock_case(s, event.case_id)
    if case is None or case.order_id != event.order_id or case.status != S.REFUNDING.value:
        return  # stale or not ours
    # Nothing moved: the case ends CLOSED with the order service's reason, and its amount is free again.
    reason = (
        f"refund rejected by the order service: {event.reason} "
        f"(requested {event.amount_fen} fen, refundable {event.refundable_fen} fen)"
    )
    await _close(s, ctx.runtime, case, S.CLOSED, actor="order-service", reason=reason, at=_now())
    await ctx.runtime.timers.cancel(s, TimerKind.REFUND_RESEND, f"{case.case_id}:{case.refund_attempts}")


async def on_order_compensation_paid(s: AsyncSession, event: OrderCompensationPaid, ctx: EventContext) -> None:
    # The order first, like every writer: the re-send timer locks it before the compensation.
    await _lock_order(s, event.order_id)
    cp = (
        await s.execute(
            select(Compensation)
            .where(Compensation.compensation_id == event.compensation_id, Compensation.order_id == event.order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if cp is None or not domain.compensation_transition(cp.status, CompensationStatus.PAID):
        return
    at = _now()
    cp.status = CompensationStatus.PAID.value
    cp.paid_at = at
    cp.updated_at = at
    await ctx.runtime.timers.cancel(s, TimerKind.COMPENSATION_RESEND, f"{cp.compensation_id}:{cp.attempts}")


# ------------------------------------------------------------------------------------------------ timers


async def on_review_deadline(s: AsyncSession, timer: DueTimer, rt) -> None:
    case, view = await _lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.REQUESTED.value:
        return
    await _approve(
        s, rt, case, view, actor=SYSTEM, reason="approved automatically: the seller did not review in time", at=_now()
    )


async def on_return_receipt_deadline(s: AsyncSession, timer: DueTimer, rt) -> None:
    case, view = await _lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.RETURN_SHIPPED.value:
        return
    at = _now()
    await _move(
        s,
        rt,
        case,
        S.RETURN_RECEIVED,
        actor=SYSTEM,
        reason="receipt assumed: the seller did not confirm in time",
        at=at,
    )
    await _after_return_received(s, rt, case, view, at=at)


async def on_escalation_deadline(s: AsyncSession, timer: DueTimer, rt) -> None:
    case, view = await _lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.REJECTED.value:
        return
    await _close(s, rt, case, S.CLOSED, actor=SYSTEM, reason="not escalated in time: the rejection is final", at=_now())


async def on_refund_resend(s: AsyncSession, timer: DueTimer, rt) -> None:
    """No answer yet: the same refund.requested (same refund_id) again; the order service dedupes it."""
    case, view = await _lock_case_with_order(s, timer.payload["case_id"], nowait=True)
    attempt = int(timer.payload.get("attempt", 0))
    if case is None or case.status != S.REFUNDING.value or case.refund_attempts != attempt:
        return
    case.refund_attempts = attempt + 1
    case.updated_at = _now()
    await rt.outbox.add(s, _refund_requested(case))
    log.warning("refund %s unanswered: sent again (attempt %d)", case.refund_id, case.refund_attempts)
    # A new key per attempt: this timer is still live while its handler runs, so rescheduling its own key
    # would be marked fired together with it.
    due = _now() + domain.resend_delay(case.refund_attempts, policy(rt))
    await rt.timers.schedule(
        s,
        TimerKind.REFUND_RESEND,
        f"{case.case_id}:{case.refund_attempts}",
        due,
        {"case_id": case.case_id, "attempt": case.refund_attempts},
    )


async def on_compensation_resend(s: AsyncSession, timer: DueTimer, rt) -> None:
    cp_id = timer.payload["compensation_id"]
    order_id = (await s.execute(select(Compensation.order_id).where(Compensation.compensation_id == cp_id))).scalar()
    if order_id is None or await _lock_order(s, order_id, nowait=True) is None:
        return
    cp = (
        await s.execute(
            select(Compensation)
            .where(Compensation.compensation_id == cp_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    attempt = int(timer.payload.get("attempt", 0))
    if cp.status != CompensationStatus.GRANTED.value or cp.attempts != attempt:
        return
    cp.attempts = attempt + 1
    cp.updated_at = _now()
    await rt.outbox.add(s, _compensation_granted(cp))
    log.warning("compensation %s unanswered: sent again (attempt %d)", cp.compensation_id, cp.attempts)
    due = _now() + domain.resend_delay(cp.attempts, policy(rt))
    await rt.timers.schedule(
        s,
        TimerKind.COMPENSATION_RESEND,
        f"{cp.compensation_id}:{cp.attempts}",
        due,
        {"compensation_id": cp_id, "attempt": cp.attempts},
    )
