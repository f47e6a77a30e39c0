"""Execution counts per state machine: kept by the gateways, shown by the operator.

A hash per machine (`RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`)
that the engine moves as executions start and close; the operator copies it
into the StateMachine's `status.executions`. Counts are for watching, not for
deciding: a gateway killed between closing an execution and counting it leaves
the count one off, which is why the engine never reads them back.
"""

from __future__ import annotations

import redis.asyncio as aioredis

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def counts_key(machine_key: str) -> str:
    return f"kubefn:sfn:{{m:{machine_key}}}:counts"


async def count_started(client: aioredis.Redis, machine_key: str) -> None:
    await client.hincrby(counts_key(machine_key), "RUNNING", 1)


async def count_closed(client: aioredis.Redis, machine_key: str, *, status: str) -> None:
    async with client.pipeline(transaction=True) as pipe:
        pipe.hincrby(counts_key(machine_key), "RUNNING", -1)
        pipe.hincrby(counts_key(machine_key), status, 1)
        await pipe.execute()


async def counts(client: aioredis.Redis, machine_key: str) -> dict[str, int]:
    """Every status's count (0 where none), as `status.executions` shows them."""
    raw = await client.hgetall(counts_key(machine_key))
    found = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
    return {status.lower(): max(0, found.get(status, 0)) for status in STATUSES}
