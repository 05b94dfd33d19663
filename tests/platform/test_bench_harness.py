"""The benchmark harness's record of the machine next to each open loop (bench/harness.py): how busy its cores were
and how fast it ran Python, which the p99 targets are read against."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import harness


def test_cpu_watch_counts_busy_cores_over_the_step_and_its_busiest_half_second(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    watch = harness.CpuWatch()
    # (time, busy ticks, steal ticks, all ticks) of both cores: 100 ticks a half second between them.
    watch.samples = [(0.0, 0, 0, 0), (0.5, 50, 0, 100), (1.0, 140, 10, 200), (1.5, 160, 10, 300)]

    summary = watch.summary()

    assert summary == {
        "cores": 2,
        "busy_cores": round(2 * 160 / 300, 2),  # 1.07 over the whole step
        "busiest_half_second_cores": 1.8,  # the second half second: 90 of its 100 ticks busy
        "steal_cores": round(2 * 10 / 300, 2),
    }


def test_cpu_watch_with_fewer_than_two_samples_says_nothing():
    watch = harness.CpuWatch()
    watch.samples = [(0.0, 1, 0, 2)]

    assert watch.summary() is None


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="/proc/stat is Linux's")
async def test_cpu_watch_samples_this_machine_while_a_step_runs():
    async with harness.CpuWatch() as watch:
        harness.python_loop_ms(iterations=2_000_000, tries=2)  # keeps one core busy for a tenth of a second or more

    summary = watch.summary()
    assert summary is not None
    assert summary["cores"] == os.cpu_count()
    assert 0 < summary["busy_cores"] <= summary["busiest_half_second_cores"] <= summary["cores"]


def test_python_loop_takes_the_best_of_its_tries(monkeypatch):
    clock = iter([0.0, 0.05, 1.0, 1.02, 2.0, 2.09])
    monkeypatch.setattr(harness.time, "perf_counter", lambda: next(clock))

    assert harness.python_loop_ms(iterations=10, tries=3) == 20.0


@pytest.mark.skipif(not harness.DiskWatch().disks, reason="no whole disk in /sys/block to watch")
async def test_disk_watch_samples_as_the_step_starts_and_ends():
    async with harness.DiskWatch() as watch:
        pass

    assert len(watch.samples) == 2  # as it started and as it ended: a step shorter than half a second still counts
    summary = watch.summary()
    assert summary is not None and summary["written_mb"] >= 0
