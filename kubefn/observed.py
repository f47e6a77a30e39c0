"""What the data plane observes about each function, reported for its status.

Every gateway replica rewrites its own field of one hash per function every few
seconds; readers add the fresh fields up. A replica that dies simply stops
counting once its entry is stale, so no one has to clean up after it.

  kubefn:{observed}:<Kind>:<namespace>/<name>   hash  <replica> -> JSON Observation
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

PREFIX = "kubefn:{observed}"
STALE_AFTER_SECONDS = 30.0


def key(kind: str, name: str) -> str:
    return f"{PREFIX}:{kind}:{name}"


@dataclass(frozen=True)
class Observation:
    """One replica's view of one function at time `at` (epoch seconds)."""

    at: float
    revision: int
    starting: int = 0
    idle: int = 0
    busy: int = 0
    last_cold_start: float | None = None
    """Epoch seconds of the latest cold start this replica saw, if any."""

    @property
    def instances(self) -> int:
        return self.starting + self.idle + self.busy


@dataclass(frozen=True)
class Summary:
    """All fresh replicas' views of one function, added up."""

    instances: int
    busy: int
    revision: int | None
    last_cold_start: float | None
    replicas: int


async def report(
    client: aioredis.Redis,
    *,
    kind: str,
    replica: str,
    observations: Mapping[str, Observation],
) -> None:
    """Write this replica's observations in one round trip."""
    if not observations:
        return
    async with client.pipeline(transaction=False) as pipe:
        for name, observation in observations.items():
            pipe.hset(key(kind, name), replica, json.dumps(asdict(observation)))
            pipe.expire(key(kind, name), int(STALE_AFTER_SECONDS * 10))
        await pipe.execute()


def summarize(raw: Mapping[bytes | str, bytes | str], *, now: float) -> Summary:
    """Add up the fresh entries of one function's hash (pure: the clock is passed in)."""
    fresh = []
    for value in raw.values():
        entry = Observation(**json.loads(value))
        if now - entry.at <= STALE_AFTER_SECONDS:
            fresh.append(entry)
    colds = [o.last_cold_start for o in fresh if o.last_cold_start is not None]
    return Summary(
        instances=sum(o.instances for o in fresh),
        busy=sum(o.busy for o in fresh),
        revision=max((o.revision for o in fresh), default=None),
        last_cold_start=max(colds, default=None),
        replicas=len(fresh),
    )


async def read_many(
    client: aioredis.Redis, *, kind: str, names: list[str], now: float
) -> dict[str, Summary]:
    """Every named function's summary, in one round trip."""
    async with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(key(kind, name))
        replies = await pipe.execute()
    return {name: summarize(raw, now=now) for name, raw in zip(names, replies, strict=True)}


async def read(client: aioredis.Redis, *, kind: str, name: str, now: float) -> Summary:
    return summarize(await client.hgetall(key(kind, name)), now=now)
