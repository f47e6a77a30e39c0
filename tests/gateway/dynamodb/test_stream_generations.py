"""A re-enabled stream is a new stream; a deleted table's stream outlives it by 24 hours.

boto3's `dynamodb` and `dynamodbstreams` clients against a real gateway, as
DynamoDB behaves: disabling closes a stream (readable, DISABLED), enabling
again begins another (new label and ARN), and DeleteTable leaves the stream
readable for a day.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubefn import tabledata
from kubefn_gateway.dynamodb.errors import ResourceNotFound
from kubefn_gateway.dynamodb.streams_api import StreamsApi
from tests.gateway.conftest import Gateway
from tests.gateway.dynamodb.conftest import Dynamo, s
from tests.gateway.dynamodb.test_streams import Streams, put, stream, streamed_table

TABLE_ID = "default/orders"


@pytest.fixture
async def streams(gateway: Gateway) -> AsyncIterator[Streams]:
    yield Streams(gateway=gateway, client=gateway.client("dynamodbstreams"))


def keys(records: list[Any]) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]


async def set_stream(dynamo: Dynamo, enabled: bool) -> str | None:
    spec = stream() if enabled else {"StreamEnabled": False}
    await dynamo("update_table", TableName="orders", StreamSpecification=spec)
    table = (await dynamo("describe_table", TableName="orders"))["Table"]
    return table.get("LatestStreamArn")


async def test_enabling_again_begins_a_new_stream(dynamo: Dynamo, streams: Streams) -> None:
    old = await streamed_table(dynamo, "orders")
    await put(dynamo, "orders", "a")
    await set_stream(dynamo, False)
    await put(dynamo, "orders", "between")  # no stream: recorded nowhere
    new = await set_stream(dynamo, True)
    await put(dynamo, "orders", "b")

    assert new is not None and new != old
    assert keys(await streams.records(old)) == ["a"]
    assert keys(await streams.records(new)) == ["b"]


async def test_the_closed_stream_is_described_disabled(dynamo: Dynamo, streams: Streams) -> None:
    old = await streamed_table(dynamo, "orders")
    await put(dynamo, "orders", "a")
    await set_stream(dynamo, False)
    new = await set_stream(dynamo, True)
    await put(dynamo, "orders", "b")

    closed = (await streams("describe_stream", StreamArn=old))["StreamDescription"]
    current = (await streams("describe_stream", StreamArn=new))["StreamDescription"]

    (a,) = await streams.records(old)
    assert (closed["StreamStatus"], current["StreamStatus"]) == ("DISABLED", "ENABLED")
    assert closed["Shards"][0]["SequenceNumberRange"] == {
        "StartingSequenceNumber": a["dynamodb"]["SequenceNumber"],
        "EndingSequenceNumber": a["dynamodb"]["SequenceNumber"],
    }
    assert closed["Shards"][0]["ShardId"] != current["Shards"][0]["ShardId"]
    assert "EndingSequenceNumber" not in current["Shards"][0]["SequenceNumberRange"]


async def test_list_streams_lists_the_closed_and_the_new_stream(
    dynamo: Dynamo, streams: Streams
) -> None:
    old = await streamed_table(dynamo, "orders")
    await set_stream(dynamo, False)
    new = await set_stream(dynamo, True)

    listed = (await streams("list_streams"))["Streams"]
    only = (await streams("list_streams", TableName="orders"))["Streams"]

    assert [x["StreamArn"] for x in listed] == [old, new]
    assert only == listed


async def test_an_iterator_of_the_closed_stream_ends_where_it_closed(
    dynamo: Dynamo, streams: Streams
) -> None:
    old = await streamed_table(dynamo, "orders")
    await put(dynamo, "orders", "a")
    latest = await streams.iterator(old, "LATEST")
    await put(dynamo, "orders", "b")
    await set_stream(dynamo, False)
    await set_stream(dynamo, True)
    await put(dynamo, "orders", "c")

    read = await streams("get_records", ShardIterator=latest)
    end = await streams("get_records", ShardIterator=read["NextShardIterator"])

    assert keys(read["Records"]) == ["b"]
    assert end["Records"] == []
    assert "NextShardIterator" not in end


async def test_a_deleted_tables_stream_stays_readable(dynamo: Dynamo, streams: Streams) -> None:
    arn = await streamed_table(dynamo, "orders")
    await put(dynamo, "orders", "a")
    await dynamo("delete_table", TableName="orders")

    description = (await streams("describe_stream", StreamArn=arn))["StreamDescription"]
    listed = (await streams("list_streams"))["Streams"]
    records = await streams.records(arn)

    assert description["StreamStatus"] == "DISABLED"
    assert description["TableName"] == "orders"
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert [x["StreamArn"] for x in listed] == [arn]
    assert keys(records) == ["a"]
    assert (await dynamo.error("describe_table", TableName="orders"))[
        "Code"
    ] == "ResourceNotFoundException"


async def test_a_table_created_again_has_a_new_stream_without_old_records(
    dynamo: Dynamo, streams: Streams
) -> None:
    old = await streamed_table(dynamo, "orders")
    await put(dynamo, "orders", "old")
    await dynamo("delete_table", TableName="orders")
    new = await streamed_table(dynamo, "orders")
    await put(dynamo, "orders", "new")

    assert new != old
    assert keys(await streams.records(new)) == ["new"]
    assert keys(await streams.records(old)) == ["old"]
    assert [x["StreamArn"] for x in (await streams("list_streams"))["Streams"]] == [old, new]
    assert await dynamo.gateway.redis.ttl(tabledata.stream_key(TABLE_ID)) == -1  # kept again


async def test_deletion_keeps_only_the_stream_for_24_hours(
    gateway: Gateway, dynamo: Dynamo
) -> None:
    await streamed_table(dynamo, "orders")
    await put(dynamo, "orders", "a")
    redis = gateway.redis

    await dynamo("delete_table", TableName="orders")

    left = sorted([k async for k in redis.scan_iter(match="kubefn:tbl:{default/orders}:*")])
    assert left == sorted([tabledata.stream_key(TABLE_ID), tabledata.generations_key(TABLE_ID)])
    for key in left:
        assert 24 * 3600 - 60 < await redis.ttl(key) <= 24 * 3600
    assert await tabledata.deleted_streams(redis, now=time.time()) == [TABLE_ID]


async def test_a_table_without_a_stream_leaves_nothing(gateway: Gateway, dynamo: Dynamo) -> None:
    await dynamo.table("orders")
    await dynamo("put_item", TableName="orders", Item={"pk": s("a")})

    await dynamo("delete_table", TableName="orders")

    assert [k async for k in gateway.redis.scan_iter(match="kubefn:tbl:*")] == []


async def test_a_closed_stream_is_gone_after_24_hours(gateway: Gateway, dynamo: Dynamo) -> None:
    """The API's clock moved a day on, with the gateway's own Redis and tables."""
    old = await streamed_table(dynamo, "orders")
    await set_stream(dynamo, False)
    new = await set_stream(dynamo, True)
    now = [time.time() + 24 * 3600 + 1]
    platform = gateway.platform
    api = StreamsApi(
        redis=platform.redis,
        tables=platform.tables,
        settings=platform.settings,
        clock=lambda: now[0],
    )

    listed = await api.list_streams({})

    assert [x["StreamArn"] for x in listed["Streams"]] == [new]
    with pytest.raises(ResourceNotFound):
        await api.describe_stream({"StreamArn": old})
