"""Query and Scan through boto3: key conditions, order, filters, pages, indexes, segments."""

from __future__ import annotations

import pytest

from tests.gateway.dynamodb.conftest import Dynamo, n, s


@pytest.fixture
async def events(dynamo: Dynamo) -> Dynamo:
    """A table keyed by (user, ts) with a GSI on kind and an LSI on score."""
    await dynamo.table(
        "events",
        hash_key=("user", "S"),
        range_key=("ts", "N"),
        definitions={"kind": "S", "score": "N"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byKind",
                "KeySchema": [
                    {"AttributeName": "kind", "KeyType": "HASH"},
                    {"AttributeName": "ts", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byScore",
                "KeySchema": [
                    {"AttributeName": "user", "KeyType": "HASH"},
                    {"AttributeName": "score", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    requests = []
    for user in ("ann", "bob"):
        for ts in range(-5, 15):
            item = {"user": s(user), "ts": n(ts), "kind": s("odd" if ts % 2 else "even")}
            item["score"] = n(100 - ts)
            requests.append({"PutRequest": {"Item": item}})
    for i in range(0, len(requests), 25):
        result = await dynamo("batch_write_item", RequestItems={"events": requests[i : i + 25]})
        assert result["UnprocessedItems"] == {}
    return dynamo


def tss(result: dict) -> list[int]:
    return [int(item["ts"]["N"]) for item in result["Items"]]


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("#u = :u", {}, list(range(-5, 15))),
        ("#u = :u AND ts = :a", {":a": n(3)}, [3]),
        ("#u = :u AND ts < :a", {":a": n(-3)}, [-5, -4]),
        ("#u = :u AND ts <= :a", {":a": n(-3)}, [-5, -4, -3]),
        ("#u = :u AND ts > :a", {":a": n(12)}, [13, 14]),
        ("#u = :u AND ts >= :a", {":a": n(12)}, [12, 13, 14]),
        ("#u = :u AND ts BETWEEN :a AND :b", {":a": n(-1), ":b": n(1)}, [-1, 0, 1]),
        ("ts BETWEEN :a AND :b AND #u = :u", {":a": n("0.5"), ":b": n("2.5")}, [1, 2]),
    ],
)
async def test_key_conditions_on_numbers(
    events: Dynamo, condition: str, values: dict, expected: list[int]
) -> None:
    result = await events(
        "query",
        TableName="events",
        KeyConditionExpression=condition,
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": s("ann"), **values},
    )
    assert tss(result) == expected


async def test_backwards_and_limit_with_pages(events: Dynamo) -> None:
    seen: list[int] = []
    start = None
    pages = 0
    while True:
        params = {
            "TableName": "events",
            "KeyConditionExpression": "#u = :u",
            "ExpressionAttributeNames": {"#u": "user"},
            "ExpressionAttributeValues": {":u": s("bob")},
            "ScanIndexForward": False,
            "Limit": 6,
        }
        if start is not None:
            params["ExclusiveStartKey"] = start
        result = await events("query", **params)
        seen += tss(result)
        pages += 1
        start = result.get("LastEvaluatedKey")
        if start is None:
            break
        assert set(start) == {"user", "ts"}
    assert seen == list(range(14, -6, -1))
    assert pages == 4  # 6 + 6 + 6 + 2


async def test_filter_counts_and_select_count(events: Dynamo) -> None:
    result = await events(
        "query",
        TableName="events",
        KeyConditionExpression="#u = :u",
        FilterExpression="kind = :k AND score <= :z",  # score = 100 - ts: ts >= 0
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": s("ann"), ":k": s("odd"), ":z": n(100)},
        Select="COUNT",
    )
    assert result["Count"] == 7  # 1, 3, ..., 13
    assert result["ScannedCount"] == 20
    assert "Items" not in result


async def test_begins_with_on_strings(dynamo: Dynamo) -> None:
    await dynamo.table("files", hash_key=("dir", "S"), range_key=("path", "S"))
    for path in ("a", "ab", "abc", "abd", "b", "a\u00e9", "ab\x00"):
        await dynamo("put_item", TableName="files", Item={"dir": s("d"), "path": s(path)})
    result = await dynamo(
        "query",
        TableName="files",
        KeyConditionExpression="dir = :d AND begins_with(#p, :p)",
        ExpressionAttributeNames={"#p": "path"},
        ExpressionAttributeValues={":d": s("d"), ":p": s("ab")},
    )
    assert [i["path"]["S"] for i in result["Items"]] == ["ab", "ab\x00", "abc", "abd"]


async def test_global_index_query_projects_keys_only(events: Dynamo) -> None:
    result = await events(
        "query",
        TableName="events",
        IndexName="byKind",
        KeyConditionExpression="kind = :k AND ts > :t",
        ExpressionAttributeValues={":k": s("even"), ":t": n(9)},
    )
    assert sorted(tss(result)) == [10, 10, 12, 12, 14, 14]
    assert all(set(item) == {"user", "ts", "kind"} for item in result["Items"])
    error = await events.error(
        "query",
        TableName="events",
        IndexName="byKind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": s("even")},
        ConsistentRead=True,
    )
    assert "Consistent reads are not supported" in error["Message"]


async def test_global_index_pages_resume(events: Dynamo) -> None:
    seen = []
    start = None
    while True:
        params = {
            "TableName": "events",
            "IndexName": "byKind",
            "KeyConditionExpression": "kind = :k",
            "ExpressionAttributeValues": {":k": s("odd")},
            "Limit": 3,
        }
        if start:
            params["ExclusiveStartKey"] = start
        result = await events("query", **params)
        seen += [(i["user"]["S"], int(i["ts"]["N"])) for i in result["Items"]]
        start = result.get("LastEvaluatedKey")
        if not start:
            break
        assert set(start) == {"user", "ts", "kind"}
    assert len(seen) == len(set(seen)) == 20
    assert [ts for _, ts in seen] == sorted(ts for _, ts in seen)


async def test_local_index_orders_by_its_key(events: Dynamo) -> None:
    result = await events(
        "query",
        TableName="events",
        IndexName="byScore",
        KeyConditionExpression="#u = :u AND score < :s",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": s("ann"), ":s": n(90)},
    )
    assert [int(i["score"]["N"]) for i in result["Items"]] == [86, 87, 88, 89]


async def test_index_entries_follow_updates_and_deletes(events: Dynamo) -> None:
    await events(
        "update_item",
        TableName="events",
        Key={"user": s("ann"), "ts": n(0)},
        UpdateExpression="SET kind = :k",
        ExpressionAttributeValues={":k": s("special")},
    )
    await events("delete_item", TableName="events", Key={"user": s("bob"), "ts": n(1)})
    special = await events(
        "query",
        TableName="events",
        IndexName="byKind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": s("special")},
    )
    assert [(i["user"]["S"], i["ts"]["N"]) for i in special["Items"]] == [("ann", "0")]
    odd = await events(
        "query",
        TableName="events",
        IndexName="byKind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": s("odd")},
    )
    assert odd["Count"] == 19
    table = (await events("describe_table", TableName="events"))["Table"]
    (gsi,) = table["GlobalSecondaryIndexes"]
    (lsi,) = table["LocalSecondaryIndexes"]
    assert gsi["ItemCount"] == lsi["ItemCount"] == table["ItemCount"] == 39
    assert lsi["IndexSizeBytes"] == table["TableSizeBytes"]  # ALL projects every attribute
    assert gsi["IndexSizeBytes"] < table["TableSizeBytes"]  # KEYS_ONLY leaves score out


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"KeyConditionExpression": "ts = :t", "ExpressionAttributeValues": {":t": n(1)}},
         "missed key schema element"),
        ({"KeyConditionExpression": "#u = :u OR ts = :t",
          "ExpressionAttributeNames": {"#u": "user"},
          "ExpressionAttributeValues": {":u": s("a"), ":t": n(1)}}, "OR"),
        ({"KeyConditionExpression": "#u = :u", "ExpressionAttributeNames": {"#u": "user"},
          "ExpressionAttributeValues": {":u": n(1)}}, "type"),
        ({"IndexName": "nope", "KeyConditionExpression": "#u = :u",
          "ExpressionAttributeNames": {"#u": "user"},
          "ExpressionAttributeValues": {":u": s("a")}}, "does not have the specified index"),
    ],
)  # fmt: skip
async def test_bad_queries_are_refused(events: Dynamo, params: dict, message: str) -> None:
    error = await events.error("query", TableName="events", **params)
    assert error["Code"] == "ValidationException"
    assert message in error["Message"]


async def test_scan_pages_and_filters(events: Dynamo) -> None:
    seen = []
    start = None
    while True:
        params = {"TableName": "events", "Limit": 7, "FilterExpression": "kind = :k",
                  "ExpressionAttributeValues": {":k": s("even")}}  # fmt: skip
        if start:
            params["ExclusiveStartKey"] = start
        result = await events("scan", **params)
        assert result["ScannedCount"] <= 7
        seen += [(i["user"]["S"], int(i["ts"]["N"])) for i in result["Items"]]
        start = result.get("LastEvaluatedKey")
        if not start:
            break
    assert sorted(seen) == sorted((u, t) for u in ("ann", "bob") for t in range(-4, 15, 2))


async def test_parallel_scan_segments_cover_the_table_once(dynamo: Dynamo) -> None:
    await dynamo.table("many")
    for start in range(0, 100, 25):
        await dynamo(
            "batch_write_item",
            RequestItems={
                "many": [
                    {"PutRequest": {"Item": {"pk": s(f"k{i}")}}} for i in range(start, start + 25)
                ]
            },
        )
    seen = []
    for segment in range(4):
        result = await dynamo("scan", TableName="many", Segment=segment, TotalSegments=4)
        seen += [i["pk"]["S"] for i in result["Items"]]
    assert sorted(seen) == sorted(f"k{i}" for i in range(100))
    error = await dynamo.error("scan", TableName="many", Segment=4, TotalSegments=4)
    assert "Segment" in error["Message"]


async def test_one_megabyte_pages(dynamo: Dynamo) -> None:
    await dynamo.table("big", range_key=("sk", "N"))
    blob = "x" * (100 * 1024)
    for i in range(15):
        await dynamo("put_item", TableName="big", Item={"pk": s("p"), "sk": n(i), "blob": s(blob)})
    first = await dynamo(
        "query",
        TableName="big",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("p")},
    )
    assert 9 <= first["Count"] <= 11  # about 1 MB of 100 KB items
    assert "LastEvaluatedKey" in first
    rest = await dynamo(
        "query",
        TableName="big",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("p")},
        ExclusiveStartKey=first["LastEvaluatedKey"],
    )
    assert first["Count"] + rest["Count"] == 15


async def test_items_stored_without_their_size_are_sized_when_read(dynamo: Dynamo) -> None:
    """Items written before sizes were kept beside them still page by DynamoDB's size."""
    await dynamo.table("legacy", range_key=("sk", "N"))
    blob = "x" * (100 * 1024)
    for i in range(12):
        await dynamo("put_item", TableName="legacy", Item={"pk": s("p"), "sk": n(i), "b": s(blob)})
    redis = dynamo.gateway.redis
    keys = [key async for key in redis.scan_iter(match=b"kubefn:tbl:{default/legacy}:i:*")]
    assert len(keys) == 12
    for key in keys:
        assert await redis.hdel(key, "s") == 1
    first = await dynamo(
        "query",
        TableName="legacy",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("p")},
        ReturnConsumedCapacity="TOTAL",
    )
    assert first["Count"] < 12 and "LastEvaluatedKey" in first  # the 1 MB page still holds
    assert first["ConsumedCapacity"]["CapacityUnits"] >= first["Count"] * 100 / 4 / 2
