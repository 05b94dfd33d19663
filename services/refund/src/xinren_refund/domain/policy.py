"""The numbers of the after-sales rules, built from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..settings import RefundSettings


@dataclass(frozen=True)
class Policy:
    review_sla: timedelta
    return_send_window: timedelta
    return_receipt_sla: timedelta
    escalation_window: timedelta
    offer_answer_window: timedelta
    evidence_window: timedelta
    replacement_ship_sla: timedelta
    replacement_receipt_window: timedelta
    max_cases_per_line: int
    seven_day_return_window: timedelta
    claim_window: timedelta
    counterfeit_claim_window: timedelta
    fast_refund_max_fen: int
    fast_refund_max_recent_refunds: int
    fast_refund_lookback: timedelta
    refund_without_return_max_fen: int
    return_shipping_subsidy_fen: int
    late_shipment_compensation_fen: int
    counterfeit_multiplier_with_right: int
    counterfeit_multiplier_by_law: int
    counterfeit_minimum_fen: int
    money_request_resend: timedelta
    money_request_resend_max: timedelta

    @classmethod
    def from_settings(cls, s: RefundSettings) -> Policy:
        def sec(seconds: float) -> timedelta:
            return timedelta(seconds=seconds)

        return cls(
            review_sla=sec(s.review_sla_seconds),
            return_send_window=sec(s.return_send_window_seconds),
            return_receipt_sla=sec(s.return_receipt_sla_seconds),
            escalation_window=sec(s.escalation_window_seconds),
            offer_answer_window=sec(s.offer_answer_window_seconds),
            evidence_window=sec(s.evidence_window_seconds),
            replacement_ship_sla=sec(s.replacement_ship_sla_seconds),
            replacement_receipt_window=sec(s.replacement_receipt_window_seconds),
            max_cases_per_line=s.max_cases_per_line,
            seven_day_return_window=sec(s.seven_day_return_window_seconds),
            claim_window=sec(s.claim_window_seconds),
            counterfeit_claim_window=sec(s.counterfeit_claim_window_seconds),
            fast_refund_max_fen=s.fast_refund_max_fen,
            fast_refund_max_recent_refunds=s.fast_refund_max_recent_refunds,
            fast_refund_lookback=sec(s.fast_refund_lookback_seconds),
            refund_without_return_max_fen=s.refund_without_return_max_fen,
            return_shipping_subsidy_fen=s.return_shipping_subsidy_fen,
            late_shipment_compensation_fen=s.late_shipment_compensation_fen,
            counterfeit_multiplier_with_right=s.counterfeit_multiplier_with_right,
            counterfeit_multiplier_by_law=s.counterfeit_multiplier_by_law,
            counterfeit_minimum_fen=s.counterfeit_minimum_fen,
            money_request_resend=sec(s.money_request_resend_seconds),
            money_request_resend_max=sec(s.money_request_resend_max_seconds),
        )
