"""Run the bench: every scenario against every target, in one invocation.

    .venv/bin/python bench/run.py                       # everything (about 5 minutes)
    .venv/bin/python bench/run.py --quick --targets collab-daphne --scenarios fanout
    .venv/bin/python bench/run.py --profile             # also py-spy Collab at saturation

Writes bench/results/<UTC time>.json (and latest.json), then the plot (bench/plot.py).
Each target is a fresh server process; targets run one after another, never at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios
from targets import BENCH, make_target

ALL_TARGETS = [
    "collab-daphne",
    "collab-uvicorn",
    "collab-daphne-postgres",
    "collab-uvicorn-postgres",
    "collab-daphne-postgres-redis-2proc",
    "collab-daphne-postgres-redis-2proc-caddy",
    "y-websocket",
    "hocuspocus",
]
ALL_SCENARIOS = ["memory", "fanout", "ramp", "rooms", "capacity", "join_storm", "cold_load"]
MANY_ROOMS = {"rooms", "capacity", "join_storm"}
# Which scenarios each Collab setup runs (README); the peers run all of them.
ONLY = {
    "collab-daphne": {"memory", "fanout", "ramp", "cold_load"},
    "collab-uvicorn": {"fanout", "ramp"},
    "collab-daphne-postgres": {"memory", "fanout", "ramp", *MANY_ROOMS},
    "collab-uvicorn-postgres": {"memory", *MANY_ROOMS},
    # Coalescing's crossover: the same process relaying every update alone.
    "collab-daphne-postgres-nocoalesce": {"fanout", "ramp", "rooms"},
    "collab-daphne-postgres-redis-2proc": {"fanout", "cold_load", *MANY_ROOMS},
    "collab-daphne-postgres-redis-2proc-caddy": MANY_ROOMS,
}

FULL = {
    "fanout_updates": 1000,
    "fanout_readers": 50,
    "ramp_rates": [250, 500, 1000, 2000, 4000],
    "ramp_seconds": 1.0,
    "max_updates": 2000,
    "rooms_documents": [50, 200, 500],
    "rooms_per_room": 3,
    "rooms_rate": 5.0,
    "rooms_seconds": 10.0,
    "capacity_start": 50,
    "capacity_limit": 1600,
    "capacity_seconds": 6.0,
    "capacity_steps": 7,
    "storm_documents": 500,
    "storm_timeout_s": 30.0,
    "profile_rooms": 200,
    "history": 100_000,
    "memory_connections": 500,
    "memory_documents": 300,
}
QUICK = {
    "fanout_updates": 200,
    "fanout_readers": 10,
    "ramp_rates": [500],
    "ramp_seconds": 1.0,
    "max_updates": 300,
    "rooms_documents": [5, 10],
    "rooms_per_room": 3,
    "rooms_rate": 5.0,
    "rooms_seconds": 2.0,
    "capacity_start": 5,
    "capacity_limit": 20,
    "capacity_seconds": 2.0,
    "capacity_steps": 3,
    "storm_documents": 20,
    "storm_timeout_s": 10.0,
    "profile_rooms": 10,
    "history": 2000,
    "memory_connections": 20,
    "memory_documents": 10,
}


def code_version() -> dict:
    """Which Collab was measured: the commit, and whether its engine had uncommitted edits."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=BENCH.parent, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_engine_changes": bool(git("status", "--porcelain", "documents", "collab")),
    }


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


async def run_target(name: str, chosen: list[str], size: dict, profile: list[str]) -> dict:
    target = make_target(name)
    try:
        target.start()
    except Exception as exc:  # e.g. caddy not installed: the run goes on without this target
        target.stop()
        print(f"[{name}] not started: {exc!r}", flush=True)
        return {"target": {"name": name}, "error": repr(exc), "results": {}}
    out: dict = {"target": target.describe(), "results": {}}
    await scenarios.warm_up(target)
    # In ALL_SCENARIOS order whatever the command line says: memory first, on a fresh process.
    wanted = [s for s in ALL_SCENARIOS if s in chosen and s in ONLY.get(name, set(ALL_SCENARIOS))]
    try:
        for scenario in wanted:
            started = time.monotonic()
            print(f"[{name}] {scenario} ...", flush=True)
            try:
                out["results"][scenario] = await run_scenario(target, scenario, size)
            except Exception as exc:  # record it and go on: one failure must not lose the run
                out["results"][scenario] = {"scenario": scenario, "error": repr(exc)}
                out.setdefault("errors", []).append(
                    {"scenario": scenario, "error": repr(exc), "server_log": target.log_tail()}
                )
            print(
                f"[{name}] {scenario} done in {time.monotonic() - started:.1f}s: "
                f"{summary_line(out['results'][scenario])}",
                flush=True,
            )
        if name in profile:
            try:
                out["profile"] = await profile_saturation(target, size, wanted)
            except Exception as exc:
                out["profile"] = {"error": repr(exc)}
    finally:
        target.stop()
    return out


# Scenarios run once with entries of the size: function, {its keyword: the size entry}.
SIZED = {
    "memory": (
        scenarios.memory,
        {"connections": "memory_connections", "documents": "memory_documents"},
    ),
    "ramp": (
        scenarios.ramp,
        {"rates": "ramp_rates", "seconds": "ramp_seconds", "max_updates": "max_updates"},
    ),
    "capacity": (
        scenarios.capacity,
        {
            "per_room": "rooms_per_room",
            "rate": "rooms_rate",
            "seconds": "capacity_seconds",
            "start": "capacity_start",
            "limit": "capacity_limit",
            "max_steps": "capacity_steps",
        },
    ),
    "join_storm": (
        scenarios.join_storm,
        {
            "documents": "storm_documents",
            "per_room": "rooms_per_room",
            "timeout_s": "storm_timeout_s",
        },
    ),
    "cold_load": (scenarios.cold_load, {"history": "history"}),
}


async def run_scenario(target, scenario: str, size: dict):
    if scenario in SIZED:
        function, entries = SIZED[scenario]
        return await function(target, **{arg: size[entry] for arg, entry in entries.items()})
    if scenario == "fanout":
        return [
            await scenarios.fanout(
                target, rate=rate, updates=size["fanout_updates"], readers=size["fanout_readers"]
            )
            for rate in (200, 1000)
        ]
    if scenario == "rooms":
        runs = []
        for documents in size["rooms_documents"]:
            runs.append(
                await scenarios.rooms(
                    target,
                    documents=documents,
                    per_room=size["rooms_per_room"],
                    rate=size["rooms_rate"],
                    seconds=size["rooms_seconds"],
                )
            )
            await asyncio.sleep(3)  # the rooms unload before the next size
        return runs
    raise ValueError(scenario)


async def profile_saturation(target, size: dict, wanted: list[str]) -> dict:
    """py-spy the server (its first process) under load: the fan-out at 1,000 updates/s as raw
    stacks (bench/profile_summary.py reads them) and as a flame graph, and the many-rooms
    scenario (`profile_rooms` rooms) as raw stacks and a flame graph, plus one `py-spy dump` of
    every thread in the middle of it. Recording starts once every client is connected, so that
    joins and authentication are not in the profile."""
    results = {}
    plans = [
        ("fanout", "raw", "txt", 5),
        ("fanout", "flamegraph", "svg", 5),
        ("rooms", "raw", "txt", min(8, size["rooms_seconds"])),
        ("rooms", "flamegraph", "svg", min(8, size["rooms_seconds"])),
        ("join_storm", "raw", "txt", 6),
    ]
    for scenario, fmt, suffix, seconds in plans:
        if scenario not in wanted:
            continue
        stem = f"profile-{target.name}" + ("" if scenario == "fanout" else f"-{scenario}")
        path = BENCH / "results" / f"{stem}.{suffix}"
        spies = []

        def start_spy(path=path, fmt=fmt, spies=spies, seconds=seconds, dump=scenario == "rooms"):
            py_spy = str(Path(sys.executable).parent / "py-spy")
            # --gil: only the thread holding the GIL, i.e. what competes for the one core Python
            # can use (a database thread waiting inside SQLite or libpq is not counted).
            argv = [py_spy, "record", "--gil", "--pid", str(target.pids[0]), "--rate", "250"]
            argv += ["--duration", str(int(seconds)), "--format", fmt, "--output", str(path)]
            spies.append(
                subprocess.Popen(
                    [*argv, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            if fmt == "raw" and dump:
                out = path.with_name(f"{path.stem}-dump.txt")
                # `sleep` then one dump of every thread, in the middle of the recording.
                shell = f"sleep {seconds / 2}; {py_spy} dump --pid {target.pids[0]} > {out} 2>&1"
                spies.append(subprocess.Popen(["sh", "-c", shell]))
            time.sleep(0.3)

        if scenario == "fanout":
            run = await scenarios.fanout(
                target,
                rate=1000,
                updates=5000,
                readers=size["fanout_readers"],
                on_sending=start_spy,
            )
        elif scenario == "join_storm":
            run = await scenarios.join_storm(
                target,
                documents=size["storm_documents"],
                per_room=size["rooms_per_room"],
                timeout_s=size["storm_timeout_s"],
                on_connecting=start_spy,
            )
        else:
            run = await scenarios.rooms(
                target,
                documents=size["profile_rooms"],
                per_room=size["rooms_per_room"],
                rate=size["rooms_rate"],
                seconds=size["rooms_seconds"],
                on_sending=start_spy,
            )
        for spy in spies:
            spy.wait(60)
        results[f"{scenario}-{fmt}"] = {"file": str(path.relative_to(BENCH.parent)), "run": run}
    return results


def summary_line(result) -> str:
    if isinstance(result, list):
        return "; ".join(summary_line(r) for r in result)
    if "error" in result:
        return f"error {result['error']}"
    if result.get("scenario") == "capacity":
        return f"capacity {result['rooms']} rooms (first failing {result['first_failing_rooms']})"
    if result.get("scenario") == "join_storm":
        return (
            f"{result['synced']}/{result['clients']} synced, all in {result['all_synced_s']} s, "
            f"refused {result['refused']}, timed out {result['timed_out']}, "
            f"p50/p99 {result['time_to_sync']['p50_ms']}/{result['time_to_sync']['p99_ms']} ms"
        )
    if result.get("scenario") == "rooms":
        return (
            f"{result['documents']} rooms p50/p99/max {result['p50_ms']}/{result['p99_ms']}/"
            f"{result['max_ms']} missing {result['missing']} dup {result['duplicates']} "
            f"connected {result['connected']}/{result['clients']} server cpu "
            f"{result['server_cpu_share']} gen cpu {result['generator_cpu_share']}"
        )
    if result.get("scenario") == "ramp":
        return (
            f"sustained {result['sustained_rate']}/s, peak "
            f"{result['peak_deliveries_per_s']} deliveries/s"
        )
    keys = [
        "offered_rate",
        "delivered_fraction",
        "p50_ms",
        "p99_ms",
        "deliveries_per_s",
        "cold_join_ms",
        "cold_join_after_compaction_ms",
        "late_join_ms_median",
        "per_idle_connection_kb",
        "per_open_room_kb",
    ]
    return " ".join(f"{k}={result[k]}" for k in keys if k in result)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--targets", default=",".join(ALL_TARGETS))
    parser.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="collab-daphne",
        default="",
        help="py-spy these targets (comma-separated; default collab-daphne) at saturation",
    )
    parser.add_argument("--out", default=str(BENCH / "results"))
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so that the servers this run started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    size = QUICK if args.quick else FULL
    chosen = args.scenarios.split(",")
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "collab": code_version(),
        "load_before": scenarios.machine_load(),
        "sizes": size,
        "targets": {},
    }
    began = time.monotonic()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{stamp}{'-quick' if args.quick else ''}.json"
    for name in args.targets.split(","):
        profiled = args.profile.split(",") if args.profile else []
        report["targets"][name] = asyncio.run(run_target(name, chosen, size, profiled))
        path.write_text(json.dumps(report, indent=1))  # what is done so far survives a crash
    report["load_after"] = scenarios.machine_load()
    report["duration_s"] = round(time.monotonic() - began, 1)
    text = json.dumps(report, indent=1)
    path.write_text(text)
    if not args.quick:
        (out_dir / "latest.json").write_text(text)
    print(f"results: {path}")
    if not args.no_plot:
        from plot import plot

        print(f"plot: {plot(path)}")
        if not args.quick:
            plot(out_dir / "latest.json")


if __name__ == "__main__":
    main()
