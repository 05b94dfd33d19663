"""Which handler each durable timer kind goes to (durations are settings: see settings.py)."""

from xinren_shared.timers import TimerHandler

from .handlers import payouts, settlement, timeouts
from .handlers.lifecycle import TIMER_AUTO_CONFIRM, TIMER_SHIPPING_LATE, TIMER_UNPAID

TIMER_HANDLERS: dict[str, TimerHandler] = {
    TIMER_UNPAID: timeouts.on_unpaid_timeout,  # unpaid after 15 min -> CANCELLED, stock released
    TIMER_AUTO_CONFIRM: timeouts.on_auto_confirm,  # shipped 10 days ago (or delivered), no open case -> COMPLETED
    TIMER_SHIPPING_LATE: timeouts.on_shipping_late,  # FAST_SHIPPING shop unshipped 48 h after payment -> shipping_late
    settlement.TIMER_HOLD_ENDS: settlement.on_hold_ends,  # after-sales window closed, no case open -> available
    payouts.TIMER_PAYOUT_RUN: payouts.on_payout_run,  # each period: pay available balances, one statement each
    payouts.TIMER_PAYOUT_RETRY: payouts.on_payout_retry,  # a payout that failed to send, sent again
    payouts.TIMER_RECONCILE: payouts.on_reconcile,  # statements against the ledger -> the difference gauge
}
