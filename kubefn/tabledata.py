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
  kubefn:tbl:{T}:tags                 hash   the table's tags (TagResource), key -> value
  kubefn:tbl:{T}:txtoken:<token>      hash   a transaction's ClientRequestToken, 10 minutes

A table without a sort key stores its items under skm = b"". One slot per table
is the price of atomic, strongly consistent indexes and streams on Cluster: a
partition spread over its own slot would make every write with an index or a
stream a cross-slot change. Tables spread over the cluster; one table's load
does not. A transaction or batch that writes several tables spans their slots.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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


async def delete_data(client: aioredis.Redis, table: str, *, batch: int = 500) -> int:
    """Delete every key of a table's data; returns how many keys went.

    Idempotent, so an interrupted deletion is finished by running it again.
    """
    deleted = 0
    pending: list[bytes] = []
    async for key in client.scan_iter(match=f"{PREFIX}:{{{table}}}:*", count=batch):
        pending.append(key)
        if len(pending) >= batch:
            deleted += await client.unlink(*pending)
            pending.clear()
    if pending:
        deleted += await client.unlink(*pending)
    return deleted


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
