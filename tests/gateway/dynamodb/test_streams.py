"""DynamoDB Streams: boto3's `dynamodbstreams` client against a real gateway.

Writes go through boto3's `dynamodb` client, so what the stream shows is what the
table's writes recorded.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubefn import tabledata
from kubefn_gateway.dynamodb.errors import ExpiredIterator
from kubefn_gateway.dynamodb.streams_api import ITERATOR_SECONDS, StreamsApi
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.dynamodb.conftest import Dynamo, Service, n, s


@dataclasses.dataclass
class Streams(Service):
    """boto3's `dynamodbstreams` client for a running gateway."""

    async def shard(self, arn: str) -> str:
        description = (await self("describe_stream", StreamArn=arn))["StreamDescription"]
        return str(description["Shards"][0]["ShardId"])

    async def iterator(self, arn: str, kind: str, **extra: Any) -> str:
        response = await self(
            "get_shard_iterator",
            StreamArn=arn,
            ShardId=await self.shard(arn),
            ShardIteratorType=kind,
            **extra,
        )
        return str(response["ShardIterator"])

    async def records(self, arn: str, kind: str = "TRIM_HORIZON", **extra: Any) -> list[Any]:
        response = await self("get_records", ShardIterator=await self.iterator(arn, kind, **extra))
        return list(response["Records"])


@pytest.fixture
async def streams(gateway: Gateway) -> AsyncIterator[Streams]:
    yield Streams(gateway=gateway, client=gateway.client("dynamodbstreams"))


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return dataclasses.replace(gateway_settings, ttl_sweep_seconds=3600)  # swept on demand


def stream(view_type: str = "NEW_AND_OLD_IMAGES") -> dict[str, Any]:
    return {"StreamEnabled": True, "StreamViewType": view_type}


async def streamed_table(dynamo: Dynamo, name: str, view_type: str = "NEW_AND_OLD_IMAGES") -> str:
    """A table with a stream; returns the stream's ARN."""
    description = await dynamo.table(name, StreamSpecification=stream(view_type))
    return str(description["LatestStreamArn"])


async def put(dynamo: Dynamo, table: str, key: str, **values: Any) -> None:
    await dynamo("put_item", TableName=table, Item={"pk": s(key), **values})


async def test_list_streams_names_every_table_with_a_stream(
    dynamo: Dynamo, streams: Streams
) -> None:
    arns = {name: await streamed_table(dynamo, name) for name in ("alpha", "beta", "gamma")}
    await dynamo.table("plain")

    listed = (await streams("list_streams"))["Streams"]

    assert listed == [
        {
            "StreamArn": arns[name],
            "TableName": name,
            "StreamLabel": arns[name].rsplit("/", 1)[1],
        }
        for name in ("alpha", "beta", "gamma")
    ]


async def test_list_streams_pages_and_filters(dynamo: Dynamo, streams: Streams) -> None:
    arns = [await streamed_table(dynamo, name) for name in ("alpha", "beta", "gamma")]

    first = await streams("list_streams", Limit=2)
    rest = await streams(
        "list_streams", Limit=2, ExclusiveStartStreamArn=first["LastEvaluatedStreamArn"]
    )
    only = await streams("list_streams", TableName="beta")

    assert [x["StreamArn"] for x in first["Streams"]] == arns[:2]
    assert [x["StreamArn"] for x in rest["Streams"]] == arns[2:]
    assert "LastEvaluatedStreamArn" not in rest
    assert [x["StreamArn"] for x in only["Streams"]] == [arns[1]]


async def test_list_streams_of_a_missing_table(streams: Streams) -> None:
    error = await streams.error("list_streams", TableName="nope")
    assert error["Code"] == "ResourceNotFoundException"


async def test_describe_stream(dynamo: Dynamo, streams: Streams) -> None:
    arn = await streamed_table(dynamo, "orders", view_type="NEW_IMAGE")
    await put(dynamo, "orders", "a")
    first = (await streams.records(arn))[0]["dynamodb"]["SequenceNumber"]

    description = (await streams("describe_stream", StreamArn=arn))["StreamDescription"]

    shard = description.pop("Shards")
    assert description.pop("CreationRequestDateTime").timestamp() == pytest.approx(
        time.time(), abs=60
    )
    assert description == {
        "StreamArn": arn,
        "StreamLabel": arn.rsplit("/", 1)[1],
        "StreamStatus": "ENABLED",
        "StreamViewType": "NEW_IMAGE",
        "TableName": "orders",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    }
    assert shard == [
        {
            "ShardId": shard[0]["ShardId"],
            "SequenceNumberRange": {"StartingSequenceNumber": first},
        }
    ]
    assert shard[0]["ShardId"].startswith("shardId-")


async def test_a_disabled_stream_is_a_closed_shard(dynamo: Dynamo, streams: Streams) -> None:
    arn = await streamed_table(dynamo, "orders")
    await put(dynamo, "orders", "a")
    await put(dynamo, "orders", "b")
    await dynamo("update_table", TableName="orders", StreamSpecification={"StreamEnabled": False})
    await put(dynamo, "orders", "c")  # not recorded

    description = (await streams("describe_stream", StreamArn=arn))["StreamDescription"]
    read = await streams("get_records", ShardIterator=await streams.iterator(arn, "TRIM_HORIZON"))

    numbers = [r["dynamodb"]["SequenceNumber"] for r in read["Records"]]
    assert description["StreamStatus"] == "DISABLED"
    assert description["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert description["Shards"][0]["SequenceNumberRange"] == {
        "StartingSequenceNumber": numbers[0],
        "EndingSequenceNumber": numbers[-1],
    }
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read["Records"]] == ["a", "b"]
    assert "NextShardIterator" in read  # it read records: the next call finds the end
    end = await streams("get_records", ShardIterator=read["NextShardIterator"])
    assert end["Records"] == []
    assert "NextShardIterator" not in end


@pytest.mark.parametrize(
    ("view_type", "images"),
    [
        pytest.param("KEYS_ONLY", (), id="keys-only"),
        pytest.param("NEW_IMAGE", ("NewImage",), id="new-image"),
        pytest.param("OLD_IMAGE", ("OldImage",), id="old-image"),
        pytest.param("NEW_AND_OLD_IMAGES", ("NewImage", "OldImage"), id="new-and-old"),
    ],
)
async def test_records_of_insert_modify_remove(
    dynamo: Dynamo, streams: Streams, view_type: str, images: tuple[str, ...]
) -> None:
    arn = await streamed_table(dynamo, "orders", view_type=view_type)
    v1 = {"pk": s("a"), "qty": n(1)}
    v2 = {"pk": s("a"), "qty": n(2)}
    await dynamo("put_item", TableName="orders", Item=v1)
    await dynamo("put_item", TableName="orders", Item=v2)
    await dynamo("delete_item", TableName="orders", Key={"pk": s("a")})

    records = await streams.records(arn)

    expected_images = [
        {"NewImage": v1},
        {"NewImage": v2, "OldImage": v1},
        {"OldImage": v2},
    ]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record, full in zip(records, expected_images, strict=True):
        change = record["dynamodb"]
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        assert len(record["eventID"]) == 32
        assert "userIdentity" not in record
        assert change["Keys"] == {"pk": s("a")}
        assert change["StreamViewType"] == view_type
        assert change["SizeBytes"] > 0
        assert change["ApproximateCreationDateTime"].timestamp() == pytest.approx(
            time.time(), abs=60
        )
        assert {k: change[k] for k in ("NewImage", "OldImage") if k in change} == {
            k: v for k, v in full.items() if k in images
        }
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 3


async def test_iterator_types(dynamo: Dynamo, streams: Streams) -> None:
    arn = await streamed_table(dynamo, "orders")
    for key in ("a", "b", "c"):
        await put(dynamo, "orders", key)
    numbers = [r["dynamodb"]["SequenceNumber"] for r in await streams.records(arn)]

    def keys(records: list[Any]) -> list[str]:
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]

    at = await streams.records(arn, "AT_SEQUENCE_NUMBER", SequenceNumber=numbers[1])
    after = await streams.records(arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=numbers[1])
    latest = await streams.iterator(arn, "LATEST")
    await put(dynamo, "orders", "d")
    since_latest = await streams("get_records", ShardIterator=latest)

    assert keys(at) == ["b", "c"]
    assert keys(after) == ["c"]
    assert keys(since_latest["Records"]) == ["d"]


async def test_next_shard_iterator_continues_and_waits_for_more(
    dynamo: Dynamo, streams: Streams
) -> None:
    arn = await streamed_table(dynamo, "orders")
    for key in ("a", "b", "c"):
        await put(dynamo, "orders", key)

    first = await streams(
        "get_records", ShardIterator=await streams.iterator(arn, "TRIM_HORIZON"), Limit=2
    )
    second = await streams("get_records", ShardIterator=first["NextShardIterator"], Limit=2)
    empty = await streams("get_records", ShardIterator=second["NextShardIterator"])
    await put(dynamo, "orders", "d")
    later = await streams("get_records", ShardIterator=empty["NextShardIterator"])

    def keys(page: dict[str, Any]) -> list[str]:
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]

    assert (keys(first), keys(second), keys(empty), keys(later)) == (
        ["a", "b"],
        ["c"],
        [],
        ["d"],
    )


async def test_a_ttl_deletion_is_done_by_the_service(
    gateway: Gateway, dynamo: Dynamo, streams: Streams
) -> None:
    arn = await streamed_table(dynamo, "sessions")
    await dynamo(
        "update_time_to_live",
        TableName="sessions",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    await put(dynamo, "sessions", "old", expires=n(int(time.time()) - 60))
    await put(dynamo, "sessions", "gone")
    await dynamo("delete_item", TableName="sessions", Key={"pk": s("gone")})
    await gateway.platform.ttl.sweep()

    records = await streams.records(arn)

    removals = {
        r["dynamodb"]["Keys"]["pk"]["S"]: r.get("userIdentity")
        for r in records
        if r["eventName"] == "REMOVE"
    }
    assert removals == {
        "gone": None,
        "old": {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"},
    }


async def test_unknown_streams_and_shards(dynamo: Dynamo, streams: Streams) -> None:
    arn = await streamed_table(dynamo, "orders")
    other_label = arn.rsplit("/", 1)[0] + "/stream/2000-01-01T00:00:00.000"
    missing_table = arn.replace("table/orders/", "table/nope/")

    assert (await streams.error("describe_stream", StreamArn=other_label))[
        "Code"
    ] == "ResourceNotFoundException"
    assert (await streams.error("describe_stream", StreamArn=missing_table))[
        "Code"
    ] == "ResourceNotFoundException"
    wrong_shard = await streams.error(
        "get_shard_iterator",
        StreamArn=arn,
        ShardId="shardId-00000000000000000000-00000000",
        ShardIteratorType="LATEST",
    )
    assert wrong_shard["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        pytest.param(
            {"ShardIteratorType": "AT_SEQUENCE_NUMBER"}, "ValidationException", id="no-seq"
        ),
        pytest.param(
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": "1" * 20 + "x"},
            "ValidationException",
            id="bad-seq",
        ),
        pytest.param(
            {
                "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                "SequenceNumber": tabledata.sequence_number(
                    f"{int((time.time() - 25 * 3600) * 1000)}-0"
                ),
            },
            "TrimmedDataAccessException",
            id="older-than-retention",
        ),
    ],
)
async def test_get_shard_iterator_refuses(
    dynamo: Dynamo, streams: Streams, params: dict[str, Any], code: str
) -> None:
    arn = await streamed_table(dynamo, "orders")
    error = await streams.error(
        "get_shard_iterator", StreamArn=arn, ShardId=await streams.shard(arn), **params
    )
    assert error["Code"] == code


async def test_get_records_refuses_a_malformed_iterator_and_limit(
    dynamo: Dynamo, streams: Streams
) -> None:
    arn = await streamed_table(dynamo, "orders")
    iterator = await streams.iterator(arn, "TRIM_HORIZON")

    malformed = await streams.error("get_records", ShardIterator="not-an-iterator")
    too_many = await streams.error("get_records", ShardIterator=iterator, Limit=1001)

    assert malformed["Code"] == "ValidationException"
    assert too_many["Code"] == "ValidationException"


async def test_an_iterator_expires_after_15_minutes(
    gateway: Gateway, dynamo: Dynamo, streams: Streams
) -> None:
    """The API's clock moved forward, with the gateway's own Redis and tables."""
    arn = await streamed_table(dynamo, "orders")
    now = [time.time()]
    platform = gateway.platform
    api = StreamsApi(
        redis=platform.redis,
        tables=platform.tables,
        settings=platform.settings,
        clock=lambda: now[0],
    )
    shard = (await api.describe_stream({"StreamArn": arn}))["StreamDescription"]["Shards"][0]
    iterator = await api.get_shard_iterator(
        {"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}
    )

    now[0] += ITERATOR_SECONDS - 1
    fresh = await api.get_records({"ShardIterator": iterator["ShardIterator"]})
    now[0] += 2
    with pytest.raises(ExpiredIterator):
        await api.get_records({"ShardIterator": iterator["ShardIterator"]})
    renewed = await api.get_records({"ShardIterator": fresh["NextShardIterator"]})

    assert renewed["Records"] == []


async def test_get_records_answers_at_most_one_megabyte(dynamo: Dynamo, streams: Streams) -> None:
    arn = await streamed_table(dynamo, "blobs", view_type="NEW_IMAGE")
    for key in ("a", "b", "c", "d"):
        await put(dynamo, "blobs", key, data=s("x" * 300_000))

    first = await streams("get_records", ShardIterator=await streams.iterator(arn, "TRIM_HORIZON"))
    second = await streams("get_records", ShardIterator=first["NextShardIterator"])

    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in first["Records"]] == ["a", "b", "c"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in second["Records"]] == ["d"]


async def test_records_past_retention_are_not_read_even_without_new_writes(
    dynamo: Dynamo, streams: Streams
) -> None:
    """Writes trim the stream; a quiet table's old records are still not served."""
    arn = await streamed_table(dynamo, "quiet")
    table_id = "default/quiet"
    old = tabledata.StreamRecord(
        event_name="INSERT", keys={"pk": s("old")}, view_type="NEW_AND_OLD_IMAGES",
        at=time.time() - 25 * 3600, size_bytes=5, new_image={"pk": s("old")},
    )  # fmt: skip
    stale_id = f"{int((time.time() - 25 * 3600) * 1000)}-0"
    await dynamo.gateway.redis.xadd(
        tabledata.stream_key(table_id), {"r": old.to_json()}, id=stale_id
    )
    await put(dynamo, "quiet", "new")  # trims approximately (MINID ~): the old entry stays
    assert await dynamo.gateway.redis.xlen(tabledata.stream_key(table_id)) == 2
    records = await streams.records(arn)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["new"]
