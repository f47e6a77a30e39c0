"""DynamoDB Streams' API (2012-08-10), so boto3's `dynamodbstreams` client works unchanged.

Each table's stream is one shard that stays open while the stream is enabled. A
shard iterator is a position (see streams.py) with an expiry, carried by the
client as an opaque token, so any gateway replica continues any iterator.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from kubefn import tabledata
from kubefn_gateway.awsjson import JsonProtocol, Operation
from kubefn_gateway.dynamodb import requests, streams
from kubefn_gateway.dynamodb.errors import (
    ExpiredIterator,
    InternalServerError,
    ResourceNotFound,
    TrimmedDataAccess,
    ValidationError,
)
from kubefn_gateway.dynamodb.tables import Table, TableCatalog
from kubefn_gateway.settings import GatewaySettings

TARGET_PREFIX = "DynamoDBStreams_20120810"
ITERATOR_SECONDS = 15 * 60
RECORDS_LIMIT_MAX = 1000
RECORDS_BYTES_MAX = 1 << 20
"""GetRecords answers at most 1 MB of records, as DynamoDB Streams does."""
STREAMS_LIMIT_MAX = 100
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")


@dataclass(frozen=True)
class _Stream:
    table: Table
    label: str
    arn: str
    created: float | None

    @property
    def enabled(self) -> bool:
        return self.table.stream_view_type is not None


@dataclass(frozen=True)
class _Iterator:
    table_id: str
    label: str
    position: str
    expires: float

    def encode(self) -> str:
        body = json.dumps(
            {"t": self.table_id, "l": self.label, "p": self.position, "x": self.expires},
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(body.encode()).decode()

    @classmethod
    def decode(cls, token: Any) -> _Iterator:
        if not isinstance(token, str) or not token:
            raise ValidationError(
                "1 validation error detected: Value null at 'shardIterator' failed to satisfy "
                "constraint: Member must not be null"
            )
        try:
            body = json.loads(base64.urlsafe_b64decode(token.encode()))
            return cls(
                table_id=str(body["t"]),
                label=str(body["l"]),
                position=str(body["p"]),
                expires=float(body["x"]),
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise ValidationError(f"Invalid ShardIterator: {token[:64]}") from None


class StreamsApi:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        tables: TableCatalog,
        settings: GatewaySettings,
        clock: Callable[[], float] = time.time,  # for tests: iterator expiry
    ) -> None:
        self._redis = redis
        self._tables = tables
        self._namespace = settings.namespace
        self._region = settings.region
        self._account_id = settings.account_id
        self._clock = clock

    def operations(self) -> Mapping[str, Operation]:
        return {
            "ListStreams": self.list_streams,
            "DescribeStream": self.describe_stream,
            "GetShardIterator": self.get_shard_iterator,
            "GetRecords": self.get_records,
        }

    async def list_streams(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = requests.positive_int(body, "Limit", maximum=STREAMS_LIMIT_MAX) or STREAMS_LIMIT_MAX
        if body.get("TableName") is not None:
            name = requests.table_name(body)
            candidates = [requests.find_table(self._tables, self._namespace, name)]
        else:
            candidates = [t for t in self._tables.all() if t.namespace == self._namespace]
        found: list[_Stream] = []
        for table in candidates:
            stream = await self._stream_of(table)
            if stream is not None and (stream.enabled or await self._holds_records(stream)):
                found.append(stream)
        found.sort(key=lambda s: s.arn)
        start = body.get("ExclusiveStartStreamArn")
        if isinstance(start, str) and start:
            found = [s for s in found if s.arn > start]
        page = found[:limit]
        result: dict[str, Any] = {
            "Streams": [
                {"StreamArn": s.arn, "TableName": s.table.name, "StreamLabel": s.label}
                for s in page
            ]
        }
        if len(found) > limit:
            result["LastEvaluatedStreamArn"] = page[-1].arn
        return result

    async def describe_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        stream = await self._find(body.get("StreamArn"))
        requests.positive_int(body, "Limit", maximum=STREAMS_LIMIT_MAX)
        bounds = await streams.bounds(self._redis, stream.table.id)
        view_type = stream.table.stream_view_type or await self._last_view_type(stream)
        description: dict[str, Any] = {
            "StreamArn": stream.arn,
            "StreamLabel": stream.label,
            "StreamStatus": "ENABLED" if stream.enabled else "DISABLED",
        }
        if view_type is not None:
            description["StreamViewType"] = view_type
        if stream.created is not None:
            description["CreationRequestDateTime"] = stream.created
        description["TableName"] = stream.table.name
        description["KeySchema"] = stream.table.key.describe()
        shard_id = streams.shard_id(table_id=stream.table.id, label=stream.label)
        if body.get("ExclusiveStartShardId") == shard_id:
            description["Shards"] = []
            return {"StreamDescription": description}
        numbers = {"StartingSequenceNumber": self._starting_sequence(stream, bounds)}
        if not stream.enabled:
            last = bounds.last_generated
            numbers["EndingSequenceNumber"] = (
                tabledata.sequence_number(last) if last else numbers["StartingSequenceNumber"]
            )
        description["Shards"] = [{"ShardId": shard_id, "SequenceNumberRange": numbers}]
        return {"StreamDescription": description}

    async def get_shard_iterator(self, body: dict[str, Any]) -> dict[str, Any]:
        stream = await self._find(body.get("StreamArn"))
        shard_id = body.get("ShardId")
        if not isinstance(shard_id, str) or not shard_id:
            raise ValidationError(
                "1 validation error detected: Value null at 'shardId' failed to satisfy "
                "constraint: Member must not be null"
            )
        if shard_id != streams.shard_id(table_id=stream.table.id, label=stream.label):
            raise ResourceNotFound(
                f"Requested resource not found: Shard does not exist: {shard_id}"
            )
        if body.get("ShardIteratorType") is None:
            raise ValidationError(
                "1 validation error detected: Value null at 'shardIteratorType' failed to "
                "satisfy constraint: Member must not be null"
            )
        kind = requests.choice(body, "ShardIteratorType", ITERATOR_TYPES, default="")
        bounds = await streams.bounds(self._redis, stream.table.id)
        if kind == "TRIM_HORIZON":
            position = streams.HORIZON
        elif kind == "LATEST":
            last = bounds.last_generated or await streams.now_id(self._redis)
            position = streams.after(last)
        else:
            entry_id = self._sequence(body.get("SequenceNumber"), kind=kind)
            self._check_kept(entry_id, stream=stream)
            position = streams.after(entry_id) if kind == "AFTER_SEQUENCE_NUMBER" else entry_id
        token = _Iterator(
            table_id=stream.table.id,
            label=stream.label,
            position=position,
            expires=self._clock() + ITERATOR_SECONDS,
        )
        return {"ShardIterator": token.encode()}

    async def get_records(self, body: dict[str, Any]) -> dict[str, Any]:
        iterator = _Iterator.decode(body.get("ShardIterator"))
        limit = requests.positive_int(body, "Limit", maximum=RECORDS_LIMIT_MAX) or RECORDS_LIMIT_MAX
        now = self._clock()
        if now > iterator.expires:
            created = iterator.expires - ITERATOR_SECONDS
            raise ExpiredIterator(
                f"Iterator expired. The iterator was created at time {_iso(created)} "
                f"while right now it is {_iso(now)}."
            )
        table = self._tables.get(iterator.table_id)
        stream = await self._stream_of(table) if table is not None else None
        if stream is None or stream.label != iterator.label:
            raise ResourceNotFound(
                f"Requested resource not found: Stream for iterator of {iterator.table_id} "
                "no longer exists"
            )
        if iterator.position != streams.HORIZON:
            self._check_kept(iterator.position.lstrip("("), stream=stream)
        entries = await streams.read(
            self._redis, stream.table.id, start=iterator.position, count=limit
        )
        records: list[dict[str, Any]] = []
        size = 0
        for count, entry in enumerate(entries):
            record = streams.shape(entry, table_id=stream.table.id, region=self._region)
            size += len(json.dumps(record, separators=(",", ":")))
            if size > RECORDS_BYTES_MAX and count:
                entries = entries[:count]  # the rest on the next call
                break
            records.append(record)
        result: dict[str, Any] = {"Records": records}
        position = streams.after(entries[-1].id) if entries else iterator.position
        if stream.enabled or entries:
            next_iterator = _Iterator(
                table_id=stream.table.id,
                label=stream.label,
                position=position,
                expires=now + ITERATOR_SECONDS,
            )
            result["NextShardIterator"] = next_iterator.encode()
        return result

    async def _find(self, arn: Any) -> _Stream:
        """The stream an ARN names; DynamoDB's errors for a malformed or unknown one."""
        if not isinstance(arn, str) or not arn:
            raise ValidationError(
                "1 validation error detected: Value null at 'streamArn' failed to satisfy "
                "constraint: Member must not be null"
            )
        _, _, resource = arn.partition(":table/")
        name, marker, label = resource.partition("/stream/")
        if not arn.startswith("arn:") or not name or not marker or not label:
            raise ValidationError(f"Invalid StreamArn: {arn}")
        table = self._tables.get(tabledata.table_id(self._namespace, name))
        stream = await self._stream_of(table) if table is not None else None
        if stream is None or stream.label != label:
            raise ResourceNotFound(f"Requested resource not found: Stream: {arn} not found")
        return stream

    async def _stream_of(self, table: Table) -> _Stream | None:
        stats = await tabledata.stats(self._redis, table.id)
        if stats.stream_label is None:
            return None
        arn = streams.stream_arn(
            region=self._region,
            account_id=self._account_id,
            table_name=table.name,
            label=stats.stream_label,
        )
        return _Stream(table=table, label=stats.stream_label, arn=arn, created=stats.created)

    async def _holds_records(self, stream: _Stream) -> bool:
        return bool(await self._redis.exists(tabledata.stream_key(stream.table.id)))

    async def _last_view_type(self, stream: _Stream) -> str | None:
        """A disabled stream's view type: the one its last record was written with."""
        raw: Any = await self._redis.xrevrange(tabledata.stream_key(stream.table.id), count=1)
        if not raw:
            return None
        return streams.parse(*raw[0]).record.view_type

    def _starting_sequence(self, stream: _Stream, bounds: streams.Bounds) -> str:
        if bounds.first is not None:
            return tabledata.sequence_number(bounds.first)
        if bounds.last_generated is not None:  # every record trimmed: the next one
            ms, seq = streams.id_key(bounds.last_generated)
            return tabledata.sequence_number(f"{ms}-{seq + 1}")
        created = stream.created if stream.created is not None else self._clock()
        return tabledata.sequence_number(f"{int(created * 1000)}-0")

    def _sequence(self, value: Any, *, kind: str) -> str:
        if value is None:
            raise ValidationError(f"SequenceNumber is required for ShardIteratorType {kind}")
        try:
            return tabledata.entry_id(str(value))
        except ValueError:
            raise ValidationError(f"Invalid SequenceNumber: {value}") from None

    def _check_kept(self, entry_id: str, *, stream: _Stream) -> None:
        """TrimmedDataAccess for a position older than the stream's retention.

        Writers trim only by age, so every record after a position within the
        retention is still there; records before it may have gone.
        """
        if streams.id_key(entry_id) < streams.id_key(streams.retention_floor(now=self._clock())):
            raise TrimmedDataAccess(
                f"The sequence number {tabledata.sequence_number(entry_id)} of {stream.arn} "
                f"is older than the stream's retention of "
                f"{tabledata.STREAM_RETENTION_SECONDS // 3600} hours"
            )


def register(
    protocol: JsonProtocol,
    *,
    redis: aioredis.Redis,
    tables: TableCatalog,
    settings: GatewaySettings,
) -> StreamsApi:
    api = StreamsApi(redis=redis, tables=tables, settings=settings)
    protocol.register(TARGET_PREFIX, api.operations(), internal_error=InternalServerError)
    return api


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
