"""The case mechanics every handler shares: move a case (timeline and event), approve, request the refund, close,
grant a compensation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from xinren_shared.commands import UnitOfWork
from xinren_shared.contracts.vocabulary import AfterSaleType, CompensationKind
from xinren_shared.events import Event
from xinren_shared.ids import new_id, utcnow
from xinren_shared.runtime import ServiceRuntime

from .. import domain, events_out, repository
from ..domain import CASES, DEADLINES, CaseStatus, CloseCode, CompensationStatus, Policy, S, TimerKind
from ..models import AfterSaleCase, CaseTimelineEntry, Compensation, OrderView
from ..settings import RefundSettings

SYSTEM = "system"
ORDER_SERVICE = "order-service"


@dataclass(frozen=True)
class CaseContext:
    """One step on cases: its unit of work (session, runtime, the time it happens at) and who takes it."""

    uow: UnitOfWork[RefundSettings]
    actor: str

    @classmethod
    def of(cls, session: AsyncSession, runtime: ServiceRuntime[RefundSettings], actor: str = SYSTEM) -> CaseContext:
        """For an event or a timer: no runner made its unit of work, so it is made here, at the current time."""
        return cls(UnitOfWork(session, runtime, utcnow()), actor)

    @property
    def session(self) -> AsyncSession:
        return self.uow.session

    @property
    def now(self) -> datetime:
        return self.uow.now

    @property
    def policy(self) -> Policy:
        return Policy.from_settings(self.uow.settings)

    def by_system(self) -> CaseContext:
        """The same step, for what the platform does on its own within it."""
        return replace(self, actor=SYSTEM)

    def note(self, case: AfterSaleCase, reason: str | None) -> None:
        entry = CaseTimelineEntry(
            case_id=case.case_id, at=self.now, status=case.status, actor=self.actor, reason=reason
        )
        self.session.add(entry)

    async def schedule(self, kind: TimerKind, key: str, due_at: datetime, payload: dict[str, object]) -> None:
        await self.uow.runtime.timers.schedule(self.session, kind, key, due_at, payload)

    async def cancel(self, kind: TimerKind, key: str) -> None:
        await self.uow.runtime.timers.cancel(self.session, kind, key)

    async def publish(self, event: Event | None) -> None:
        if event is not None:
            await self.uow.runtime.outbox.add(self.session, event)


async def start(cx: CaseContext, case: AfterSaleCase, reason: str | None, *, reviewed: bool) -> None:
    """A new case: stored, its first timeline entry, aftersale.requested; `reviewed`: the seller must review it
    (by the review deadline), rather than a rule or the platform deciding it at once."""
    cx.session.add(case)
    if reviewed:
        await _enter_deadline(cx, case)
    cx.note(case, reason)
    await cx.publish(events_out.case_event(case))


async def move(
    cx: CaseContext, case: AfterSaleCase, target: CaseStatus, reason: str | None, *, announce: bool = True
) -> bool:
    """One transition: guarded by the state machine, its deadlines moved along (the old one and its timer
    cancelled, the new one set and scheduled), written to the timeline, announced by exactly one event (by the
    caller, when `announce` is False)."""
    if not CASES.move(case.status, target):
        return False
    await _leave_deadline(cx, case)
    case.status = target.value
    case.updated_at = cx.now
    await _enter_deadline(cx, case)
    cx.note(case, reason)
    if announce:
        await cx.publish(events_out.case_event(case))
    return True


async def _enter_deadline(cx: CaseContext, case: AfterSaleCase) -> None:
    deadline = DEADLINES.get(CaseStatus(case.status))
    if deadline is not None:
        due = cx.now + deadline.length(cx.policy)
        setattr(case, deadline.field, due)
        await cx.schedule(deadline.timer, case.case_id, due, {"case_id": case.case_id})


async def _leave_deadline(cx: CaseContext, case: AfterSaleCase) -> None:
    deadline = DEADLINES.get(CaseStatus(case.status))
    if deadline is not None and getattr(case, deadline.field) is not None:
        setattr(case, deadline.field, None)
        await cx.cancel(deadline.timer, case.case_id)


async def approve(cx: CaseContext, case: AfterSaleCase, reason: str | None) -> None:
    """Approves the case and leaves APPROVED at once: for the goods to come back, the replacement, or the money."""
    if not await move(cx, case, S.APPROVED, reason, announce=False):
        return
    case.decision_reason = reason
    await proceed(cx, case, events_out.case_event)


async def proceed(cx: CaseContext, case: AfterSaleCase, announce: events_out.CaseAnnouncer) -> None:
    """An APPROVED case moves on: AWAITING_RETURN (the step's event tells the buyer's return deadline), or
    AWAITING_REPLACEMENT (a reship: the seller's deadline), or REFUNDING; `announce` builds the step's one event
    (aftersale.approved, or aftersale.offer_accepted when the buyer accepted a counter-offer)."""
    case.approved_at = cx.now
    after = domain.status_after_approval(case.return_required, case.type)
    if after is S.AWAITING_RETURN:
        note = "waiting for the buyer to send the goods back"
        await move(cx.by_system(), case, S.AWAITING_RETURN, note, announce=False)
        await cx.publish(announce(case, S.APPROVED))
    elif after is S.AWAITING_REPLACEMENT:
        note = "waiting for the seller to ship the replacement"
        await move(cx.by_system(), case, S.AWAITING_REPLACEMENT, note, announce=False)
        await cx.publish(announce(case, S.APPROVED))
    else:
        await cx.publish(announce(case, S.APPROVED))
        await request_refund(cx, case)


async def request_refund(cx: CaseContext, case: AfterSaleCase) -> None:
    """Money moves only through the order service: one refund.requested under a stable refund_id."""
    await move(cx.by_system(), case, S.REFUNDING, f"refund of {case.amount_fen} fen requested")
    case.refund_id = domain.refund_id(case.case_id)
    case.refund_attempts = 1
    case.refund_requested_at = cx.now
    await cx.publish(events_out.refund_requested(case))
    await schedule_refund_resend(cx, case)


async def request_difference(cx: CaseContext, case: AfterSaleCase) -> None:
    """An exchange for a cheaper variant: the price difference (the case's amount) is refunded through the usual
    refund.requested once the goods are back; the case stays on its way (no REFUNDING), order.refunded records it."""
    case.refund_id = domain.refund_id(case.case_id)
    case.refund_attempts = 1
    case.refund_requested_at = cx.now
    cx.by_system().note(case, f"price difference of {case.amount_fen} fen to refund (cheaper variant)")
    await cx.publish(events_out.refund_requested(case))
    await schedule_refund_resend(cx, case)


def awaits_refund(case: AfterSaleCase) -> bool:
    """A refund asked for and not answered: a REFUNDING case, or an exchange's price difference."""
    if case.status == S.REFUNDING:
        return True
    return case.type == AfterSaleType.EXCHANGE and case.refund_id is not None and case.refunded_at is None


async def schedule_refund_resend(cx: CaseContext, case: AfterSaleCase) -> None:
    # A new key per attempt: a resend timer is still live while its handler runs, so rescheduling its own key
    # would be marked fired together with it.
    attempt = case.refund_attempts
    due = cx.now + domain.resend_delay(attempt, cx.policy)
    payload: dict[str, object] = {"case_id": case.case_id, "attempt": attempt}
    await cx.schedule(TimerKind.REFUND_RESEND, f"{case.case_id}:{attempt}", due, payload)


async def close(cx: CaseContext, case: AfterSaleCase, target: CaseStatus, code: CloseCode, reason: str | None) -> None:
    """Ends a case without a refund (CLOSED or CANCELLED): its amount is no longer reserved."""
    if not await move(cx, case, target, reason):
        return
    case.close_code, case.close_reason = code.value, reason
    case.closed_at = cx.now


async def after_return_received(cx: CaseContext, case: AfterSaleCase, view: OrderView) -> None:
    if domain.status_after_return(case.type) is S.AWAITING_REPLACEMENT:
        # 换货: the goods are back, the seller ships the new ones; no money moves but a cheaper variant's difference.
        await move(cx.by_system(), case, S.AWAITING_REPLACEMENT, "waiting for the seller to ship the replacement")
        if case.amount_fen > 0:
            await request_difference(cx, case)
        return
    await request_refund(cx, case)
    # 退货补运费: the goods came back, so the return was real; the platform pays the buyer's postage.
    await grant(cx, view, CompensationKind.RETURN_SHIPPING, price_fen=case.amount_fen, case=case)


async def grant(
    cx: CaseContext,
    view: OrderView,
    kind: CompensationKind,
    *,
    price_fen: int,
    case: AfterSaleCase | None,
    certified: bool = False,
) -> Compensation | None:
    """Grants a compensation when the order's rights (or the law) owe it, at most once per dedupe key;
    `certified`: the claim was upheld against the quality check's certificate (the platform's guarantee pays)."""
    decision = domain.compensation_for(kind, price_fen, repository.rights(view), cx.policy, certified=certified)
    if decision is None:
        return None
    key = domain.compensation_dedupe_key(kind, view.order_id, case.case_id if case else None)
    existing = await cx.session.execute(select(Compensation).where(Compensation.dedupe_key == key))
    if (found := existing.scalar_one_or_none()) is not None:
        return found
    at = cx.now
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
    cx.session.add(cp)
    await cx.publish(events_out.compensation_granted(cp))
    await schedule_compensation_resend(cx, cp)
    if case is not None:
        note = f"{kind} compensation of {cp.amount_fen} fen granted ({cp.compensation_id}, paid by {cp.payer})"
        cx.by_system().note(case, note)
    return cp


async def schedule_compensation_resend(cx: CaseContext, cp: Compensation) -> None:
    attempt = cp.attempts
    due = cx.now + domain.resend_delay(attempt, cx.policy)
    payload: dict[str, object] = {"compensation_id": cp.compensation_id, "attempt": attempt}
    await cx.schedule(TimerKind.COMPENSATION_RESEND, f"{cp.compensation_id}:{attempt}", due, payload)
