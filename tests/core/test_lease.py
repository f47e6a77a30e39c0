"""The lease against a real Redis: one holder, renewal, lapse, release."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from kubefn.lease import Lease


async def test_one_holder_at_a_time(redis_client: aioredis.Redis) -> None:
    a = Lease(redis_client, "sweeper:t", owner="a", seconds=5)
    b = Lease(redis_client, "sweeper:t", owner="b", seconds=5)
    assert await a.hold()
    assert not await b.hold()
    assert await a.hold()  # renewing keeps it


async def test_lapsed_lease_passes_to_another_holder(redis_client: aioredis.Redis) -> None:
    a = Lease(redis_client, "sweeper:lapse", owner="a", seconds=0.05)
    b = Lease(redis_client, "sweeper:lapse", owner="b", seconds=5)
    assert await a.hold()
    while not await b.hold():  # a stopped renewing; its lease runs out
        await asyncio.sleep(0.01)
    assert not await a.hold()


async def test_release_frees_only_the_holders_lease(redis_client: aioredis.Redis) -> None:
    a = Lease(redis_client, "sweeper:release", owner="a", seconds=5)
    b = Lease(redis_client, "sweeper:release", owner="b", seconds=5)
    assert await a.hold()
    await b.release()  # not b's to give up
    assert not await b.hold()
    await a.release()
    assert await b.hold()
