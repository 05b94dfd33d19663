"""A started worker freezes what it holds, collects its young generation less often, and times every pause."""

import gc

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
    before = pauses(2)
    gc.collect()
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
