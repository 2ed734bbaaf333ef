"""What the soak measures from outside, as an operator's monitoring would: each server process's
resident memory and CPU (/proc), the Postgres connections to the soak's database
(pg_stat_activity) and its size, and the private Redis's memory (INFO). And how busy the
machine was with other work (its CPU time minus the soak's own processes'): on a shared
machine a latency spike can be someone else's."""

from __future__ import annotations

import psycopg
import redis.asyncio

from tests.support.procfs import cpu_seconds, cpu_wait_seconds, machine_busy_seconds, rss_bytes

MB = 2**20


class ProcessGone(Exception):
    """A server process the soak measures has exited."""


class Probes:
    """One connection to the soak's database (the soak's own, counted in pg_stat_activity),
    one to Redis; `sample()` reads everything once."""

    def __init__(self, pids: list[int], helpers: list[int], database_url: str, redis_url: str):
        """`pids`: the servers; `helpers`: the soak's other processes (the load generator first,
        Redis, the soak itself), whose CPU is the soak's too."""
        self.pids = pids
        self.helpers = helpers
        self.database_url = database_url
        self.redis_url = redis_url
        self.db: psycopg.AsyncConnection | None = None
        self.redis = None

    async def open(self) -> Probes:
        self.db = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        self.redis = redis.asyncio.from_url(self.redis_url)
        return self

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()
        if self.redis is not None:
            await self.redis.aclose()

    async def sample(self, t: float) -> dict:
        try:
            rss = [round(rss_bytes(pid) / MB, 2) for pid in self.pids]
            cpu = [round(cpu_seconds(pid), 2) for pid in self.pids]
            ours = sum(cpu) + sum(cpu_seconds(pid) for pid in self.helpers)
            waited = [round(cpu_wait_seconds(pid), 3) for pid in [*self.pids, self.helpers[0]]]
            machine = machine_busy_seconds()
        except (FileNotFoundError, ProcessLookupError):
            raise ProcessGone from None
        cursor = await self.db.execute(
            "SELECT count(*), pg_database_size(current_database()) FROM pg_stat_activity "
            "WHERE datname = current_database()"
        )
        connections, database_bytes = await cursor.fetchone()
        memory = await self.redis.info("memory")
        return {
            "t": round(t, 2),
            "rss_mb": rss,
            "cpu_s": cpu,
            "cpu_wait_s": waited,  # the servers', then the generator's
            "others_cpu_s": round(machine - ours, 2),
            "connections": connections,
            "db_mb": round(database_bytes / MB, 2),
            "redis_mb": round(memory["used_memory"] / MB, 2),
        }

    async def automatic_versions(self) -> int:
        from documents.models import DocumentVersion

        table = DocumentVersion._meta.db_table
        cursor = await self.db.execute(f"SELECT count(*) FROM {table} WHERE automatic")
        return (await cursor.fetchone())[0]
