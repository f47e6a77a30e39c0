"""Capacity units, as DynamoDB counts them, and provisioned throughput enforced.

Reads cost one unit per 4 KB (half for eventually consistent reads), writes one
per 1 KB of the larger of the old and new item. A PROVISIONED table refills a
shared token bucket at its units per second, holding up to `burst_seconds` of
unused capacity as DynamoDB's burst capacity does; an operation that finds the
bucket empty is refused with ProvisionedThroughputExceededException. A batch takes
what capacity is left and returns the rest unprocessed; only a batch of which
nothing could be done is refused. Buckets live in Redis so every gateway replica
draws on the same capacity.

Secondary indexes cost as DynamoDB's do: a Query or Scan of an index reads the
index, and a write spends units on each index whose entry it puts, changes or
deletes (an entry that moves to other index keys costs a delete and a put), by
the size of what the index projects. A global secondary index with throughput of
its own has buckets of its own: its reads draw on them, and a write that would
change its entry while it has nothing left is refused, as DynamoDB throttles
writes to a table whose index cannot keep up. Local secondary indexes share the
table's capacity.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from kubefn import tabledata
from kubefn_gateway.dynamodb.errors import ProvisionedThroughputExceeded
from kubefn_gateway.dynamodb.store import index_entry
from kubefn_gateway.dynamodb.tables import Index, Table
from kubefn_gateway.dynamodb.values import item_size

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024

# KEYS: bucket hashes; ARGV: now, burst seconds, then units per second and cost of each.
# Refills each bucket, then takes its cost (may go below zero: the debt delays the next
# caller). Returns the tokens left in each, as strings (Lua numbers become integers).
_TAKE = """
local now = tonumber(ARGV[1])
local left = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i + 1])
  local cap = rate * tonumber(ARGV[2])
  local tokens = tonumber(redis.call('HGET', key, 't') or cap)
  local at = tonumber(redis.call('HGET', key, 'at') or now)
  if now > at then tokens = math.min(cap, tokens + (now - at) * rate) end
  tokens = tokens - tonumber(ARGV[2 * i + 2])
  redis.call('HSET', key, 't', tostring(tokens), 'at', tostring(math.max(now, at)))
  left[i] = tostring(tokens)
end
return left
"""


def counted(body: Mapping[str, Any], table: Table) -> bool:
    """Whether a request's units matter: the table is provisioned, or the client asked."""
    return table.provisioned is not None or body.get("ReturnConsumedCapacity", "NONE") != "NONE"


def read_units(
    items: Iterable[Mapping[str, Any] | None], *, consistent: bool, each: bool = True
) -> float:
    """Units for reading `items`: per item (GetItem, batches) or summed (Query, Scan)."""
    sizes = [item_size(dict(item)) if item else 0 for item in items]
    if each:
        units = sum(max(1, math.ceil(size / READ_UNIT_BYTES)) for size in sizes) or 1
        return units if consistent else units / 2
    return read_units_of(sum(sizes), consistent=consistent)


def read_units_of(size: int, *, consistent: bool) -> float:
    """Units for reading `size` bytes in one Query or Scan page."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


def write_units(versions: Iterable[Mapping[str, Any] | None]) -> float:
    """Units for one item's write: by the larger of what it was and what it becomes."""
    size = max((item_size(dict(v)) for v in versions if v), default=0)
    return float(max(1, math.ceil(size / WRITE_UNIT_BYTES)))


@dataclass(frozen=True)
class Usage:
    """Units one operation spends on a table itself and on each of its secondary indexes."""

    read: float = 0.0
    write: float = 0.0
    indexes: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Index name -> (read units, write units)."""

    def __add__(self, other: Usage) -> Usage:
        indexes = dict(self.indexes)
        for name, (read, write) in other.indexes.items():
            reads, writes = indexes.get(name, (0.0, 0.0))
            indexes[name] = (reads + read, writes + write)
        return Usage(read=self.read + other.read, write=self.write + other.write, indexes=indexes)

    def scaled(self, factor: float) -> Usage:
        """The same usage `factor` times over (transactions cost double)."""
        return Usage(
            read=self.read * factor,
            write=self.write * factor,
            indexes={n: (r * factor, w * factor) for n, (r, w) in self.indexes.items()},
        )

    @property
    def total_read(self) -> float:
        return self.read + sum(read for read, _ in self.indexes.values())

    @property
    def total_write(self) -> float:
        return self.write + sum(write for _, write in self.indexes.values())


def index_writes(
    table: Table, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, tuple[float, float]]:
    """Write units a change of one item spends on each index whose entry it changes."""
    spent: dict[str, tuple[float, float]] = {}
    for index in table.indexes.values():
        old = _entry(table, index, before)
        new = _entry(table, index, after)
        if old == new:  # absent from the index before and after, or unchanged
            continue
        if old is None or new is None:
            units = write_units([old[1] if old else None, new[1] if new else None])
        elif old[0] != new[0]:  # the entry moves: deleted under its old keys, put under the new
            units = write_units([old[1]]) + write_units([new[1]])
        else:
            units = write_units([old[1], new[1]])
        spent[index.name] = (0.0, units)
    return spent


def _entry(
    table: Table, index: Index, item: Mapping[str, Any] | None
) -> tuple[tuple[bytes, bytes], dict[str, Any]] | None:
    """Where an item sits in an index and what the index keeps of it; None when absent."""
    if item is None:
        return None
    position = index_entry(table, index, dict(item))
    if position is None:
        return None
    names = table.projected_names(index)
    kept = dict(item) if names is None else {k: v for k, v in item.items() if k in names}
    return position, kept


def report(
    body: Mapping[str, Any],
    table: Table,
    result: dict[str, Any],
    *,
    read: float = 0.0,
    write: float = 0.0,
    indexes: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Add ConsumedCapacity to a result when the request asked for it.

    `read` and `write` are the table's own units, `indexes` each index's (read, write).
    """
    mode = body.get("ReturnConsumedCapacity", "NONE")
    if mode in ("TOTAL", "INDEXES"):
        name = body.get("TableName")
        result["ConsumedCapacity"] = consumed(
            table,
            name=name if isinstance(name, str) else None,
            usage=Usage(read=read, write=write, indexes=indexes or {}),
            indexes=mode == "INDEXES",
        )
    return result


def report_each(
    body: Mapping[str, Any],
    result: dict[str, Any],
    usage: Mapping[str, tuple[Table, Usage]],
) -> dict[str, Any]:
    """Add ConsumedCapacity, one entry per table (batches and transactions), when asked.

    `usage` maps a table's name, as the request gave it, to (table, units spent on it).
    """
    mode = body.get("ReturnConsumedCapacity", "NONE")
    if mode in ("TOTAL", "INDEXES"):
        result["ConsumedCapacity"] = [
            consumed(table, name=name, usage=spent, indexes=mode == "INDEXES")
            for name, (table, spent) in usage.items()
        ]
    return result


def consumed(
    table: Table,
    *,
    name: str | None = None,
    usage: Usage,
    indexes: bool = False,
) -> dict[str, Any]:
    """A ConsumedCapacity entry; TableName echoes `name`, the table's ARN when asked by ARN.

    Its totals count the indexes too; with `indexes` (ReturnConsumedCapacity=INDEXES) it
    also says what the table itself and each index affected took.
    """
    entry = {"TableName": name or table.name, **_capacity(usage.total_read, usage.total_write)}
    if indexes:
        entry["Table"] = _capacity(usage.read, usage.write)
        for local, field_name in (
            (False, "GlobalSecondaryIndexes"),
            (True, "LocalSecondaryIndexes"),
        ):
            spent = {
                index: _capacity(read, write)
                for index, (read, write) in usage.indexes.items()
                if index in table.indexes and table.indexes[index].local == local
            }
            if spent:
                entry[field_name] = spent
    return entry


def _capacity(read: float, write: float) -> dict[str, float]:
    """DynamoDB's Capacity: the units, and of them the read and write units that were spent."""
    capacity = {"CapacityUnits": read + write}
    if read:
        capacity["ReadCapacityUnits"] = read
    if write:
        capacity["WriteCapacityUnits"] = write
    return capacity


class Meter:
    """Provisioned throughput: token buckets per table (and per global secondary index
    with throughput of its own) and direction, in Redis."""

    def __init__(self, redis: aioredis.Redis, *, burst_seconds: float = 300.0) -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._burst_seconds = burst_seconds

    async def before_read(self, table: Table, index: Index | None = None) -> None:
        """Refuse a read when what it reads (the table, or an index of its own) has nothing left."""
        bucket = _bucket(table, index, "read")
        if bucket is not None and await self._left([(bucket, 0.0)]) <= 0:
            raise self.refuse()

    async def before_write(self, table: Table) -> None:
        await self._require(table, "write")

    async def before_index_writes(
        self, table: Table, indexes: Mapping[str, tuple[float, float]]
    ) -> None:
        """Refuse a write when an index it changes, with throughput of its own, has none left."""
        buckets = [
            (bucket, 0.0)
            for name, (_, write) in indexes.items()
            if write and (bucket := _bucket(table, table.indexes.get(name), "write")) is not None
        ]
        if buckets and await self._left(buckets) <= 0:
            raise self.refuse()

    async def has_capacity(self, table: Table, direction: str) -> bool:
        available = await self.available(table, direction)
        return available is None or available > 0

    async def available(
        self, table: Table, direction: str, index: Index | None = None
    ) -> float | None:
        """The units a table (or an index of its own) may still use now; None for no limit."""
        bucket = _bucket(table, index, direction)
        if bucket is None:
            return None
        return await self._left([(bucket, 0.0)])

    def refuse(self) -> ProvisionedThroughputExceeded:
        return ProvisionedThroughputExceeded(
            "The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API."
        )

    async def charge(
        self,
        table: Table,
        *,
        read: float = 0.0,
        write: float = 0.0,
        indexes: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        """Take what an operation spent, in one round trip: an index's units from its own
        buckets when it has them, from the table's otherwise."""
        if table.provisioned is None:
            return
        costs: dict[tuple[bytes, int], float] = {}
        spent = [(None, read, write)] + [
            (table.indexes.get(name), r, w) for name, (r, w) in (indexes or {}).items()
        ]
        for index, index_read, index_write in spent:
            for direction, cost in (("read", index_read), ("write", index_write)):
                bucket = _bucket(table, index, direction)
                if cost and bucket is not None:
                    costs[bucket] = costs.get(bucket, 0.0) + cost
        if costs:
            await self._left(list(costs.items()))

    async def _require(self, table: Table, direction: str) -> None:
        if not await self.has_capacity(table, direction):
            raise self.refuse()

    async def _left(self, buckets: list[tuple[tuple[bytes, int], float]]) -> float:
        """Take each bucket's cost; the fewest tokens any of them has left."""
        args: list[Any] = [repr(time.time()), self._burst_seconds]
        for (_, rate), cost in buckets:
            args += [rate, repr(cost)]
        left = await self._take(keys=[key for (key, _), _ in buckets], args=args)
        return min(float(tokens) for tokens in left)


def metered_indexes(table: Table) -> list[Index]:
    """Global secondary indexes of a table that have throughput (buckets) of their own."""
    return [index for index in table.indexes.values() if _own(table, index)]


def _own(table: Table, index: Index) -> bool:
    """Whether an index has buckets of its own: a global one, provisioned apart."""
    return table.provisioned is not None and not index.local and index.provisioned is not None


def _bucket(table: Table, index: Index | None, direction: str) -> tuple[bytes, int] | None:
    """(Redis key, units per second) of the bucket a table's or index's units come from;
    None when unlimited (on demand). An index without throughput of its own (a local
    one) draws on the table's."""
    if table.provisioned is None:
        return None
    key = tabledata.meta_key(table.id) + b":capacity:"
    provisioned = table.provisioned
    if index is not None and _own(table, index):
        assert index.provisioned is not None
        key += f"gsi:{index.name}:".encode()
        provisioned = index.provisioned
    rate = provisioned[0] if direction == "read" else provisioned[1]
    return key + direction.encode(), rate
