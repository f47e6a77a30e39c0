"""Published StateMachines as the data plane serves them, and what the API keeps beside them.

The compiled spec (kubefn.statemachine) is the machine: its definition as an
object, type and log level. What Step Functions also answers with lives in
Redis next to it, one hash per machine (the machine's key is the hash tag, so
its keys share a slot):

  kubefn:sm:{<namespace>/<name>}:machine  hash  created, updated, revision (the last one
                                                 stamped), role, settings (JSON, below)
  kubefn:sm:{<namespace>/<name>}:tags     hash  tag key -> value (TagResource)

Both go when the machine is withdrawn (DeleteStateMachine, or its manifest deleted).

`created` is written once, by whichever replica first serves the machine, and
`updated` once per revision, so every replica answers the same dates and a
restart changes neither. `settings` holds what CreateStateMachine or
UpdateStateMachine was given that the compiled spec does not keep (the
definition's own text, the full logging and tracing configuration); it belongs
to the spec digest it was written for, so a later manifest edit is never
described with stale text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from kubefn import config
from kubefn import statemachine as statemachine_spec

log = logging.getLogger(__name__)

KIND = statemachine_spec.KIND
PREFIX = "kubefn:sm"


def machine_key(key: str) -> bytes:
    return f"{PREFIX}:{{{key}}}:machine".encode()


def tags_key(key: str) -> bytes:
    return f"{PREFIX}:{{{key}}}:tags".encode()


# KEYS: machine hash; ARGV: revision, now. Returns created, updated (as stored: text).
_STAMP = """
local stamped = redis.call('HGET', KEYS[1], 'revision')
if not stamped then
  redis.call('HSET', KEYS[1], 'created', ARGV[2], 'updated', ARGV[2], 'revision', ARGV[1])
elseif tonumber(ARGV[1]) > tonumber(stamped) then
  redis.call('HSET', KEYS[1], 'updated', ARGV[2], 'revision', ARGV[1])
end
return redis.call('HMGET', KEYS[1], 'created', 'updated')
"""

# KEYS: machine hash, tags hash; ARGV: the last revision served. A newer incarnation
# (stamped with a higher revision) is left alone, and so is one not stamped yet.
_FORGET = """
local stamped = redis.call('HGET', KEYS[1], 'revision')
if stamped and tonumber(stamped) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class MachineSettings:
    """What the API was given beyond the compiled spec whose digest is `digest`."""

    digest: str
    definition_text: str
    logging_configuration: Mapping[str, Any]
    tracing_enabled: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                "digest": self.digest,
                "definitionText": self.definition_text,
                "loggingConfiguration": self.logging_configuration,
                "tracingEnabled": self.tracing_enabled,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: bytes | str) -> MachineSettings:
        raw = json.loads(text)
        return cls(
            digest=raw["digest"],
            definition_text=raw["definitionText"],
            logging_configuration=raw["loggingConfiguration"],
            tracing_enabled=bool(raw.get("tracingEnabled", False)),
        )


@dataclass(frozen=True)
class MachineDetails:
    """The API's own record of a machine, read fresh from Redis."""

    role_arn: str | None
    settings: MachineSettings | None


@dataclass(frozen=True)
class Machine:
    """One revision of a published StateMachine."""

    namespace: str
    name: str
    revision: int
    digest: str
    definition: Any
    definition_text: str
    """The text DescribeStateMachine answers: the creator's own when the API made this
    revision, else the definition as compact JSON."""
    type: str
    logging_level: str
    created: float
    """Epoch seconds; the same on every replica and across restarts."""
    updated: float
    spec: Mapping[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_published(
        cls,
        published: config.Published,
        *,
        created: float,
        updated: float,
        settings: MachineSettings | None,
    ) -> Machine:
        spec = published.spec
        definition = spec["definition"]
        text = (
            settings.definition_text
            if settings is not None and settings.digest == published.digest
            else compact_json(definition)
        )
        return cls(
            namespace=published.namespace,
            name=published.name,
            revision=published.revision,
            digest=published.digest,
            definition=definition,
            definition_text=text,
            type=str(spec.get("type", statemachine_spec.STANDARD)),
            logging_level=str((spec.get("logging") or {}).get("level", "OFF")),
            created=created,
            updated=updated,
            spec=spec,
        )


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def save_details(
    redis: aioredis.Redis,
    key: str,
    *,
    settings: MachineSettings,
    role_arn: str | None = None,
    fresh: bool = False,
) -> None:
    """Record what the API was given for a revision about to be published; `fresh`
    first clears what an earlier machine of the same name left (dates, tags)."""
    fields: dict[str, str] = {"settings": settings.to_json()}
    if role_arn is not None:
        fields["role"] = role_arn
    async with redis.pipeline(transaction=True) as pipe:
        if fresh:
            pipe.delete(machine_key(key), tags_key(key))
        pipe.hset(machine_key(key), mapping=dict[Any, Any](fields))
        await pipe.execute()


async def load_details(redis: aioredis.Redis, key: str) -> MachineDetails:
    role, settings = await redis.hmget(machine_key(key), ["role", "settings"])
    return MachineDetails(
        role_arn=_text(role) if role is not None else None,
        settings=MachineSettings.from_json(settings) if settings is not None else None,
    )


async def fetch_published(redis: aioredis.Redis, key: str) -> config.Published | None:
    """A machine as it is published right now (ahead of this replica's follower)."""
    raw = await redis.hget(config.kind_key(KIND), key)
    if raw is None:
        return None
    record = json.loads(raw)
    return config.Published(
        kind=KIND,
        key=key,
        revision=int(record["revision"]),
        digest=record["digest"],
        spec=record["spec"],
    )


# KEYS: tags hash; ARGV: the most tags a machine may have, then key, value, key, value...
# Returns the number of tags the machine has after the change, or would have if refused.
_TAG = """
local added = 0
for i = 2, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then added = added + 1 end
end
local total = redis.call('HLEN', KEYS[1]) + added
if total <= tonumber(ARGV[1]) and #ARGV > 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
end
return total
"""


async def add_tags(
    redis: aioredis.Redis, key: str, tags: Mapping[str, str], *, most: int
) -> tuple[bool, int]:
    """Add or overwrite tags unless the machine would then have more than `most`;
    (whether they were added, how many tags that makes)."""
    flat = [item for pair in tags.items() for item in pair]
    total = int(await redis.eval(_TAG, 1, tags_key(key), most, *flat))
    return total <= most, total


async def remove_tags(redis: aioredis.Redis, key: str, names: list[str]) -> None:
    if names:
        await redis.hdel(tags_key(key), *names)


async def tags(redis: aioredis.Redis, key: str) -> dict[str, str]:
    raw = await redis.hgetall(tags_key(key))
    return {_text(k): _text(v) for k, v in sorted(raw.items())}


class MachineCatalog:
    """The state machines this gateway serves, following the published config."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._machines: dict[str, Machine] = {}
        self.changed = asyncio.Event()

    def get(self, key: str) -> Machine | None:
        return self._machines.get(key)

    def all(self) -> list[Machine]:
        return [self._machines[key] for key in sorted(self._machines)]

    async def find(self, key: str) -> Machine | None:
        """The machine `key` names as Redis has it now: also when another replica published
        or withdrew it a moment ago and this one's follower has not caught up yet."""
        digest = await self._redis.hget(f"{config.kind_key(KIND)}:digests", key)
        if digest is None:
            return None
        current = self._machines.get(key)
        if current is not None and current.digest == _text(digest):
            return current
        published = await fetch_published(self._redis, key)
        return None if published is None else await self.put(published)

    async def apply(self, snapshot: config.Snapshot) -> None:
        published = snapshot.resources.get(KIND, {})
        for key, item in published.items():
            current = self._machines.get(key)
            if current is None or current.revision < item.revision:
                await self.put(item)
        for key in [k for k in self._machines if k not in published]:
            await self.forget(key)

    async def put(self, published: config.Published) -> Machine:
        """Serve a machine revision now (CreateStateMachine does not wait for the follower)."""
        current = self._machines.get(published.key)
        if current is not None and current.revision >= published.revision:
            return current
        created, updated = await self._redis.eval(
            _STAMP, 1, machine_key(published.key), published.revision, repr(time.time())
        )
        details = await load_details(self._redis, published.key)
        machine = Machine.from_published(
            published,
            created=float(created),
            updated=float(updated),
            settings=details.settings,
        )
        current = self._machines.get(published.key)
        if current is not None and current.revision >= machine.revision:
            return current  # a newer revision arrived while this one was being stamped
        self._machines[published.key] = machine
        log.info("serving state machine %s revision %d", published.key, published.revision)
        self.changed.set()
        return machine

    async def forget(self, key: str) -> None:
        """Stop serving a machine now, and drop its dates and tags unless a newer machine
        of the same name already took them over."""
        machine = self._machines.pop(key, None)
        if machine is None:
            return
        await self._redis.eval(_FORGET, 2, machine_key(key), tags_key(key), machine.revision)
        log.info("no longer serving state machine %s", key)
        self.changed.set()


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
