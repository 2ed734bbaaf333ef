"""Drive the Node load generator (bench/nodeload/loadgen.mjs) from the scenarios.

The generator is one `node` process per scenario run: one JSON command per line on its stdin,
one JSON reply per line on its stdout. It holds the clients (one `ws` socket and one Y.Doc
each) between commands, so a scenario can connect, type, measure the server, and close.
The endurance soak (tests/support/soak) drives its steady mode through the same class.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

NODELOAD = Path(__file__).resolve().parent / "nodeload"


def client_specs(target, names: list[str], per_room: int) -> list[dict]:
    """`per_room` clients for each document. With several server processes, consecutive
    clients go to consecutive processes, so every room has clients on each of two processes
    (the worst case for cross-process relaying) unless the target routes by document."""
    specs = []
    for name in names:
        dialect = target.dialect(name)
        for _ in range(per_room):
            index = len(specs)
            specs.append(
                {
                    "url": target.url(name, process=index),
                    "dialect": dialect.kind,
                    "document": name,
                    "room": name,
                }
            )
    return specs


class NodeLoad:
    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self._turn = asyncio.Lock()  # one command at a time: replies come back in order

    async def __aenter__(self) -> NodeLoad:
        if not (NODELOAD / "node_modules").is_dir():
            raise RuntimeError("bench/nodeload/node_modules is missing: run bench/setup.sh")
        self.process = await asyncio.create_subprocess_exec(
            "node",
            "--max-old-space-size=4096",
            str(NODELOAD / "loadgen.mjs"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            try:
                await self.command("close", timeout=30)
                self.process.stdin.write(b'{"cmd": "exit"}\n')
                await asyncio.wait_for(self.process.wait(), 10)
            except (TimeoutError, ConnectionError, RuntimeError):
                self.process.kill()
                await self.process.wait()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def command(self, cmd: str, timeout: float = 600, **args) -> dict:
        async with self._turn:
            self.process.stdin.write(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("the Node load generator exited")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"nodeload {cmd}: {reply['error']}")
        return reply

    async def connect(self, specs: list[dict], batch: int = 100, timeout_s: float = 30) -> dict:
        return await self.command("connect", clients=specs, batch=batch, timeout_s=timeout_s)

    async def type(self, rate: float, seconds: float, drain_s: float, quiet_s: float = 2) -> dict:
        return await self.command(
            "type", rate=rate, seconds=seconds, drain_s=drain_s, quiet_s=quiet_s
        )

    async def close(self) -> dict:
        return await self.command("close")

    # -- steady typing (the endurance soak; loadgen.mjs documents each command) ----------------
    async def steady(self, rate: float, keep: int) -> dict:
        return await self.command("steady", rate=rate, keep=keep)

    async def window(self) -> dict:
        return await self.command("window")

    async def leave(self, rooms: list[str], drain_s: float) -> dict:
        return await self.command("leave", rooms=rooms, drain_s=drain_s)

    async def finish(self, drain_s: float) -> dict:
        return await self.command("finish", drain_s=drain_s)

    async def await_close(self, index: int, timeout_s: float) -> dict:
        return await self.command("await_close", index=index, timeout_s=timeout_s)

    async def verify(self, http: str, token: str) -> dict:
        return await self.command("verify", http=http, token=token)
