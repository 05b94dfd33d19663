"""Which handler each durable timer kind goes to."""

from xinren_shared.timers import TimerHandler

from .handlers import inspection, verdicts
from .handlers.cases import INBOUND_DEADLINE

TIMER_HANDLERS: dict[str, TimerHandler] = {
    INBOUND_DEADLINE: inspection.on_inbound_deadline,
    verdicts.APPEAL_WINDOW: verdicts.on_appeal_window,
}
