"""Capacity on secondary indexes through boto3, as DynamoDB counts and enforces it.

ReturnConsumedCapacity=INDEXES says what the table and each index took; a write
spends units on every index whose entry it changes (a delete and a put when the
entry moves), sized by what the index projects. A global secondary index with
throughput of its own has buckets of its own, and out of write capacity it
throttles the table's writes that touch it. As in test_capacity.py, the gateway
saves up at most BURST_SECONDS of capacity and the items are large enough that
one request leaves a bucket seconds in debt, so nothing here depends on timing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.dynamodb.conftest import Dynamo, s

BURST_SECONDS = 2.0


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return dataclasses.replace(gateway_settings, capacity_burst_seconds=BURST_SECONDS)


def throughput(read: int, write: int) -> dict[str, int]:
    return {"ReadCapacityUnits": read, "WriteCapacityUnits": write}


async def indexed(
    dynamo: Dynamo,
    name: str,
    *,
    gsi_projection: str = "KEYS_ONLY",
    table: dict[str, int] | None = None,
    gsi: dict[str, int] | None = None,
) -> None:
    """Table pk/sk, a global index byG on g and a local index byL on (pk, l), projecting ALL.

    Provisioned when `table` (and then `gsi`, the index's own throughput) is given.
    """
    global_index: dict[str, Any] = {
        "IndexName": "byG",
        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": gsi_projection},
    }
    extra: dict[str, Any] = {}
    if table is not None:
        global_index["ProvisionedThroughput"] = gsi or table
        extra = {"BillingMode": "PROVISIONED", "ProvisionedThroughput": table}
    await dynamo.table(
        name,
        range_key=("sk", "S"),
        definitions={"g": "S", "l": "S"},
        GlobalSecondaryIndexes=[global_index],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byL",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        **extra,
    )


def item(key: str, size: int, **attributes: str) -> dict[str, Any]:
    """An item of exactly `size` bytes as DynamoDB counts them, with string `attributes`."""
    named = {"pk": key, "sk": "1", **attributes}
    overhead = sum(len(k) + len(v) for k, v in named.items()) + len("v")
    return {**{k: s(v) for k, v in named.items()}, "v": s("x" * (size - overhead))}


def capacity(read: float = 0.0, write: float = 0.0) -> dict[str, float]:
    """DynamoDB's Capacity shape."""
    shape = {"CapacityUnits": read + write}
    if read:
        shape["ReadCapacityUnits"] = read
    if write:
        shape["WriteCapacityUnits"] = write
    return shape


def consumed(
    name: str,
    *,
    table: dict[str, float],
    gsi: dict[str, float] | None = None,
    lsi: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A ConsumedCapacity for INDEXES: totals over the table and its indexes, then each."""
    parts = [table, *(gsi or {}).values(), *(lsi or {}).values()]
    read = sum(p.get("ReadCapacityUnits", 0.0) for p in parts)
    write = sum(p.get("WriteCapacityUnits", 0.0) for p in parts)
    shape: dict[str, Any] = {"TableName": name, **capacity(read, write), "Table": table}
    if gsi:
        shape["GlobalSecondaryIndexes"] = gsi
    if lsi:
        shape["LocalSecondaryIndexes"] = lsi
    return shape


INDEXES = {"TableName": "idx", "ReturnConsumedCapacity": "INDEXES"}
KEY_A = {"pk": s("a"), "sk": s("1")}


async def test_writes_report_every_index_whose_entry_they_change(dynamo: Dynamo) -> None:
    await indexed(dynamo, "idx")
    put = await dynamo("put_item", Item=item("a", 1500, g="x", l="y"), **INDEXES)
    assert put["ConsumedCapacity"] == consumed(
        "idx",
        table=capacity(write=2),  # 1500 bytes: two 1 KB units
        gsi={"byG": capacity(write=1)},  # KEYS_ONLY: pk, sk and g alone
        lsi={"byL": capacity(write=2)},  # ALL: the whole item
    )
    moved = await dynamo(
        "update_item",
        Key=KEY_A,
        UpdateExpression="SET g = :g",
        ExpressionAttributeValues={":g": s("z")},
        **INDEXES,
    )
    assert moved["ConsumedCapacity"] == consumed(
        "idx",
        table=capacity(write=2),
        gsi={"byG": capacity(write=2)},  # the entry moves from x to z: a delete and a put
        lsi={"byL": capacity(write=2)},  # same place, new content
    )
    unprojected = await dynamo(
        "update_item",
        Key=KEY_A,
        UpdateExpression="SET w = :w",
        ExpressionAttributeValues={":w": s("q")},
        **INDEXES,
    )
    assert unprojected["ConsumedCapacity"] == consumed(  # byG does not keep w: untouched
        "idx", table=capacity(write=2), lsi={"byL": capacity(write=2)}
    )
    left = await dynamo("update_item", Key=KEY_A, UpdateExpression="REMOVE g", **INDEXES)
    assert left["ConsumedCapacity"] == consumed(
        "idx",
        table=capacity(write=2),
        gsi={"byG": capacity(write=1)},  # the entry is deleted
        lsi={"byL": capacity(write=2)},
    )
    deleted = await dynamo("delete_item", Key=KEY_A, **INDEXES)
    assert deleted["ConsumedCapacity"] == consumed(
        "idx", table=capacity(write=2), lsi={"byL": capacity(write=2)}
    )
    sparse = await dynamo("put_item", Item={"pk": s("b"), "sk": s("1")}, **INDEXES)
    assert sparse["ConsumedCapacity"] == consumed("idx", table=capacity(write=1))


async def test_total_counts_the_indexes_without_naming_them(dynamo: Dynamo) -> None:
    await indexed(dynamo, "idx")
    put = await dynamo(
        "put_item",
        TableName="idx",
        Item=item("a", 1500, g="x", l="y"),
        ReturnConsumedCapacity="TOTAL",
    )
    assert put["ConsumedCapacity"] == {
        "TableName": "idx",
        "CapacityUnits": 5.0,
        "WriteCapacityUnits": 5.0,
    }


async def test_reads_report_the_table_or_the_index_they_read(dynamo: Dynamo) -> None:
    await indexed(dynamo, "idx")
    await dynamo("put_item", TableName="idx", Item=item("a", 6000, g="x", l="y"))
    got = await dynamo("get_item", Key=KEY_A, **INDEXES)
    assert got["ConsumedCapacity"] == consumed("idx", table=capacity(read=1))  # 6000 B, halved
    on_gsi = await dynamo(
        "query",
        IndexName="byG",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": s("x")},
        **INDEXES,
    )
    assert on_gsi["Count"] == 1
    assert on_gsi["ConsumedCapacity"] == consumed(
        "idx",
        table=capacity(),
        gsi={"byG": capacity(read=0.5)},  # keys only: one unit, halved
    )
    on_lsi = await dynamo(
        "query",
        IndexName="byL",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("a")},
        ConsistentRead=True,
        **INDEXES,
    )
    assert on_lsi["ConsumedCapacity"] == consumed(
        "idx", table=capacity(), lsi={"byL": capacity(read=2)}
    )
    scanned = await dynamo("scan", IndexName="byG", **INDEXES)
    assert scanned["ConsumedCapacity"] == consumed(
        "idx", table=capacity(), gsi={"byG": capacity(read=0.5)}
    )


async def test_batches_and_transactions_report_their_indexes(dynamo: Dynamo) -> None:
    await indexed(dynamo, "idx")
    batch = await dynamo(
        "batch_write_item",
        RequestItems={"idx": [{"PutRequest": {"Item": item("c", 900, g="x", l="y")}}]},
        ReturnConsumedCapacity="INDEXES",
    )
    assert batch["ConsumedCapacity"] == [
        consumed(
            "idx",
            table=capacity(write=1),
            gsi={"byG": capacity(write=1)},
            lsi={"byL": capacity(write=1)},
        )
    ]
    transaction = await dynamo(
        "transact_write_items",
        TransactItems=[{"Put": {"TableName": "idx", "Item": item("d", 900, g="x", l="y")}}],
        ReturnConsumedCapacity="INDEXES",
    )
    assert transaction["ConsumedCapacity"] == [  # transactions cost double, indexes too
        consumed(
            "idx",
            table=capacity(write=2),
            gsi={"byG": capacity(write=2)},
            lsi={"byL": capacity(write=2)},
        )
    ]


# -- a global secondary index's own throughput


def throttled(error: dict[str, Any]) -> bool:
    return error["Code"] == "ProvisionedThroughputExceededException"


GSI_QUERY = {
    "TableName": "slow",
    "IndexName": "byG",
    "KeyConditionExpression": "g = :g",
    "ExpressionAttributeValues": {":g": s("x")},
}
TABLE_QUERY = {
    "TableName": "slow",
    "KeyConditionExpression": "pk = :p",
    "ExpressionAttributeValues": {":p": s("big")},
}


async def test_a_gsi_out_of_read_capacity_throttles_its_queries_alone(dynamo: Dynamo) -> None:
    await indexed(
        dynamo, "slow", gsi_projection="ALL", table=throughput(100, 100), gsi=throughput(1, 100)
    )
    await dynamo("put_item", TableName="slow", Item=item("big", 40 * 1024, g="x", l="y"))
    await dynamo("query", **GSI_QUERY)  # 5 of the index's 2 units saved up
    assert throttled(await dynamo.error("query", **GSI_QUERY))
    assert throttled(await dynamo.error("scan", TableName="slow", IndexName="byG"))
    # the table still serves its own reads, from its own capacity
    assert "Item" in await dynamo("get_item", TableName="slow", Key={"pk": s("big"), "sk": s("1")})
    assert (await dynamo("query", **TABLE_QUERY))["Count"] == 1


async def test_gsi_reads_do_not_draw_on_the_table(dynamo: Dynamo) -> None:
    await indexed(
        dynamo, "slow", gsi_projection="ALL", table=throughput(1, 100), gsi=throughput(100, 100)
    )
    await dynamo("put_item", TableName="slow", Item=item("big", 40 * 1024, g="x", l="y"))
    for _ in range(3):  # 5 units each, from the index's 200
        assert (await dynamo("query", **GSI_QUERY))["Count"] == 1
    await dynamo("query", **TABLE_QUERY)  # 5 of the table's 2 units
    assert throttled(await dynamo.error("query", **TABLE_QUERY))
    assert (await dynamo("query", **GSI_QUERY))["Count"] == 1


async def test_lsi_reads_share_the_tables_capacity(dynamo: Dynamo) -> None:
    await indexed(dynamo, "slow", table=throughput(1, 100), gsi=throughput(100, 100))
    await dynamo("put_item", TableName="slow", Item=item("big", 40 * 1024, g="x", l="y"))
    await dynamo(
        "query",
        TableName="slow",
        IndexName="byL",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("big")},
    )
    assert throttled(await dynamo.error("query", **TABLE_QUERY))


async def test_a_gsi_out_of_write_capacity_throttles_the_writes_that_touch_it(
    dynamo: Dynamo,
) -> None:
    await indexed(
        dynamo, "slow", gsi_projection="ALL", table=throughput(100, 100), gsi=throughput(100, 1)
    )
    await dynamo("put_item", TableName="slow", Item=item("big", 10 * 1024, g="x", l="y"))
    # the index spent 10 of its 2 units: writes that would change its entries are refused
    refused = [
        ("put_item", {"Item": {"pk": s("a"), "sk": s("1"), "g": s("x")}}),
        (
            "update_item",
            {
                "Key": {"pk": s("big"), "sk": s("1")},
                "UpdateExpression": "SET w = :w",
                "ExpressionAttributeValues": {":w": s("w")},
            },
        ),
        ("delete_item", {"Key": {"pk": s("big"), "sk": s("1")}}),
    ]
    for operation, params in refused:
        assert throttled(await dynamo.error(operation, TableName="slow", **params)), operation
    transaction = await dynamo.error(
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": "slow", "Item": {"pk": s("t"), "sk": s("1"), "g": s("x")}}}
        ],
    )
    assert throttled(transaction)
    # writes the index does not see go through, on the table's own capacity
    await dynamo("put_item", TableName="slow", Item={"pk": s("b"), "sk": s("1"), "l": s("y")})
    beside = {"PutRequest": {"Item": {"pk": s("c"), "sk": s("1")}}}
    through = {"PutRequest": {"Item": {"pk": s("d"), "sk": s("1"), "g": s("x")}}}
    batch = await dynamo("batch_write_item", RequestItems={"slow": [beside, through]})
    assert batch["UnprocessedItems"] == {"slow": [through]}
    scanned = await dynamo("scan", TableName="slow")
    stored = {i["pk"]["S"]: i for i in scanned["Items"]}
    assert sorted(stored) == ["b", "big", "c"]
    assert "w" not in stored["big"]


async def test_on_demand_tables_keep_no_buckets(dynamo: Dynamo) -> None:
    await indexed(dynamo, "idx")
    await dynamo("put_item", Item=item("a", 1500, g="x", l="y"), **INDEXES)
    await dynamo(
        "query",
        IndexName="byG",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": s("x")},
        **INDEXES,
    )
    redis = dynamo.gateway.redis
    assert [key async for key in redis.scan_iter(match=b"*capacity*")] == []
