"""The config contract: how the control plane publishes compiled specs to Redis
and how every gateway replica follows them.

Keys (one hash tag, so one slot on Redis Cluster and atomic multi-key updates):
  kubefn:{config}:<Kind>          hash  "<namespace>/<name>" -> record JSON
  kubefn:{config}:<Kind>:digests  hash  "<namespace>/<name>" -> spec digest
  kubefn:{config}:revisions       hash  "<Kind>/<namespace>/<name>" -> last revision
  kubefn:{config}:version         int   bumped on every change
  kubefn:config                   pub/sub channel, one message per change
  kubefn:{code}:<digest>          string: a code bundle (content-addressed, immutable)

A record is `{"revision": N, "digest": "...", "spec": {...}}`. The revision grows
whenever the digest changes and never goes back (not even across delete and
re-create), so a data plane can tell versions apart by (key, revision).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
import redis.exceptions

from kubefn import aio

log = logging.getLogger(__name__)

PREFIX = "kubefn:{config}"
VERSION_KEY = f"{PREFIX}:version"
REVISIONS_KEY = f"{PREFIX}:revisions"
CHANNEL = "kubefn:config"
CODE_PREFIX = "kubefn:{code}"


def canonical_json(spec: Mapping[str, Any]) -> str:
    """A spec as the one JSON text every publisher writes for it (so digests agree)."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def spec_digest(spec: Mapping[str, Any]) -> str:
    """What a compiled spec's version is known by: SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def kind_key(kind: str) -> str:
    return f"{PREFIX}:{kind}"


def code_key(digest: str) -> str:
    return f"{CODE_PREFIX}:{digest}"


# KEYS: kind hash, digests hash, revisions hash, version counter
# ARGV: name, digest, spec JSON, kind, channel
_PUBLISH = """
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current == ARGV[2] then
  return {0, tonumber(redis.call('HGET', KEYS[3], ARGV[4] .. '/' .. ARGV[1]))}
end
local revision = redis.call('HINCRBY', KEYS[3], ARGV[4] .. '/' .. ARGV[1], 1)
local record = '{"revision":' .. revision .. ',"digest":"' .. ARGV[2]
  .. '","spec":' .. ARGV[3] .. '}'
redis.call('HSET', KEYS[1], ARGV[1], record)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local version = redis.call('INCR', KEYS[4])
redis.call('PUBLISH', ARGV[5], cjson.encode({kind=ARGV[4], name=ARGV[1], version=version}))
return {1, revision}
"""

# KEYS: kind hash, digests hash, version counter; ARGV: name, kind, channel
_REMOVE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local version = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[3], cjson.encode({kind=ARGV[2], name=ARGV[1], version=version}))
return 1
"""


@dataclass(frozen=True)
class Published:
    """One resource as the data plane sees it."""

    kind: str
    key: str
    revision: int
    digest: str
    spec: dict[str, Any]

    @property
    def namespace(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]


@dataclass(frozen=True)
class Snapshot:
    """Every published resource of the kinds asked for, at one config version."""

    version: int
    resources: Mapping[str, Mapping[str, Published]]


@dataclass(frozen=True)
class PublishResult:
    changed: bool
    revision: int


async def publish(
    client: aioredis.Redis,
    *,
    kind: str,
    key: str,
    digest: str,
    spec: Mapping[str, Any],
    bundle: tuple[str, bytes] | None = None,
) -> PublishResult:
    """Publish one compiled spec; a no-op (same revision) when its digest is unchanged.

    The code bundle is stored first, so no follower ever sees a spec whose code is missing.
    """
    if bundle is not None:
        await client.set(code_key(bundle[0]), bundle[1], nx=True)
    spec_json = canonical_json(spec)
    changed, revision = await client.eval(
        _PUBLISH,
        4,
        kind_key(kind),
        f"{kind_key(kind)}:digests",
        REVISIONS_KEY,
        VERSION_KEY,
        key,
        digest,
        spec_json,
        kind,
        CHANNEL,
    )
    return PublishResult(changed=bool(changed), revision=int(revision))


@dataclass(frozen=True)
class CompiledResource:
    """What the compile steps of the kinds share: where a compiled spec is published and
    the digest its version is known by. Subclasses name their `kind`."""

    namespace: str
    name: str
    spec: dict[str, Any]
    bundle: bytes | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        raise NotImplementedError

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def digest(self) -> str:
        return spec_digest(self.spec)


class Compiled(Protocol):
    """What a compile step returns (e.g. kubefn.function.CompiledFunction)."""

    @property
    def kind(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def spec(self) -> Mapping[str, Any]: ...
    @property
    def bundle(self) -> bytes | None: ...


async def publish_compiled(client: aioredis.Redis, compiled: Compiled) -> PublishResult:
    """Publish a compiled resource with its code bundle, if it has one."""
    bundle = None
    if compiled.bundle is not None:
        bundle = (str(compiled.spec["code"]["bundle"]), compiled.bundle)
    return await publish(
        client,
        kind=compiled.kind,
        key=compiled.key,
        digest=compiled.digest,
        spec=compiled.spec,
        bundle=bundle,
    )


async def remove(client: aioredis.Redis, *, kind: str, key: str) -> bool:
    """Withdraw a resource; True if it was published."""
    removed = await client.eval(
        _REMOVE, 3, kind_key(kind), f"{kind_key(kind)}:digests", VERSION_KEY, key, kind, CHANNEL
    )
    return bool(removed)


async def fetch_code(client: aioredis.Redis, digest: str) -> bytes | None:
    data = await client.get(code_key(digest))
    if data is None or isinstance(data, bytes):
        return data
    raise TypeError("code bundles are binary: use a Redis client without decode_responses")


async def snapshot(client: aioredis.Redis, *, kinds: tuple[str, ...]) -> Snapshot:
    """All resources of `kinds` and the version they belong to, read atomically."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.get(VERSION_KEY)
        for kind in kinds:
            pipe.hgetall(kind_key(kind))
        replies = await pipe.execute()
    version = int(replies[0] or 0)
    resources: dict[str, dict[str, Published]] = {}
    for kind, raw in zip(kinds, replies[1:], strict=True):
        entries: dict[str, Published] = {}
        for raw_key, raw_record in raw.items():
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            record = json.loads(raw_record)
            entries[key] = Published(
                kind=kind,
                key=key,
                revision=int(record["revision"]),
                digest=record["digest"],
                spec=record["spec"],
            )
        resources[kind] = entries
    return Snapshot(version=version, resources=resources)


async def current_version(client: aioredis.Redis) -> int:
    return int(await client.get(VERSION_KEY) or 0)


async def follow(
    client: aioredis.Redis,
    *,
    kinds: tuple[str, ...],
    on_snapshot: Callable[[Snapshot], Awaitable[None]],
    poll_seconds: float = 2.0,
) -> None:
    """Call `on_snapshot` with the current config, then again after every change. Runs forever.

    Change messages wake it promptly; polling the version counter catches whatever
    pub/sub dropped (it is lossy across reconnects), so no change is ever missed.
    """
    seen = -1
    pubsub = client.pubsub()
    subscribed = False
    while True:
        if aio.cancel_requested():  # redis-py's get_message may swallow a cancellation
            raise asyncio.CancelledError
        try:
            if not subscribed:
                await pubsub.subscribe(CHANNEL)
                subscribed = True
            version = await current_version(client)
            if version != seen:
                snap = await snapshot(client, kinds=kinds)
                await on_snapshot(snap)
                seen = snap.version
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=poll_seconds)
            while message is not None:  # coalesce a burst of changes into one reload
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
        except asyncio.CancelledError:
            raise
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            if aio.cancel_requested():
                raise asyncio.CancelledError from exc
            log.warning("config: lost Redis (%s); retrying", exc)
            subscribed = False
            try:
                await pubsub.reset()
            except Exception:  # the connection is already gone
                pass
            pubsub = client.pubsub()
            await asyncio.sleep(poll_seconds)
