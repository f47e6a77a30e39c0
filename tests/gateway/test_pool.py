"""The pool's decisions, with instance starts the test controls and a clock it moves.

Instances here are bare handles: the pool never talks to them, it only hands
them out. The LocalProvider path is covered end to end in test_invoke.py.
"""

from __future__ import annotations

import asyncio

import pytest

from kubefn_gateway.instance import Instance
from kubefn_gateway.pool import AtCapacity, InstancePool


class Starts:
    """Instance starts that complete when the test says so."""

    def __init__(self) -> None:
        self.gates: list[asyncio.Future[Instance]] = []
        self.stopped: list[Instance] = []
        self.now = 0.0

    async def start(self) -> Instance:
        gate: asyncio.Future[Instance] = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        return await gate

    async def stop(self, instance: Instance) -> None:
        self.stopped.append(instance)

    def finish(self, index: int) -> Instance:
        instance = Instance(address=f"test:{index}")
        self.gates[index].set_result(instance)
        return instance

    def pool(self, max_instances: int = 10) -> InstancePool:
        return InstancePool(
            name="t",
            start=self.start,
            stop=self.stop,
            max_instances=max_instances,
            clock=lambda: self.now,
        )


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_first_request_cold_starts_one_instance() -> None:
    starts = Starts()
    pool = starts.pool()
    acquiring = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    assert (len(starts.gates), pool.starting) == (1, 1)
    instance = starts.finish(0)
    assert await acquiring is instance


async def test_a_released_instance_is_reused_warm() -> None:
    starts = Starts()
    pool = starts.pool()
    task = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    first = starts.finish(0)
    await task
    pool.release(first, healthy=True)
    assert await pool.acquire(timeout=5) is first
    assert len(starts.gates) == 1


async def test_concurrent_requests_start_one_instance_each() -> None:
    starts = Starts()
    pool = starts.pool()
    tasks = [asyncio.create_task(pool.acquire(timeout=5)) for _ in range(3)]
    await _settle()
    assert len(starts.gates) == 3
    instances = {starts.finish(i) for i in range(3)}
    assert set(await asyncio.gather(*tasks)) == instances


async def test_a_waiter_takes_an_instance_released_before_its_own_start() -> None:
    starts = Starts()
    pool = starts.pool()
    first_task = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    first = starts.finish(0)
    await first_task
    second_task = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    pool.release(first, healthy=True)
    assert await second_task is first
    late = starts.finish(1)
    await _settle()
    assert (pool.idle, pool.busy) == (1, 1)
    assert late not in starts.stopped


async def test_requests_beyond_the_bound_are_refused() -> None:
    starts = Starts()
    pool = starts.pool(max_instances=2)
    tasks = [asyncio.create_task(pool.acquire(timeout=5)) for _ in range(2)]
    await _settle()
    with pytest.raises(AtCapacity):
        await pool.acquire(timeout=5)
    starts.finish(0)
    starts.finish(1)
    await asyncio.gather(*tasks)


async def test_zero_bound_refuses_everything() -> None:
    pool = Starts().pool(max_instances=0)
    with pytest.raises(AtCapacity):
        await pool.acquire(timeout=5)


async def test_unhealthy_release_stops_the_instance() -> None:
    starts = Starts()
    pool = starts.pool()
    task = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    instance = starts.finish(0)
    await task
    pool.release(instance, healthy=False)
    await _settle()
    assert starts.stopped == [instance]
    assert pool.total == 0


async def test_a_failed_start_fails_its_waiter() -> None:
    starts = Starts()
    pool = starts.pool()
    task = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    starts.gates[0].set_exception(RuntimeError("no interpreter"))
    with pytest.raises(RuntimeError, match="no interpreter"):
        await task
    assert pool.total == 0


async def test_idle_instances_are_reaped_after_the_idle_period() -> None:
    starts = Starts()
    pool = starts.pool()
    task = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    instance = starts.finish(0)
    await task
    starts.now = 100.0
    pool.release(instance, healthy=True)
    assert pool.reap(now=159.0, idle_seconds=60) == 0
    assert pool.reap(now=160.0, idle_seconds=60) == 1
    await _settle()
    assert (starts.stopped, pool.total) == ([instance], 0)


async def test_a_lost_idle_instance_is_forgotten() -> None:
    starts = Starts()
    pool = starts.pool()
    task = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    instance = starts.finish(0)
    await task
    pool.release(instance, healthy=True)
    pool.lost(instance)
    assert pool.idle == 0
    next_task = asyncio.create_task(pool.acquire(timeout=5))
    await _settle()
    assert len(starts.gates) == 2
    starts.finish(1)
    await next_task


async def test_draining_finishes_in_flight_work_then_stops_everything() -> None:
    starts = Starts()
    pool = starts.pool()
    tasks = [asyncio.create_task(pool.acquire(timeout=5)) for _ in range(2)]
    await _settle()
    busy = starts.finish(0)
    idle = starts.finish(1)
    await asyncio.gather(*tasks)
    pool.release(idle, healthy=True)
    pool.drain()
    await _settle()
    assert starts.stopped == [idle]
    assert not pool.drained.is_set()
    pool.release(busy, healthy=True)
    await _settle()
    assert starts.stopped == [idle, busy]
    assert pool.drained.is_set()


async def test_a_timed_out_waiter_leaves_its_instance_idle() -> None:
    starts = Starts()
    pool = starts.pool()
    with pytest.raises(TimeoutError):
        await pool.acquire(timeout=0)
    starts.finish(0)
    await _settle()
    assert (pool.idle, pool.busy) == (1, 0)
