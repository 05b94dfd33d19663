"""Settings of the refund service (env prefix XINREN_REFUND_): every number of the after-sales rules lives here."""

from xinren_shared.settings import ServiceSettings, service_config

DAY = 86_400.0
HOUR = 3_600.0


class RefundSettings(ServiceSettings):
    model_config = service_config("XINREN_REFUND_")

    service_name: str = "refund"
    port: int = 8002

    # Seller review: a case nobody reviews within this time is approved automatically.
    review_sla_seconds: float = 48 * HOUR
    # Returns: the buyer sends the goods back within this time of the approval, or the case closes (RETURN_NOT_SENT).
    return_send_window_seconds: float = 7 * DAY
    # Returns: the seller confirms receipt within this time of the return shipment, or the refund proceeds.
    return_receipt_sla_seconds: float = 7 * DAY
    # A rejected buyer may escalate within this time; afterwards the rejection is final (case CLOSED).
    escalation_window_seconds: float = 7 * DAY
    # Negotiation: the buyer answers a counter-offer within this time, or the case closes (OFFER_NOT_ANSWERED).
    offer_answer_window_seconds: float = 2 * DAY
    # Negotiation: the buyer gives the evidence the seller asked for within this time, or the case closes.
    evidence_window_seconds: float = 3 * DAY
    # Exchange and reship: the seller ships the replacement within this time, or the platform steps in.
    replacement_ship_sla_seconds: float = 48 * HOUR
    # Exchange and reship: without a delivery report or the buyer's confirmation, the replacement counts as
    # received this long after its shipment (the case completes).
    replacement_receipt_window_seconds: float = 10 * DAY
    # A buyer opens at most this many cases on one order line (withdrawn and closed ones count too).
    max_cases_per_line: int = 3
    # SEVEN_DAY_RETURN: NO_REASON_7D is accepted within this time of delivery.
    seven_day_return_window_seconds: float = 7 * DAY
    # Other after-sales reasons may be raised within this time of delivery (counterfeit claims for longer).
    claim_window_seconds: float = 15 * DAY
    counterfeit_claim_window_seconds: float = 90 * DAY
    # FAST_REFUND: amounts up to this threshold, for a buyer with fewer than `max_recent_refunds` refunds in the
    # lookback, are refunded at once.
    fast_refund_max_fen: int = 20_000
    fast_refund_max_recent_refunds: int = 3
    fast_refund_lookback_seconds: float = 90 * DAY
    # REFUND_WITHOUT_RETURN: returns of at most this amount are refunded without sending the goods back.
    refund_without_return_max_fen: int = 5_000
    # RETURN_SHIPPING_SUBSIDY: paid by the platform on an approved return once the goods are back.
    return_shipping_subsidy_fen: int = 1_000
    # FAST_SHIPPING: paid from the shop's deposit when the shipping promise is missed.
    late_shipment_compensation_fen: int = 500
    # Counterfeits: 10x with FAKE_ONE_PAY_TEN, else 3x and at least the legal minimum (consumer law 退一赔三).
    counterfeit_multiplier_with_right: int = 10
    counterfeit_multiplier_by_law: int = 3
    counterfeit_minimum_fen: int = 50_000
    # A refund or compensation request the order service has not answered is sent again (same id) after this,
    # doubling each time up to the maximum.
    money_request_resend_seconds: float = 60.0
    money_request_resend_max_seconds: float = 1 * HOUR
    # A refund or compensation still unanswered after this long is reported as stuck (GET /v1/admin/consistency);
    # a repair asks again with `reask`, so an answer the order service gave before is given again.
    consistency_money_answer_bound_seconds: float = 2 * HOUR
    # Read-your-writes: a buyer's request for an order this service's view has not seen (or not seen paid) yet
    # waits up to this long for the view to catch up, holding no database connection, then answers 409
    # ORDER_NOT_YET_VISIBLE with Retry-After (in whole seconds).
    order_view_wait_seconds: float = 3.0
    order_view_retry_after_seconds: int = 1
    # The one LISTEN connection per process that wakes those requests: reconnect delay after it was lost.
    listener_reconnect_seconds: float = 1.0
