"""A table's stream as DynamoDB Streams and Lambda show it.

The stream is one Redis Stream per table (kubefn.tabledata); each of the table's
stream generations is a range of its entry ids, read as DynamoDB's one shard.
Both the Streams API and the trigger runner read entries here and shape them
into AWS's record, so a record looks the same to a GetRecords caller and to a
function. Positions are Redis XRANGE starts: "-" (the oldest record kept),
"(<id>" (after an entry) or "<id>" (at an entry).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from kubefn import table as table_resource
from kubefn import tabledata

HORIZON = "-"
EVENT_VERSION = "1.1"
EVENT_SOURCE = "aws:dynamodb"
SERVICE_PRINCIPAL = "dynamodb.amazonaws.com"


@dataclass(frozen=True)
class Entry:
    """One stream entry: its Redis id and the change it records."""

    id: str
    record: tabledata.StreamRecord

    @property
    def sequence_number(self) -> str:
        return tabledata.sequence_number(self.id)


@dataclass(frozen=True)
class Bounds:
    """What a stream holds now: its oldest entry and the last id it ever gave."""

    first: str | None
    last_generated: str | None


def after(entry_id: str) -> str:
    return f"({entry_id}"


def stream_arn(*, region: str, account_id: str, table_name: str, label: str) -> str:
    return table_resource.stream_arn(
        region=region, account_id=account_id, table_name=table_name, label=label
    )


def shard_id(*, table_id: str, label: str) -> str:
    """The table's one shard, named as DynamoDB names shards (stable for the stream)."""
    digest = hashlib.sha1(f"{table_id}/{label}".encode(), usedforsecurity=False).hexdigest()
    return f"shardId-{int(digest[:12], 16):020d}-{digest[12:20]}"


def event_id(*, table_id: str, entry_id: str) -> str:
    """The same for every delivery of one record, so consumers can deduplicate."""
    return hashlib.md5(f"{table_id}/{entry_id}".encode(), usedforsecurity=False).hexdigest()


def shape(entry: Entry, *, table_id: str, region: str) -> dict[str, Any]:
    """An entry as a DynamoDB Streams record (GetRecords' Records, a Lambda event's Records)."""
    record = entry.record
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(record.at),
        "Keys": record.keys,
    }
    if record.new_image is not None:
        dynamodb["NewImage"] = record.new_image
    if record.old_image is not None:
        dynamodb["OldImage"] = record.old_image
    dynamodb["SequenceNumber"] = entry.sequence_number
    dynamodb["SizeBytes"] = record.size_bytes
    dynamodb["StreamViewType"] = record.view_type
    shaped: dict[str, Any] = {
        "eventID": event_id(table_id=table_id, entry_id=entry.id),
        "eventName": record.event_name,
        "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE,
        "awsRegion": region,
        "dynamodb": dynamodb,
    }
    if record.by_ttl:
        shaped["userIdentity"] = {"PrincipalId": SERVICE_PRINCIPAL, "Type": "Service"}
    return shaped


def lambda_record(entry: Entry, *, table_id: str, region: str, stream_arn: str) -> dict[str, Any]:
    """An entry as a record of a function's DynamoDB Streams event.

    The same record as GetRecords', but for the source's ARN and the spelling of
    the identity (Lambda's events write `type`/`principalId`).
    """
    shaped = shape(entry, table_id=table_id, region=region)
    if "userIdentity" in shaped:
        shaped["userIdentity"] = {"type": "Service", "principalId": SERVICE_PRINCIPAL}
    shaped["eventSourceARN"] = stream_arn
    return shaped


async def read(
    client: aioredis.Redis,
    table_id: str,
    *,
    generation: tabledata.StreamGeneration,
    start: str,
    count: int,
) -> list[Entry]:
    """Up to `count` of a generation's entries from `start` on, oldest first, none past
    the retention.

    Writes trim the stream; a table nobody writes to keeps its old entries in
    Redis, so reads hold the 24 hours themselves.
    """
    start = max(start, retention_floor(), after(generation.after), key=_start_key)
    raw: Any = await client.xrange(
        tabledata.stream_key(table_id), min=start, max=generation.last or "+", count=count
    )
    return [parse(entry_id, fields) for entry_id, fields in raw]


def _start_key(start: str) -> tuple[int, int, int]:
    """An XRANGE start as a sortable triple: "(<id>" comes just after "<id>"."""
    if start == HORIZON:
        return 0, 0, 0
    ms, seq = id_key(start.lstrip("("))
    return ms, seq, int(start.startswith("("))


async def wait(
    client: aioredis.Redis, table_id: str, *, after_id: str, count: int, block_ms: int
) -> list[Entry]:
    """Entries after `after_id`, waiting up to `block_ms` for the first one to be written."""
    key = tabledata.stream_key(table_id)
    answer: Any = await client.xread({key: after_id}, count=count, block=max(1, block_ms))
    entries: list[Entry] = []
    for _, raw in answer or []:
        entries.extend(parse(entry_id, fields) for entry_id, fields in raw)
    return entries


async def bounds(client: aioredis.Redis, table_id: str) -> Bounds:
    try:
        info = await client.xinfo_stream(tabledata.stream_key(table_id))
    except redis.exceptions.ResponseError:  # no such key: nothing was ever written
        return Bounds(first=None, last_generated=None)
    first = info.get("first-entry")
    last = info.get("last-generated-id")
    return Bounds(
        first=_text(first[0]) if first else None,
        last_generated=_text(last) if last else None,
    )


async def now_id(client: aioredis.Redis) -> str:
    """An entry id for "now" on Redis' clock (the clock XADD numbers entries by)."""
    seconds, micros = await client.time()
    return f"{int(seconds) * 1000 + int(micros) // 1000}-0"


def retention_floor(*, now: float | None = None) -> str:
    """Entries older than this id have left the stream's retention."""
    moment = time.time() if now is None else now
    return f"{int((moment - tabledata.STREAM_RETENTION_SECONDS) * 1000)}-0"


def id_key(entry_id: str) -> tuple[int, int]:
    """A Redis entry id as a sortable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def parse(entry_id: bytes | str, fields: Mapping[Any, Any]) -> Entry:
    """One entry as redis-py returns it (id, fields)."""
    raw = fields.get(b"r", fields.get("r"))
    if raw is None:
        raise ValueError(f"stream entry {entry_id!r} has no record")
    return Entry(id=_text(entry_id), record=tabledata.StreamRecord.from_json(raw))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
