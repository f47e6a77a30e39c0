"""Where a Table's data lives in Redis: the contract between the gateway, which
reads and writes items, and the operator, which reports and deletes tables.

A table `T` is `<namespace>/<tableName>`. A key value is stored as an
order-preserving member (`pkm`, `skm`: bytes without 0x00 or 0xFF). Every key of
a table carries the hash tag `{T}`, so on Redis Cluster a table sits in one slot
and each write (item, index entries, TTL schedule, counters, stream record) stays
one atomic script there, as it is on one server:

  kubefn:tbl:{T}:meta                 hash   created, items, bytes, streamLabel, ...
  kubefn:tbl:{T}:parts                zset   pkm (score 0): the partitions, for Scan
  kubefn:tbl:{T}:p:<pkm>              zset   skm (score 0): one partition's sort keys
  kubefn:tbl:{T}:i:<pkm>\\0<skm>       hash   i -> item (DynamoDB JSON), v -> version, s -> size
  kubefn:tbl:{T}:l:<index>:<pkm>      zset   LSI entries: <lskm>\\0<skm>
  kubefn:tbl:{T}:c:<pkm>              int    the item collection's bytes (tables with LSIs)
  kubefn:tbl:{T}:g:<index>            zset   gpkm: the GSI's partitions
  kubefn:tbl:{T}:g:<index>:<gpkm>     zset   GSI entries: <gskm>\\0<pkm>\\0<skm>
  kubefn:tbl:{T}:ttl                  zset   <pkm>\\0<skm>, scored by expiry (epoch s)
  kubefn:tbl:{T}:stream               stream one entry per change, field `r` -> record JSON
  kubefn:tbl:{T}:stream:generations   string JSON: the spec revision seen, the stream generations
  kubefn:tbl:{T}:tags                 hash   the table's tags (TagResource), key -> value
  kubefn:tbl:{T}:txtoken:<token>      hash   a transaction's ClientRequestToken, 10 minutes

Each time a table's stream is enabled, a new stream (a generation: its label and
a range of entry ids) begins in the table's one Redis stream; disabling closes
it, and it stays readable for 24 hours. A deleted table's stream and generations
outlive it by 24 hours (EXPIRE; the table listed in `kubefn:tbl:deleted-streams`);
everything else goes at once. A table created again under the name starts a new
generation after every entry the old table wrote.

A table without a sort key stores its items under skm = b"". One slot per table
is the price of atomic, strongly consistent indexes and streams on Cluster: a
partition spread over its own slot would make every write with an index or a
stream a cross-slot change. Tables spread over the cluster; one table's load
does not. A transaction or batch that writes several tables spans their slots.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

PREFIX = "kubefn:tbl"
SEPARATOR = b"\x00"
STREAM_RETENTION_SECONDS = 24 * 3600


def table_id(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def _table(table: str, suffix: str) -> bytes:
    return f"{PREFIX}:{{{table}}}:{suffix}".encode()


def meta_key(table: str) -> bytes:
    return _table(table, "meta")


def parts_key(table: str) -> bytes:
    return _table(table, "parts")


def ttl_key(table: str) -> bytes:
    return _table(table, "ttl")


def token_key(table: str, token: str) -> bytes:
    """A TransactWriteItems ClientRequestToken, kept under the first table it writes."""
    return _table(table, "txtoken:") + token.encode()


def tags_key(table: str) -> bytes:
    return _table(table, "tags")


def stream_key(table: str) -> bytes:
    return _table(table, "stream")


def generations_key(table: str) -> bytes:
    """The table's stream generations, as `StreamHistory` JSON."""
    return _table(table, "stream:generations")


DELETED_STREAMS_KEY = f"{PREFIX}:deleted-streams".encode()
"""zset: tables deleted with their stream kept, scored by when it expires (epoch s)."""


def gsi_parts_key(table: str, index: str) -> bytes:
    return _table(table, f"g:{index}")


def gsi_key(table: str, index: str, gpkm: bytes) -> bytes:
    return _table(table, f"g:{index}:") + gpkm


def partition_key(table: str, pkm: bytes) -> bytes:
    return _table(table, "p:") + pkm


def item_key(table: str, pkm: bytes, skm: bytes) -> bytes:
    return _table(table, "i:") + pkm + SEPARATOR + skm


def lsi_key(table: str, index: str, pkm: bytes) -> bytes:
    return _table(table, f"l:{index}:") + pkm


def collection_key(table: str, pkm: bytes) -> bytes:
    """Bytes held under one partition key (tables with a local secondary index only)."""
    return _table(table, "c:") + pkm


def canonical_key(key: Mapping[str, Any]) -> bytes:
    """A primary key (DynamoDB JSON) as bytes that equal keys share."""
    return json.dumps(key, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class TableStats:
    items: int
    bytes: int
    created: float | None
    stream_label: str | None
    indexes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Per secondary index: (items, bytes) of what it holds."""


async def stats(client: aioredis.Redis, table: str) -> TableStats:
    """Item count and size, as the writes keep them (exact, not sampled)."""
    raw = await client.hgetall(meta_key(table))
    meta = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
    indexes: dict[str, tuple[int, int]] = {}
    for name, value in meta.items():
        if name.startswith("index:"):
            index, _, what = name[len("index:") :].rpartition(":")
            items, size = indexes.get(index, (0, 0))
            indexes[index] = (int(value), size) if what == "items" else (items, int(value))
    return TableStats(
        items=int(meta.get("items", 0)),
        bytes=int(meta.get("bytes", 0)),
        created=float(meta["created"]) if "created" in meta else None,
        stream_label=meta.get("streamLabel"),
        indexes=indexes,
    )


async def delete_data(
    client: aioredis.Redis,
    table: str,
    *,
    batch: int = 500,
    now: float | None = None,  # for tests
) -> int:
    """Delete a table's data, as DeleteTable does; returns how many keys went.

    Its stream is closed and, with its generations, kept for the 24 hours
    DynamoDB keeps a deleted table's stream (both keys EXPIRE then); every
    other key goes now. Idempotent, so an interrupted deletion is finished by
    running it again.
    """
    moment = time.time() if now is None else now
    kept_seconds = int(
        await client.eval(
            _RETIRE,
            2,
            generations_key(table),
            stream_key(table),
            repr(moment),
            STREAM_RETENTION_SECONDS,
        )
    )
    kept = {generations_key(table), stream_key(table)} if kept_seconds else set()
    if kept_seconds:
        await client.zadd(DELETED_STREAMS_KEY, {table: moment + kept_seconds})
    deleted = 0
    pending: list[bytes] = []
    async for key in client.scan_iter(match=f"{PREFIX}:{{{table}}}:*", count=batch):
        if key in kept:
            continue
        pending.append(key)
        if len(pending) >= batch:
            deleted += await client.unlink(*pending)
            pending.clear()
    if pending:
        deleted += await client.unlink(*pending)
    return deleted


async def deleted_streams(client: aioredis.Redis, *, now: float) -> list[str]:
    """Deleted tables whose stream is still kept (forgetting those gone)."""
    await client.zremrangebyscore(DELETED_STREAMS_KEY, "-inf", now)
    members: Any = await client.zrangebyscore(DELETED_STREAMS_KEY, now, "+inf")
    return sorted(m.decode() for m in members)


def stream_label(created: float) -> str:
    """DynamoDB's stream label: the stream's creation time, ISO 8601 to the millisecond."""
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass(frozen=True)
class StreamGeneration:
    """One stream of a table: its records are the entries after `after` (to `last`)."""

    label: str
    created: float
    after: str  # entry id: the table's last entry when this stream began
    view_type: str
    key_schema: tuple[Mapping[str, str], ...]
    last: str | None = None  # entry id: the table's last entry when it was closed
    closed: float | None = None  # epoch seconds; None while enabled

    @property
    def enabled(self) -> bool:
        return self.closed is None

    def expired(self, *, now: float) -> bool:
        """A closed stream is readable for 24 hours, then gone."""
        return self.closed is not None and self.closed + STREAM_RETENTION_SECONDS <= now

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> StreamGeneration:
        return cls(
            label=str(body["label"]),
            created=float(body["created"]),
            after=str(body.get("after", "0-0")),
            view_type=str(body.get("viewType", "")),
            key_schema=tuple(body.get("keySchema") or ()),
            last=str(body["last"]) if body.get("last") is not None else None,
            closed=float(body["closed"]) if body.get("closed") is not None else None,
        )


async def stream_generations(client: aioredis.Redis, table: str) -> list[StreamGeneration]:
    """The table's streams, oldest first (expired ones included until the next change)."""
    raw = await client.get(generations_key(table))
    if raw is None:
        return []
    generations = json.loads(raw).get("generations")
    if not isinstance(generations, list):  # Lua's cjson writes an empty list as {}
        return []
    return [StreamGeneration.from_body(g) for g in generations]


# Shared by the scripts below. last_id: the stream's last-generated entry id.
_LUA_GENERATIONS = """
local function last_id(stream)
  if redis.call('EXISTS', stream) == 0 then return '0-0' end
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return info[i + 1] end
  end
  return '0-0'
end
local function load(key)
  local raw = redis.call('GET', key)
  local body = raw and cjson.decode(raw) or {revision = 0}
  if type(body.generations) ~= 'table' then body.generations = {} end
  return body
end
local function close_current(gens, stream, now)
  local current = gens[#gens]
  if current ~= nil and current.closed == nil then
    current.last = last_id(stream)
    current.closed = now
  end
end
local function live(gens, now, retention)
  local kept = {}
  for _, g in ipairs(gens) do
    if g.closed == nil or g.closed + retention > now then table.insert(kept, g) end
  end
  return kept
end
"""

# KEYS: meta, generations, stream; ARGV: now, revision, enabled (1|0), the new
# generation (label, created, viewType, keySchema) as JSON, retention seconds.
# Stamps the table's creation time once, then brings the stream to what the
# spec revision says: opens a generation, closes it, or (revision seen) nothing.
# Returns {created, 1 opened | 0 | -1 label taken: call again a millisecond later}.
_SYNC = (
    _LUA_GENERATIONS
    + """
redis.call('HSETNX', KEYS[1], 'created', ARGV[1])
local created = redis.call('HGET', KEYS[1], 'created')
local now = tonumber(ARGV[1])
local enabled = ARGV[3] == '1'
if not enabled and redis.call('EXISTS', KEYS[2]) == 0 then return {created, 0} end
local body = load(KEYS[2])
if tonumber(ARGV[2]) <= tonumber(body.revision or 0) then return {created, 0} end
local gens = body.generations
local current = gens[#gens]
local opened = 0
if enabled and (current == nil or current.closed ~= nil) then
  local gen = cjson.decode(ARGV[4])
  local legacy = redis.call('HGET', KEYS[1], 'streamLabel')
  if current == nil and legacy then  -- stamped before generations: it continues
    gen.label = legacy
    gen.created = tonumber(created)
    gen.after = '0-0'
  else
    for _, g in ipairs(gens) do
      if g.label == gen.label then return {created, -1} end
    end
    gen.after = last_id(KEYS[3])
  end
  gens = live(gens, now, tonumber(ARGV[5]))
  table.insert(gens, gen)
  redis.call('HSET', KEYS[1], 'streamLabel', gen.label)
  opened = 1
elseif not enabled then
  close_current(gens, KEYS[3], now)
end
body.generations = gens
body.revision = tonumber(ARGV[2])
if opened == 1 then  -- a table created again: its stream no longer expires
  redis.call('SET', KEYS[2], cjson.encode(body))
  redis.call('PERSIST', KEYS[3])
else
  redis.call('SET', KEYS[2], cjson.encode(body), 'KEEPTTL')
end
return {created, opened}
"""
)

# KEYS: generations, stream; ARGV: now, retention seconds. Closes a deleted
# table's stream and keeps it (EXPIRE) while a generation is readable; returns
# for how many seconds, 0 when nothing is kept (both keys deleted).
_RETIRE = (
    _LUA_GENERATIONS
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local now = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local body = load(KEYS[1])
close_current(body.generations, KEYS[2], now)
local gens = live(body.generations, now, retention)
if #gens == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
local latest = 0
for _, g in ipairs(gens) do
  if g.closed > latest then latest = g.closed end
end
local seconds = math.max(1, math.ceil(latest + retention - now))
body.generations = gens
redis.call('SET', KEYS[1], cjson.encode(body), 'EX', seconds)
redis.call('EXPIRE', KEYS[2], seconds)
return seconds
"""
)


async def sync_stream(
    client: aioredis.Redis,
    table: str,
    *,
    revision: int,
    view_type: str | None,
    key_schema: Sequence[Mapping[str, str]],
    now: float,
) -> float:
    """Stamp a table's creation time and open or close its stream as a spec revision says.

    Idempotent per revision and ignoring older ones, so every replica serving a
    revision may call it. Returns the table's creation time.
    """
    for step in range(1000):
        moment = now + step / 1000  # a new label differs from every earlier one
        generation = {
            "label": stream_label(moment),
            "created": moment,
            "viewType": view_type or "",
            "keySchema": list(key_schema),
        }
        created, outcome = await client.eval(
            _SYNC,
            3,
            meta_key(table),
            generations_key(table),
            stream_key(table),
            repr(now),
            revision,
            "1" if view_type else "0",
            json.dumps(generation, separators=(",", ":")),
            STREAM_RETENTION_SECONDS,
        )
        if int(outcome) >= 0:
            return float(created)
    raise RuntimeError(f"no free stream label for {table}")


@dataclass(frozen=True)
class StreamRecord:
    """One change as the stream keeps it (field `r` of a stream entry, as JSON).

    Images are stored as the table's stream view type asked for when the change
    was written, so changing the view type later does not rewrite history.
    """

    event_name: str  # INSERT | MODIFY | REMOVE
    keys: Mapping[str, Any]
    view_type: str
    at: float  # epoch seconds of the change
    size_bytes: int
    new_image: Mapping[str, Any] | None = None
    old_image: Mapping[str, Any] | None = None
    by_ttl: bool = False  # deleted by the TTL sweeper (the service principal)

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "eventName": self.event_name,
            "keys": self.keys,
            "viewType": self.view_type,
            "at": self.at,
            "sizeBytes": self.size_bytes,
        }
        if self.new_image is not None:
            body["newImage"] = self.new_image
        if self.old_image is not None:
            body["oldImage"] = self.old_image
        if self.by_ttl:
            body["byTtl"] = True
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> StreamRecord:
        body = json.loads(raw)
        return cls(
            event_name=body["eventName"],
            keys=body["keys"],
            view_type=body["viewType"],
            at=float(body["at"]),
            size_bytes=int(body["sizeBytes"]),
            new_image=body.get("newImage"),
            old_image=body.get("oldImage"),
            by_ttl=bool(body.get("byTtl", False)),
        )


_SEQ_DIGITS = 8


def sequence_number(entry_id: bytes | str) -> str:
    """A stream entry's id as a DynamoDB SequenceNumber: digits that grow with every change."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return f"{int(ms):013d}{int(seq or 0):0{_SEQ_DIGITS}d}"


def entry_id(sequence: str) -> str:
    """The inverse of `sequence_number`; ValueError for anything it did not make."""
    if not sequence.isdigit() or len(sequence) != 13 + _SEQ_DIGITS:
        raise ValueError(f"not a sequence number: {sequence!r}")
    return f"{int(sequence[:13])}-{int(sequence[13:])}"
