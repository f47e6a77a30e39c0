"""BatchGetItem, BatchWriteItem and transactions through boto3."""

from __future__ import annotations

import asyncio

import pytest

from tests.gateway.dynamodb.conftest import Dynamo, n, s


@pytest.fixture
async def accounts(dynamo: Dynamo) -> Dynamo:
    await dynamo.table("accounts")
    for who, balance in (("a", 100), ("b", 0)):
        await dynamo("put_item", TableName="accounts", Item={"pk": s(who), "balance": n(balance)})
    return dynamo


async def test_batch_write_and_get(dynamo: Dynamo) -> None:
    await dynamo.table("batched")
    await dynamo(
        "batch_write_item",
        RequestItems={
            "batched": [{"PutRequest": {"Item": {"pk": s(f"k{i}"), "v": n(i)}}} for i in range(25)]
        },
    )
    await dynamo(
        "batch_write_item", RequestItems={"batched": [{"DeleteRequest": {"Key": {"pk": s("k0")}}}]}
    )
    got = await dynamo(
        "batch_get_item",
        RequestItems={
            "batched": {
                "Keys": [{"pk": s(f"k{i}")} for i in range(5)],
                "ProjectionExpression": "v",
            }
        },
    )
    assert sorted(int(i["v"]["N"]) for i in got["Responses"]["batched"]) == [1, 2, 3, 4]
    assert got["UnprocessedKeys"] == {}


async def test_batch_limits_and_duplicates(dynamo: Dynamo) -> None:
    await dynamo.table("lim")
    too_many = await dynamo.error(
        "batch_write_item",
        RequestItems={"lim": [{"PutRequest": {"Item": {"pk": s(f"k{i}")}}} for i in range(26)]},
    )
    assert too_many["Code"] == "ValidationException"
    assert "25" in too_many["Message"]
    dup = await dynamo.error(
        "batch_write_item",
        RequestItems={"lim": [{"PutRequest": {"Item": {"pk": s("k")}}}] * 2},
    )
    assert "duplicates" in dup["Message"]
    many_keys = await dynamo.error(
        "batch_get_item", RequestItems={"lim": {"Keys": [{"pk": s(f"k{i}")} for i in range(101)]}}
    )
    assert "Too many items" in many_keys["Message"]
    assert (await dynamo("scan", TableName="lim"))["Count"] == 0


async def test_transaction_moves_money_all_or_nothing(accounts: Dynamo) -> None:
    def transfer(amount: int) -> list[dict]:
        return [
            {
                "Update": {
                    "TableName": "accounts",
                    "Key": {"pk": s("a")},
                    "UpdateExpression": "SET balance = balance - :x",
                    "ConditionExpression": "balance >= :x",
                    "ExpressionAttributeValues": {":x": n(amount)},
                }
            },
            {
                "Update": {
                    "TableName": "accounts",
                    "Key": {"pk": s("b")},
                    "UpdateExpression": "SET balance = balance + :x",
                    "ExpressionAttributeValues": {":x": n(amount)},
                }
            },
        ]

    await accounts("transact_write_items", TransactItems=transfer(60))
    error = await accounts.error("transact_write_items", TransactItems=transfer(60))
    assert error["Code"] == "TransactionCanceledException"
    reasons = error["response"]["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None"]
    got = await accounts(
        "transact_get_items",
        TransactItems=[
            {"Get": {"TableName": "accounts", "Key": {"pk": s("a")}}},
            {"Get": {"TableName": "accounts", "Key": {"pk": s("b")}}},
            {"Get": {"TableName": "accounts", "Key": {"pk": s("nobody")}}},
        ],
    )
    balances = [r.get("Item", {}).get("balance") for r in got["Responses"]]
    assert balances == [n(40), n(60), None]


async def test_transaction_token_applies_once(accounts: Dynamo) -> None:
    items = [
        {
            "Update": {
                "TableName": "accounts",
                "Key": {"pk": s("b")},
                "UpdateExpression": "ADD balance :one",
                "ExpressionAttributeValues": {":one": n(1)},
            }
        }
    ]
    for _ in range(3):
        await accounts("transact_write_items", TransactItems=items, ClientRequestToken="t-1")
    item = (await accounts("get_item", TableName="accounts", Key={"pk": s("b")}))["Item"]
    assert item["balance"] == n(1)
    items[0]["Update"]["ExpressionAttributeValues"] = {":one": n(2)}
    error = await accounts.error(
        "transact_write_items", TransactItems=items, ClientRequestToken="t-1"
    )
    assert error["Code"] == "IdempotentParameterMismatchException"


async def test_one_item_twice_in_a_transaction_is_refused(accounts: Dynamo) -> None:
    error = await accounts.error(
        "transact_write_items",
        TransactItems=[
            {"Delete": {"TableName": "accounts", "Key": {"pk": s("a")}}},
            {"ConditionCheck": {"TableName": "accounts", "Key": {"pk": s("a")},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ],
    )  # fmt: skip
    assert error["Code"] == "ValidationException"
    assert "multiple operations on one item" in error["Message"]


async def test_transactions_and_concurrent_writes_keep_the_sum(accounts: Dynamo) -> None:
    """Transfers race plain updates of the same items; no money appears or vanishes."""
    client = accounts.gateway.client("dynamodb")
    writer = accounts.gateway.client("dynamodb")

    def transfers() -> int:
        done = 0
        for _ in range(20):
            try:
                client.transact_write_items(
                    TransactItems=[
                        {"Update": {"TableName": "accounts", "Key": {"pk": s("a")},
                                    "UpdateExpression": "ADD balance :m",
                                    "ConditionExpression": "balance >= :p",
                                    "ExpressionAttributeValues": {":m": n(-1), ":p": n(1)}}},
                        {"Update": {"TableName": "accounts", "Key": {"pk": s("b")},
                                    "UpdateExpression": "ADD balance :p",
                                    "ExpressionAttributeValues": {":p": n(1)}}},
                    ]
                )  # fmt: skip
                done += 1
            except client.exceptions.TransactionCanceledException:
                pass
        return done

    def deposits() -> None:
        for _ in range(20):
            writer.update_item(
                TableName="accounts",
                Key={"pk": s("a")},
                UpdateExpression="ADD balance :one, deposits :one",
                ExpressionAttributeValues={":one": n(1)},
            )

    await asyncio.gather(asyncio.to_thread(transfers), asyncio.to_thread(deposits))
    a = (await accounts("get_item", TableName="accounts", Key={"pk": s("a")}))["Item"]
    b = (await accounts("get_item", TableName="accounts", Key={"pk": s("b")}))["Item"]
    assert a["deposits"] == n(20)
    assert int(a["balance"]["N"]) + int(b["balance"]["N"]) == 120
