"""Capacity through boto3: DynamoDB's units reported, provisioned throughput enforced.

The gateway here saves up at most BURST_SECONDS of unused capacity, so a
PROVISIONED table of 1 read and 1 write unit per second starts with 2 units in
each direction. The items written are large enough (8 KB or more) that one
request leaves the table several seconds of capacity in debt: the next request
is refused however slowly the machine runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.dynamodb.conftest import Dynamo, n, s

BURST_SECONDS = 2.0


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return dataclasses.replace(gateway_settings, capacity_burst_seconds=BURST_SECONDS)


async def provisioned(dynamo: Dynamo, name: str, *, read: int = 1, write: int = 1) -> None:
    await dynamo.table(
        name,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": read, "WriteCapacityUnits": write},
    )


def sized(key: str, size: int) -> dict[str, Any]:
    """An item of exactly `size` bytes as DynamoDB counts them (names plus values)."""
    overhead = len("pk") + len(key) + len("v")
    return {"pk": s(key), "v": s("x" * (size - overhead))}


def throttled(dynamo: Dynamo, error: dict[str, Any]) -> bool:
    return (
        error["Code"] == "ProvisionedThroughputExceededException"
        and error["response"]["ResponseMetadata"]["HTTPStatusCode"] == 400
    )


async def test_writes_beyond_the_burst_are_refused(dynamo: Dynamo) -> None:
    await provisioned(dynamo, "slow")
    await dynamo("put_item", TableName="slow", Item=sized("big", 10 * 1024))  # 10 units of 2
    for operation, params in [
        ("put_item", {"Item": {"pk": s("a")}}),
        ("update_item", {"Key": {"pk": s("a")}, "UpdateExpression": "REMOVE v"}),
        ("delete_item", {"Key": {"pk": s("big")}}),
    ]:
        with pytest.raises(dynamo.client.exceptions.ProvisionedThroughputExceededException):
            await dynamo(operation, TableName="slow", **params)
    error = await dynamo.error("put_item", TableName="slow", Item={"pk": s("a")})
    assert throttled(dynamo, error)
    assert error["Message"].startswith(
        "The level of configured provisioned throughput for the table was exceeded."
    )
    transaction = await dynamo.error(
        "transact_write_items",
        TransactItems=[{"Put": {"TableName": "slow", "Item": {"pk": s("t")}}}],
    )
    assert throttled(dynamo, transaction)
    # nothing refused was written; reads draw on their own capacity
    assert "Item" not in await dynamo("get_item", TableName="slow", Key={"pk": s("a")})
    assert "Item" in await dynamo("get_item", TableName="slow", Key={"pk": s("big")})


async def test_a_failed_condition_still_spends_write_capacity(dynamo: Dynamo) -> None:
    await dynamo.table("cond")  # on demand while the big item goes in
    await dynamo("put_item", TableName="cond", Item=sized("big", 10 * 1024))
    await dynamo(
        "update_table",
        TableName="cond",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    with pytest.raises(dynamo.client.exceptions.ConditionalCheckFailedException):
        await dynamo(  # checked against the 10 KB item: 10 units spent, nothing written
            "delete_item",
            TableName="cond",
            Key={"pk": s("big")},
            ConditionExpression="attribute_not_exists(pk)",
        )
    with pytest.raises(dynamo.client.exceptions.ProvisionedThroughputExceededException):
        await dynamo("put_item", TableName="cond", Item={"pk": s("next")})


async def test_reads_beyond_the_burst_are_refused(dynamo: Dynamo) -> None:
    await provisioned(dynamo, "slow")
    await dynamo("put_item", TableName="slow", Item=sized("big", 40 * 1024))
    await dynamo("get_item", TableName="slow", Key={"pk": s("big")}, ConsistentRead=True)
    query = {"KeyConditionExpression": "pk = :k", "ExpressionAttributeValues": {":k": s("big")}}
    for operation, params in [
        ("get_item", {"Key": {"pk": s("big")}}),
        ("query", query),
        ("scan", {}),
    ]:
        error = await dynamo.error(operation, TableName="slow", **params)
        assert throttled(dynamo, error), operation


async def test_batch_write_takes_what_capacity_allows_and_returns_the_rest(
    dynamo: Dynamo,
) -> None:
    await provisioned(dynamo, "slow", read=100, write=2)  # 4 write units saved up
    small = [{"PutRequest": {"Item": {"pk": s(f"k{i}")}}} for i in range(3)]  # 1 unit each
    big = [{"PutRequest": {"Item": sized(f"z{i}", 8 * 1024)}} for i in range(3)]  # 8 each
    writes = small + big
    result = await dynamo("batch_write_item", RequestItems={"slow": writes})
    assert result["UnprocessedItems"] == {"slow": writes[4:]}
    stored = await dynamo("scan", TableName="slow")
    assert sorted(item["pk"]["S"] for item in stored["Items"]) == ["k0", "k1", "k2", "z0"]
    # a batch of which nothing can be written is refused as a whole
    with pytest.raises(dynamo.client.exceptions.ProvisionedThroughputExceededException):
        await dynamo("batch_write_item", RequestItems={"slow": writes[4:]})


async def test_batch_write_across_tables_returns_only_the_throttled_table(
    dynamo: Dynamo,
) -> None:
    await provisioned(dynamo, "slow")
    await dynamo.table("fast")
    await dynamo("put_item", TableName="slow", Item=sized("big", 10 * 1024))
    slow = [{"PutRequest": {"Item": {"pk": s("late")}}}]
    fast = [{"PutRequest": {"Item": {"pk": s(f"f{i}")}}} for i in range(3)]
    result = await dynamo("batch_write_item", RequestItems={"slow": slow, "fast": fast})
    assert result["UnprocessedItems"] == {"slow": slow}
    assert (await dynamo("scan", TableName="fast"))["Count"] == 3


async def test_batch_get_returns_unprocessed_keys_then_refuses(dynamo: Dynamo) -> None:
    await provisioned(dynamo, "slow", write=100)
    for key in ("a", "b", "c"):
        await dynamo("put_item", TableName="slow", Item=sized(key, 40 * 1024))  # 10 read units
    keys = [{"pk": s(key)} for key in ("a", "b", "c")]
    result = await dynamo(
        "batch_get_item", RequestItems={"slow": {"Keys": keys, "ConsistentRead": True}}
    )
    assert [item["pk"] for item in result["Responses"]["slow"]] == [s("a")]
    assert result["UnprocessedKeys"] == {"slow": {"Keys": keys[1:], "ConsistentRead": True}}
    error = await dynamo.error(
        "batch_get_item", RequestItems={"slow": {"Keys": keys[1:], "ConsistentRead": True}}
    )
    assert throttled(dynamo, error)


async def test_on_demand_tables_never_throttle(dynamo: Dynamo) -> None:
    await dynamo.table("free")
    for i in range(20):
        await dynamo("put_item", TableName="free", Item=sized(f"k{i:02}", 20 * 1024))
    batch = [{"PutRequest": {"Item": sized(f"b{i:02}", 20 * 1024)}} for i in range(25)]
    assert (await dynamo("batch_write_item", RequestItems={"free": batch}))[
        "UnprocessedItems"
    ] == {}
    for _ in range(5):
        scanned = await dynamo("scan", TableName="free", ConsistentRead=True)
        assert scanned["Count"] == 45


# -- units as DynamoDB counts them


def units(result: dict[str, Any]) -> float:
    usage = result["ConsumedCapacity"]
    return float(usage["CapacityUnits"])


def listed(result: dict[str, Any]) -> dict[str, float]:
    return {u["TableName"]: float(u["CapacityUnits"]) for u in result["ConsumedCapacity"]}


async def test_consumed_capacity_of_single_item_operations(dynamo: Dynamo) -> None:
    await dynamo.table("units")
    total = {"TableName": "units", "ReturnConsumedCapacity": "TOTAL"}
    put = await dynamo("put_item", Item=sized("a", 1500), **total)
    assert units(put) == 2  # 1 KB write units, rounded up
    assert put["ConsumedCapacity"]["TableName"] == "units"
    assert units(await dynamo("put_item", Item=sized("small", 1024), **total)) == 1
    grown = await dynamo(
        "update_item",
        Key={"pk": s("a")},
        UpdateExpression="SET w = :w",
        ExpressionAttributeValues={":w": s("y" * 1500)},
        **total,
    )
    assert units(grown) == 3  # the larger of the item before and after
    await dynamo("put_item", TableName="units", Item=sized("r", 5000))
    key = {"pk": s("r")}
    assert units(await dynamo("get_item", Key=key, ConsistentRead=True, **total)) == 2
    assert units(await dynamo("get_item", Key=key, **total)) == 1  # eventually consistent: half
    absent = {"pk": s("absent")}
    assert units(await dynamo("get_item", Key=absent, ConsistentRead=True, **total)) == 1
    assert units(await dynamo("get_item", Key=absent, **total)) == 0.5
    assert units(await dynamo("delete_item", Key={"pk": s("a")}, **total)) == 3
    assert units(await dynamo("delete_item", Key=absent, **total)) == 1
    assert "ConsumedCapacity" not in await dynamo("get_item", TableName="units", Key=key)


async def test_consumed_capacity_of_queries_sums_the_items(dynamo: Dynamo) -> None:
    await dynamo.table("units", range_key=("sk", "N"))
    for i in range(3):
        item = {"pk": s("p"), "sk": n(i), "v": s("x" * (3000 - 6))}  # 3000 bytes each
        await dynamo("put_item", TableName="units", Item=item)
    query = {
        "TableName": "units",
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": s("p")},
        "ReturnConsumedCapacity": "TOTAL",
    }
    assert units(await dynamo("query", ConsistentRead=True, **query)) == 3  # 9000 B / 4 KB
    assert units(await dynamo("query", **query)) == 1.5
    assert units(await dynamo("scan", TableName="units", ReturnConsumedCapacity="TOTAL")) == 1.5


async def test_consumed_capacity_of_batches_and_transactions(dynamo: Dynamo) -> None:
    await dynamo.table("units")
    await dynamo.table("other")
    total = {"ReturnConsumedCapacity": "TOTAL"}
    batch = await dynamo(
        "batch_write_item",
        RequestItems={
            "units": [{"PutRequest": {"Item": sized(k, 1500)}} for k in ("a", "b")],
            "other": [{"DeleteRequest": {"Key": {"pk": s("none")}}}],
        },
        **total,
    )
    assert listed(batch) == {"units": 4, "other": 1}
    got = await dynamo(
        "batch_get_item",
        RequestItems={
            "units": {"Keys": [{"pk": s("a")}, {"pk": s("b")}], "ConsistentRead": True},
            "other": {"Keys": [{"pk": s("none")}]},
        },
        **total,
    )
    assert listed(got) == {"units": 2, "other": 0.5}
    transaction = await dynamo(
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": "units", "Item": sized("t", 1500)}},
            {"Put": {"TableName": "other", "Item": sized("u", 500)}},
        ],
        **total,
    )
    assert listed(transaction) == {"units": 4, "other": 2}  # transactions cost double
    read = await dynamo(
        "transact_get_items",
        TransactItems=[{"Get": {"TableName": "units", "Key": {"pk": s("t")}}}],
        **total,
    )
    assert listed(read) == {"units": 2}
    assert "ConsumedCapacity" not in await dynamo(
        "batch_write_item", RequestItems={"units": [{"PutRequest": {"Item": {"pk": s("z")}}}]}
    )
