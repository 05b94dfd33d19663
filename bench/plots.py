"""The suite's PNG plots: intake throughput and p99 against concurrency, pay → case latency against offered rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _intake(p1: dict[str, Any], out: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = {f"service, {n} worker{'s' if n != '1' else ''}": rounds for n, rounds in p1["workers"].items()}
    series["raw asyncpg bound"] = p1["raw_bound"]
    for label, rounds in series.items():
        xs = [r["concurrency"] for r in rounds]
        style = "--" if label.startswith("raw") else "-"
        left.plot(xs, [r["ops_per_s"] for r in rounds], style, marker="o", label=label)
        right.plot(xs, [r["p99_ms"] for r in rounds], style, marker="o", label=label)
    for ax, title, unit in ((left, "orders created per second", "orders/s"), (right, "p99 latency", "ms")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    right.set_yscale("log")
    left.legend()
    fig.suptitle(f"P1 order intake (POST /v1/orders; the bound runs the same {p1['statements_per_order']} statements)")
    fig.tight_layout()
    path = out / "p1_intake.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pay_to_case(p2: dict[str, Any], out: Path) -> Path:
    steps = sorted([*p2["steps"], p2["at_half_saturation"]], key=lambda s: s["offered_per_s"])
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    xs = [s["offered_per_s"] for s in steps]
    ax.plot(xs, [s["case_opened"]["p50_ms"] for s in steps], marker="o", label="p50 pay → qc.case_opened")
    ax.plot(xs, [s["case_opened"]["p99_ms"] for s in steps], marker="o", label="p99 pay → qc.case_opened")
    for s in steps:
        if not s["keeps_up"]:
            ax.axvline(s["offered_per_s"], color="red", alpha=0.3)
    ax.axvline(p2["saturation_pay_per_s"], color="grey", linestyle=":", label="saturation (cases opened)")
    ax.axhline(250, color="green", linestyle=":", alpha=0.5, label="250 ms")
    ax.set_xlabel("offered pay rate (per second)")
    ax.set_ylabel("ms")
    ax.set_yscale("log")
    ax.set_title("P2 pay → qc.case_opened (red: did not keep up)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out / "p2_pay_to_case.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(result: dict[str, Any], out: Path) -> list[Path]:
    written = []
    if "p1" in result:
        written.append(_intake(result["p1"], out))
    if "p2" in result:
        written.append(_pay_to_case(result["p2"], out))
    return written
