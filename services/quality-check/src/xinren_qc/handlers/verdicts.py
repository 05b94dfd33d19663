"""Verdicts: the inspector's first verdict against the category's checklist, the seller's appeal of a failure, the
review by another inspector, and the failure becoming final when nobody appealed in time."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.contracts.vocabulary import QcFailureReason
from xinren_shared.db import lock_name
from xinren_shared.errors import Conflict, Forbidden, IllegalTransition, NotFound, Unprocessable
from xinren_shared.ids import utcnow
from xinren_shared.runtime import ServiceRuntime
from xinren_shared.timers import DueTimer

from .. import checklists, domain, events_out
from ..access import CASES
from ..domain import CASE, AppealStatus, CaseStatus, CertificateStatus, VerdictResult
from ..models import QcAppeal, QcCase, QcCaseEvent
from ..schemas import AppealIn, CasePublic, VerdictIn
from ..settings import QcSettings
from ..views import case_public
from .cases import SYSTEM, QcUnit, enter, lock_case, lock_own_case
from .enforcement import strike
from .evidence import attach
from .inspection import CaseBusy

APPEAL_WINDOW = "qc_appeal_window"  # timer kind, key = case_id

# A seal is given by one verdict at a time (db.lock_name, the seal's name in this space).
_SEAL_LOCK_SPACE = 7_301_997


def _same_verdict(case: QcCase, principal: Principal, body: VerdictIn) -> bool:
    return (
        case.verdict_result == body.result
        and case.failure_reason == body.failure_reason
        and case.findings == body.findings
        and case.photos == [str(p) for p in body.photos]
        and (case.photo_ids or []) == list(dict.fromkeys(body.photo_ids))
        and (case.seal_id or None) == body.seal_id
        and case.inspector_id == principal.sub
    )


async def _checked(uow: QcUnit, case: QcCase, body: VerdictIn) -> dict[str, Any]:
    """The measurements to store; a pass of a category with a checklist that lacks anything is a 422 naming it all."""
    checklist = checklists.checklist_for(case.category)
    if checklist is None:
        return dict(body.measurements)
    if body.result is VerdictResult.PASSED:
        photos = len(set(body.photo_ids))
        gap = checklists.shortfall(checklist, body.measurements, photos, body.seal_id, uow.settings.min_pass_photos)
        if gap:
            raise Unprocessable(
                f"a pass of category {case.category!r} needs its checklist: {gap.describe()}",
                code="CHECKLIST_INCOMPLETE",
                details=asdict(gap),
            )
    return checklists.normalized(checklist, body.measurements)


async def _seal_free(session: AsyncSession, case: QcCase, seal_id: str | None) -> None:
    """Refuses a seal another item holds (SEAL_IN_USE). The seal's lock is taken first and held to the commit: of
    verdicts giving one seal to several items at once, one certifies its item and the others, waiting, then find the
    seal taken, where checking without it let them all on to the seal's unique index (a 500 for all but one)."""
    if seal_id is None:
        return
    await lock_name(session, _SEAL_LOCK_SPACE, seal_id)
    holder = (
        await session.execute(select(col(QcCase.case_id)).where(col(QcCase.seal_id) == seal_id))
    ).scalar_one_or_none()
    if holder is not None and holder != case.case_id:
        raise Conflict(f"seal {seal_id} is already on another certified item", code="SEAL_IN_USE")


async def _apply(uow: QcUnit, principal: Principal, case: QcCase, body: VerdictIn, target: CaseStatus) -> None:
    """Validates the verdict (checklist, evidence, seal), then moves the case and records it; nothing changes when
    anything is refused."""
    measurements = await _checked(uow, case, body)
    await _seal_free(uow.session, case, body.seal_id if body.result is VerdictResult.PASSED else None)
    photo_ids = await attach(uow.session, body.photo_ids, case.case_id, "VERDICT")
    reason = f"{body.result}" + (f": {body.failure_reason}" if body.failure_reason else "")
    enter(uow, case, target, principal.actor, reason)
    case.verdict_result = body.result
    case.failure_reason = body.failure_reason
    case.findings = body.findings
    case.photos = [str(p) for p in body.photos]
    case.photo_ids = photo_ids
    case.measurements = measurements
    case.seal_id = body.seal_id if body.result is VerdictResult.PASSED else None
    case.inspector_id = principal.sub
    case.verdict_at = uow.now


async def _certify(uow: QcUnit, case: QcCase, reviewed_by: str | None = None) -> None:
    """A pass is final at once: the certificate anyone can verify, and qc.passed."""
    case.certificate_no = domain.new_certificate_no()
    case.certificate_status = CertificateStatus.VALID
    case.verdict_final_at = uow.now
    await uow.runtime.outbox.add(uow.session, events_out.passed(case, reviewed_by=reviewed_by))


async def _fail_finally(uow: QcUnit, case: QcCase, reviewed_by: str | None = None) -> None:
    """The failure is final: qc.failed (the order is refunded, the item goes back) and, for a counterfeit, a strike."""
    case.verdict_final_at = uow.now
    case.updated_at = uow.now
    await uow.runtime.outbox.add(uow.session, events_out.failed(case, reviewed_by=reviewed_by))
    strike_reason = domain.strike_reason_for_failure(
        QcFailureReason(case.failure_reason) if case.failure_reason else None
    )
    if strike_reason is not None:
        await strike(uow, case, strike_reason)


async def record_verdict(uow: QcUnit, principal: Principal, case_id: str, body: VerdictIn) -> CasePublic:
    """PASSED issues a certificate anyone can verify; FAILED waits for the seller's appeal window (if any), then
    returns the item."""
    case = await lock_own_case(uow.session, principal, case_id)
    if _same_verdict(case, principal, body):
        return await case_public(uow.session, principal, case)  # the same verdict again
    target = domain.verdict_status(body.result)
    if CaseStatus(case.status) is not CaseStatus.IN_INSPECTION:
        # APPEALED -> PASSED/FAILED is the review's move (POST .../review), never a first verdict's.
        raise IllegalTransition(CASE.entity, case.status, target)
    if case.assigned_inspector_id is not None and case.assigned_inspector_id != principal.sub:
        raise Forbidden(
            f"this case is assigned to inspector {case.assigned_inspector_id}",
            code="NOT_ASSIGNED_INSPECTOR",
            details={"assigned_inspector_id": case.assigned_inspector_id},
        )
    await _apply(uow, principal, case, body, target)
    if body.result is VerdictResult.PASSED:
        await _certify(uow, case)
    elif uow.settings.appeal_window_seconds > 0:
        case.appeal_due_at = uow.now + uow.settings.appeal_window
        await uow.runtime.timers.schedule(
            uow.session, APPEAL_WINDOW, case.case_id, case.appeal_due_at, {"order_id": case.order_id}
        )
    else:
        await _fail_finally(uow, case)
    return await case_public(uow.session, principal, case)


def _snapshot(case: QcCase) -> dict[str, Any]:
    return {
        "result": case.verdict_result,
        "failure_reason": case.failure_reason,
        "findings": case.findings,
        "photos": case.photos or [],
        "photo_ids": case.photo_ids or [],
        "measurements": case.measurements or {},
        "inspector_id": case.inspector_id,
        "decided_at": case.verdict_at.isoformat() if case.verdict_at else None,
    }


async def appeal_verdict(uow: QcUnit, principal: Principal, case_id: str, body: AppealIn) -> CasePublic:
    """The seller appeals a failure within the window: the item stays for another inspector's review."""
    session = uow.session
    case = await lock_case(session, case_id)
    if not CASES.allows(principal, case):
        raise NotFound(f"qc case {case_id} not found", code="CASE_NOT_FOUND")
    existing = await session.get(QcAppeal, case.case_id)
    if existing is not None and existing.reason == body.reason and existing.evidence_ids == body.evidence_ids:
        return await case_public(session, principal, case)  # the same appeal again
    CASE.require(case.status, CaseStatus.APPEALED)
    if case.verdict_final_at is not None or case.appeal_due_at is None or uow.now > case.appeal_due_at:
        raise Conflict(
            "the failure is final: the appeal window has closed",
            code="APPEAL_WINDOW_CLOSED",
            details={"appeal_due_at": case.appeal_due_at.isoformat() if case.appeal_due_at else None},
        )
    evidence_ids = await attach(session, body.evidence_ids, case.case_id, "APPEAL")
    session.add(
        QcAppeal(
            case_id=case.case_id,
            reason=body.reason,
            evidence_ids=evidence_ids,
            appealed_by=principal.actor,
            appealed_at=uow.now,
            first_verdict=_snapshot(case),
            status=AppealStatus.OPEN,
        )
    )
    enter(uow, case, CaseStatus.APPEALED, principal.actor, f"appealed by the seller: {body.reason}")
    await uow.runtime.timers.cancel(session, APPEAL_WINDOW, case.case_id)
    return await case_public(session, principal, case)


async def review_verdict(uow: QcUnit, principal: Principal, case_id: str, body: VerdictIn) -> CasePublic:
    """Another inspector of the warehouse reviews an appealed failure; the outcome replaces the verdict (the first
    stays in the appeal and the timeline) and is final."""
    session = uow.session
    case = await lock_own_case(session, principal, case_id)
    appeal = await session.get(QcAppeal, case.case_id)
    if appeal is not None and appeal.reviewer_id == principal.sub and _same_verdict(case, principal, body):
        return await case_public(session, principal, case)  # the same review again
    target = domain.verdict_status(body.result)
    if CaseStatus(case.status) is not CaseStatus.APPEALED or appeal is None:
        raise IllegalTransition(CASE.entity, case.status, target)  # only an appealed case is reviewed
    if principal.sub == appeal.first_verdict.get("inspector_id"):
        raise Forbidden("an appeal is reviewed by another inspector than the first", code="SAME_INSPECTOR")
    await _apply(uow, principal, case, body, target)
    appeal.status = AppealStatus.OVERTURNED if body.result is VerdictResult.PASSED else AppealStatus.UPHELD
    appeal.reviewer_id, appeal.decided_at = principal.sub, uow.now
    if body.result is VerdictResult.PASSED:
        await _certify(uow, case, reviewed_by=principal.sub)
    else:
        await _fail_finally(uow, case, reviewed_by=principal.sub)
    return await case_public(session, principal, case)


async def on_appeal_window(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[QcSettings]) -> None:
    """Nobody appealed the failure in time: it is final (qc.failed)."""
    case = (
        await session.scalars(select(QcCase).where(col(QcCase.case_id) == timer.key).with_for_update(skip_locked=True))
    ).one_or_none()
    if case is None:
        if (await session.execute(select(col(QcCase.case_id)).where(col(QcCase.case_id) == timer.key))).first():
            raise CaseBusy(f"qc case {timer.key} is being changed; the appeal window is checked again shortly")
        return
    if CaseStatus(case.status) is not CaseStatus.FAILED or case.verdict_final_at is not None:
        return  # appealed, or already final
    uow = QcUnit(session, runtime, utcnow())
    await _fail_finally(uow, case)
    session.add(
        QcCaseEvent(
            case_id=case.case_id,
            at=uow.now,
            status=case.status,
            actor=SYSTEM,
            reason="the appeal window closed: the failure is final",
        )
    )
