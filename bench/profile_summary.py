"""Summarize a py-spy raw profile (collapsed stacks): where the server's time goes.

    .venv/bin/python bench/profile_summary.py bench/results/profile-collab-daphne.txt

Prints the functions with the most samples on top of the stack (self) and anywhere on it
(inclusive), as percentages of all samples, and the share of a few groups of interest.
"""

from __future__ import annotations

import collections
import sys

GROUPS = {
    "relay: Room fan-out (documents/sync/room.py _fan_out)": "_fan_out (documents/sync/room.py",
    "per-socket send: SocketClient._drain -> consumer.send": "_drain (documents/server/consumer.py",
    "channels consumer send (InstanceSessionWrapper.send)": "InstanceSessionWrapper.send",
    "daphne handle_reply -> autobahn sendMessage": "Server.handle_reply (daphne/server.py",
    "autobahn sendMessage (frame building)": "sendMessage (autobahn/websocket/protocol.py",
    "incoming: consumer receive": "DocumentConsumer.receive (documents/server/consumer.py",
    "parse + check_update": "check_update (documents/sync/update_check.py",
    "pycrdt apply_update": "_apply (documents/sync/room.py",
    "database (worker threads)": "DatabaseSyncToAsync.thread_handler",
    "compaction check after each commit": "_compact_due (documents/storage.py",
    "metrics / RELAY stats": "record (documents/sync/stats.py",
    "event loop idle (epoll)": "EpollSelector.select",
}


def summarize(path: str, top: int = 25) -> str:
    self_samples: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = 0
    with open(path) as lines:
        stacks = lines.read().splitlines()
    for line in stacks:
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        self_samples[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    out = [f"{total} samples"]
    out.append("\ngroups (inclusive):")
    for label, needle in GROUPS.items():
        n = sum(v for k, v in inclusive.items() if needle in k)
        out.append(f"  {100 * n / total:5.1f}%  {label}")
    out.append("\nself:")
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in self_samples.most_common(top)]
    out.append("\ninclusive:")
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(out)


if __name__ == "__main__":
    print(summarize(sys.argv[1]))
