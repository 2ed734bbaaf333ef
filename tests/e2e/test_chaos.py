"""No keystroke lost with several processes, whatever fails (issue 12).

Real y-websocket clients type into three documents on two server processes; each process is
SIGKILLed and restarted once, Redis restarts once, clients move and go offline. In the end every
client of a document holds the same content and a cold server serves exactly that content.
The scenario lives in tests/support/chaos.py (scripts/chaos-soak runs it for hours)."""

from __future__ import annotations

import pytest

from tests.support.chaos import run_round

CHAOS_SECONDS = 35


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chaos_loses_nothing_and_a_cold_server_serves_what_clients_hold(transactional_db, seed):
    result = run_round(seed, seconds=CHAOS_SECONDS)
    print(result.report())
    assert result.ok, result.report()
