"""Items on Redis (layout: kubefn/tabledata.py).

Reads go straight to Redis. A write is optimistic: the caller reads the items it
changes (with their versions), decides, and `commit` applies every change —
items, partition and index entries, TTL schedule, counters and stream records —
in one script that first checks no version moved. A killed gateway therefore
leaves either the whole change or none of it, and a concurrent writer makes the
loser re-read and decide again (so exactly one conditional write wins).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from kubefn import tabledata
from kubefn_gateway.dynamodb.errors import ItemCollectionSizeLimitExceeded
from kubefn_gateway.dynamodb.tables import Index, Table
from kubefn_gateway.dynamodb.values import item_size, key_member

SEP = tabledata.SEPARATOR
COLLECTION_BYTES_MAX = 10 * 1024**3
"""DynamoDB's limit on an item collection (one partition key's items) of a table with LSIs."""

# ARGV: guard count, then (item key, expected version or "") per guard; limit count,
# then (counter key, growth, limit) per limit; then the operations: (argc, command,
# args...) each. ZREMEMPTY registry member zset removes `member` from `registry` when
# `zset` is empty (a partition that lost its last item). Returns 0 when applied, g when
# guard g failed, -l when limit l would be passed (and then changes nothing).
_COMMIT = """
local n = tonumber(ARGV[1])
local i = 2
for g = 1, n do
  local v = redis.call('HGET', ARGV[i], 'v')
  if (v or '') ~= ARGV[i + 1] then return g end
  i = i + 2
end
local limits = tonumber(ARGV[i])
i = i + 1
for l = 1, limits do
  local size = tonumber(redis.call('GET', ARGV[i]) or '0')
  if size + tonumber(ARGV[i + 1]) > tonumber(ARGV[i + 2]) then return -l end
  i = i + 3
end
while i <= #ARGV do
  local argc = tonumber(ARGV[i])
  local args = {}
  for j = 1, argc do args[j] = ARGV[i + j] end
  i = i + argc + 1
  if args[1] == 'ZREMEMPTY' then
    if redis.call('ZCARD', args[4]) == 0 then redis.call('ZREM', args[2], args[3]) end
  else
    redis.call(unpack(args))
  end
end
return 0
"""

_TAG = """
local function tag(t)
  return 'kubefn:tbl:{' .. t .. '}'
end
local function item_key(t, mode, pkm, member)
  if mode == 'p' then return tag(t) .. ':i:' .. pkm .. '\\0' .. member end
  local a = string.find(member, '\\0', 1, true)
  if mode == 'l' then return tag(t) .. ':i:' .. pkm .. '\\0' .. string.sub(member, a + 1) end
  local rest = string.sub(member, a + 1)
  local b = string.find(rest, '\\0', 1, true)
  local p = string.sub(rest, 1, b - 1)
  return tag(t) .. ':i:' .. p .. '\\0' .. string.sub(rest, b + 1)
end
"""

# ARGV: table, mode (p|l|g), pkm, zset key, min, max, reverse (1|0), count
_RANGE = (
    _TAG
    + """
local cmd = ARGV[7] == '1' and 'ZREVRANGEBYLEX' or 'ZRANGEBYLEX'
local members
if ARGV[7] == '1' then
  members = redis.call(cmd, ARGV[4], ARGV[6], ARGV[5], 'LIMIT', 0, tonumber(ARGV[8]))
else
  members = redis.call(cmd, ARGV[4], ARGV[5], ARGV[6], 'LIMIT', 0, tonumber(ARGV[8]))
end
local out = {}
for _, m in ipairs(members) do
  local found = redis.call('HMGET', item_key(ARGV[1], ARGV[2], ARGV[3], m), 'i', 's')
  if found[1] then
    out[#out + 1] = m; out[#out + 1] = (found[2] or '') .. ' ' .. found[1]
  end
end
return out
"""
)

# ARGV: table, mode (p|l|g), registry key, GSI entry key prefix (g), partition zset infix
# (p|l: tag .. infix .. pkm), lower bound on partitions ('-', '[pkm' or '(pkm'), start
# member ("" = none), count, segment, total segments, start partition (where the start
# member applies).
_SCAN = (
    _TAG
    + """
local t, mode = ARGV[1], ARGV[2]
local count = tonumber(ARGV[8])
local segment, total = tonumber(ARGV[9]), tonumber(ARGV[10])
local out = {}
local lower = ARGV[6]
local after = ARGV[7]
local found = 0
while found < count do
  local parts = redis.call('ZRANGEBYLEX', ARGV[3], lower, '+', 'LIMIT', 0, 64)
  if #parts == 0 then break end
  for _, pkm in ipairs(parts) do
    lower = '(' .. pkm
    local keep = total == 1
    if not keep then
      keep = (tonumber(string.sub(redis.sha1hex(pkm), 1, 8), 16) % total) == segment
    end
    if keep then
      local zset
      if mode == 'g' then zset = ARGV[4] .. pkm
      else zset = tag(t) .. ARGV[5] .. pkm end
      local from = '-'
      if after ~= '' and pkm == ARGV[11] then from = '(' .. after end
      after = ''
      local members = redis.call('ZRANGEBYLEX', zset, from, '+', 'LIMIT', 0, count - found)
      for _, m in ipairs(members) do
        local got = redis.call('HMGET', item_key(t, mode, pkm, m), 'i', 's')
        if got[1] then
          out[#out + 1] = pkm; out[#out + 1] = m
          out[#out + 1] = (got[2] or '') .. ' ' .. got[1]
          found = found + 1
        end
      end
      if found >= count then break end
    else
      after = ''
    end
  end
end
return out
"""
)


@dataclass(frozen=True)
class Stored:
    item: dict[str, Any]
    size: int
    """The item's size as DynamoDB counts it (kept beside the item, so reads need not count)."""
    version: int


@dataclass
class Change:
    """One item's write: what was read (`before`) and what it becomes (`after`, None deletes)."""

    table: Table
    key: dict[str, Any]
    before: Stored | None
    after: dict[str, Any] | None
    by_ttl: bool = False

    @functools.cached_property
    def sizes(self) -> tuple[int, int]:
        """(before, after) sizes of the item as DynamoDB counts them; 0 for none."""
        before = self.before.size if self.before is not None else 0
        return before, item_size(self.after) if self.after is not None else 0


@dataclass(frozen=True)
class Entry:
    """One item found by a range read or scan, with where it sits (for pagination)."""

    partition: bytes
    member: bytes
    item: dict[str, Any]
    size: int


def key_of(table: Table, item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in table.key.names}


def members(table: Table, key: dict[str, Any]) -> tuple[bytes, bytes]:
    """(pkm, skm) of a primary key."""
    pkm = key_member(key[table.key.hash_key])
    skm = key_member(key[table.key.range_key]) if table.key.range_key else b""
    return pkm, skm


def index_entry(table: Table, index: Index, item: dict[str, Any]) -> tuple[bytes, bytes] | None:
    """(index partition, member) of an item in an index; None when the item lacks its keys."""
    names = index.key.names
    if any(name not in item for name in names):
        return None
    types = (index.key.hash_type, index.key.range_type)
    for name, expected in zip(names, types, strict=False):
        if next(iter(item[name])) != expected:
            return None  # DynamoDB refuses such writes; a stale type is no entry
    pkm, skm = members(table, item)
    ikm = key_member(item[index.key.range_key]) if index.key.range_key else b""
    if index.local:
        return pkm, ikm + SEP + skm
    return key_member(item[index.key.hash_key]), ikm + SEP + pkm + SEP + skm


class Store:
    def __init__(
        self, redis: aioredis.Redis, *, collection_bytes_max: int = COLLECTION_BYTES_MAX
    ) -> None:
        self._redis = redis
        self.collection_bytes_max = collection_bytes_max
        self._commit = redis.register_script(_COMMIT)
        self._range = redis.register_script(_RANGE)
        self._scan = redis.register_script(_SCAN)

    async def get(self, table: Table, key: dict[str, Any]) -> Stored | None:
        raw, version, size = await self._redis.hmget(
            tabledata.item_key(table.id, *members(table, key)), "i", "v", "s"
        )
        return None if raw is None else Stored(*_item(raw, size), int(version or 0))

    async def get_many(
        self, wanted: Sequence[tuple[Table, dict[str, Any]]], *, atomically: bool = False
    ) -> list[Stored | None]:
        """Items in one round trip; `atomically`: all as of one moment (MULTI/EXEC)."""
        async with self._redis.pipeline(transaction=atomically) as pipe:
            for table, key in wanted:
                pipe.hmget(tabledata.item_key(table.id, *members(table, key)), "i", "v", "s")
            replies = await pipe.execute()
        return [None if i is None else Stored(*_item(i, s), int(v)) for i, v, s in replies]

    async def collection_size(self, table: Table, key: dict[str, Any]) -> int:
        """Bytes under `key`'s partition key (kept for tables with a local secondary index)."""
        pkm, _ = members(table, key)
        return int(await self._redis.get(tabledata.collection_key(table.id, pkm)) or 0)

    async def token(self, key: bytes) -> str | None:
        """The fingerprint a transaction's ClientRequestToken was committed with, if any."""
        seen = await self._redis.hget(key, "f")
        return seen.decode() if isinstance(seen, bytes) else seen

    async def commit(
        self,
        changes: Sequence[Change],
        *,
        now: float | None = None,
        token: tuple[bytes, str, int] | None = None,
    ) -> int | None:
        """Apply every change or none; None on success, else the position of the first
        change whose item moved since it was read.

        `token` (key, fingerprint, seconds) records an idempotency token in the same
        step, guarded to be new, so two commits with one token cannot both apply.
        """
        now = time.time() if now is None else now
        guards: list[Any] = []
        for change in changes:
            guards += [
                tabledata.item_key(change.table.id, *members(change.table, change.key)),
                "" if change.before is None else str(change.before.version),
            ]
        limits: list[Any] = []
        limited: list[int] = []
        for position, change in enumerate(changes):
            growth = _collection_growth(change)
            if growth > 0:
                pkm, _ = members(change.table, change.key)
                limits += [tabledata.collection_key(change.table.id, pkm), growth]
                limits += [self.collection_bytes_max]
                limited.append(position)
        ops: list[Any] = []
        if token is not None:
            guards += [token[0], ""]
            ops += _op("HSET", token[0], "f", token[1], "v", 1)
            ops += _op("EXPIRE", token[0], token[2])
        for change in changes:
            ops += _operations(change, now=now)
        if not ops:
            return None
        args: list[Any] = [len(guards) // 2, *guards, len(limits) // 3, *limits, *ops]
        failed = int(await self._commit(args=args))
        if failed < 0:
            raise ItemCollectionSizeLimitExceeded(
                "Collection size exceeded.", position=limited[-failed - 1]
            )
        return None if failed == 0 else failed - 1

    async def range(
        self,
        table: Table,
        index: Index | None,
        *,
        partition: bytes,
        low: bytes,
        high: bytes,
        reverse: bool,
        count: int,
    ) -> list[Entry]:
        """Items of one (index) partition between ZRANGEBYLEX bounds, in order."""
        if index is None:
            mode, zset = "p", tabledata.partition_key(table.id, partition)
        elif index.local:
            mode, zset = "l", tabledata.lsi_key(table.id, index.name, partition)
        else:
            mode, zset = "g", tabledata.gsi_key(table.id, index.name, partition)
        flat = await self._range(
            args=[table.id, mode, partition, zset, low, high, "1" if reverse else "0", count]
        )
        return [Entry(partition, flat[i], *_sized(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def scan(
        self,
        table: Table,
        index: Index | None,
        *,
        start: tuple[bytes, bytes] | None,
        count: int,
        segment: int = 0,
        total_segments: int = 1,
    ) -> list[Entry]:
        """Up to `count` items after `start` (partition, member), in storage order."""
        if index is None:
            mode, registry, prefix, infix = "p", tabledata.parts_key(table.id), b"", b":p:"
        elif index.local:
            mode, registry = "l", tabledata.parts_key(table.id)
            prefix, infix = b"", f":l:{index.name}:".encode()
        else:
            mode, registry = "g", tabledata.gsi_parts_key(table.id, index.name)
            prefix, infix = tabledata.gsi_key(table.id, index.name, b""), b""
        if start is None:
            lower, part, member = b"-", b"", b""
        else:
            part, member = start
            # A table without a sort key has one item per partition: resume after it.
            lower = (b"[" if member else b"(") + part
        flat = await self._scan(
            args=[
                table.id, mode, registry, prefix, infix, lower, member, count,
                segment, total_segments, part,
            ]
        )  # fmt: skip
        return [Entry(flat[i], flat[i + 1], *_sized(flat[i + 2])) for i in range(0, len(flat), 3)]


def segment_of(partition: bytes, total_segments: int) -> int:
    """The parallel-scan segment a (table or GSI) partition belongs to, as _SCAN picks it."""
    digest = hashlib.sha1(partition, usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % total_segments


def _has_local_index(table: Table) -> bool:
    return any(index.local for index in table.indexes.values())


def _collection_growth(change: Change) -> int:
    """How much a change grows its item collection, where DynamoDB limits collections
    (tables with a local secondary index); 0 elsewhere."""
    if not _has_local_index(change.table) or change.after is None:
        return 0
    return change.sizes[1] - change.sizes[0]


def _item(raw: bytes | str, size: bytes | str | None) -> tuple[dict[str, Any], int]:
    """A stored item and its size (counted now for items stored without one)."""
    item = json.loads(raw)
    return item, int(size) if size else item_size(item)


def _sized(blob: bytes) -> tuple[dict[str, Any], int]:
    """An item as range and scan scripts return it: b"<size> <item JSON>"."""
    size, _, raw = blob.partition(b" ")
    return _item(raw, size)


def _op(*args: Any) -> list[Any]:
    return [len(args), *args]


def _operations(change: Change, *, now: float) -> list[Any]:
    table = change.table
    t = table.id
    before = change.before.item if change.before is not None else None
    after = change.after
    pkm, skm = members(table, change.key)
    ops: list[Any] = []
    item_key = tabledata.item_key(t, pkm, skm)
    partition = tabledata.partition_key(t, pkm)
    meta = tabledata.meta_key(t)
    if after is not None:
        version = 1 if change.before is None else change.before.version + 1
        ops += _op("HSET", item_key, "i", _dump(after), "v", version, "s", change.sizes[1])
        if before is None:
            ops += _op("ZADD", partition, 0, skm)
            ops += _op("ZADD", tabledata.parts_key(t), 0, pkm)
            ops += _op("HINCRBY", meta, "items", 1)
    elif before is not None:
        ops += _op("DEL", item_key)
        ops += _op("ZREM", partition, skm)
        ops += _op("ZREMEMPTY", tabledata.parts_key(t), pkm, partition)
        ops += _op("HINCRBY", meta, "items", -1)
    else:
        return ops  # deleting nothing changes nothing
    sizes = change.sizes
    delta = sizes[1] - sizes[0]
    if delta:
        ops += _op("HINCRBY", meta, "bytes", delta)
    ops += _index_operations(table, before, after, sizes=sizes)
    if delta and _has_local_index(table):
        ops += _op("INCRBY", tabledata.collection_key(t, pkm), delta)
    ops += _ttl_operations(table, before, after, pkm + SEP + skm)
    ops += _stream_operations(change, now=now, size=sizes[1] or sizes[0])
    return ops


def _index_operations(
    table: Table,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    sizes: tuple[int, int] | None = None,
) -> list[Any]:
    """Index entry changes; `sizes` are the items' sizes when the caller knows them."""
    if not table.indexes:
        return []
    if sizes is None:
        sizes = (item_size(before) if before else 0, item_size(after) if after else 0)
    ops: list[Any] = []
    meta = tabledata.meta_key(table.id)
    for index in table.indexes.values():
        old = index_entry(table, index, before) if before else None
        new = index_entry(table, index, after) if after else None
        size = _projected_size(table, index, after if new else None, sizes[1])
        size -= _projected_size(table, index, before if old else None, sizes[0])
        if (old is None) != (new is None):
            ops += _op("HINCRBY", meta, f"index:{index.name}:items", 1 if new else -1)
        if size:
            ops += _op("HINCRBY", meta, f"index:{index.name}:bytes", size)
        if old == new:
            continue
        zset = tabledata.lsi_key if index.local else tabledata.gsi_key
        registry = tabledata.gsi_parts_key(table.id, index.name)
        if old is not None:
            ops += _op("ZREM", zset(table.id, index.name, old[0]), old[1])
            if not index.local:
                ops += _op("ZREMEMPTY", registry, old[0], zset(table.id, index.name, old[0]))
        if new is not None:
            ops += _op("ZADD", zset(table.id, index.name, new[0]), 0, new[1])
            if not index.local:
                ops += _op("ZADD", registry, 0, new[0])
    return ops


def _projected_size(table: Table, index: Index, item: dict[str, Any] | None, full_size: int) -> int:
    """What an item weighs in an index: its projected attributes, as DynamoDB counts them."""
    if item is None:
        return 0
    names = table.projected_names(index)
    if names is None:
        return full_size
    return item_size({k: v for k, v in item.items() if k in names})


def expiry(table: Table, item: dict[str, Any] | None) -> float | None:
    """When an item expires (epoch seconds), if its TTL attribute holds a number."""
    name = table.ttl_attribute
    if item is None or name is None or "N" not in item.get(name, {}):
        return None
    try:
        return float(item[name]["N"])
    except ValueError:
        return None


def _ttl_operations(
    table: Table, before: dict[str, Any] | None, after: dict[str, Any] | None, member: bytes
) -> list[Any]:
    old, new = expiry(table, before), expiry(table, after)
    if old == new:
        return []
    if new is None:
        return _op("ZREM", tabledata.ttl_key(table.id), member)
    return _op("ZADD", tabledata.ttl_key(table.id), new, member)


def _stream_operations(change: Change, *, now: float, size: int) -> list[Any]:
    view = change.table.stream_view_type
    if view is None:
        return []
    before = change.before.item if change.before is not None else None
    after = change.after
    event = "INSERT" if before is None else ("REMOVE" if after is None else "MODIFY")
    record = tabledata.StreamRecord(
        event_name=event,
        keys=change.key,
        view_type=view,
        at=now,
        size_bytes=size,
        new_image=after if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None,
        old_image=before if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None,
        by_ttl=change.by_ttl,
    )
    oldest_ms = int((now - tabledata.STREAM_RETENTION_SECONDS) * 1000)
    return _op(
        "XADD", tabledata.stream_key(change.table.id), "MINID", "~", oldest_ms, "*",
        "r", record.to_json(),
    )  # fmt: skip


def _dump(item: dict[str, Any]) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


def item_keys(table: Table, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [key_of(table, item) for item in items]


async def backfill(
    store: Store,
    redis: aioredis.Redis,
    table: Table,
    *,
    indexes: frozenset[str] = frozenset(),
    ttl: bool = False,
) -> int:
    """Give every stored item its entries in the new `indexes` (and the TTL schedule).

    Run after an index or TTL is added to a table that holds items. Returns how
    many items were visited.
    """
    fill = dataclasses.replace(
        table, indexes={k: v for k, v in table.indexes.items() if k in indexes}
    )
    script = redis.register_script(_COMMIT)
    visited = 0
    start: tuple[bytes, bytes] | None = None
    while True:
        entries = await store.scan(table, None, start=start, count=256)
        if not entries:
            return visited
        for entry in entries:
            key = key_of(table, entry.item)
            pkm, skm = members(table, key)
            stored = await store.get(table, key)  # the item and its version, read together
            if stored is not None:
                ops = _index_operations(fill, None, stored.item)
                if ttl:
                    ops += _ttl_operations(table, None, stored.item, pkm + SEP + skm)
                if ops:  # a writer that moved the version in between wrote the entries itself
                    item_key = tabledata.item_key(table.id, pkm, skm)
                    await script(args=[1, item_key, str(stored.version), 0, *ops])
            visited += 1
        start = (entries[-1].partition, entries[-1].member)


async def drop_index(redis: aioredis.Redis, table: Table, index: str) -> None:
    """Delete a global secondary index's entries (after it left the table's definition)."""
    pending = [tabledata.gsi_parts_key(table.id, index)]
    pattern = tabledata.gsi_key(table.id, index, b"*")
    async for key in redis.scan_iter(match=pattern, count=500):
        pending.append(key)
    await redis.unlink(*pending)
    await redis.hdel(tabledata.meta_key(table.id), f"index:{index}:items", f"index:{index}:bytes")
