"""The garbage collector's pauses, kept short. A worker holds ~150,000 objects from its start (modules, SQLAlchemy's
tables and compiled statements, pydantic's schemas) that never become garbage, yet every full collection walks them
all again: under load the order service made one every ~3 s per worker, stopping it for ~200 ms with dozens of
requests in flight, their transactions open. So once started, a worker freezes what it holds (`gc.freeze()`: a full
collection no longer looks at it) and collects its youngest generation less often (`thresholds`), which lets a
request's short-lived cycles die young instead of reaching the old generation. Pauses are timed into
`xinren_gc_pause_seconds` by generation: timed by the collector's callback, observed outside it (`report`)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from typing import Any

from prometheus_client import Histogram

GC_PAUSE = Histogram(
    "xinren_gc_pause_seconds",
    "Time the garbage collector stopped the process, by generation",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)

_started: list[float] = []
# Pauses timed and not yet observed: (generation, seconds). A collection can start in the middle of any allocation,
# including one prometheus_client makes while it holds its lock (in multiprocess mode, creating a label set's value
# file). Observing the histogram from the callback then waited for that lock forever: the worker hung, its event
# loop with it. So the callback only appends here, and `report` observes them.
_pending: deque[tuple[int, float]] = deque(maxlen=100_000)


def _time(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
    elif _started:
        _pending.append((info["generation"], time.perf_counter() - _started[0]))


def report() -> None:
    """Observes the pauses timed since the last report (never from the collector's callback: see `_pending`)."""
    while _pending:
        generation, seconds = _pending.popleft()
        GC_PAUSE.labels(str(generation)).observe(seconds)


async def report_every(seconds: float) -> None:
    """A worker's pauses observed every `seconds` (and at each /metrics the worker answers)."""
    while True:
        report()
        await asyncio.sleep(seconds)


def settle(thresholds: tuple[int, int, int]) -> None:
    """Called once a worker has started: collects, freezes the survivors, sets the thresholds, times every pause.
    Only the first call in a process freezes (a worker starts one app; a test process many, whose objects a freeze
    would keep from the cycle collector for good)."""
    if _time not in gc.callbacks:
        gc.collect()
        gc.freeze()
        gc.callbacks.append(_time)
    gc.set_threshold(*thresholds)
