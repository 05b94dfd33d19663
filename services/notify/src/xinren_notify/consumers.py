"""Which handler each consumed event type goes to: every type of the catalog, on all three topics."""

import xinren_shared.contracts  # noqa: F401  (registers every event type before the table below is built)
from xinren_shared.consumer import Handler
from xinren_shared.events import REGISTRY, Event

from .handlers.inbox import on_event

# One handler for all: notify learns the parties, writes the inbox and queues webhooks the same way for each type;
# the per-type differences are data (templates/).
EVENT_HANDLERS: dict[type[Event], Handler] = {cls: on_event for cls in REGISTRY.values()}
