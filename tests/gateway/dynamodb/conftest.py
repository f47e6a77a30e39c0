"""DynamoDB tests: boto3 against a real gateway on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.gateway.conftest import Gateway


@dataclass
class Service:
    """A boto3 client bound to a running gateway, called off its event loop."""

    gateway: Gateway
    client: Any

    async def __call__(self, operation: str, **params: Any) -> Any:
        return await self.gateway.call(getattr(self.client, operation), **params)

    async def error(self, operation: str, **params: Any) -> dict[str, Any]:
        """The error an operation answers with (it must fail): boto3's parsed Error plus body."""
        try:
            await self(operation, **params)
        except self.client.exceptions.ClientError as exc:
            return {**exc.response["Error"], "response": exc.response, "exception": exc}
        raise AssertionError(f"{operation} succeeded")


@dataclass
class Dynamo(Service):
    """boto3's `dynamodb` client, with a shorthand for making tables."""

    async def table(
        self,
        name: str,
        *,
        hash_key: tuple[str, str] = ("pk", "S"),
        range_key: tuple[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        key_schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
        definitions = {hash_key[0]: hash_key[1]}
        if range_key is not None:
            key_schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
            definitions[range_key[0]] = range_key[1]
        definitions.update(extra.pop("definitions", {}))
        response = await self(
            "create_table",
            TableName=name,
            KeySchema=key_schema,
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": t} for n, t in definitions.items()
            ],
            BillingMode=extra.pop("BillingMode", "PAY_PER_REQUEST"),
            **extra,
        )
        return dict(response["TableDescription"])


@pytest.fixture
async def dynamo(gateway: Gateway) -> AsyncIterator[Dynamo]:
    yield Dynamo(gateway=gateway, client=gateway.client("dynamodb"))


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: str | int) -> dict[str, str]:
    return {"N": str(value)}
