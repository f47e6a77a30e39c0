"""Item operations through boto3: put, get, update, delete, conditions, return values."""

from __future__ import annotations

import asyncio

import pytest

from tests.gateway.dynamodb.conftest import Dynamo, n, s


@pytest.fixture
async def users(dynamo: Dynamo) -> Dynamo:
    await dynamo.table("users")
    return dynamo


async def test_put_then_get_round_trips_every_type(users: Dynamo) -> None:
    item = {
        "pk": s("u1"),
        "name": s("Ada"),
        "big": n("12345678901234567890123456789012345678"),
        "small": n("-0.000000000000000000000000000000000001"),
        "raw": {"B": b"\x00\xffbytes"},
        "ok": {"BOOL": True},
        "nothing": {"NULL": True},
        "list": {"L": [s("a"), n(1), {"M": {"x": s("y")}}]},
        "map": {"M": {"nested": {"M": {"deep": n("1.5")}}}},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"x", b"y"]},
        "empty": s(""),
    }
    await users("put_item", TableName="users", Item=item)
    got = (await users("get_item", TableName="users", Key={"pk": s("u1")}))["Item"]
    assert got["big"] == n("12345678901234567890123456789012345678")
    assert got["small"] == n("-0.000000000000000000000000000000000001")
    assert got["raw"] == {"B": b"\x00\xffbytes"}
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert got["map"] == item["map"]
    assert got["list"] == item["list"]
    assert got["empty"] == s("")


async def test_numbers_come_back_canonical(users: Dynamo) -> None:
    await users("put_item", TableName="users", Item={"pk": s("n"), "v": n("1.50"), "w": n("1e2")})
    got = (await users("get_item", TableName="users", Key={"pk": s("n")}))["Item"]
    assert got["v"] == n("1.5")
    assert got["w"] == n("100")


async def test_get_missing_item_has_no_item(users: Dynamo) -> None:
    got = await users("get_item", TableName="users", Key={"pk": s("nobody")})
    assert "Item" not in got


async def test_projection_expression(users: Dynamo) -> None:
    await users(
        "put_item",
        TableName="users",
        Item={"pk": s("p"), "a": {"M": {"b": {"L": [n(0), n(1), {"M": {"c": s("deep")}}]}}},
              "other": s("x")},
    )  # fmt: skip
    got = await users(
        "get_item",
        TableName="users",
        Key={"pk": s("p")},
        ProjectionExpression="a.b[2].c, #o",
        ExpressionAttributeNames={"#o": "other"},
    )
    assert got["Item"] == {"a": {"M": {"b": {"L": [{"M": {"c": s("deep")}}]}}}, "other": s("x")}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": s("no key")}, "Missing the key pk"),
        ({"pk": n(1)}, "Type mismatch for key pk expected: S actual: N"),
        ({"pk": s("")}, "empty string value"),
        ({"pk": s("x"), "tags": {"SS": []}}, "empty"),
        ({"pk": s("x"), "tags": {"SS": ["a", "a"]}}, "duplicates"),
        ({"pk": s("x"), "big": n("1" * 39)}, "38"),
        ({"pk": s("x"), "huge": s("x" * (400 * 1024))}, "Item size has exceeded"),
    ],
)
async def test_bad_items_are_refused(users: Dynamo, item: dict, message: str) -> None:
    error = await users.error("put_item", TableName="users", Item=item)
    assert error["Code"] == "ValidationException"
    assert message in error["Message"]


async def test_wrong_key_is_refused(users: Dynamo) -> None:
    error = await users.error("get_item", TableName="users", Key={"id": s("x")})
    assert error["Message"] == "The provided key element does not match the schema"


async def test_condition_expression_guards_a_put(users: Dynamo) -> None:
    params = {
        "TableName": "users",
        "Item": {"pk": s("c"), "v": n(1)},
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    await users("put_item", **params)
    error = await users.error("put_item", **params)
    assert error["Code"] == "ConditionalCheckFailedException"
    assert error["Message"] == "The conditional request failed"


async def test_failed_condition_returns_the_item_when_asked(users: Dynamo) -> None:
    await users("put_item", TableName="users", Item={"pk": s("r"), "v": n(1)})
    error = await users.error(
        "put_item",
        TableName="users",
        Item={"pk": s("r"), "v": n(2)},
        ConditionExpression="v = :two",
        ExpressionAttributeValues={":two": n(2)},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    assert error["response"]["Item"] == {"pk": s("r"), "v": n(1)}


async def test_a_bad_return_on_failure_option_is_refused_even_when_the_condition_holds(
    users: Dynamo,
) -> None:
    error = await users.error(
        "put_item",
        TableName="users",
        Item={"pk": s("fresh")},
        ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_NEW",
    )
    assert error["Code"] == "ValidationException"
    assert "ALL_NEW" in error["Message"]
    assert "Item" not in await users("get_item", TableName="users", Key={"pk": s("fresh")})


async def test_put_returns_the_old_item(users: Dynamo) -> None:
    await users("put_item", TableName="users", Item={"pk": s("o"), "v": n(1)})
    replaced = await users(
        "put_item", TableName="users", Item={"pk": s("o"), "v": n(2)}, ReturnValues="ALL_OLD"
    )
    assert replaced["Attributes"] == {"pk": s("o"), "v": n(1)}
    bad = await users.error(
        "put_item", TableName="users", Item={"pk": s("o")}, ReturnValues="ALL_NEW"
    )
    assert bad["Code"] == "ValidationException"


async def test_update_expression_and_return_values(users: Dynamo) -> None:
    await users(
        "put_item",
        TableName="users",
        Item={"pk": s("u"), "count": n(1), "tags": {"SS": ["a"]}, "list": {"L": [n(1), n(2)]}},
    )
    result = await users(
        "update_item",
        TableName="users",
        Key={"pk": s("u")},
        UpdateExpression=(
            "SET #c = #c + :one, created = if_not_exists(created, :now), "
            "#l = list_append(#l, :more) ADD tags :b"
        ),
        ExpressionAttributeNames={"#c": "count", "#l": "list"},
        ExpressionAttributeValues={
            ":one": n(1),
            ":now": n(1700000000),
            ":more": {"L": [n(3)]},
            ":b": {"SS": ["b"]},
        },
        ReturnValues="UPDATED_NEW",
    )
    assert result["Attributes"]["count"] == n(2)
    assert result["Attributes"]["created"] == n(1700000000)
    await users(
        "update_item",
        TableName="users",
        Key={"pk": s("u")},
        UpdateExpression="REMOVE #l[0] DELETE tags :a",
        ExpressionAttributeNames={"#l": "list"},
        ExpressionAttributeValues={":a": {"SS": ["a"]}},
    )
    item = (await users("get_item", TableName="users", Key={"pk": s("u")}))["Item"]
    assert item["tags"] == {"SS": ["b"]}
    assert item["list"] == {"L": [n(2), n(3)]}
    old = await users(
        "update_item",
        TableName="users",
        Key={"pk": s("u")},
        UpdateExpression="SET #c = :ten",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":ten": n(10)},
        ReturnValues="UPDATED_OLD",
    )
    assert old["Attributes"] == {"count": n(2)}


async def test_update_creates_a_missing_item(users: Dynamo) -> None:
    result = await users(
        "update_item",
        TableName="users",
        Key={"pk": s("new")},
        UpdateExpression="ADD visits :one",
        ExpressionAttributeValues={":one": n(1)},
        ReturnValues="ALL_NEW",
    )
    assert result["Attributes"] == {"pk": s("new"), "visits": n(1)}


async def test_update_of_a_key_attribute_is_refused(users: Dynamo) -> None:
    error = await users.error(
        "update_item",
        TableName="users",
        Key={"pk": s("k")},
        UpdateExpression="SET pk = :x",
        ExpressionAttributeValues={":x": s("y")},
    )
    assert "Cannot update attribute pk" in error["Message"]


async def test_expression_syntax_error_names_the_token(users: Dynamo) -> None:
    error = await users.error(
        "put_item",
        TableName="users",
        Item={"pk": s("x")},
        ConditionExpression="a = AND b",
    )
    assert error["Code"] == "ValidationException"
    assert 'Invalid ConditionExpression: Syntax error; token: "AND"' in error["Message"]


async def test_unused_expression_values_are_refused(users: Dynamo) -> None:
    error = await users.error(
        "put_item",
        TableName="users",
        Item={"pk": s("x")},
        ConditionExpression="attribute_not_exists(pk)",
        ExpressionAttributeValues={":unused": n(1)},
    )
    assert "unused in expressions" in error["Message"]


async def test_legacy_parameters_are_refused_clearly(users: Dynamo) -> None:
    error = await users.error(
        "put_item",
        TableName="users",
        Item={"pk": s("x")},
        Expected={"pk": {"Exists": False}},
    )
    assert error["Code"] == "ValidationException"
    assert "Expected" in error["Message"] and "ConditionExpression" in error["Message"]


async def test_delete_with_condition_and_old_values(users: Dynamo) -> None:
    await users("put_item", TableName="users", Item={"pk": s("d"), "v": n(1)})
    error = await users.error(
        "delete_item",
        TableName="users",
        Key={"pk": s("d")},
        ConditionExpression="v > :v",
        ExpressionAttributeValues={":v": n(5)},
    )
    assert error["Code"] == "ConditionalCheckFailedException"
    deleted = await users(
        "delete_item", TableName="users", Key={"pk": s("d")}, ReturnValues="ALL_OLD"
    )
    assert deleted["Attributes"] == {"pk": s("d"), "v": n(1)}
    assert "Item" not in await users("get_item", TableName="users", Key={"pk": s("d")})


async def test_concurrent_conditional_writes_exactly_one_wins(users: Dynamo) -> None:
    clients = [users.gateway.client("dynamodb") for _ in range(8)]

    def claim(client: object, who: int) -> bool:
        try:
            client.put_item(  # type: ignore[attr-defined]
                TableName="users",
                Item={"pk": s("lock"), "owner": n(who)},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except client.exceptions.ConditionalCheckFailedException:  # type: ignore[attr-defined]
            return False

    results = await asyncio.gather(
        *(asyncio.to_thread(claim, client, i) for i, client in enumerate(clients))
    )
    assert sum(results) == 1
    item = (await users("get_item", TableName="users", Key={"pk": s("lock")}))["Item"]
    assert item["owner"] == n(results.index(True))


async def test_concurrent_counter_updates_lose_nothing(users: Dynamo) -> None:
    clients = [users.gateway.client("dynamodb") for _ in range(6)]

    def bump(client: object) -> None:
        for _ in range(10):
            client.update_item(  # type: ignore[attr-defined]
                TableName="users",
                Key={"pk": s("counter")},
                UpdateExpression="ADD hits :one",
                ExpressionAttributeValues={":one": n(1)},
            )

    await asyncio.gather(*(asyncio.to_thread(bump, client) for client in clients))
    item = (await users("get_item", TableName="users", Key={"pk": s("counter")}))["Item"]
    assert item["hits"] == n(60)


async def test_item_count_and_size_follow_writes(users: Dynamo) -> None:
    await users("put_item", TableName="users", Item={"pk": s("a"), "v": s("x" * 100)})
    await users("put_item", TableName="users", Item={"pk": s("b")})
    table = (await users("describe_table", TableName="users"))["Table"]
    assert table["ItemCount"] == 2
    assert table["TableSizeBytes"] == (2 + 1 + 1 + 100) + (2 + 1)
    await users("delete_item", TableName="users", Key={"pk": s("a")})
    table = (await users("describe_table", TableName="users"))["Table"]
    assert (table["ItemCount"], table["TableSizeBytes"]) == (1, 3)


async def test_binary_values_travel_as_base64(users: Dynamo) -> None:
    raw = bytes(range(256))
    await users("put_item", TableName="users", Item={"pk": s("bin"), "b": {"B": raw}})
    stored = await users.gateway.redis.keys("kubefn:tbl:*:i:*")
    assert stored  # items live in Redis, one key each
    got = (await users("get_item", TableName="users", Key={"pk": s("bin")}))["Item"]
    assert got["b"]["B"] == raw
