"""The rate limiter's counters (xinren_shared.ratelimit.PacedMemoryStorage): a flash sale's many callers do not each
set off a sweep of every counter, and the counters of callers gone quiet still leave memory."""

import time

from limits import parse
from limits.strategies import SlidingWindowCounterRateLimiter

from xinren_shared.ratelimit import PacedMemoryStorage


def test_many_callers_hitting_within_the_sweep_interval_set_off_no_sweep():
    storage = PacedMemoryStorage(sweep_seconds=60)
    limiter = SlidingWindowCounterRateLimiter(storage)
    budget = parse("600/minute")
    storage.timer.join()  # the library's first sweep, scheduled as the storage is made
    assert all(limiter.hit(budget, "buyer", f"u{i}") for i in range(5_000))
    # The library alone has a sweep of all 5,000 counters waiting to start 10 ms after the last hit, as after each.
    assert storage.sweeps == 0 and not storage.timer.is_alive()
    once = parse("1/minute")
    assert limiter.hit(once, "buyer", "once") and not limiter.hit(once, "buyer", "once")  # it still limits


def test_counters_past_their_window_are_swept_once_the_interval_has_passed():
    storage = PacedMemoryStorage(sweep_seconds=0.05)
    storage.timer.join()  # the library's first sweep, scheduled as the storage is made
    for i in range(100):
        storage.incr(f"quiet{i}", expiry=0.01)
    deadline = time.monotonic() + 5
    while any(k.startswith("quiet") for k in list(storage.storage)):
        assert time.monotonic() < deadline, f"{len(storage.storage)} counters never swept"
        storage.incr("active", expiry=60)  # a hit is what schedules the sweep
        time.sleep(0.01)
    assert storage.sweeps >= 1 and storage.get("active") > 0
