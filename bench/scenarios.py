"""The bench's scenarios (bench/README.md), each run against one started target.

Every function returns a JSON-able dict; nothing here knows which server it talks to beyond
the target's URL and dialect.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import time
from pathlib import Path

from loadgen import (
    Recorder,
    SyncClient,
    close_all,
    connect_all,
    send_on_schedule,
    summarize,
    wait_delivered,
)
from nodeload import NodeLoad, client_specs
from targets import Target
from ysync import edit_history, typing_updates


def machine_load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


async def fanout(
    target: Target, *, rate: float | None, updates: int, readers: int = 50, on_sending=None
) -> dict:
    """One writer, `readers` readers of one document; `rate` updates/s (None: flat out).
    `on_sending()` is called once everyone is connected, right before the first update."""
    document = target.new_documents(1)[0]
    dialect = target.dialect(document)
    recorder = Recorder()
    # With several server processes the readers are spread over them; the writer is on the first.
    clients = [
        SyncClient(target.url(document, process=n + 1), dialect, n, recorder)
        for n in range(readers)
    ]
    writer = SyncClient(target.url(document, process=0), dialect, -1, None)
    outgoing = typing_updates(0, updates, client_id=random.randrange(1, 2**31))
    await connect_all([*clients, writer])
    schedule = [(n / rate if rate else 0.0, writer, u, n) for n, u in enumerate(outgoing)]
    if on_sending is not None:
        on_sending()
    server_cpu, client_cpu = target.cpu(), time.process_time()
    started = await send_on_schedule(schedule, recorder)
    sent_s = time.monotonic() - started
    await wait_delivered(recorder, updates * readers)
    result = summarize(recorder, updates * readers, started)
    result.update(
        scenario="fanout",
        offered_rate=rate or "max",
        updates=updates,
        readers=readers,
        send_s=round(sent_s, 3),
        server_cpu_s=round(target.cpu() - server_cpu, 2),
        client_cpu_s=round(time.process_time() - client_cpu, 2),
        load=machine_load(),
    )
    if len(target.ports) > 1:
        far = {c.index for c in clients if (c.index + 1) % len(target.ports) != 0}
        result["delivered_to_other_processes"] = sum(
            len(markers) for index, markers, _ in recorder.arrivals if index in far
        )
    await close_all([*clients, writer])
    return result


async def warm_up(target: Target) -> None:
    """One join per server process before measuring (first-join start-up is not measured)."""
    name = target.new_documents(1)[0]
    for process in range(len(target.ports)):
        try:
            _, client = await join_once(target, name, process=process)
            await client.close()
        except Exception:
            pass  # the scenarios will record what fails


def saturation(steps: list[dict]) -> dict:
    """The highest offered rate every delivery kept up with (all delivered, at >= 90% of the
    offered delivery rate, p99 under 1 s), and the most deliveries/s seen at any step."""
    sustained = None
    for step in steps:
        rate = step["offered_rate"]
        if rate == "max":
            continue
        kept_up = (
            step["delivered_fraction"] >= 0.999
            and step["deliveries_per_s"] >= 0.9 * rate * step["readers"]
            and (step["p99_ms"] or 1e9) < 1000
        )
        if kept_up:
            sustained = rate
    return {
        "sustained_rate": sustained,
        "peak_deliveries_per_s": max(step["deliveries_per_s"] for step in steps),
    }


async def ramp(target: Target, *, rates: list[int], seconds: float, max_updates: int) -> dict:
    steps = []
    for rate in rates:
        steps.append(await fanout(target, rate=rate, updates=int(rate * seconds)))
        if saturation(steps)["sustained_rate"] != rate:
            break  # saturated: the next steps would only queue longer
    steps.append(await fanout(target, rate=None, updates=max_updates))
    return {"scenario": "ramp", "steps": steps, **saturation(steps)}


async def rooms(
    target: Target,
    *,
    documents: int,
    per_room: int,
    rate: float,
    seconds: float,
    drain_s: float | None = None,
    on_sending=None,
) -> dict:
    """`documents` rooms of `per_room` clients, every client typing `rate` updates/s, driven by
    the Node load generator. `on_sending()` is called once everyone is connected."""
    names = target.new_documents(documents)
    specs = client_specs(target, names, per_room)
    async with NodeLoad() as load:
        joined = await load.connect(specs, batch=200)
        if on_sending is not None:
            on_sending()
        server_cpu = target.cpu()
        # A server that falls behind gets `drain_s` more to catch up; what is still missing then
        # is counted as missing (and is not in the latencies).
        typed = await load.type(rate, seconds, drain_s=2 * seconds if drain_s is None else drain_s)
        server_cpu_s = target.cpu() - server_cpu
        await load.close()
    return {
        "scenario": "rooms",
        "documents": documents,
        "per_room": per_room,
        "rate_per_client": rate,
        "seconds": seconds,
        "clients": len(specs),
        "connected": joined["synced"],
        "connect_failures": joined["failures"],
        "connect_s": joined["wall_s"],
        **{k: v for k, v in typed.items() if k not in ("command_cpu_s",)},
        "server_cpu_s": round(server_cpu_s, 2),
        "server_cpu_share": round(server_cpu_s / max(typed["wall_s"], 1e-9), 2),
        "generator_cpu_share": round(typed["generator_cpu_s"] / max(typed["wall_s"], 1e-9), 2),
    }


def kept_up(step: dict, p99_ms: float) -> bool:
    return (
        step["connected"] == step["clients"]
        and step["missing"] == 0
        and step["duplicates"] == 0
        and step["p99_ms"] is not None
        and step["p99_ms"] <= p99_ms
    )


async def capacity(
    target: Target,
    *,
    per_room: int,
    rate: float,
    seconds: float,
    start: int,
    limit: int,
    p99_ms: float = 50.0,
    max_steps: int = 8,
) -> dict:
    """The most rooms (`per_room` typists at `rate` updates/s each) held with every update
    delivered once and p99 <= `p99_ms`: doubling from `start` until a step fails (or `limit`),
    then bisecting to within 10%."""
    steps: list[dict] = []

    async def step(count: int) -> bool:
        result = await rooms(
            target, documents=count, per_room=per_room, rate=rate, seconds=seconds, drain_s=3
        )
        result["kept_up"] = kept_up(result, p99_ms)
        steps.append(result)
        print(
            f"    capacity {count} rooms: p99={result['p99_ms']} missing={result['missing']} "
            f"gen_cpu={result['generator_cpu_share']} -> {result['kept_up']}",
            flush=True,
        )
        await asyncio.sleep(3)  # rooms unload (COLLAB_ROOM_IDLE_SECONDS=2) before the next
        return result["kept_up"]

    good, bad, count = 0, None, start
    while len(steps) < max_steps:
        if bad is None:
            if not await step(count):
                bad = count
                continue
            good = count
            if count >= limit:
                break
            count = min(limit, count * 2)
            continue
        if bad - good <= max(10, good // 10):
            break
        count = (good + bad) // 20 * 10 or (good + bad) // 2
        if count in (good, bad):
            break
        if await step(count):
            good = count
        else:
            bad = count
    return {
        "scenario": "capacity",
        "p99_limit_ms": p99_ms,
        "per_room": per_room,
        "rate_per_client": rate,
        "seconds_per_step": seconds,
        "rooms": good,
        "first_failing_rooms": bad,
        "at_limit": bad is None,
        "limit": limit,
        "steps": [
            {
                k: s.get(k)
                for k in (
                    "documents",
                    "kept_up",
                    "connected",
                    "p50_ms",
                    "p99_ms",
                    "max_ms",
                    "missing",
                    "duplicates",
                    "server_cpu_share",
                    "generator_cpu_share",
                    "load",
                )
            }
            for s in steps
        ],
    }


def listen_overflows() -> dict:
    """The kernel's count of connections dropped because a listen queue was full (machine-wide:
    on a shared machine other servers can add to it)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], map(int, values.split()[1:]), strict=True))
            return {k: table.get(k, 0) for k in ("ListenOverflows", "ListenDrops")}
    return {}


def listen_backlogs(ports: list[int]) -> dict:
    """The accept queue length each server listens with (`ss`: Send-Q of a LISTEN socket)."""
    out = {}
    for port in ports:
        done = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=False
        )
        fields = done.stdout.split()
        out[str(port)] = int(fields[2]) if len(fields) > 2 else None
    return out


async def join_storm(
    target: Target, *, documents: int, per_room: int, timeout_s: float, on_connecting=None
) -> dict:
    """`documents` x `per_room` clients opening their sockets at once (a reconnect storm after
    a deploy): time until all synced, failures, time-to-sync per client."""
    names = target.new_documents(documents)
    specs = client_specs(target, names, per_room)
    warm_up_room = target.new_documents(1)
    await asyncio.sleep(1.0)
    async with NodeLoad() as load:
        # One client first, so that the generator's own first-connection costs are not timed.
        await load.connect(client_specs(target, warm_up_room, 1))
        if on_connecting is not None:
            on_connecting()
        server_cpu, overflows = target.cpu(), listen_overflows()
        joined = await load.connect(specs, batch=0, timeout_s=timeout_s)
        server_cpu_s = target.cpu() - server_cpu
        after = listen_overflows()
        await load.close()
    return {
        "scenario": "join_storm",
        "documents": documents,
        "clients": len(specs),
        "timeout_s": timeout_s,
        **{k: v for k, v in joined.items() if k != "command_cpu_s"},
        "server_cpu_s": round(server_cpu_s, 2),
        "generator_cpu_s": joined["command_cpu_s"],
        # A full accept queue drops the SYN (or the handshake's last ACK): the client retries
        # after 1 s, 3 s, 7 s... which shows as steps in time-to-sync.
        "listen_backlog": listen_backlogs(target.ports),
        "listen_overflows_machine_wide": {k: after[k] - overflows[k] for k in after},
    }


_HISTORY: dict[int, tuple[list[bytes], bytes]] = {}


async def join_once(target: Target, name: str, process: int = 0) -> tuple[float, SyncClient]:
    client = SyncClient(target.url(name, process=process), target.dialect(name), 0, None)
    await client.connect()
    return await client.wait_synced(timeout=120), client


async def cold_load(target: Target, *, history: int, late_joiners: int = 5) -> dict:
    """Join a document with `history` stored updates: cold (not in memory), then late."""
    if history not in _HISTORY:
        _HISTORY[history] = edit_history(history)
    updates, whole = _HISTORY[history]
    name = target.new_documents(1)[0]
    result: dict = {"scenario": "cold_load", "history_updates": history, "load": machine_load()}
    seed_started = time.monotonic()
    held: list[SyncClient] = []
    if target.seed(name, updates):
        result["seed_s"] = round(time.monotonic() - seed_started, 2)
        seconds, first = await join_once(target, name)
        result["cold_join_ms"] = round(seconds * 1000, 1)
        held.append(first)
    else:
        # Nothing stored: the history lives only in memory, put there by a client.
        result["cold_join_ms"] = None
        result["cold_join_note"] = "keeps nothing: no stored history to load"
        _, first = await join_once(target, name)
        first.send_update(whole)
        held.append(first)
        await asyncio.sleep(1.0)
    late = []
    for _ in range(late_joiners):
        seconds, client = await join_once(target, name)
        late.append(seconds * 1000)
        await client.close()
    result["late_join_ms_median"] = round(statistics.median(late), 1)
    result["late_join_ms_max"] = round(max(late), 1)
    if result["cold_join_ms"] is not None:
        # One edit makes the write-behind commit, and the commit compacts the long log; once
        # every client has left, the room unloads and the next join loads the snapshot.
        first.send_update(typing_updates(0, 1, client_id=7)[0])
        await asyncio.sleep(1.0)
        await close_all(held)
        await asyncio.sleep(5.0)
        seconds, again = await join_once(target, name)
        result["cold_join_after_compaction_ms"] = round(seconds * 1000, 1)
        await again.close()
    else:
        await close_all(held)
    return result


async def memory(target: Target, *, connections: int, documents: int) -> dict:
    """RSS growth per idle connection (all in one room) and per open room (one client each), and
    what is left after everyone leaves and the rooms unload."""
    async with NodeLoad() as load:
        await asyncio.sleep(1.0)
        baseline = target.rss()
        name = target.new_documents(1)[0]
        await load.connect(client_specs(target, [name], connections), batch=100)
        await asyncio.sleep(1.0)
        with_connections = target.rss()
        names = target.new_documents(documents)
        await load.connect(client_specs(target, names, 1), batch=100)
        await asyncio.sleep(1.0)
        with_rooms = target.rss()
        await load.close()
    await asyncio.sleep(5.0)  # Collab unloads a room 2 s after its last client (targets.py)
    after = target.rss()
    per_connection = (with_connections - baseline) / connections
    per_room_and_client = (with_rooms - with_connections) / documents
    return {
        "scenario": "memory",
        "connections": connections,
        "documents": documents,
        "rss_baseline_mb": round(baseline / 2**20, 1),
        "rss_with_connections_mb": round(with_connections / 2**20, 1),
        "rss_with_rooms_mb": round(with_rooms / 2**20, 1),
        "rss_after_everyone_left_mb": round(after / 2**20, 1),
        "per_idle_connection_kb": round(per_connection / 1024, 1),
        "per_room_with_its_client_kb": round(per_room_and_client / 1024, 1),
        "per_open_room_kb": round((per_room_and_client - per_connection) / 1024, 1),
        "load": machine_load(),
    }
