"""Which handler each durable timer kind goes to."""

from xinren_shared.timers import TimerHandler

from . import handlers

TIMER_HANDLERS: dict[str, TimerHandler] = {
    handlers.INBOUND_DEADLINE: handlers.on_inbound_deadline,
}
