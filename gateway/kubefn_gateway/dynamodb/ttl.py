"""Time to Live: deletes items whose expiry has passed, as DynamoDB's background process does.

Every write keeps each item's expiry in the table's TTL zset (kubefn/tabledata.py),
so a pass reads only the expired members (ZRANGEBYSCORE up to now), never the table.
One replica sweeps a table at a time (a lease per table), but the lease only saves
work: each deletion is a guarded commit on the version just read, so an item
updated since (a pushed-back expiry) or already deleted by another replica is left
alone, and every expired item is deleted exactly once, with a REMOVE stream record
done by the service principal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
import redis.exceptions

from kubefn import aio, tabledata
from kubefn.lease import Lease
from kubefn_gateway.dynamodb import store as storage
from kubefn_gateway.dynamodb.store import Change, Store, Stored
from kubefn_gateway.dynamodb.tables import Table, TableCatalog
from kubefn_gateway.dynamodb.values import key_value

log = logging.getLogger(__name__)

BATCH = 100
"""Deletions per commit."""
PER_PASS = 1000
"""Deletions per table and pass: a large backlog drains over several passes."""
ATTEMPTS = 5
"""Commits of one batch before the rest waits for the next pass (items kept moving)."""

# KEYS: ttl zset, item; ARGV: member, version read ('' = no item), expiry ('' = none).
# Puts a member the sweeper found stale (its item gone, or its expiry other than the
# score) where the item says, unless the item moved meanwhile: the writer saw to it then.
_REPAIR = """
local v = redis.call('HGET', KEYS[2], 'v')
if (v or '') ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1])
else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
return 1
"""


@dataclass(frozen=True)
class Due:
    """One expired member of a TTL zset, with its item as just read."""

    member: bytes
    key: dict[str, dict[str, str]]
    stored: Stored | None


def expired(expiry: float | None, *, now: float) -> bool:
    """DynamoDB deletes an item once the epoch seconds in its TTL attribute are past."""
    return expiry is not None and expiry <= now


def split(due: Sequence[Due], table: Table, *, now: float) -> tuple[list[Due], list[Due]]:
    """(to delete, stale): stale members' items are gone or no longer expired."""
    delete: list[Due] = []
    stale: list[Due] = []
    for entry in due:
        item = entry.stored.item if entry.stored is not None else None
        (delete if expired(storage.expiry(table, item), now=now) else stale).append(entry)
    return delete, stale


def key_of_member(table: Table, member: bytes) -> dict[str, dict[str, str]]:
    """The primary key a TTL zset member (`<pkm>\\0<skm>`) stands for."""
    pkm, _, skm = member.partition(tabledata.SEPARATOR)
    key = {table.key.hash_key: key_value(pkm, table.key.hash_type)}
    if table.key.range_key is not None and table.key.range_type is not None:
        key[table.key.range_key] = key_value(skm, table.key.range_type)
    return key


class Sweeper:
    """The TTL deletions of every table this gateway serves, every `period` seconds."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        store: Store,
        tables: TableCatalog,
        replica: str,
        period: float,
        on_deleted: Callable[[Table, int], None] = lambda table, count: None,
        clock: Callable[[], float] = time.time,  # the "now" expiries are compared to
    ) -> None:
        self._redis = redis
        self._store = store
        self._tables = tables
        self._replica = replica
        self._period = period
        self._on_deleted = on_deleted
        self._clock = clock
        self._repair = redis.register_script(_REPAIR)
        self._leases: dict[str, Lease] = {}
        # Renewed every pass (and between batches), so it outlives a slow pass.
        self._lease_seconds = max(3.0 * period, 10.0)

    async def run(self) -> None:
        """Sweep until cancelled; a Redis error costs one pass, not the sweeper."""
        try:
            while not aio.cancel_requested():
                try:
                    await self.sweep()
                except (redis.exceptions.RedisError, OSError) as exc:
                    if aio.cancel_requested():
                        raise asyncio.CancelledError from exc
                    log.warning("TTL sweep failed, retrying in %.1fs: %s", self._period, exc)
                except Exception:  # a bug must not end TTL for every table until a restart
                    log.exception("TTL sweep failed, retrying in %.1fs", self._period)
                await asyncio.sleep(self._period)  # the sweep period
        finally:
            await self._release(list(self._leases))

    async def sweep(self) -> int:
        """One pass over every table with TTL whose lease this replica holds or takes."""
        deleted = 0
        swept = {t.id: t for t in self._tables.all() if t.ttl_attribute is not None}
        await self._release([key for key in self._leases if key not in swept])
        for table in swept.values():
            lease = self._leases.get(table.id)
            if lease is None:
                lease = self._leases[table.id] = Lease(
                    self._redis,
                    f"ttl:{table.id}",
                    owner=self._replica,
                    seconds=self._lease_seconds,
                )
            if await lease.hold():
                deleted += await self.sweep_table(table, lease=lease)
        return deleted

    async def sweep_table(self, table: Table, *, lease: Lease | None = None) -> int:
        """Delete up to PER_PASS expired items of one table; returns how many went."""
        deleted = 0
        while deleted < PER_PASS:
            if lease is not None and deleted and not await lease.hold():
                break  # another replica took over (this one was too slow to renew)
            now = self._clock()
            members: list[bytes] = await self._redis.zrangebyscore(
                tabledata.ttl_key(table.id), "-inf", now, start=0, num=BATCH
            )  # type: ignore[assignment]  # members, not (member, score) pairs
            if not members:
                break
            count, progressed = await self._delete(table, members, now=now)
            deleted += count
            if count:
                self._on_deleted(table, count)
            if not progressed:
                break  # nothing left this pass can change (items keep moving)
        return deleted

    async def _delete(self, table: Table, members: list[bytes], *, now: float) -> tuple[int, bool]:
        """(items deleted, whether the zset's head changed) for one batch of members."""
        keys = [key_of_member(table, member) for member in members]
        pending = [
            Due(member, key, stored)
            for member, key, stored in zip(
                members, keys, await self._store.get_many([(table, k) for k in keys]), strict=True
            )
        ]
        progressed = False
        for _ in range(ATTEMPTS):
            delete, stale = split(pending, table, now=now)
            progressed = await self._fix(table, stale) or progressed
            if not delete:
                return 0, progressed
            failed = await self._store.commit(
                [
                    Change(table=table, key=d.key, before=d.stored, after=None, by_ttl=True)
                    for d in delete
                ],
                now=now,
            )
            if failed is None:
                return len(delete), True
            # Some item moved since it was read: read the batch again and decide again.
            reread = await self._store.get_many([(table, d.key) for d in delete])
            pending = [Due(d.member, d.key, s) for d, s in zip(delete, reread, strict=True)]
        return 0, progressed

    async def _fix(self, table: Table, stale: Sequence[Due]) -> bool:
        """Move stale members to where their items say; True when any moved."""
        moved = False
        ttl = tabledata.ttl_key(table.id)
        for entry in stale:
            pkm, _, skm = entry.member.partition(tabledata.SEPARATOR)
            item = entry.stored.item if entry.stored is not None else None
            expiry = storage.expiry(table, item)
            version = "" if entry.stored is None else str(entry.stored.version)
            args: list[bytes | str] = [
                entry.member,
                version,
                "" if expiry is None else repr(expiry),
            ]
            keys: list[bytes | str] = [ttl, tabledata.item_key(table.id, pkm, skm)]
            moved = bool(await self._repair(keys=keys, args=args)) or moved
        return moved

    async def _release(self, keys: list[str]) -> None:
        for key in keys:
            lease = self._leases.pop(key)
            try:
                await lease.release()
            except (redis.exceptions.RedisError, OSError) as exc:
                log.warning("cannot release TTL lease of %s: %s", key, exc)
