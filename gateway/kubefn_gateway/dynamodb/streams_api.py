"""DynamoDB Streams' API (2012-08-10), so boto3's `dynamodbstreams` client works unchanged.

Each stream is one shard that stays open while the stream is enabled. Disabling
a table's stream closes it; enabling it again begins a new stream (a new label
and ARN). A closed stream, a deleted table's too, is read and listed for 24 hours
(kubefn.tabledata's stream generations). A shard iterator is a position (see
streams.py) with an expiry, carried by the client as an opaque token, so any
gateway replica continues any iterator.
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
from kubefn_gateway.dynamodb.tables import TableCatalog
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
    table_id: str
    table_name: str
    generation: tabledata.StreamGeneration
    arn: str
    served: bool  # its table is (still) served

    @property
    def label(self) -> str:
        return self.generation.label

    @property
    def enabled(self) -> bool:
        return self.served and self.generation.enabled


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
        found: list[_Stream] = []
        if body.get("TableName") is not None:
            name = requests.table_name(body)
            found = await self._streams_of(tabledata.table_id(self._namespace, name))
            if not found:  # a deleted table's streams are listed, a missing table refused
                requests.find_table(self._tables, self._namespace, name)
        else:
            served = [t.id for t in self._tables.all() if t.namespace == self._namespace]
            deleted = await tabledata.deleted_streams(self._redis, now=self._clock())
            prefix = tabledata.table_id(self._namespace, "")
            for table_id in sorted({*served, *(t for t in deleted if t.startswith(prefix))}):
                found += await self._streams_of(table_id)
        found.sort(key=lambda s: s.arn)
        start = body.get("ExclusiveStartStreamArn")
        if isinstance(start, str) and start:
            found = [s for s in found if s.arn > start]
        page = found[:limit]
        result: dict[str, Any] = {
            "Streams": [
                {"StreamArn": s.arn, "TableName": s.table_name, "StreamLabel": s.label}
                for s in page
            ]
        }
        if len(found) > limit:
            result["LastEvaluatedStreamArn"] = page[-1].arn
        return result

    async def describe_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        stream = await self._find(body.get("StreamArn"))
        requests.positive_int(body, "Limit", maximum=STREAMS_LIMIT_MAX)
        generation = stream.generation
        description: dict[str, Any] = {
            "StreamArn": stream.arn,
            "StreamLabel": stream.label,
            "StreamStatus": "ENABLED" if stream.enabled else "DISABLED",
        }
        if generation.view_type:
            description["StreamViewType"] = generation.view_type
        description["CreationRequestDateTime"] = generation.created
        description["TableName"] = stream.table_name
        description["KeySchema"] = [dict(k) for k in generation.key_schema]
        shard_id = streams.shard_id(table_id=stream.table_id, label=stream.label)
        if body.get("ExclusiveStartShardId") == shard_id:
            description["Shards"] = []
            return {"StreamDescription": description}
        numbers = {"StartingSequenceNumber": await self._starting_sequence(stream)}
        if not stream.enabled:
            last = generation.last or generation.after
            numbers["EndingSequenceNumber"] = (
                tabledata.sequence_number(last)
                if streams.id_key(last) > streams.id_key(generation.after)  # it wrote records
                else numbers["StartingSequenceNumber"]
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
        if shard_id != streams.shard_id(table_id=stream.table_id, label=stream.label):
            raise ResourceNotFound(
                f"Requested resource not found: Shard does not exist: {shard_id}"
            )
        if body.get("ShardIteratorType") is None:
            raise ValidationError(
                "1 validation error detected: Value null at 'shardIteratorType' failed to "
                "satisfy constraint: Member must not be null"
            )
        kind = requests.choice(body, "ShardIteratorType", ITERATOR_TYPES, default="")
        generation = stream.generation
        if kind == "TRIM_HORIZON":
            position = streams.HORIZON
        elif kind == "LATEST":
            last = generation.last
            if last is None:
                bounds = await streams.bounds(self._redis, stream.table_id)
                last = bounds.last_generated or await streams.now_id(self._redis)
            position = streams.after(last)
        else:
            entry_id = self._sequence(body.get("SequenceNumber"), kind=kind)
            self._check_kept(entry_id, stream=stream)
            position = streams.after(entry_id) if kind == "AFTER_SEQUENCE_NUMBER" else entry_id
        token = _Iterator(
            table_id=stream.table_id,
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
        stream = await self._stream(iterator.table_id, iterator.label)
        if stream is None:
            raise ResourceNotFound(
                f"Requested resource not found: Stream for iterator of {iterator.table_id} "
                "no longer exists"
            )
        if iterator.position != streams.HORIZON:
            self._check_kept(iterator.position.lstrip("("), stream=stream)
        entries = await streams.read(
            self._redis,
            stream.table_id,
            generation=stream.generation,
            start=iterator.position,
            count=limit,
        )
        records: list[dict[str, Any]] = []
        size = 0
        for count, entry in enumerate(entries):
            record = streams.shape(entry, table_id=stream.table_id, region=self._region)
            size += len(json.dumps(record, separators=(",", ":")))
            if size > RECORDS_BYTES_MAX and count:
                entries = entries[:count]  # the rest on the next call
                break
            records.append(record)
        result: dict[str, Any] = {"Records": records}
        position = streams.after(entries[-1].id) if entries else iterator.position
        if stream.enabled or entries:
            next_iterator = _Iterator(
                table_id=stream.table_id,
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
        stream = await self._stream(tabledata.table_id(self._namespace, name), label)
        if stream is None:
            raise ResourceNotFound(f"Requested resource not found: Stream: {arn} not found")
        return stream

    async def _stream(self, table_id: str, label: str) -> _Stream | None:
        return next((s for s in await self._streams_of(table_id) if s.label == label), None)

    async def _streams_of(self, table_id: str) -> list[_Stream]:
        """A table's streams still readable: the enabled one, those closed within 24 hours."""
        now = self._clock()
        served = self._tables.get(table_id) is not None
        name = table_id.partition("/")[2]
        return [
            _Stream(
                table_id=table_id,
                table_name=name,
                generation=generation,
                arn=streams.stream_arn(
                    region=self._region,
                    account_id=self._account_id,
                    table_name=name,
                    label=generation.label,
                ),
                served=served,
            )
            for generation in await tabledata.stream_generations(self._redis, table_id)
            if not generation.expired(now=now)
        ]

    async def _starting_sequence(self, stream: _Stream) -> str:
        """The first record the stream holds; without one, the number the next would get."""
        generation = stream.generation
        entries = await streams.read(
            self._redis, stream.table_id, generation=generation, start=streams.HORIZON, count=1
        )
        if entries:
            return entries[0].sequence_number
        ms, seq = max(
            streams.id_key(generation.after),
            streams.id_key(streams.retention_floor(now=self._clock())),
            (int(generation.created * 1000), 0),
        )
        return tabledata.sequence_number(f"{ms}-{seq + 1}")

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
