"""The instances of one function revision, Lambda's way: one invocation per
instance at a time, a cold start only when no instance is idle, reuse of warm
ones, scale-out up to a bound, scale-in after an idle period.

Like Knative's activator, a request that arrives while instances start waits
for the first instance to become free, whether it is the one started for it or
one released meanwhile. Decisions take the clock as an argument; the pool never
sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from kubefn_gateway.instance import Instance

log = logging.getLogger(__name__)

Starter = Callable[[], Awaitable[Instance]]
Stopper = Callable[[Instance], Awaitable[None]]


class AtCapacity(Exception):
    """Every instance the bound allows is busy or already promised to a waiter."""


class InstancePool:
    def __init__(
        self,
        *,
        name: str,
        start: Starter,
        stop: Stopper,
        max_instances: int,
        clock: Callable[[], float],
    ) -> None:
        self.name = name
        self.max_instances = max_instances
        self._start = start
        self._stop = stop
        self._clock = clock
        self._idle: deque[Instance] = deque()
        self._busy: set[Instance] = set()
        self._waiters: deque[asyncio.Future[Instance]] = deque()
        self._starting = 0
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.drained = asyncio.Event()

    # -- observations -------------------------------------------------------------

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def busy(self) -> int:
        return len(self._busy)

    @property
    def starting(self) -> int:
        return self._starting

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    @property
    def total(self) -> int:
        return len(self._idle) + len(self._busy) + self._starting

    # -- the request path ---------------------------------------------------------

    async def acquire(self, *, timeout: float) -> Instance:
        """An instance for one invocation: an idle one, or the first that becomes free."""
        if self._draining:
            raise RuntimeError(f"pool {self.name} is draining")
        while self._idle:
            instance = self._idle.pop()  # most recently used: the others may go idle
            if instance.alive:
                self._busy.add(instance)
                return instance
            self._spawn(self._retire(instance))
        if len(self._busy) + self.waiting >= self.max_instances:
            raise AtCapacity(self.name)
        waiter: asyncio.Future[Instance] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._scale_out()
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result(), healthy=True)
            else:
                waiter.cancel()
            raise

    def release(self, instance: Instance, *, healthy: bool) -> None:
        """Give an instance back after an invocation; unhealthy ones are stopped."""
        self._busy.discard(instance)
        if healthy and instance.alive and not self._draining:
            self._hand_over(instance)
        else:
            self._spawn(self._retire(instance))
            self._scale_out()
        self._check_drained()

    def lost(self, instance: Instance) -> None:
        """The provider saw an instance die; forget it if it sat idle."""
        instance.alive = False
        if instance in self._idle:
            self._idle.remove(instance)
            self._check_drained()

    # -- scaling ------------------------------------------------------------------

    def _scale_out(self) -> None:
        while self.waiting > self._starting and self.total < self.max_instances:
            self._starting += 1
            self._spawn(self._cold_start())

    async def _cold_start(self) -> None:
        try:
            instance = await self._start()
        except Exception as exc:
            self._starting -= 1
            log.warning("pool %s: instance failed to start: %s", self.name, exc)
            self._fail_one_waiter(exc)
            self._check_drained()
            return
        self._starting -= 1
        if self._draining and not self._pending_waiters():
            await self._retire(instance)
            self._check_drained()
            return
        self._hand_over(instance)

    def _hand_over(self, instance: Instance) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._busy.add(instance)
                waiter.set_result(instance)
                return
        instance.idle_since = self._clock()
        self._idle.append(instance)
        self._check_drained()

    def _fail_one_waiter(self, exc: Exception) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc)
                return

    def _pending_waiters(self) -> bool:
        return any(not w.done() for w in self._waiters)

    def expired(self, *, now: float, idle_seconds: float) -> list[Instance]:
        """Idle instances past their idle period (pure: the caller stops them)."""
        return [i for i in self._idle if now - i.idle_since >= idle_seconds]

    def reap(self, *, now: float, idle_seconds: float) -> int:
        """Stop the instances idle for `idle_seconds` or more: scale in, down to zero."""
        victims = self.expired(now=now, idle_seconds=idle_seconds)
        for instance in victims:
            self._idle.remove(instance)
            self._spawn(self._retire(instance))
        self._check_drained()
        return len(victims)

    # -- retirement ---------------------------------------------------------------

    def drain(self) -> None:
        """Take no new work; finish what is in flight (and promised), then stop everything."""
        self._draining = True
        while self._idle:
            self._spawn(self._retire(self._idle.pop()))
        self._check_drained()

    def _check_drained(self) -> None:
        if self._draining and not self._busy and not self._idle and not self._starting:
            if not self._pending_waiters():
                self.drained.set()

    async def close(self) -> None:
        """Stop everything now (the gateway is shutting down)."""
        self.drain()
        for waiter in self._waiters:
            waiter.cancel()
        busy = list(self._busy)
        self._busy.clear()
        await asyncio.gather(*(self._retire(i) for i in busy), return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _retire(self, instance: Instance) -> None:
        instance.disconnect()
        await self._stop(instance)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
