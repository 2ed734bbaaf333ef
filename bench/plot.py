"""Plot a bench result file: fan-out latency (p50/p99 at 200/s and 1,000/s), deliveries/s on
the rate ramp, the many-rooms p50/p99 by room count, the capacity at p99 <= 50 ms, the join
storm, and join times. Panels without data say so. One PNG beside the JSON.

    .venv/bin/python bench/plot.py bench/results/latest.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot(path: Path | str) -> Path:
    path = Path(path)
    report = json.loads(path.read_text())
    targets = report["targets"]
    names = list(targets)
    fig, grid = plt.subplots(2, 3, figsize=(19, 9))
    axes = [[grid[0][0], grid[0][1]], [grid[1][0], grid[1][1]]]

    ax = axes[0][0]
    labels, p50, p99 = [], [], []
    for name in names:
        runs = targets[name]["results"].get("fanout", [])
        for run in runs if isinstance(runs, list) else []:
            labels.append(f"{name}\n{run['offered_rate']}/s")
            p50.append(run["p50_ms"] or 0)
            p99.append(run["p99_ms"] or 0)
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99")
    ax.set_xticks(list(xs), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("delivery latency (ms, log)")
    ax.set_title("1. fan-out: 1 writer, 50 readers, 1,000 updates")
    ax.legend()

    ax = axes[0][1]
    for name in names:
        ramp = targets[name]["results"].get("ramp")
        if not ramp or "steps" not in ramp:
            continue
        steps = [s for s in ramp["steps"] if s["offered_rate"] != "max"]
        offered = [s["offered_rate"] * s["readers"] for s in steps]
        ax.plot(offered, [s["deliveries_per_s"] for s in steps], marker="o", label=name)
        flat = [s for s in ramp["steps"] if s["offered_rate"] == "max"]
        if flat:
            ax.axhline(
                flat[0]["deliveries_per_s"],
                linestyle=":",
                linewidth=1,
                color=ax.lines[-1].get_color(),
            )
    ax.set_xlabel("offered deliveries/s (rate x 50 readers)")
    ax.set_ylabel("achieved deliveries/s")
    ax.set_title("1. rate ramp (dotted: writer flat out)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)

    ax = axes[1][0]
    for name in names:
        runs = targets[name]["results"].get("rooms", [])
        runs = [r for r in runs if "documents" in r] if isinstance(runs, list) else []
        if not runs:
            continue
        xs = [r["documents"] for r in runs]
        line = ax.plot(xs, [r["p99_ms"] or 0 for r in runs], marker="o", label=f"{name} p99")
        color = line[0].get_color()
        ax.plot(xs, [r["p50_ms"] or 0 for r in runs], marker=".", linestyle=":", color=color)
    ax.axhline(50, color="grey", linewidth=0.8)
    ax.set_xlabel("rooms (3 typists x 5 updates/s each)")
    ax.set_yscale("log")
    ax.set_ylabel("delivery latency (ms, log; dotted: p50)")
    ax.set_title("many rooms (Node load generator)")
    ax.legend(fontsize=6)

    ax = grid[0][2]
    cap_names = [n for n in names if "rooms" in targets[n]["results"].get("capacity", {})]
    ax.bar(
        range(len(cap_names)),
        [targets[n]["results"]["capacity"]["rooms"] for n in cap_names],
        color="tab:green",
    )
    ax.set_xticks(range(len(cap_names)), cap_names, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("rooms")
    ax.set_title("capacity: most rooms with p99 <= 50 ms")

    ax = grid[1][2]
    storm_names = [
        n for n in names if "time_to_sync" in targets[n]["results"].get("join_storm", {})
    ]
    storms = [targets[n]["results"]["join_storm"] for n in storm_names]
    xs = range(len(storm_names))
    ax.bar(
        [x - 0.2 for x in xs], [s["time_to_sync"]["p50_ms"] or 0 for s in storms], 0.4, label="p50"
    )
    ax.bar(
        [x + 0.2 for x in xs], [s["time_to_sync"]["p99_ms"] or 0 for s in storms], 0.4, label="p99"
    )
    for x, storm in zip(xs, storms, strict=True):
        failed = storm["refused"] + storm["timed_out"]
        if failed:
            ax.text(
                x,
                0.95,
                f"{failed} failed",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize=7,
                color="red",
            )
    ax.set_xticks(list(xs), storm_names, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ms from connect to sync step 2 (log)")
    ax.set_title("join storm: every client at once")
    ax.legend(fontsize=7)

    for ax in grid.flat:
        if not ax.get_legend_handles_labels()[0] and ax.get_legend() is not None:
            ax.get_legend().remove()
        if not ax.has_data():
            ax.text(0.5, 0.5, "not in this run", ha="center", va="center", transform=ax.transAxes)

    ax = axes[1][1]
    load_names = [
        n for n in names if "late_join_ms_median" in targets[n]["results"].get("cold_load", {})
    ]
    kinds = [
        ("cold_join_ms", "cold join"),
        ("cold_join_after_compaction_ms", "cold, compacted"),
        ("late_join_ms_median", "late joiner"),
    ]
    width = 0.25
    for k, (key, label) in enumerate(kinds):
        ax.bar(
            [x + (k - 1) * width for x in range(len(load_names))],
            [targets[n]["results"]["cold_load"].get(key) or 0 for n in load_names],
            width=width,
            label=label,
        )
    ax.set_xticks(range(len(load_names)), load_names, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ms until sync step 2 (log)")
    ax.set_title("4. joining a document with 100,000 updates of history")
    ax.legend(fontsize=7)

    fig.suptitle(
        f"Collab bench, {report['started_at']}, {report['machine']['nproc']} cores, "
        f"load before {report['load_before']}",
        fontsize=10,
    )
    fig.tight_layout()
    out = path.with_suffix(".png")
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(plot(sys.argv[1]))
