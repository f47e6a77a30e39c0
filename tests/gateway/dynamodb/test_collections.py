"""Item collections: a table with a local secondary index holds at most so many bytes
under one partition key (10 GB in DynamoDB; a small limit here)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import running_gateway
from tests.gateway.dynamodb.conftest import Dynamo, n, s

LIMIT = 1000
BLOB = "x" * 300  # each item is a little over 300 bytes


@pytest.fixture
async def dynamo(
    gateway_settings: GatewaySettings, redis_client: aioredis.Redis
) -> AsyncIterator[Dynamo]:
    settings = dataclasses.replace(gateway_settings, item_collection_bytes_max=LIMIT)
    async with running_gateway(settings, redis_client) as gateway:
        yield Dynamo(gateway=gateway, client=gateway.client("dynamodb"))


async def with_lsi(dynamo: Dynamo, name: str) -> None:
    await dynamo.table(
        name,
        range_key=("sk", "N"),
        definitions={"rank": "N"},
        LocalSecondaryIndexes=[
            {
                "IndexName": "byRank",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def item(pk: str, sk: int) -> dict:
    return {"pk": s(pk), "sk": n(sk), "rank": n(sk), "body": s(BLOB)}


async def test_a_full_collection_refuses_growth_and_nothing_else(dynamo: Dynamo) -> None:
    await with_lsi(dynamo, "limited")
    for sk in range(3):
        await dynamo("put_item", TableName="limited", Item=item("a", sk))
    error = await dynamo.error("put_item", TableName="limited", Item=item("a", 3))
    assert error["Code"] == "ItemCollectionSizeLimitExceededException"
    assert isinstance(
        error["exception"], dynamo.client.exceptions.ItemCollectionSizeLimitExceededException
    )
    assert "Item" not in await dynamo(
        "get_item", TableName="limited", Key={"pk": s("a"), "sk": n(3)}
    )
    await dynamo("put_item", TableName="limited", Item=item("b", 0))  # another collection
    await dynamo(  # shrinking an item of the full collection is fine
        "update_item",
        TableName="limited",
        Key={"pk": s("a"), "sk": n(0)},
        UpdateExpression="REMOVE body",
    )
    await dynamo("put_item", TableName="limited", Item=item("a", 3))  # room again


async def test_deleting_items_makes_room(dynamo: Dynamo) -> None:
    await with_lsi(dynamo, "room")
    for sk in range(3):
        await dynamo("put_item", TableName="room", Item=item("a", sk))
    await dynamo("delete_item", TableName="room", Key={"pk": s("a"), "sk": n(1)})
    await dynamo("put_item", TableName="room", Item=item("a", 9))


async def test_a_transaction_names_the_action_that_would_overflow(dynamo: Dynamo) -> None:
    await with_lsi(dynamo, "txn")
    for sk in range(3):
        await dynamo("put_item", TableName="txn", Item=item("a", sk))
    error = await dynamo.error(
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": "txn", "Item": item("b", 0)}},
            {"Put": {"TableName": "txn", "Item": item("a", 5)}},
        ],
    )
    reasons = error["response"]["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ItemCollectionSizeLimitExceeded"]
    assert "Item" not in await dynamo("get_item", TableName="txn", Key={"pk": s("b"), "sk": n(0)})


async def test_tables_without_a_local_index_have_no_collection_limit(dynamo: Dynamo) -> None:
    await dynamo.table("free", range_key=("sk", "N"))
    for sk in range(6):
        await dynamo("put_item", TableName="free", Item=item("a", sk))
    assert (await dynamo("describe_table", TableName="free"))["Table"]["ItemCount"] == 6


async def test_writes_report_their_item_collection_when_asked(dynamo: Dynamo) -> None:
    await with_lsi(dynamo, "metrics")
    written = await dynamo(
        "put_item", TableName="metrics", Item=item("a", 0), ReturnItemCollectionMetrics="SIZE"
    )
    assert written["ItemCollectionMetrics"] == {
        "ItemCollectionKey": {"pk": s("a")},
        "SizeEstimateRangeGB": [0.0, 1.0],
    }
    quiet = await dynamo("put_item", TableName="metrics", Item=item("a", 1))
    assert "ItemCollectionMetrics" not in quiet
    await dynamo.table("plain")
    plain = await dynamo(
        "put_item", TableName="plain", Item={"pk": s("a")}, ReturnItemCollectionMetrics="SIZE"
    )
    assert "ItemCollectionMetrics" not in plain  # no LSI: no item collections
