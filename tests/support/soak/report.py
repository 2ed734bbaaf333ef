"""The soak's record: a line per window as it ends, then soak.json (every window, every sample,
the verdict and its reasons) and soak.png."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.soak.verdict import BUSY_SHARE


def row_line(row: dict, windows: int) -> str:
    rss = "/".join(f"{mb:.1f}" for mb in row["rss_mb"])
    latency = (
        f"p50 {row['p50_ms']:6.1f} p99 {row['p99_ms']:6.1f} ms"
        if row["p99_ms"] is not None
        else "no deliveries      "
    )
    return (
        f"window {row['window']:3d}/{windows} {row['t_s']:6.0f} s  {latency}  "
        f"({row['deliveries']} deliveries)  RSS {rss} MB  pg {row['connections']:3d}  "
        f"redis {row['redis_mb']:.1f} MB  db {row['db_mb']:.1f} MB  "
        f"req {row['requests']} 5xx {row['http_5xx']} err {row['http_errors']} "
        f"ws {row['ws_unexpected_closes']}+{row['ws_failed_joins']}  "
        f"cpu {'/'.join(f'{c:.2f}' for c in row['server_cpu'])} gen {row['generator_cpu']:.2f}  "
        f"others {row['others_cpu']:.2f}"
    )


def write(report: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = out / "soak.json"
    data.write_text(json.dumps(report, indent=1) + "\n")
    picture = out / "soak.png"
    plot(report, picture)
    return data, picture


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, samples = report["rows"], report["samples"]
    unit = report["options"]["window_seconds"]
    label = "minutes" if unit == 60 else f"windows of {unit:g} s"
    at = [row["t_s"] / unit for row in rows]
    sample_at = [sample["t"] / unit for sample in samples]
    figure, axes = plt.subplots(5, 1, figsize=(10, 14), sharex=True)
    latency, memory, connections, storage, errors = axes

    latency.plot(at, [row["p50_ms"] for row in rows], marker=".", label="p50")
    latency.plot(at, [row["p99_ms"] for row in rows], marker=".", label="p99")
    for n, row in enumerate(rows):
        if row["others_cpu"] > BUSY_SHARE * report["cpus"]:
            start = rows[n - 1]["t_s"] / unit if n else 0
            latency.axvspan(start, at[n], color="#eee", zorder=0)
    latency.set_ylabel("delivery latency (ms)\n(shaded: machine busy)")
    latency.legend(loc="upper left")

    for n in range(len(samples[0]["rss_mb"]) if samples else 0):
        memory.plot(sample_at, [s["rss_mb"][n] for s in samples], label=f"process {n + 1}")
    memory.set_ylabel("RSS (MB)")
    memory.legend(loc="upper left")

    connections.plot(sample_at, [s["connections"] for s in samples], label="connections")
    connections.axhline(report["connection_bound"], color="red", linestyle="--", label="bound")
    connections.set_ylim(bottom=0)
    connections.set_ylabel("Postgres connections")
    connections.legend(loc="upper left")

    storage.plot(sample_at, [s["db_mb"] for s in samples], label="database (MB)")
    storage.plot(sample_at, [s["redis_mb"] for s in samples], label="Redis used memory (MB)")
    storage.set_ylabel("MB")
    storage.legend(loc="upper left")

    errors.bar(
        at,
        [row["requests"] for row in rows],
        width=-0.9,
        align="edge",
        color="#ccc",
        label="requests",
    )
    errors.plot(at, [row["http_5xx"] for row in rows], "r.-", label="5xx")
    errors.plot(
        at,
        [row["http_errors"] + row["ws_unexpected_closes"] + row["ws_failed_joins"] for row in rows],
        "m.-",
        label="other errors",
    )
    errors.set_ylabel("per window")
    errors.set_xlabel(label)
    errors.legend(loc="upper left")

    verdict = "passed" if report["passed"] else "FAILED"
    figure.suptitle(f"Collab endurance soak, {report['options']['minutes']:g} min: {verdict}")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
