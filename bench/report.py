"""Print the Markdown tables of docs/benchmarks.md from a result file.

.venv/bin/python bench/report.py bench/results/latest.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = [
    ("collab-daphne", "Collab (daphne)"),
    ("collab-uvicorn", "Collab (uvicorn)"),
    ("collab-daphne-postgres", "Collab, 1 process (Postgres)"),
    ("collab-uvicorn-postgres", "Collab under uvicorn, 1 process (Postgres)"),
    ("collab-daphne-postgres-nocoalesce", "Collab, 1 process, no coalescing"),
    ("collab-daphne-postgres-redis-2proc", "Collab: Postgres, 2 processes, Redis"),
    ("collab-daphne-postgres-redis-2proc-caddy", "Collab: 2 processes behind Caddy, by document"),
    ("y-websocket", "y-websocket"),
    ("hocuspocus", "Hocuspocus"),
]


def cell(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and value >= 100:
        value = round(value)
    if isinstance(value, int) and value >= 10_000:
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def fanout_at(results: dict, rate: int) -> dict | None:
    return next((r for r in results.get("fanout", []) if r["offered_rate"] == rate), None)


def rooms_runs(results: dict) -> list[dict]:
    runs = results.get("rooms", [])
    return [run for run in runs if "documents" in run] if isinstance(runs, list) else []


def rooms_at(results: dict, documents: int) -> dict:
    return next(run for run in rooms_runs(results) if run["documents"] == documents)


def rows(report: dict) -> list[tuple[str, list[str]]]:
    targets = report["targets"]
    present = [(key, label) for key, label in COLUMNS if key in targets]
    out: list[tuple[str, list[str]]] = [("", [label for _, label in present])]

    def row(label, pick):
        values = []
        for key, _ in present:
            try:
                values.append(pick(targets[key]["results"]))
            except (KeyError, TypeError, StopIteration):
                values.append("-")
        out.append((label, values))

    for rate in (200, 1000):
        row(
            f"1. fan-out {rate}/s: p50 / p99 (ms)",
            lambda r, rate=rate: (
                f"{cell(fanout_at(r, rate)['p50_ms'])} / {cell(fanout_at(r, rate)['p99_ms'])}"
            ),
        )
        row(
            f"1. fan-out {rate}/s: deliveries/s (offered {rate * 50:,})",
            lambda r, rate=rate: cell(fanout_at(r, rate)["deliveries_per_s"]),
        )
    row(
        "1. ramp: highest rate kept up with (updates/s)",
        lambda r: cell(r["ramp"]["sustained_rate"]),
    )
    row(
        "1. ramp: peak deliveries/s (any step, incl. flat out)",
        lambda r: cell(r["ramp"]["peak_deliveries_per_s"]),
    )
    sizes = sorted({run["documents"] for t in targets.values() for run in rooms_runs(t["results"])})
    for documents in sizes:
        prefix = f"rooms {documents} x 3 x 5/s"
        row(
            f"{prefix}: p50 / p99 / max (ms)",
            lambda r, d=documents: (
                f"{cell(rooms_at(r, d)['p50_ms'])} / {cell(rooms_at(r, d)['p99_ms'])} / "
                f"{cell(rooms_at(r, d)['max_ms'])}"
            ),
        )
        row(
            f"{prefix}: delivered / missing / duplicates",
            lambda r, d=documents: (
                f"{rooms_at(r, d)['delivered_fraction']:.2%} / {rooms_at(r, d)['missing']:,} / "
                f"{rooms_at(r, d)['duplicates']}"
            ),
        )
        row(
            f"{prefix}: sockets that never synced",
            lambda r, d=documents: cell(rooms_at(r, d)["clients"] - rooms_at(r, d)["connected"]),
        )
        row(
            f"{prefix}: server / generator CPU (cores)",
            lambda r, d=documents: (
                f"{rooms_at(r, d)['server_cpu_share']} / {rooms_at(r, d)['generator_cpu_share']}"
            ),
        )
    row(
        "capacity: most rooms with p99 <= 50 ms",
        lambda r: (
            f"{r['capacity']['rooms']}" + (" (search limit)" if r["capacity"]["at_limit"] else "")
        ),
    )
    row(
        "join storm: synced / refused / timed out",
        lambda r: (
            f"{r['join_storm']['synced']:,} / {r['join_storm']['refused']} / "
            f"{r['join_storm']['timed_out']}"
        ),
    )
    row("join storm: all synced after (s)", lambda r: cell(r["join_storm"]["all_synced_s"]))
    row(
        "join storm: time to sync p50 / p99 (ms)",
        lambda r: (
            f"{cell(r['join_storm']['time_to_sync']['p50_ms'])} / "
            f"{cell(r['join_storm']['time_to_sync']['p99_ms'])}"
        ),
    )
    row("4. cold join, 100k-update log (ms)", lambda r: cell(r["cold_load"]["cold_join_ms"]))
    row(
        "4. cold join after compaction (ms)",
        lambda r: cell(r["cold_load"].get("cold_join_after_compaction_ms")),
    )
    row("4. late joiner, median (ms)", lambda r: cell(r["cold_load"]["late_join_ms_median"]))
    row("5. RSS per idle connection (KB)", lambda r: cell(r["memory"]["per_idle_connection_kb"]))
    row("5. RSS per idle room (KB)", lambda r: cell(r["memory"]["per_open_room_kb"]))
    row(
        "5. RSS per open room with its one client (KB)",
        lambda r: cell(r["memory"].get("per_room_with_its_client_kb")),
    )
    row("5. RSS at start (MB)", lambda r: cell(r["memory"]["rss_baseline_mb"]))
    row(
        "5. RSS after everyone left (MB)",
        lambda r: cell(r["memory"].get("rss_after_everyone_left_mb")),
    )
    return out


def markdown(report: dict) -> str:
    table = rows(report)
    header = "| scenario | " + " | ".join(table[0][1]) + " |"
    lines = [header, "| --- " * (len(table[0][1]) + 1) + "|"]
    lines += [
        f"| {label} | " + " | ".join(values) + " |"
        for label, values in table[1:]
        if any(value != "-" for value in values)  # a scenario no target ran
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
