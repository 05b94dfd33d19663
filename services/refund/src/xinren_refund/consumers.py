"""Which handler each consumed event type goes to."""

from xinren_shared.consumer import Handler
from xinren_shared.events import Event

EVENT_HANDLERS: dict[type[Event], Handler] = {}
