"""The functions this gateway serves: the current version of each, with its pool.

Follows the published config. A new revision gets a new pool at once; the old
pool drains (in-flight invocations finish on the old version), then goes away.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubefn import config, observed
from kubefn.function import KIND
from kubefn_gateway.instance import Instance
from kubefn_gateway.pool import InstancePool
from kubefn_gateway.providers import Provider
from kubefn_gateway.settings import GatewaySettings
from kubefn_gateway.version import FunctionVersion

log = logging.getLogger(__name__)


@dataclass
class Served:
    version: FunctionVersion
    pool: InstancePool


class Catalog:
    def __init__(
        self,
        *,
        settings: GatewaySettings,
        provider: Provider,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._provider = provider
        self._clock = clock
        self._current: dict[str, Served] = {}
        self._retired: list[Served] = []
        self.loaded = asyncio.Event()
        self.config_version = -1
        self._applied = asyncio.Condition()
        self._cold_starts: dict[str, float] = {}

    def get(self, key: str) -> Served | None:
        return self._current.get(key)

    def keys(self) -> list[str]:
        return sorted(self._current)

    def cold_started(self, key: str, *, at: float) -> None:
        """Remember when `key` last paid for an init (for its status)."""
        self._cold_starts[key] = at

    def observations(self, *, now: float) -> dict[str, observed.Observation]:
        """This replica's view of every function it serves, old revisions' instances included."""
        views: dict[str, observed.Observation] = {}
        for served in (*self._current.values(), *self._retired):
            key, pool = served.version.key, served.pool
            current = self._current.get(key)
            before = views.get(key) or observed.Observation(
                at=now,
                revision=current.version.revision if current else served.version.revision,
                last_cold_start=self._cold_starts.get(key),
            )
            views[key] = dataclasses.replace(
                before,
                starting=before.starting + pool.starting,
                idle=before.idle + pool.idle,
                busy=before.busy + pool.busy,
            )
        return views

    async def apply(self, snapshot: config.Snapshot) -> None:
        """Bring the served versions in line with a config snapshot."""
        published = snapshot.resources.get(KIND, {})
        for key, item in published.items():
            served = self._current.get(key)
            if served is not None and served.version.revision == item.revision:
                continue
            if served is not None:
                self._retire(served)
            version = FunctionVersion(item)
            self._current[key] = Served(version=version, pool=self._new_pool(version))
            log.info("serving %s revision %d", key, item.revision)
        for key in [k for k in self._current if k not in published]:
            self._retire(self._current.pop(key))
            log.info("no longer serving %s", key)
        self.config_version = snapshot.version
        self.loaded.set()
        async with self._applied:
            self._applied.notify_all()

    async def wait_until_applied(self, version: int) -> None:
        """Return once this gateway serves config `version` or a later one."""
        async with self._applied:
            await self._applied.wait_for(lambda: self.config_version >= version)

    def _new_pool(self, version: FunctionVersion) -> InstancePool:
        reserved = version.spec.get("reservedConcurrency")
        bound = self._settings.max_instances_per_function if reserved is None else int(reserved)
        pool: InstancePool

        async def start() -> Instance:
            return await self._provider.start_instance(version, on_lost=pool.lost)

        pool = InstancePool(
            name=f"{version.key}@{version.revision}",
            start=start,
            stop=self._provider.stop_instance,
            max_instances=bound,
            clock=self._clock,
        )
        return pool

    def _retire(self, served: Served) -> None:
        served.pool.drain()
        self._retired.append(served)

    def reap(self) -> None:
        """Scale idle instances in and forget drained pools (called periodically)."""
        now = self._clock()
        for served in self._current.values():
            served.pool.reap(now=now, idle_seconds=self._settings.idle_seconds)
        self._retired = [s for s in self._retired if not s.pool.drained.is_set()]

    async def run_reaper(self) -> None:
        while True:
            await asyncio.sleep(self._settings.reap_interval)  # the reaper's period
            self.reap()

    async def close(self) -> None:
        everything = [*self._current.values(), *self._retired]
        self._current.clear()
        self._retired.clear()
        await asyncio.gather(*(s.pool.close() for s in everything), return_exceptions=True)
