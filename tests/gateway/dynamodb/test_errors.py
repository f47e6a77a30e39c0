"""DynamoDB's errors in DynamoDB's shape: boto3's exception class, HTTP 400, and the
raw body's `__type`, for each error the API answers; and bodies or targets the
gateway cannot read answer an error without breaking it.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.gateway.dynamodb.conftest import Dynamo, n, s

NAMESPACE = "com.amazonaws.dynamodb.v20120810"
TARGET = "DynamoDB_20120810"


async def raw(
    dynamo: Dynamo, operation: str, body: bytes | dict[str, Any], *, target: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST a request as boto3 would, without boto3: (status, parsed body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": target if target is not None else f"{TARGET}.{operation}",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(dynamo.gateway.url + "/", data=data, headers=headers) as response,
    ):
        assert response.headers["Content-Type"] == "application/x-amz-json-1.0"
        assert response.headers["x-amzn-RequestId"]
        return response.status, json.loads(await response.read())


@pytest.fixture
async def tables(dynamo: Dynamo) -> Dynamo:
    await dynamo.table("things")
    await dynamo("put_item", TableName="things", Item={"pk": s("k"), "v": n(1)})
    await dynamo.table(  # 1 write unit per second, saved up for 300 s: 300 units
        "slow",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    return dynamo


def _big(key: str) -> dict[str, Any]:
    return {"pk": s(key), "v": s("x" * (399 * 1024))}  # 399 write units


# (exception, operation, parameters as boto3 takes them, parameters as JSON), in the
# order they run: the throttled table is drained by the step before its check.
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "ValidationException",
        "PutItem",
        {"TableName": "things", "Item": {"pk": n(1)}},
        {"TableName": "things", "Item": {"pk": {"N": "1"}}},
    ),
    (
        "ResourceNotFoundException",
        "DescribeTable",
        {"TableName": "nowhere"},
        {"TableName": "nowhere"},
    ),
    (
        "ResourceInUseException",
        "CreateTable",
        {
            "TableName": "things",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": "things",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    ),
    (
        "ConditionalCheckFailedException",
        "PutItem",
        {
            "TableName": "things",
            "Item": {"pk": s("k")},
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
        {
            "TableName": "things",
            "Item": {"pk": {"S": "k"}},
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    ),
    (
        "TransactionCanceledException",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "things", "Item": {"pk": s("new")}}},
                {
                    "ConditionCheck": {
                        "TableName": "things",
                        "Key": {"pk": s("k")},
                        "ConditionExpression": "v > :v",
                        "ExpressionAttributeValues": {":v": n(5)},
                    }
                },
            ]
        },
        {
            "TransactItems": [
                {"Put": {"TableName": "things", "Item": {"pk": {"S": "new"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "things",
                        "Key": {"pk": {"S": "k"}},
                        "ConditionExpression": "v > :v",
                        "ExpressionAttributeValues": {":v": {"N": "5"}},
                    }
                },
            ]
        },
    ),
    (
        "ProvisionedThroughputExceededException",
        "PutItem",
        {"TableName": "slow", "Item": {"pk": s("after")}},
        {"TableName": "slow", "Item": {"pk": {"S": "after"}}},
    ),
]


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


@pytest.mark.parametrize(
    ("code", "operation", "params", "body"), [pytest.param(*c, id=c[0]) for c in CASES]
)
async def test_each_error_reaches_boto3_as_its_class_and_the_wire_as_its_type(
    tables: Dynamo, code: str, operation: str, params: dict[str, Any], body: dict[str, Any]
) -> None:
    if code == "ProvisionedThroughputExceededException":
        await tables("put_item", TableName="slow", Item=_big("a"))  # 300 units saved, 399 used
    # boto3 models every one of these but ValidationException, which it raises as ClientError
    exceptions = tables.client.exceptions
    exception = (
        exceptions.ClientError if code == "ValidationException" else getattr(exceptions, code)
    )
    with pytest.raises(exception) as caught:
        await tables(_snake(operation), **params)
    response = caught.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    status, answer = await raw(tables, operation, body)
    assert status == 400
    assert answer["__type"] == f"{NAMESPACE}#{code}"
    assert answer["message"] == response["Error"]["Message"]
    if code == "ConditionalCheckFailedException":
        assert response["Item"] == {"pk": s("k"), "v": n(1)}
        assert answer["Item"] == {"pk": {"S": "k"}, "v": {"N": "1"}}
    if code == "TransactionCanceledException":
        reasons = [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}]
        assert [{"Code": r["Code"]} for r in response["CancellationReasons"]] == reasons
        assert [{"Code": r["Code"]} for r in answer["CancellationReasons"]] == reasons
        assert caught.value.response["Error"]["Message"].endswith("[None, ConditionalCheckFailed]")


async def test_a_failed_condition_without_return_values_carries_no_item(tables: Dynamo) -> None:
    status, answer = await raw(
        tables,
        "DeleteItem",
        {"TableName": "things", "Key": {"pk": {"S": "k"}}, "ConditionExpression": "v = :v",
         "ExpressionAttributeValues": {":v": {"N": "2"}}},
    )  # fmt: skip
    assert status == 400
    assert answer == {
        "__type": f"{NAMESPACE}#ConditionalCheckFailedException",
        "message": "The conditional request failed",
    }


@pytest.mark.parametrize(
    ("body", "target", "code"),
    [
        pytest.param(b"{not json", None, "SerializationException", id="malformed-json"),
        pytest.param(b"\xff\xfe", None, "SerializationException", id="not-utf8"),
        pytest.param(b"[1, 2]", None, "SerializationException", id="not-an-object"),
        pytest.param(b"{}", f"{TARGET}.DropEverything", "UnknownOperationException", id="op"),
        pytest.param(b"{}", "DynamoDB_20990101.ListTables", "UnknownOperationException", id="ver"),
    ],
)
async def test_unreadable_requests_are_refused_and_the_gateway_serves_on(
    tables: Dynamo, body: bytes, target: str | None, code: str
) -> None:
    status, answer = await raw(tables, "GetItem", body, target=target)
    assert status == 400
    assert answer["__type"] == f"com.amazon.coral.service#{code}"
    assert answer["message"]
    got = await tables("get_item", TableName="things", Key={"pk": s("k")})
    assert got["Item"] == {"pk": s("k"), "v": n(1)}


async def test_a_request_with_no_body_is_a_validation_error(tables: Dynamo) -> None:
    status, answer = await raw(tables, "GetItem", b"")
    assert status == 400
    assert answer["__type"] == f"{NAMESPACE}#ValidationException"
