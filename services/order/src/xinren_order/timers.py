"""Which handler each durable timer kind goes to (durations are settings: see settings.py)."""

from xinren_shared.timers import TimerHandler

from . import handlers as h

TIMER_HANDLERS: dict[str, TimerHandler] = {
    h.TIMER_UNPAID: h.on_unpaid_timeout,  # unpaid after 15 min -> CANCELLED, stock released
    h.TIMER_AUTO_CONFIRM: h.on_auto_confirm,  # delivered 10 days ago, no open after-sales case -> COMPLETED
    h.TIMER_SHIPPING_LATE: h.on_shipping_late,  # FAST_SHIPPING shop unshipped 48 h after payment -> shipping_late
}
