"""Capacity units, as DynamoDB counts them, and provisioned throughput enforced.

Reads cost one unit per 4 KB (half for eventually consistent reads), writes one
per 1 KB of the larger of the old and new item. A PROVISIONED table refills a
shared token bucket at its units per second, holding up to `burst_seconds` of
unused capacity as DynamoDB's burst capacity does; an operation that finds the
bucket empty is refused with ProvisionedThroughputExceededException. A batch takes
what capacity is left and returns the rest unprocessed; only a batch of which
nothing could be done is refused. Buckets live in Redis so every gateway replica
draws on the same capacity.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis.asyncio as aioredis

from kubefn import tabledata
from kubefn_gateway.dynamodb.errors import ProvisionedThroughputExceeded
from kubefn_gateway.dynamodb.tables import Table
from kubefn_gateway.dynamodb.values import item_size

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024

# KEYS: bucket hash; ARGV: now, units per second, burst seconds, cost.
# Refills, then takes `cost` (may go below zero: the debt delays the next caller).
# Returns the tokens left, as a string (Lua numbers are truncated to integers).
_TAKE = """
local rate = tonumber(ARGV[2])
local cap = rate * tonumber(ARGV[3])
local now = tonumber(ARGV[1])
local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or cap)
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or now)
if now > at then tokens = math.min(cap, tokens + (now - at) * rate) end
tokens = tokens - tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(math.max(now, at)))
return tostring(tokens)
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


def report(
    body: Mapping[str, Any],
    table: Table,
    result: dict[str, Any],
    *,
    read: float = 0.0,
    write: float = 0.0,
) -> dict[str, Any]:
    """Add ConsumedCapacity to a result when the request asked for it."""
    mode = body.get("ReturnConsumedCapacity", "NONE")
    if mode in ("TOTAL", "INDEXES"):
        name = body.get("TableName")
        result["ConsumedCapacity"] = consumed(
            table,
            name=name if isinstance(name, str) else None,
            read=read,
            write=write,
            indexes=mode == "INDEXES",
        )
    return result


def report_each(
    body: Mapping[str, Any],
    result: dict[str, Any],
    usage: Mapping[str, tuple[Table, float, float]],
) -> dict[str, Any]:
    """Add ConsumedCapacity, one entry per table (batches and transactions), when asked.

    `usage` maps a table's name, as the request gave it, to (table, read units, write units).
    """
    mode = body.get("ReturnConsumedCapacity", "NONE")
    if mode in ("TOTAL", "INDEXES"):
        result["ConsumedCapacity"] = [
            consumed(table, name=name, read=read, write=write, indexes=mode == "INDEXES")
            for name, (table, read, write) in usage.items()
        ]
    return result


def consumed(
    table: Table,
    *,
    name: str | None = None,
    read: float,
    write: float,
    indexes: bool = False,
) -> dict[str, Any]:
    """A ConsumedCapacity entry; TableName echoes `name`, the table's ARN when asked by ARN."""
    usage: dict[str, Any] = {"TableName": name or table.name, "CapacityUnits": read + write}
    if read:
        usage["ReadCapacityUnits"] = read
    if write:
        usage["WriteCapacityUnits"] = write
    if indexes:
        usage["Table"] = {"CapacityUnits": read + write}
    return usage


class Meter:
    """Provisioned throughput: a token bucket per table and direction, in Redis."""

    def __init__(self, redis: aioredis.Redis, *, burst_seconds: float = 300.0) -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._burst_seconds = burst_seconds

    async def before_read(self, table: Table) -> None:
        await self._require(table, "read")

    async def before_write(self, table: Table) -> None:
        await self._require(table, "write")

    async def has_capacity(self, table: Table, direction: str) -> bool:
        available = await self.available(table, direction)
        return available is None or available > 0

    async def available(self, table: Table, direction: str) -> float | None:
        """The units a table may still use now; None for on-demand (no limit)."""
        if table.provisioned is None:
            return None
        return await self._tokens(table, direction, 0.0)

    def refuse(self) -> ProvisionedThroughputExceeded:
        return ProvisionedThroughputExceeded(
            "The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API."
        )

    async def charge(self, table: Table, *, read: float = 0.0, write: float = 0.0) -> None:
        if table.provisioned is None:
            return
        if read:
            await self._tokens(table, "read", read)
        if write:
            await self._tokens(table, "write", write)

    async def _require(self, table: Table, direction: str) -> None:
        if not await self.has_capacity(table, direction):
            raise self.refuse()

    async def _tokens(self, table: Table, direction: str, cost: float) -> float:
        provisioned = table.provisioned
        assert provisioned is not None
        rate = provisioned[0] if direction == "read" else provisioned[1]
        key = tabledata.meta_key(table.id) + f":capacity:{direction}".encode()
        left = await self._take(
            keys=[key], args=[repr(time.time()), rate, self._burst_seconds, repr(cost)]
        )
        return float(left)
