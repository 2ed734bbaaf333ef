"""Plot a bench result file: fan-out latency (p50/p99 at 200/s and 1,000/s), deliveries/s on
the rate ramp, the many-rooms p99, and join times. One PNG beside the JSON.

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
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))

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
    ax.legend(fontsize=7)

    ax = axes[1][0]
    room_names = [n for n in names if "p99_ms" in targets[n]["results"].get("rooms", {})]
    values = [targets[n]["results"]["rooms"]["p99_ms"] or 0 for n in room_names]
    ax.bar(range(len(room_names)), values, color="tab:purple")
    ax.set_xticks(range(len(room_names)), room_names, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("p99 delivery latency (ms, log)")
    ax.set_title("2/3. many rooms: 500 documents x 3 clients x 5 updates/s")

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
