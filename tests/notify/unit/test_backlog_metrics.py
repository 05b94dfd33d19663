"""The webhook backlog gauges of a process that runs two notify apps (as the test sessions do): each app's monitor
counts its own subscriptions, and neither count hides the other's."""

from xinren_notify.health import BacklogCollector


def _backlogs(collector: BacklogCollector) -> dict[str, float]:
    families = {f.name: f for f in collector.collect()}
    return {s.labels["webhook_id"]: s.value for s in families["xinren_notify_webhook_backlog"].samples}


def test_two_monitors_counts_are_both_shown_and_a_stopped_ones_go():
    collector, first, second = BacklogCollector(), object(), object()
    collector.update(first, {"wh_a": (3, None)})
    collector.update(second, {"wh_b": (5, 1_000.0)})
    collector.update(first, {"wh_a": (2, None)})  # the first counts again: the second's subscription stays shown
    assert _backlogs(collector) == {"wh_a": 2, "wh_b": 5}
    collector.forget(second)
    assert _backlogs(collector) == {"wh_a": 2}
