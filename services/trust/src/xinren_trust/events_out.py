"""Every event the trust service publishes, built from the score, action or appeal it is about."""

from __future__ import annotations

from typing import Any

from xinren_shared.contracts.trust import (
    ActionKind,
    ShopStanding,
    TrustActionReversed,
    TrustActionTaken,
    TrustAppealDecided,
    TrustScoreChanged,
    TrustShopReinstated,
    TrustSubject,
    Violation,
)
from xinren_shared.contracts.vocabulary import TrustRight

from .models import Appeal, EnforcementAction


def _subject(kind: str, subject_id: str, shop_id: str | None, host_id: str | None) -> dict[str, Any]:
    return {"subject_kind": TrustSubject(kind), "subject_id": subject_id, "shop_id": shop_id, "host_id": host_id}


def _of(action: EnforcementAction) -> dict[str, Any]:
    return _subject(action.subject_kind, action.subject_id, action.shop_id, action.host_id)


def _standing(action: EnforcementAction, standing: ShopStanding | None) -> ShopStanding | None:
    return standing if action.subject_kind == TrustSubject.SHOP else None


def score_changed(
    kind: TrustSubject,
    subject_id: str,
    *,
    shop_id: str | None,
    score: float,
    band: str,
    previous_band: str | None,
    previous_score: float | None,
    rights: list[TrustRight],
) -> TrustScoreChanged:
    return TrustScoreChanged(
        **_subject(kind, subject_id, shop_id, subject_id if kind is TrustSubject.HOST else None),
        score=score,
        band=band,
        previous_band=previous_band,
        previous_score=previous_score,
        rights=rights if kind is TrustSubject.SHOP else [],
    )


def action_taken(action: EnforcementAction, standing: ShopStanding | None) -> TrustActionTaken:
    return TrustActionTaken(
        **_of(action),
        action_id=action.action_id,
        kind=ActionKind(action.kind),
        violation=Violation(action.violation),
        step=action.step,
        fine_fen=action.fine_fen,
        order_id=action.order_id,
        shop_status=_standing(action, standing),
        reason=action.reason,
    )


def action_reversed(action: EnforcementAction, appeal: Appeal, standing: ShopStanding | None) -> TrustActionReversed:
    return TrustActionReversed(
        **_of(action),
        action_id=action.action_id,
        kind=ActionKind(action.kind),
        violation=Violation(action.violation),
        fine_fen=action.fine_fen,
        appeal_id=appeal.appeal_id,
        shop_status=_standing(action, standing),
        reason=appeal.decision_reason or "",
    )


def shop_reinstated(shop_id: str, action_id: str, by: str) -> TrustShopReinstated:
    return TrustShopReinstated(
        **_subject(TrustSubject.SHOP, shop_id, shop_id, None),
        action_id=action_id,
        shop_status=ShopStanding.ACTIVE,
        by=by,
    )


def appeal_decided(appeal: Appeal) -> TrustAppealDecided:
    return TrustAppealDecided(
        **_subject(appeal.subject_kind, appeal.subject_id, appeal.shop_id, appeal.host_id),
        appeal_id=appeal.appeal_id,
        action_id=appeal.action_id,
        decision="UPHOLD" if appeal.status == "UPHELD" else "OVERTURN",
        reason=appeal.decision_reason or "",
    )
