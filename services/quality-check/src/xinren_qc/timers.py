"""Which handler each durable timer kind goes to."""

from xinren_shared.timers import TimerHandler

TIMER_HANDLERS: dict[str, TimerHandler] = {}
