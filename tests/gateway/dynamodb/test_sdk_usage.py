"""Code written for DynamoDB, run unchanged: boto3's resource API, waiters, paginators,
condition builders and type (de)serializers, the way applications use them."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.config import Config

from tests.gateway.conftest import Gateway
from tests.gateway.dynamodb.conftest import Dynamo, n, s

T = TypeVar("T")


class Resource:
    """boto3's `dynamodb` resource for a gateway; `run` calls it off the loop."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.resource = boto3.resource(
            "dynamodb",
            endpoint_url=gateway.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )
        self.client = self.resource.meta.client

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.gateway.call(fn, *args, **kwargs)

    async def create(self, name: str, *, range_key: tuple[str, str] | None = None) -> Any:
        """create_table then wait_until_exists, as application set-up code does."""
        schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
        definitions = [{"AttributeName": "pk", "AttributeType": "S"}]
        if range_key is not None:
            schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
            definitions.append({"AttributeName": range_key[0], "AttributeType": range_key[1]})
        table = await self.run(
            self.resource.create_table,
            TableName=name,
            KeySchema=schema,
            AttributeDefinitions=definitions,
            BillingMode="PAY_PER_REQUEST",
        )
        await self.run(table.wait_until_exists)
        return table


@pytest.fixture
async def ddb(gateway: Gateway) -> Resource:
    return Resource(gateway)


async def test_create_table_and_wait_until_exists(ddb: Resource) -> None:
    table = await ddb.create("Users")
    await ddb.run(table.load)
    assert table.table_status == "ACTIVE"
    assert table.key_schema == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert isinstance(table.creation_date_time, datetime.datetime)
    assert table.item_count == 0


async def test_delete_table_and_wait_until_not_exists(ddb: Resource) -> None:
    table = await ddb.create("Gone")
    await ddb.run(table.delete)
    await ddb.run(table.wait_until_not_exists)
    assert await ddb.run(lambda: list(ddb.resource.tables.all())) == []


async def test_python_types_round_trip_through_the_resource(ddb: Resource) -> None:
    table = await ddb.create("Things")
    item = {
        "pk": "t1",
        "price": Decimal("19.99"),
        "count": 3,
        "huge": Decimal("12345678901234567890123456789012345678"),
        "tags": {"a", "b"},
        "scores": {Decimal("1"), Decimal("2.5")},
        "blobs": {Binary(b"x"), Binary(b"\x00y")},
        "raw": b"\x00\xff",
        "nested": {"list": [1, "two", {"three": [Decimal("3.0")]}], "flag": False},
        "ok": True,
        "nothing": None,
        "empty": "",
        "empty_list": [],
        "empty_map": {},
    }
    await ddb.run(table.put_item, Item=item)
    got = (await ddb.run(table.get_item, Key={"pk": "t1"}))["Item"]
    assert got == {
        **item,
        "count": Decimal(3),
        "raw": Binary(b"\x00\xff"),
        "nested": {"list": [Decimal(1), "two", {"three": [Decimal(3)]}], "flag": False},
    }


async def test_update_item_return_values_through_the_resource(ddb: Resource) -> None:
    table = await ddb.create("Counters")
    await ddb.run(table.put_item, Item={"pk": "c", "n": 1, "keep": "x"})
    new = await ddb.run(
        table.update_item,
        Key={"pk": "c"},
        UpdateExpression="SET #n = #n + :one, added = :s REMOVE keep",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":one": 1, ":s": {"x", "y"}},
        ReturnValues="UPDATED_NEW",
    )
    assert new["Attributes"] == {"n": Decimal(2), "added": {"x", "y"}}
    old = await ddb.run(
        table.update_item,
        Key={"pk": "c"},
        UpdateExpression="ADD added :z",
        ExpressionAttributeValues={":z": {"z"}},
        ReturnValues="ALL_OLD",
    )
    assert old["Attributes"] == {"pk": "c", "n": Decimal(2), "added": {"x", "y"}}
    deleted = await ddb.run(table.delete_item, Key={"pk": "c"}, ReturnValues="ALL_OLD")
    assert deleted["Attributes"]["added"] == {"x", "y", "z"}
    assert "Item" not in await ddb.run(table.get_item, Key={"pk": "c"})


async def test_conditional_check_failed_is_caught_through_both_exception_paths(
    ddb: Resource,
) -> None:
    table = await ddb.create("Once")
    await ddb.run(table.put_item, Item={"pk": "a", "v": 1})
    with pytest.raises(table.meta.client.exceptions.ConditionalCheckFailedException):
        await ddb.run(table.put_item, Item={"pk": "a"}, ConditionExpression=Attr("pk").not_exists())
    client = ddb.gateway.client("dynamodb")
    with pytest.raises(client.exceptions.ConditionalCheckFailedException) as caught:
        await ddb.run(
            client.delete_item,
            TableName="Once",
            Key={"pk": s("a")},
            ConditionExpression="v = :two",
            ExpressionAttributeValues={":two": n(2)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert caught.value.response["Item"] == {"pk": s("a"), "v": n(1)}


async def test_batch_writer_over_many_batches_with_overwrite_by_pkeys(ddb: Resource) -> None:
    table = await ddb.create("Bulk", range_key=("sk", "N"))

    def write() -> None:
        with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for i in range(60):
                batch.put_item(Item={"pk": "p", "sk": i, "v": "first"})
                batch.put_item(Item={"pk": "p", "sk": i, "v": "second"})
            batch.delete_item(Key={"pk": "p", "sk": 59})

    await ddb.run(write)
    items = (await ddb.run(table.query, KeyConditionExpression=Key("pk").eq("p")))["Items"]
    assert [i["sk"] for i in items] == list(range(59))
    assert {i["v"] for i in items} == {"second"}


async def test_query_and_filter_with_condition_builders(ddb: Resource) -> None:
    table = await ddb.create("Events", range_key=("sk", "N"))
    with_batch = table.batch_writer()

    def fill() -> None:
        with with_batch as batch:
            for i in range(10):
                batch.put_item(
                    Item={
                        "pk": "x",
                        "sk": i,
                        "kind": "odd" if i % 2 else "even",
                        "meta": {"level": i},
                        **({"gone": True} if i == 3 else {}),
                    }
                )
            batch.put_item(Item={"pk": "y", "sk": 2, "kind": "even", "meta": {"level": 2}})

    await ddb.run(fill)
    between = await ddb.run(
        table.query, KeyConditionExpression=Key("pk").eq("x") & Key("sk").between(1, 5)
    )
    assert [i["sk"] for i in between["Items"]] == [1, 2, 3, 4, 5]
    filtered = await ddb.run(
        table.query,
        KeyConditionExpression=Key("pk").eq("x") & Key("sk").gte(2),
        FilterExpression=(Attr("kind").eq("odd") & Attr("gone").not_exists())
        | Attr("meta.level").is_in([4, 8]),
        ScanIndexForward=False,
    )
    assert [i["sk"] for i in filtered["Items"]] == [9, 8, 7, 5, 4]
    assert filtered["ScannedCount"] == 8
    prefix = await ddb.run(
        table.query,
        KeyConditionExpression=Key("pk").eq("x") & Key("sk").lt(3),
        FilterExpression=Attr("kind").begins_with("ev") & ~Attr("meta.level").gt(0),
    )
    assert [i["sk"] for i in prefix["Items"]] == [0]


async def test_scan_with_contains_or_not_exists(ddb: Resource) -> None:
    table = await ddb.create("Tagged")
    await ddb.run(table.put_item, Item={"pk": "a", "tags": {"red", "blue"}})
    await ddb.run(table.put_item, Item={"pk": "b", "tags": {"green"}, "y": 1})
    await ddb.run(table.put_item, Item={"pk": "c", "y": 2})
    await ddb.run(table.put_item, Item={"pk": "d", "name": "reddish", "y": 3})
    found = await ddb.run(
        table.scan,
        FilterExpression=Attr("tags").contains("red") | Attr("y").not_exists(),
    )
    assert sorted(i["pk"] for i in found["Items"]) == ["a"]
    found = await ddb.run(
        table.scan,
        FilterExpression=Attr("name").contains("red") | Attr("tags").size().eq(1),
    )
    assert sorted(i["pk"] for i in found["Items"]) == ["b", "d"]
    found = await ddb.run(
        table.scan,
        FilterExpression=Attr("y").attribute_type("N") & Attr("y").ne(2),
        ProjectionExpression="pk, y",
    )
    assert sorted((i["pk"], i["y"]) for i in found["Items"]) == [("b", 1), ("d", 3)]


async def test_nested_attribute_names_are_paths(ddb: Resource) -> None:
    """boto3 splits `Attr("a.b")` into `#n0.#n1`; a name with a dot needs placeholders."""
    table = await ddb.create("Paths")
    await ddb.run(table.put_item, Item={"pk": "1", "a": {"b": 5}, "a.b": 7})
    path = await ddb.run(table.scan, FilterExpression=Attr("a.b").eq(5))
    assert [i["pk"] for i in path["Items"]] == ["1"]
    dotted = await ddb.run(table.scan, FilterExpression=Attr("a.b").eq(7))
    assert dotted["Items"] == []
    literal = await ddb.run(
        table.scan,
        FilterExpression="#ab = :v",
        ExpressionAttributeNames={"#ab": "a.b"},
        ExpressionAttributeValues={":v": 7},
    )
    assert [i["pk"] for i in literal["Items"]] == ["1"]


async def test_paginators_visit_every_item_once(ddb: Resource, dynamo: Dynamo) -> None:
    table = await ddb.create("Paged", range_key=("sk", "N"))

    def fill() -> None:
        with table.batch_writer() as batch:
            for p in ("a", "b", "c"):
                for i in range(17):
                    batch.put_item(Item={"pk": p, "sk": i, "odd": i % 2 == 1})

    await ddb.run(fill)
    client = dynamo.client

    def pages(operation: str, **params: Any) -> list[dict[str, Any]]:
        paginator = client.get_paginator(operation)
        return list(paginator.paginate(**params, PaginationConfig={"PageSize": 4}))

    queried = await ddb.run(
        pages,
        "query",
        TableName="Paged",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("b")},
    )
    assert len(queried) >= 5
    assert [i["sk"]["N"] for page in queried for i in page["Items"]] == [str(i) for i in range(17)]
    scanned = await ddb.run(
        pages,
        "scan",
        TableName="Paged",
        FilterExpression="odd = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    keys = [(i["pk"]["S"], int(i["sk"]["N"])) for page in scanned for i in page["Items"]]
    assert sorted(keys) == sorted((p, i) for p in "abc" for i in range(1, 17, 2))
    assert len(keys) == len(set(keys))
    assert sum(page["ScannedCount"] for page in scanned) == 51

    full = await ddb.run(
        lambda: client.get_paginator("scan").paginate(TableName="Paged").build_full_result()
    )
    assert full["Count"] == 51


async def test_list_tables_paginator_and_limit_bounds(ddb: Resource, dynamo: Dynamo) -> None:
    names = [f"t{i:02}" for i in range(7)]
    for name in names:
        await dynamo.table(name)

    def pages() -> list[dict[str, Any]]:
        paginator = dynamo.client.get_paginator("list_tables")
        return list(paginator.paginate(PaginationConfig={"PageSize": 3}))

    listed = await ddb.run(pages)
    assert [len(p["TableNames"]) for p in listed] == [3, 3, 1]
    assert [name for p in listed for name in p["TableNames"]] == names
    assert sorted(t.name for t in await ddb.run(lambda: list(ddb.resource.tables.all()))) == names
    too_many = await dynamo.error("list_tables", Limit=101)
    assert too_many["Code"] == "ValidationException"
    assert "less than or equal to 100" in too_many["Message"]


async def test_describe_table_parses_into_the_types_boto3_models(dynamo: Dynamo) -> None:
    await dynamo.table(
        "Modelled",
        range_key=("sk", "S"),
        definitions={"g": "S"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    await dynamo("put_item", TableName="Modelled", Item={"pk": s("1"), "sk": s("a"), "g": s("x")})
    table = (await dynamo("describe_table", TableName="Modelled"))["Table"]
    assert isinstance(table["CreationDateTime"], datetime.datetime)
    assert table["CreationDateTime"].tzinfo is not None
    now = datetime.datetime.now(datetime.UTC)
    assert abs((now - table["CreationDateTime"]).total_seconds()) < 600
    assert isinstance(table["ItemCount"], int)
    assert isinstance(table["TableSizeBytes"], int) and table["TableSizeBytes"] > 0
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TableStatus"] == "ACTIVE"
    (gsi,) = table["GlobalSecondaryIndexes"]
    assert gsi["IndexStatus"] == "ACTIVE"
    assert gsi["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert isinstance(gsi["IndexSizeBytes"], int)


async def test_transactions_across_two_tables(ddb: Resource, dynamo: Dynamo) -> None:
    await ddb.create("Accounts")
    await ddb.create("Ledger", range_key=("sk", "N"))
    client = dynamo.client
    await dynamo("put_item", TableName="Accounts", Item={"pk": s("alice"), "balance": n(100)})
    await dynamo("put_item", TableName="Accounts", Item={"pk": s("bob"), "balance": n(5)})
    await dynamo("put_item", TableName="Accounts", Item={"pk": s("frozen"), "flag": s("no")})
    await dynamo("put_item", TableName="Ledger", Item={"pk": s("old"), "sk": n(0)})

    def transfer(amount: int) -> Any:
        return client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "Accounts",
                        "Key": {"pk": s("alice")},
                        "UpdateExpression": "SET balance = balance - :a",
                        "ConditionExpression": "balance >= :a",
                        "ExpressionAttributeValues": {":a": n(amount)},
                    }
                },
                {
                    "Update": {
                        "TableName": "Accounts",
                        "Key": {"pk": s("bob")},
                        "UpdateExpression": "ADD balance :a",
                        "ExpressionAttributeValues": {":a": n(amount)},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "Accounts",
                        "Key": {"pk": s("frozen")},
                        "ConditionExpression": "flag = :no",
                        "ExpressionAttributeValues": {":no": s("no")},
                    }
                },
                {
                    "Put": {
                        "TableName": "Ledger",
                        "Item": {"pk": s("alice"), "sk": n(amount), "to": s("bob")},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Delete": {"TableName": "Ledger", "Key": {"pk": s("old"), "sk": n(0)}}},
            ]
        )

    await ddb.run(transfer, 30)
    got = await dynamo(
        "transact_get_items",
        TransactItems=[
            {"Get": {"TableName": "Accounts", "Key": {"pk": s("alice")}}},
            {
                "Get": {
                    "TableName": "Accounts",
                    "Key": {"pk": s("bob")},
                    "ProjectionExpression": "balance",
                }
            },
            {"Get": {"TableName": "Ledger", "Key": {"pk": s("old"), "sk": n(0)}}},
            {"Get": {"TableName": "Ledger", "Key": {"pk": s("alice"), "sk": n(30)}}},
        ],
    )
    responses = got["Responses"]
    assert responses[0]["Item"] == {"pk": s("alice"), "balance": n(70)}
    assert responses[1]["Item"] == {"balance": n(35)}
    assert responses[2] == {}
    assert responses[3]["Item"]["to"] == s("bob")

    with pytest.raises(client.exceptions.TransactionCanceledException) as canceled:
        await ddb.run(transfer, 500)
    reasons = canceled.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed"] + ["None"] * 4
    accounts = await ddb.run(
        lambda: ddb.resource.Table("Accounts").get_item(Key={"pk": "alice"})["Item"]
    )
    assert accounts["balance"] == 70


async def test_index_paginators_and_resuming_with_starting_token(dynamo: Dynamo) -> None:
    await dynamo.table(
        "Indexed",
        range_key=("sk", "N"),
        definitions={"g": "S", "l": "N"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-l",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for p in ("a", "b"):
        for i in range(13):
            item = {"pk": s(p), "sk": n(i), "x": n(i), "y": s("not projected")}
            if i % 3:
                item["g"] = s(f"G{i % 2}")
            if i % 2:
                item["l"] = n(100 - i)
            await dynamo("put_item", TableName="Indexed", Item=item)
    client = dynamo.client

    def query(**params: Any) -> list[dict[str, Any]]:
        paginator = client.get_paginator("query")
        pages = paginator.paginate(TableName="Indexed", **params)
        return [item for page in pages for item in page["Items"]]

    by_g = await dynamo.gateway.call(
        query,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": s("G1")},
        PaginationConfig={"PageSize": 2},
    )
    assert [(i["pk"]["S"], int(i["sk"]["N"])) for i in by_g] == [
        (p, i) for i in (1, 5, 7, 11) for p in "ab"
    ]
    assert {tuple(sorted(i)) for i in by_g} == {("g", "pk", "sk", "x")}
    by_l = await dynamo.gateway.call(
        query,
        IndexName="by-l",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("a")},
        ScanIndexForward=False,
        PaginationConfig={"PageSize": 2},
    )
    assert [int(i["l"]["N"]) for i in by_l] == [99, 97, 95, 93, 91, 89]

    def resumed() -> list[int]:
        """MaxItems stops mid-page; NextToken (StartingToken) resumes where it stopped."""
        seen: list[int] = []
        token = None
        while True:
            config: dict[str, Any] = {"MaxItems": 5, "PageSize": 3}
            if token is not None:
                config["StartingToken"] = token
            result = (
                client.get_paginator("query")
                .paginate(
                    TableName="Indexed",
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": s("b")},
                    PaginationConfig=config,
                )
                .build_full_result()
            )
            seen += [int(i["sk"]["N"]) for i in result["Items"]]
            token = result.get("NextToken")
            if token is None:
                return seen

    assert await dynamo.gateway.call(resumed) == list(range(13))


async def test_resource_pages_binary_keys_through_last_evaluated_key(ddb: Resource) -> None:
    """LastEvaluatedKey comes back as boto3 Binary and goes out again as ExclusiveStartKey."""
    table = await ddb.run(
        ddb.resource.create_table,
        TableName="Blobs",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "B"},
            {"AttributeName": "sk", "AttributeType": "B"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )

    def fill() -> None:
        with table.batch_writer() as batch:
            for i in range(10):
                batch.put_item(Item={"pk": b"\xff\x00", "sk": bytes([i, 0, 255]), "v": i})

    def every_page(read: Callable[..., Any], **params: Any) -> list[int]:
        values: list[int] = []
        while True:
            page = read(Limit=3, **params)
            values += [int(item["v"]) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return values
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    await ddb.run(fill)
    queried = await ddb.run(
        every_page,
        table.query,
        KeyConditionExpression=Key("sk").gt(b"\x02") & Key("pk").eq(b"\xff\x00"),
    )
    assert queried == list(range(2, 10))
    assert await ddb.run(every_page, table.scan) == list(range(10))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        pytest.param(Attr("n").eq(None), [1, 3, 5, 7, 9], id="eq-None"),
        pytest.param(Attr("l").size().between(2, 4), [2, 3, 4], id="size-between"),
        pytest.param(~(Attr("v").lt(3) | Attr("v").gt(6)), [3, 4, 5, 6], id="not-or"),
        pytest.param(
            Attr("v").gte(1) & Attr("v").lte(8) & Attr("n").ne(None) & Attr("l").contains(3),
            [4, 6, 8],
            id="and-chain",
        ),
        pytest.param(Attr("v").is_in(list(range(100))), list(range(10)), id="in-100"),
        pytest.param(Attr("n").attribute_type("NULL"), [1, 3, 5, 7, 9], id="attribute_type"),
        pytest.param(Attr("m.deep").exists() & Attr("m.deep").lt(2), [0, 1], id="path"),
    ],
)
async def test_filter_builders(ddb: Resource, condition: Any, expected: list[int]) -> None:
    table = await ddb.create("Built")

    def fill() -> None:
        with table.batch_writer() as batch:
            for i in range(10):
                batch.put_item(
                    Item={
                        "pk": str(i),
                        "v": i,
                        "n": None if i % 2 else "x",
                        "l": list(range(i)),
                        "m": {"deep": i},
                    }
                )

    await ddb.run(fill)
    found = await ddb.run(table.scan, FilterExpression=condition)
    assert sorted(int(item["v"]) for item in found["Items"]) == expected


async def test_in_with_more_than_100_operands_is_refused(ddb: Resource) -> None:
    table = await ddb.create("Many")
    with pytest.raises(table.meta.client.exceptions.ClientError) as refused:
        await ddb.run(table.scan, FilterExpression=Attr("v").is_in(list(range(101))))
    assert "too many operands; number of operands: 101" in str(refused.value)


async def test_a_table_asked_for_by_arn_is_answered_by_arn(ddb: Resource, dynamo: Dynamo) -> None:
    """Responses and ConsumedCapacity name a table as the request did (DynamoDB: "a map of
    table name or table ARN"); they used to come back under the bare name."""
    await ddb.create("Arned")
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/Arned"
    put = await dynamo(
        "put_item", TableName=arn, Item={"pk": s("a"), "v": n(1)}, ReturnConsumedCapacity="TOTAL"
    )
    assert put["ConsumedCapacity"]["TableName"] == arn
    written = await dynamo(
        "batch_write_item",
        RequestItems={arn: [{"PutRequest": {"Item": {"pk": s("b")}}}]},
        ReturnConsumedCapacity="TOTAL",
    )
    assert [c["TableName"] for c in written["ConsumedCapacity"]] == [arn]
    got = await dynamo(
        "batch_get_item",
        RequestItems={arn: {"Keys": [{"pk": s("a")}], "ProjectionExpression": "v"}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert got["Responses"] == {arn: [{"v": n(1)}]}
    assert [c["TableName"] for c in got["ConsumedCapacity"]] == [arn]
    both = await ddb.run(
        ddb.resource.batch_get_item,
        RequestItems={arn: {"Keys": [{"pk": "a"}]}, "Arned": {"Keys": [{"pk": "b"}]}},
    )
    assert both["Responses"] == {arn: [{"pk": "a", "v": 1}], "Arned": [{"pk": "b"}]}
    transacted = await dynamo(
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": arn, "Item": {"pk": s("c")}}},
            {
                "ConditionCheck": {
                    "TableName": "Arned",
                    "Key": {"pk": s("a")},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert sorted(c["TableName"] for c in transacted["ConsumedCapacity"]) == ["Arned", arn]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("text", id="S"),
        pytest.param("", id="empty-S"),
        pytest.param(Decimal("-1.5E+10"), id="N"),
        pytest.param(Decimal("0.000001"), id="N-small"),
        pytest.param(b"\x00\x01", id="B"),
        pytest.param(b"", id="empty-B"),
        pytest.param(True, id="BOOL"),
        pytest.param(None, id="NULL"),
        pytest.param({"a", "b"}, id="SS"),
        pytest.param({Decimal(1), Decimal("2.25")}, id="NS"),
        pytest.param({Binary(b"a"), Binary(b"b")}, id="BS"),
        pytest.param(["a", Decimal(1), None, [True]], id="L"),
        pytest.param({"m": {"n": [Decimal(2)]}, "e": {}}, id="M"),
    ],
)
async def test_type_serializer_round_trips_every_type(dynamo: Dynamo, value: Any) -> None:
    await dynamo.table("Typed")
    serialize = TypeSerializer().serialize
    deserialize = TypeDeserializer().deserialize
    await dynamo("put_item", TableName="Typed", Item={"pk": serialize("k"), "v": serialize(value)})
    got = await dynamo("get_item", TableName="Typed", Key={"pk": serialize("k")})
    expected = Binary(value) if isinstance(value, bytes) else value
    assert deserialize(got["Item"]["v"]) == expected
