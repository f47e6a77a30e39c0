"""Why an agent costs more CPU per request behind a proxy than when called directly:
the same agent, one client, with a gap between requests (the client spins through
the gap, as the other processes of a loaded machine would keep the cores busy).
A process that slept between requests pays for it again on every wake-up, so
CPU per request grows with the gap even though the work is the same.
"""

from __future__ import annotations

import time
from typing import Any

from bench import httpload, procs

LOOPBACK = "127.0.0.1"


async def measure(
    agent_pid: int, port: int, path: str, *, gaps_ms: tuple[float, ...], requests: int
) -> dict[str, Any]:
    connection = await httpload.Connection.open(LOOPBACK, port)
    request = httpload.request_bytes(LOOPBACK, port, path, b'{"name": "bench"}')
    functions = procs.children(agent_pid)
    rows = []
    try:
        for gap_ms in gaps_ms:
            agent_before, function_before = procs.cpu_ns([agent_pid]), procs.cpu_ns(functions)
            for _ in range(requests):
                httpload.check(await connection.call(request))
                until = time.perf_counter() + gap_ms / 1000
                while time.perf_counter() < until:  # the gap: keep this core busy
                    pass
            rows.append(
                {
                    "gap_ms": gap_ms,
                    "agent_cpu_ms_per_request": round(
                        (procs.cpu_ns([agent_pid]) - agent_before) / 1e6 / requests, 4
                    ),
                    "function_cpu_ms_per_request": round(
                        (procs.cpu_ns(functions) - function_before) / 1e6 / requests, 4
                    ),
                }
            )
    finally:
        connection.close()
    return {"requests_per_gap": requests, "rows": rows}
