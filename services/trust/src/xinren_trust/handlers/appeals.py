"""Appeals: the seller or host concerned appeals an action; an admin upholds it or overturns it, and an overturned
action is reversed (a fine given back, a suspension lifted, the violation and its observations no longer count)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.contracts.trust import TrustSubject, Violation
from xinren_shared.errors import Conflict, Unprocessable
from xinren_shared.ids import new_id

from .. import domain, events_out
from ..access import ACTIONS, APPEALS, action_not_found, appeal_not_found
from ..domain import ActionStatus, AppealDecision, AppealStatus
from ..models import Appeal, EnforcementAction, Observation, OrderFact, ViolationRecord
from ..schemas import AppealCreate, AppealDecide, AppealPublic
from ..settings import TrustSettings
from ..views import appeal_public
from .enforcement import restand
from .scoring import recompute

Unit = UnitOfWork[TrustSettings]

# The observations a violation brought, voided with it when its action is overturned.
VIOLATION_INDICATORS: dict[Violation, tuple[str, ...]] = {
    Violation.COUNTERFEIT: ("counterfeit_findings", "host_counterfeit_rate", "qc_pass_rate", "product_qc_failures"),
    Violation.FALSE_PROMISE: ("on_time_shipment_rate",),
    Violation.QC_EXPIRED: (),
    Violation.ARBITRATION_LOST: ("arbitration_losses",),
}


async def file_appeal(uow: Unit, principal: Principal, body: AppealCreate) -> AppealPublic:
    session = uow.session
    action = await session.get(EnforcementAction, body.action_id, with_for_update=True)
    if action is None or not ACTIONS.allows(principal, action):
        raise action_not_found(body.action_id)
    if uow.now - action.at > timedelta(seconds=uow.settings.appeal_window_seconds):
        raise Unprocessable(
            f"action {action.action_id} can no longer be appealed",
            code="APPEAL_WINDOW_CLOSED",
            details={"appeal_window_days": uow.settings.appeal_window_seconds / 86_400},
        )
    if not domain.ACTION.can(action.status, ActionStatus.APPEALED):
        raise Conflict(
            f"action {action.action_id} is {action.status} and cannot be appealed",
            code="ACTION_NOT_APPEALABLE",
            details={"status": action.status},
        )
    domain.ACTION.move(action.status, ActionStatus.APPEALED)
    action.status, action.updated_at = ActionStatus.APPEALED.value, uow.now
    appeal = Appeal(
        appeal_id=new_id("apl"),
        action_id=action.action_id,
        subject_kind=action.subject_kind,
        subject_id=action.subject_id,
        shop_id=action.shop_id,
        host_id=action.host_id,
        by=principal.actor,
        reason=body.reason,
        evidence_ids=list(body.evidence_ids),
        status=AppealStatus.PENDING.value,
        created_at=uow.now,
    )
    session.add(appeal)
    await session.flush()
    return appeal_public(appeal, action)


async def decide_appeal(uow: Unit, principal: Principal, appeal_id: str, body: AppealDecide) -> AppealPublic:
    session = uow.session
    appeal = await session.get(Appeal, appeal_id, with_for_update=True)
    if appeal is None or not APPEALS.allows(principal, appeal):
        raise appeal_not_found(appeal_id)
    if appeal.status != AppealStatus.PENDING:
        raise Conflict(
            f"appeal {appeal_id} is already {appeal.status}", code="APPEAL_DECIDED", details={"status": appeal.status}
        )
    action = await session.get(EnforcementAction, appeal.action_id, with_for_update=True)
    assert action is not None  # an appeal is filed on an existing action
    overturn = body.decision is AppealDecision.OVERTURN
    target = AppealStatus.OVERTURNED if overturn else AppealStatus.UPHELD
    domain.APPEAL.move(appeal.status, target)
    appeal.status, appeal.decided_at, appeal.decided_by, appeal.decision_reason = (
        target.value, uow.now, principal.actor, body.reason,
    )  # fmt: skip
    if overturn:
        await _reverse(uow, action, appeal)
    elif action.status == ActionStatus.APPEALED:  # a lifted suspension stays lifted
        domain.ACTION.move(action.status, ActionStatus.UPHELD)
        action.status, action.updated_at = ActionStatus.UPHELD.value, uow.now
    await uow.runtime.outbox.add(session, events_out.appeal_decided(appeal))
    return appeal_public(appeal, action)


async def _reverse(uow: Unit, action: EnforcementAction, appeal: Appeal) -> None:
    session, kind = uow.session, TrustSubject(action.subject_kind)
    domain.ACTION.move(action.status, ActionStatus.OVERTURNED)
    action.status, action.updated_at = ActionStatus.OVERTURNED.value, uow.now
    violation = await session.get(ViolationRecord, action.violation_id, with_for_update=True)
    if violation is not None:
        violation.voided = True
    indicators = VIOLATION_INDICATORS[Violation(action.violation)]
    if action.order_id and indicators:
        await session.execute(
            update(Observation)
            .where(col(Observation.order_id) == action.order_id, col(Observation.indicator).in_(indicators))
            .values(voided=True)
        )
    standing = await restand(session, kind, action.subject_id, uow.now)
    await uow.runtime.outbox.add(session, events_out.action_reversed(action, appeal, standing))
    # The scores the voided observations counted in, shop first (locks in one order).
    fact = await session.get(OrderFact, action.order_id) if action.order_id else None
    if action.shop_id:
        await recompute(session, uow.runtime, TrustSubject.SHOP, action.shop_id, now=uow.now)
    host = action.host_id or (fact.host_id if fact else None)
    if host:
        await recompute(session, uow.runtime, TrustSubject.HOST, host, now=uow.now)
    for sku in fact.sku_ids if fact else []:
        await recompute(
            session, uow.runtime, TrustSubject.PRODUCT, sku, now=uow.now, shop_id=fact.shop_id if fact else None
        )
