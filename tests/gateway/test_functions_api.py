"""boto3's ListFunctions, GetFunction and GetFunctionConfiguration against the gateway."""

from __future__ import annotations

import base64
import hashlib

import pytest

from kubefn import codebundle
from tests.gateway.conftest import Gateway

CODE = {"app.py": "def handler(e, c):\n    return 1\n"}


async def test_get_function_describes_the_served_version(gateway: Gateway) -> None:
    await gateway.deploy(
        "hello",
        files=CODE,
        memoryMB=256,
        timeoutSeconds=7,
        environment={"COLOR": "blue"},
        reservedConcurrency=5,
    )
    client = gateway.lambda_client()
    found = await gateway.call(client.get_function, FunctionName="hello")
    configuration = found["Configuration"]
    assert configuration["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:hello"
    assert (configuration["Runtime"], configuration["Handler"]) == ("python3.11", "app.handler")
    assert (configuration["MemorySize"], configuration["Timeout"]) == (256, 7)
    assert configuration["Environment"] == {"Variables": {"COLOR": "blue"}}
    assert (configuration["State"], configuration["PackageType"]) == ("Active", "Zip")
    digest = codebundle.digest_of({"app.py": CODE["app.py"].encode()})
    assert base64.b64decode(configuration["CodeSha256"]) == bytes.fromhex(digest)
    assert len(base64.b64decode(configuration["CodeSha256"])) == hashlib.sha256().digest_size
    assert found["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    alone = await gateway.call(client.get_function_configuration, FunctionName="hello")
    assert alone["FunctionArn"] == configuration["FunctionArn"]


async def test_list_functions_pages_through_everything(gateway: Gateway) -> None:
    names = [f"fn-{i}" for i in range(5)]
    for name in names:
        await gateway.deploy(name, files=CODE)
    client = gateway.lambda_client()
    first = await gateway.call(client.list_functions, MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == names[:2]
    paginator = client.get_paginator("list_functions")
    pages = await gateway.call(lambda: list(paginator.paginate(PaginationConfig={"PageSize": 2})))
    listed = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert listed == names


async def test_get_function_of_an_unknown_name_is_not_found(gateway: Gateway) -> None:
    client = gateway.lambda_client()
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        await gateway.call(client.get_function, FunctionName="nope")
    assert "function:nope" in caught.value.response["Error"]["Message"]


async def test_list_functions_refuses_a_bad_page_size(gateway: Gateway) -> None:
    client = gateway.lambda_client()
    with pytest.raises(client.exceptions.InvalidParameterValueException) as caught:
        await gateway.call(client.list_functions, MaxItems=500)
    assert "MaxItems must be between 1 and 50" in caught.value.response["Error"]["Message"]
