"""A started worker freezes what it holds, collects its young generation less often, and times every pause."""

import gc
import threading

import pytest
from prometheus_client import REGISTRY

from xinren_shared import gcpause
from xinren_shared.settings import ServiceSettings


@pytest.fixture
def restored():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if gcpause._time in gc.callbacks:
        gc.callbacks.remove(gcpause._time)


def pauses(generation: int) -> float:
    return REGISTRY.get_sample_value("xinren_gc_pause_seconds_count", {"generation": str(generation)}) or 0.0


def test_settling_freezes_the_survivors_and_sets_the_thresholds(restored):
    held = [{"n": i} for i in range(1000)]  # what a worker holds from its start
    gc.unfreeze()
    if gcpause._time in gc.callbacks:  # an app of this test process settled it already
        gc.callbacks.remove(gcpause._time)
    gcpause.settle((10_000, 10, 10))
    assert gc.get_threshold() == (10_000, 10, 10)
    assert gc.get_freeze_count() >= len(held)  # a full collection no longer walks them
    assert not any(o is held for o in gc.get_objects(generation=2))
    gcpause.report()
    before = pauses(2)
    gc.collect()
    gcpause.report()
    assert pauses(2) == before + 1
    frozen = gc.get_freeze_count()
    gcpause.settle((20_000, 10, 10))  # another app in the same process: the thresholds only
    assert gc.callbacks.count(gcpause._time) == 1 and gc.get_freeze_count() == frozen
    assert gc.get_threshold() == (20_000, 10, 10)


def test_the_thresholds_are_a_setting_with_a_sane_default(monkeypatch):
    monkeypatch.setenv("XINREN_GC_THRESHOLDS", "[20000, 5, 5]")
    assert ServiceSettings(jwt_secret="x" * 32).gc_thresholds == (20_000, 5, 5)
    monkeypatch.delenv("XINREN_GC_THRESHOLDS")
    assert ServiceSettings(jwt_secret="x" * 32).gc_thresholds[0] > 700


def test_a_pause_is_observed_outside_the_collectors_callback(restored, monkeypatch):
    """A collection can start in any allocation, one prometheus_client makes under its lock included (in multiprocess
    mode, creating a label set's value). Observing the pause from the collector's callback then waited for that lock
    forever, and the worker hung. The callback only notes the pause; `report` observes it, outside."""
    gcpause.settle(gc.get_threshold())
    gcpause.report()
    held = threading.Lock()  # the lock of the code the collection interrupted
    observed: list[str] = []
    blocked: list[str] = []  # observations that waited for it (in a worker: forever)

    class Histogram:
        def labels(self, generation: str) -> "Histogram":
            if not held.acquire(timeout=0.2):
                blocked.append(generation)
                return self
            held.release()
            observed.append(generation)
            return self

        def observe(self, seconds: float) -> None:
            assert seconds >= 0

    monkeypatch.setattr(gcpause, "GC_PAUSE", Histogram())
    with held:
        gc.collect()  # its callback runs now, while the lock is held
    assert blocked == [] and observed == []
    gcpause.report()
    assert "2" in observed and blocked == []
