"""Texts of the trust service's events (xinren.trust.v1): scores, enforcement and appeals."""

from __future__ import annotations

from .text import H, S, Templates
from .text import Template as T

_ACTION_TAKEN = T(
    "违规处理通知",
    "因违规（{violation}，第 {step} 次），平台已对您执行处理：{kind}。罚款 {fine}。如有异议可提交申诉。",
    "Enforcement action",
    "For a violation ({violation}, number {step}) the platform took this action: {kind} (fine {fine}). "
    "You may appeal it.",
)
_ACTION_REVERSED = T(
    "处理已撤销",
    "您的申诉已通过，处理 {action_id}（{kind}）已撤销；罚款 {fine} 将退回。",
    "Action reversed",
    "Your appeal succeeded: action {action_id} ({kind}) is reversed and any fine ({fine}) is given back.",
)
_SCORE_CHANGED = T(
    "评分等级变化",
    "您的评分为 {score}，等级由 {previous_band} 变为 {band}。",
    "Score band changed",
    "Your score is {score}; your band changed from {previous_band} to {band}.",
)
_APPEAL_DECIDED = T(
    "申诉结果",
    "您对处理 {action_id} 的申诉已处理：{decision}。说明：{reason}",
    "Appeal decided",
    "Your appeal against action {action_id} was decided: {decision}. Reason: {reason}",
)

TRUST_TEXTS: Templates = {
    "xinren.trust.score_changed": {S: _SCORE_CHANGED, H: _SCORE_CHANGED},
    "xinren.trust.action_taken": {S: _ACTION_TAKEN, H: _ACTION_TAKEN},
    "xinren.trust.action_reversed": {S: _ACTION_REVERSED, H: _ACTION_REVERSED},
    "xinren.trust.appeal_decided": {S: _APPEAL_DECIDED, H: _APPEAL_DECIDED},
    "xinren.trust.shop_reinstated": {
        S: T(
            "店铺已恢复经营",
            "平台已恢复您的店铺经营，历史违规记录仍保留。",
            "Shop reinstated",
            "The platform reinstated your shop; its history of violations is kept.",
        ),
    },
}
