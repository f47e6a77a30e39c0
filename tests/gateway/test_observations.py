"""The gateway reports what runs (instances, cold starts) for the functions' status."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

from kubefn import observed
from tests.gateway.conftest import Gateway

HELLO = {"app.py": "def handler(e, c):\n    return 'hi'\n"}


async def test_instances_and_the_last_cold_start_reach_redis(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    before = time.time()
    client = gateway.lambda_client()
    await gateway.call(client.invoke, FunctionName="hello")

    async def summary() -> observed.Summary:
        return await observed.read(
            gateway.redis, kind="Function", name="default/hello", now=time.time()
        )

    seen = await summary()
    for _ in range(500):  # bounded; the reporter writes every 0.1 s in these tests
        if seen.last_cold_start is not None:  # written after the cold start's invocation
            break
        await asyncio.sleep(0.02)
        seen = await summary()
    assert (seen.instances, seen.busy, seen.revision, seen.replicas) == (1, 0, 1, 1)
    assert seen.last_cold_start is not None and seen.last_cold_start >= before


def test_a_stale_replica_stops_counting() -> None:
    now = 1000.0
    fresh = observed.Observation(at=now - 1, revision=2, idle=2)
    stale = observed.Observation(
        at=now - observed.STALE_AFTER_SECONDS - 1, revision=1, idle=5, last_cold_start=5.0
    )
    raw = {name: json.dumps(dataclasses.asdict(o)) for name, o in (("a", fresh), ("b", stale))}
    summary = observed.summarize(raw, now=now)
    assert (summary.instances, summary.revision, summary.last_cold_start) == (2, 2, None)
