"""One soak run: a private Redis, two `manage.py serve` processes on the soak's database, the Node
load generator (bench/nodeload, steady mode) holding the long-lived rooms, and per window: the
previous window's fresh documents left and new ones opened, an access change, a named version,
and a row of measurements. API traffic and sign-ins go on beside it. At the end every room is
left, the servers stop (SIGTERM commits what they hold), and a cold server's copy of every
document is compared with what its clients held.

The caller provides the database (the one Django is connected to) and the cast.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from dataclasses import asdict

from django.conf import settings

from bench.nodeload import NodeLoad
from tests.support.chaos import stop_gracefully
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess, database_url_of_test_db, free_port, server_env
from tests.support.soak.cast import Cast
from tests.support.soak.options import SoakOptions
from tests.support.soak.probes import Probes, ProcessGone
from tests.support.soak.report import row_line
from tests.support.soak.rooms import AccessChanges, Churn, RoomLog, typists
from tests.support.soak.traffic import Http, api_traffic, name_version, sign_ins
from tests.support.soak.verdict import checks_as_json, connection_bound, judge

# Past this many connections above the bound the run stops: the Postgres it uses is shared
# (with other databases, other users), and a run that exhausts it proves nothing more.
CONNECTION_GUARD = 10
DRAIN_S = 10  # how long edits in a room being left may take to reach its other clients


def run_soak(options: SoakOptions, cast: Cast) -> dict:
    """The report (soak.json's content): options, rows, samples, edits, checks, `passed`."""
    overrides = options.server_settings()
    redis = RedisServer().start()
    env = server_env(REDIS_URL=redis.url, **overrides)
    logs = options.out / "logs"
    servers = [
        ServerProcess(port=free_port(), env=env, log_dir=logs) for _ in range(options.processes)
    ]
    soak = Soak(options, cast, servers, env)
    try:
        for server in servers:
            server.start()
        report = asyncio.run(soak.run(redis.process.pid, redis.url))
    finally:
        for server in servers:
            server.stop()
        redis.stop()
    report.update(server_settings=overrides, logs=str(logs))
    checks = judge(report)
    report.update(checks=checks_as_json(checks), passed=all(check.ok for check in checks))
    return report


class Soak:
    def __init__(self, options: SoakOptions, cast: Cast, servers: list, env: dict) -> None:
        self.options = options
        self.cast = cast
        self.servers = servers
        self.env = env
        self.bound = connection_bound(env, len(servers), settings.COLLAB_DB_POOL_SIZE)
        self.rows: list[dict] = []
        self.samples: list[dict] = []
        self.problems: list[str] = []
        self.stopped_early: str | None = None
        self.stop = asyncio.Event()
        self.rooms = RoomLog()

    async def run(self, redis_pid: int, redis_url: str) -> dict:
        pids = [server.process.pid for server in self.servers]
        async with NodeLoad() as load:
            helpers = [load.pid, redis_pid, os.getpid()]
            probes = Probes(pids, helpers, database_url_of_test_db(), redis_url)
            try:
                await probes.open()
                http = Http(self.servers)
                await self._windows(load, http, probes)
                self.rooms.record(await load.finish(drain_s=DRAIN_S))
                cold = await self._stop_and_start_cold()
                try:
                    verified = await load.verify(cold.http, self.cast.staff.token)
                finally:
                    await asyncio.to_thread(cold.stop)
                automatic = await probes.automatic_versions()
            finally:
                await probes.close()
        return {
            "options": {**asdict(self.options), "out": str(self.options.out)},
            "connection_bound": self.bound,
            "cpus": os.cpu_count(),
            "rows": self.rows,
            "samples": self.samples,
            "edits": {**self.rooms.summary(), "cold": verified},
            "automatic_versions": automatic,
            "http_failures": http.failures,
            "problems": self.problems,
            "stopped_early": self.stopped_early,
        }

    async def _windows(self, load: NodeLoad, http: Http, probes: Probes) -> None:
        options, cast, servers = self.options, self.cast, self.servers
        rng = random.Random(options.seed)
        churn = Churn(
            http,
            load,
            cast,
            servers,
            self.rooms,
            per_window=options.fresh_per_window,
            size=options.typists_per_room,
        )
        access = AccessChanges(http, load, cast, servers)
        long_lived = [(room.document, room.typists) for room in cast.rooms]
        joined = await load.connect(typists(servers, long_lived), batch=100)
        if joined["synced"] != joined["requested"]:
            self.problems.append(f"long-lived rooms: joins failed: {joined['failures']}")
        await load.steady(options.edits_per_second, options.keep)
        loop = asyncio.get_running_loop()
        started = loop.time()
        background = [asyncio.create_task(self._sample(probes, started))]
        if options.api_per_second:
            background.append(
                asyncio.create_task(api_traffic(http, cast, options.api_per_second, rng))
            )
        if options.sign_ins_per_window:
            background.append(
                asyncio.create_task(
                    sign_ins(http, cast, options.sign_ins_per_window, options.window_seconds)
                )
            )
        try:
            cpu_mark = None
            for n in range(options.windows):
                end = started + (n + 1) * options.window_seconds
                await churn.step(n + 1, drain_s=DRAIN_S)
                await access.step()
                await name_version(http, rng.choice(cast.rooms), f"soak window {n + 1}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), max(0.0, end - loop.time()))
                row, cpu_mark = await self._row(n + 1, loop.time() - started, load, http, cpu_mark)
                self.rows.append(row)
                print(row_line(row, options.windows), flush=True)
                if self.stop.is_set():
                    break
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        self.problems += churn.problems + access.problems
        if access.close_ms:
            print(f"access changes: sockets closed after {access.close_ms} ms", flush=True)

    async def _sample(self, probes: Probes, started: float) -> None:
        interval = min(2.0, self.options.window_seconds / 5)
        loop = asyncio.get_running_loop()
        while True:
            try:
                sample = await probes.sample(loop.time() - started)
            except ProcessGone:
                return self._stop_early("a server process exited (its log is under logs/)")
            self.samples.append(sample)
            if sample["connections"] > self.bound + CONNECTION_GUARD:
                return self._stop_early(
                    f"{sample['connections']} Postgres connections, more than {CONNECTION_GUARD} "
                    f"past the bound of {self.bound} (the database server is shared)"
                )
            await asyncio.sleep(interval)

    def _stop_early(self, reason: str) -> None:
        self.stopped_early = reason
        self.stop.set()
        print(f"stopping early: {reason}", flush=True)

    async def _row(self, window: int, t: float, load: NodeLoad, http: Http, cpu_mark) -> tuple:
        node = await load.window()
        tally = http.take_window()
        since = self.rows[-1]["t_s"] if self.rows else 0.0
        inside = [s for s in self.samples if s["t"] >= since] or self.samples[-1:]
        last = inside[-1]
        mark = cpu_mark or self.samples[0]
        seconds = max(last["t"] - mark["t"], 1e-9)
        row = {
            "window": window,
            "t_s": round(t, 1),
            "edits": node["edits"],
            "deliveries": node["deliveries"],
            "p50_ms": node["p50_ms"],
            "p99_ms": node["p99_ms"],
            "max_ms": node["max_ms"],
            "rss_mb": last["rss_mb"],
            "connections": max(s["connections"] for s in inside),
            "redis_mb": last["redis_mb"],
            "db_mb": last["db_mb"],
            "requests": tally["requests"],
            "http_5xx": tally["http_5xx"],
            "http_errors": tally["http_errors"],
            "ws_unexpected_closes": sum(node["unexpected_closes"].values()),
            "ws_failed_joins": sum(node["failed_joins"].values()),
            "close_codes": node["unexpected_closes"],
            "sign_ins": tally["sign-out"],
            "documents_created": tally["create"],
            "access_changes": tally["access change"],
            "open_rooms": node["open_rooms"],
            "server_cpu": _rates(mark["cpu_s"], last["cpu_s"], seconds),
            # ms per s that the servers' and the generator's event loops waited for a CPU
            "cpu_wait_ms_per_s": _rates(mark["cpu_wait_s"], last["cpu_wait_s"], seconds / 1000),
            # cores used by everything else on the machine (verdict.py: a busy machine's windows)
            "others_cpu": _rate(mark["others_cpu_s"], last["others_cpu_s"], seconds),
            "generator_cpu": round(node["cpu_s"] / max(t - since, 1e-9), 2),
            "generator_lag_p99_ms": node["lag"]["p99_ms"],
        }
        return row, last

    async def _stop_and_start_cold(self) -> ServerProcess:
        for server in self.servers:
            self.problems += await asyncio.to_thread(stop_gracefully, server)
        cold = ServerProcess(port=free_port(), env=self.env, log_dir=self.options.out / "logs")
        await asyncio.to_thread(cold.start)
        return cold


def _rate(before: float, after: float, seconds: float) -> float:
    return round((after - before) / seconds, 2)


def _rates(before: list[float], after: list[float], seconds: float) -> list[float]:
    return [_rate(a, b, seconds) for a, b in zip(before, after, strict=True)]
