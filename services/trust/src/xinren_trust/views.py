"""Rows as the API shows them."""

from __future__ import annotations

from .models import Appeal, EnforcementAction
from .schemas import ActionPublic, AppealPublic


def action_public(a: EnforcementAction) -> ActionPublic:
    return ActionPublic.model_validate(a, from_attributes=True)


def appeal_public(appeal: Appeal, action: EnforcementAction) -> AppealPublic:
    return AppealPublic(
        appeal_id=appeal.appeal_id,
        action_id=appeal.action_id,
        subject_kind=appeal.subject_kind,
        subject_id=appeal.subject_id,
        shop_id=appeal.shop_id,
        host_id=appeal.host_id,
        by=appeal.by,
        reason=appeal.reason,
        evidence_ids=list(appeal.evidence_ids),
        status=appeal.status,
        created_at=appeal.created_at,
        decided_at=appeal.decided_at,
        decided_by=appeal.decided_by,
        decision_reason=appeal.decision_reason,
        action=action_public(action),
    )
