"""Which handler each durable timer kind goes to."""

from xinren_shared.timers import TimerHandler

from .handlers.timers import SECRET_REPLAY_TIMER, on_secret_replay_expiry

TIMER_HANDLERS: dict[str, TimerHandler] = {SECRET_REPLAY_TIMER: on_secret_replay_expiry}
