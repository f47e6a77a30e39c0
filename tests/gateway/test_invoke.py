"""boto3's `lambda.invoke` against a running gateway, with real function processes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
from pathlib import Path

import botocore.exceptions
import pytest
import redis.asyncio as aioredis

from kubefn import limits
from kubefn.redisserver import EmbeddedRedis
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway, running_gateway

HELLO = {
    "app.py": (
        "import os\n"
        "def handler(event, context):\n"
        "    print('hello from', context.function_name)\n"
        "    return {'echo': event, 'pid': os.getpid(), 'fn': context.function_name,\n"
        "            'memory': context.memory_limit_in_mb, 'env': os.environ.get('COLOR')}\n"
    )
}


def _payload(response: dict) -> object:
    return json.loads(response["Payload"].read())


async def test_the_runtime_template_is_up_before_the_first_request(gateway: Gateway) -> None:
    def template_children() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            if ppid == os.getpid() and b"kubefn_runtime.zygote" in cmdline:
                found.append(int(entry.name))
        return found

    assert len(template_children()) == 1


async def test_invoke_returns_the_handler_result(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO, environment={"COLOR": "blue"})
    client = gateway.lambda_client()
    response = await gateway.call(client.invoke, FunctionName="hello", Payload=b'{"a": 1}')
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    body = _payload(response)
    assert body["echo"] == {"a": 1}
    assert (body["fn"], body["memory"], body["env"]) == ("hello", "128", "blue")


async def test_a_function_never_sees_the_platforms_environment(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM_SECRET", "s3cret")  # the runtime template starts after this
    await gateway.deploy(
        "env",
        environment={"MINE": "yes"},
        files={"app.py": "import os\ndef handler(e, c):\n    return dict(os.environ)\n"},
    )
    client = gateway.lambda_client()
    seen = _payload(await gateway.call(client.invoke, FunctionName="env"))
    assert isinstance(seen, dict)
    assert "PLATFORM_SECRET" not in seen
    assert (seen["MINE"], seen["AWS_LAMBDA_FUNCTION_NAME"]) == ("yes", "env")


async def test_function_error_answers_200_with_the_error_object(gateway: Gateway) -> None:
    await gateway.deploy(
        "raises",
        files={
            "app.py": "class Boom(Exception):\n    pass\n"
            "def handler(e, c):\n    raise Boom('bad order')\n"
        },
    )
    client = gateway.lambda_client()
    response = await gateway.call(client.invoke, FunctionName="raises", Payload=b"{}")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = _payload(response)
    assert error["errorType"] == "Boom"
    assert error["errorMessage"] == "bad order"
    assert any("raise Boom" in line for line in error["stackTrace"])


async def test_tail_returns_the_invocation_log(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    response = await gateway.call(
        client.invoke, FunctionName="hello", Payload=b"{}", LogType="Tail"
    )
    log = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert "hello from hello" in log
    assert f"END RequestId: {request_id}" in log
    report = next(line for line in log.splitlines() if line.startswith("REPORT"))
    for field in ("Duration:", "Billed Duration:", "Memory Size: 128 MB", "Max Memory Used:"):
        assert field in report
    assert "Init Duration:" in report  # the first invocation is a cold start
    again = await gateway.call(client.invoke, FunctionName="hello", Payload=b"{}", LogType="Tail")
    assert "Init Duration:" not in base64.b64decode(again["LogResult"]).decode()


async def test_tail_is_at_most_4_kb(gateway: Gateway) -> None:
    await gateway.deploy(
        "chatty", files={"app.py": "def handler(e, c):\n    print('x' * 20000)\n    return 1\n"}
    )
    client = gateway.lambda_client()
    response = await gateway.call(client.invoke, FunctionName="chatty", LogType="Tail")
    log = base64.b64decode(response["LogResult"])
    assert len(log) == limits.LOG_TAIL_BYTES
    assert b"REPORT RequestId" in log


async def test_unknown_function_is_resource_not_found(gateway: Gateway) -> None:
    client = gateway.lambda_client()
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        await gateway.call(client.invoke, FunctionName="nope", Payload=b"{}")
    assert "function:nope" in caught.value.response["Error"]["Message"]


async def test_unknown_qualifier_is_resource_not_found(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        await gateway.call(client.invoke, FunctionName="hello", Qualifier="7", Payload=b"{}")
    ok = await gateway.call(client.invoke, FunctionName="hello", Qualifier="$LATEST")
    assert ok["StatusCode"] == 200


async def test_function_arn_is_accepted(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    arn = "arn:aws:lambda:us-east-1:000000000000:function:hello"
    response = await gateway.call(client.invoke, FunctionName=arn, Payload=b"{}")
    assert _payload(response)["fn"] == "hello"


async def test_bad_json_is_invalid_request_content(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    with pytest.raises(client.exceptions.InvalidRequestContentException) as caught:
        await gateway.call(client.invoke, FunctionName="hello", Payload=b"{not json")
    assert "Could not parse request body into json" in caught.value.response["Error"]["Message"]


async def test_oversized_payload_is_request_too_large(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    payload = json.dumps({"blob": "x" * limits.SYNC_PAYLOAD_BYTES_MAX}).encode()
    with pytest.raises(client.exceptions.RequestTooLargeException) as caught:
        await gateway.call(client.invoke, FunctionName="hello", Payload=payload)
    message = caught.value.response["Error"]["Message"]
    assert str(limits.SYNC_PAYLOAD_BYTES_MAX) in message and str(len(payload)) in message


async def test_dry_run_checks_without_running(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    response = await gateway.call(
        client.invoke, FunctionName="hello", InvocationType="DryRun", Payload=b"{}"
    )
    assert response["StatusCode"] == 204
    assert gateway.platform.catalog.get("default/hello").pool.total == 0  # type: ignore[union-attr]


async def test_bad_client_context_is_refused(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    with pytest.raises(client.exceptions.InvalidParameterValueException) as caught:
        await gateway.call(
            client.invoke, FunctionName="hello", ClientContext="A" * 4000, Payload=b"{}"
        )
    assert "3583" in caught.value.response["Error"]["Message"]


async def test_client_context_reaches_the_handler(gateway: Gateway) -> None:
    await gateway.deploy(
        "ctx",
        files={"app.py": "def handler(e, c):\n    return c.client_context.custom\n"},
    )
    client = gateway.lambda_client()
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    response = await gateway.call(client.invoke, FunctionName="ctx", ClientContext=context)
    assert _payload(response) == {"tenant": "t1"}


async def test_timeout_fails_like_lambda_and_the_next_invoke_works(gateway: Gateway) -> None:
    await gateway.deploy(
        "slow",
        timeoutSeconds=1,
        files={
            "app.py": "import time\ndef handler(e, c):\n"
            "    if e.get('sleep'):\n        time.sleep(30)\n    return 'done'\n"
        },
    )
    client = gateway.lambda_client()
    response = await gateway.call(client.invoke, FunctionName="slow", Payload=b'{"sleep": true}')
    assert response["FunctionError"] == "Unhandled"
    error = _payload(response)
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    after = await gateway.call(client.invoke, FunctionName="slow", Payload=b"{}")
    assert _payload(after) == "done"


async def test_out_of_memory_kills_the_instance_and_the_next_invoke_works(gateway: Gateway) -> None:
    await gateway.deploy(
        "hog",
        memoryMB=128,
        files={
            "app.py": "def handler(e, c):\n"
            "    if e.get('hog'):\n        blob = bytearray(400 * 1024 * 1024)\n"
            "        return len(blob)\n    return 'fine'\n"
        },
    )
    client = gateway.lambda_client()
    response = await gateway.call(client.invoke, FunctionName="hog", Payload=b'{"hog": true}')
    assert response["FunctionError"] == "Unhandled"
    assert _payload(response)["errorType"] == "Runtime.OutOfMemory"
    after = await gateway.call(client.invoke, FunctionName="hog", Payload=b"{}")
    assert _payload(after) == "fine"


async def test_init_error_is_returned_to_the_caller(gateway: Gateway) -> None:
    await gateway.deploy("broken", files={"app.py": "import no_such_module\n"})
    client = gateway.lambda_client()
    response = await gateway.call(client.invoke, FunctionName="broken", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = _payload(response)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'app'" in error["errorMessage"]
    assert "no_such_module" in error["errorMessage"]


async def test_a_crashing_function_keeps_working_on_a_fresh_process(gateway: Gateway) -> None:
    await gateway.deploy(
        "crashy",
        files={
            "app.py": "import os\ndef handler(e, c):\n"
            "    if e.get('crash'):\n        os._exit(3)\n    return os.getpid()\n"
        },
    )
    client = gateway.lambda_client()
    before = _payload(await gateway.call(client.invoke, FunctionName="crashy"))
    crashed = await gateway.call(client.invoke, FunctionName="crashy", Payload=b'{"crash": 1}')
    assert crashed["FunctionError"] == "Unhandled"
    assert _payload(crashed)["errorType"] == "Runtime.ExitError"
    after = _payload(await gateway.call(client.invoke, FunctionName="crashy"))
    assert isinstance(after, int) and after != before


async def test_a_killed_instance_is_replaced(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    await gateway.call(client.invoke, FunctionName="hello")
    pool = gateway.platform.catalog.get("default/hello").pool  # type: ignore[union-attr]
    (instance,) = list(pool._idle)
    assert isinstance(instance.handle, int)
    os.killpg(instance.handle, signal.SIGKILL)
    await gateway.until(lambda: pool.idle == 0)
    response = await gateway.call(client.invoke, FunctionName="hello")
    assert response["StatusCode"] == 200 and "FunctionError" not in response


async def test_concurrent_invocations_get_separate_instances(gateway: Gateway) -> None:
    await gateway.deploy(
        "wait",
        timeoutSeconds=20,
        files={
            "app.py": "import os, time, pathlib\n"
            "def handler(e, c):\n"
            "    gate = pathlib.Path(e['gate'])\n"
            "    (gate / str(os.getpid())).touch()\n"
            "    while len(list(gate.iterdir())) < e['n']:\n"
            "        time.sleep(0.01)\n"
            "    return os.getpid()\n"
        },
    )
    client = gateway.lambda_client()
    gate = gateway.platform.settings.state_dir / "gate"
    gate.mkdir(parents=True)
    payload = json.dumps({"gate": str(gate), "n": 3}).encode()
    # Each invocation waits until all three run at once: only separate instances can finish.
    results = await asyncio.gather(
        *(gateway.call(client.invoke, FunctionName="wait", Payload=payload) for _ in range(3))
    )
    pids = {_payload(r) for r in results}
    assert len(pids) == 3


async def test_reserved_concurrency_zero_throttles(gateway: Gateway) -> None:
    await gateway.deploy("off", files=HELLO, reservedConcurrency=0)
    client = gateway.lambda_client()
    with pytest.raises(client.exceptions.TooManyRequestsException) as caught:
        await gateway.call(client.invoke, FunctionName="off")
    assert caught.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


async def test_a_new_revision_serves_new_invocations(gateway: Gateway) -> None:
    await gateway.deploy("v", files={"app.py": "def handler(e, c):\n    return 1\n"})
    client = gateway.lambda_client()
    assert _payload(await gateway.call(client.invoke, FunctionName="v")) == 1
    await gateway.deploy("v", files={"app.py": "def handler(e, c):\n    return 2\n"})
    assert _payload(await gateway.call(client.invoke, FunctionName="v")) == 2


async def test_an_in_flight_invocation_finishes_on_the_old_version(gateway: Gateway) -> None:
    code = (
        "import pathlib, time\n"
        "def handler(e, c):\n"
        "    if e.get('gate'):\n"
        "        pathlib.Path(e['gate'], 'started').touch()\n"
        "        while not pathlib.Path(e['gate'], 'go').exists():\n"
        "            time.sleep(0.01)\n"
        "    return VERSION\n"
    )
    await gateway.deploy("v", timeoutSeconds=20, files={"app.py": "VERSION = 1\n" + code})
    client = gateway.lambda_client()
    gate = gateway.platform.settings.state_dir / "gate"
    gate.mkdir(parents=True)
    in_flight = asyncio.create_task(
        gateway.call(client.invoke, FunctionName="v", Payload=json.dumps({"gate": str(gate)}))
    )
    await gateway.until(lambda: (gate / "started").exists())
    await gateway.deploy("v", timeoutSeconds=20, files={"app.py": "VERSION = 2\n" + code})
    assert _payload(await gateway.call(client.invoke, FunctionName="v")) == 2
    (gate / "go").touch()
    assert _payload(await in_flight) == 1


async def test_metrics_count_invocations_and_cold_starts(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    for _ in range(3):
        await gateway.call(client.invoke, FunctionName="hello")
    import urllib.request

    text = await gateway.call(
        lambda: urllib.request.urlopen(f"{gateway.url}/metrics").read().decode()
    )
    labels = 'function="hello",namespace="default"'
    assert f'kubefn_invocations_total{{{labels},outcome="success"}} 3.0' in text
    assert f"kubefn_cold_starts_total{{{labels}}} 1.0" in text
    assert f"kubefn_invocation_duration_seconds_count{{{labels}}} 3.0" in text
    assert f"kubefn_init_duration_seconds_count{{{labels}}} 1.0" in text
    assert f'kubefn_instances{{{labels},state="idle"}} 1.0' in text
    assert f"kubefn_concurrent_executions{{{labels}}} 0.0" in text
    billed = next(x for x in text.splitlines() if x.startswith("kubefn_billed_gb_seconds_total{"))
    assert float(billed.split()[-1]) >= 3 * 0.001 * 128 / 1024


async def test_idle_instances_scale_to_zero_then_cold_start_again(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    first = await gateway.call(client.invoke, FunctionName="hello", LogType="Tail")
    assert "Init Duration" in base64.b64decode(first["LogResult"]).decode()
    pool = gateway.platform.catalog.get("default/hello").pool  # type: ignore[union-attr]
    assert pool.idle == 1
    pool.reap(now=gateway.platform.catalog._clock() + 10_000, idle_seconds=600)
    assert pool.total == 0
    again = await gateway.call(client.invoke, FunctionName="hello", LogType="Tail")
    assert "Init Duration" in base64.b64decode(again["LogResult"]).decode()


async def test_event_invocations_are_refused_clearly_for_now(gateway: Gateway) -> None:
    await gateway.deploy("hello", files=HELLO)
    client = gateway.lambda_client()
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        await gateway.call(client.invoke, FunctionName="hello", InvocationType="Event")
    assert "Event" in caught.value.response["Error"]["Message"]


async def test_the_idle_reaper_scales_to_zero_on_its_own(
    redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    settings = GatewaySettings(
        redis_url=redis_server.url, state_dir=tmp_path / "state", idle_seconds=0.2
    )
    async with running_gateway(settings, redis_client) as gateway:
        await gateway.deploy("hello", files=HELLO)
        client = gateway.lambda_client()
        await gateway.call(client.invoke, FunctionName="hello")
        pool = gateway.platform.catalog.get("default/hello").pool  # type: ignore[union-attr]
        await gateway.until(lambda: pool.total == 0)
        again = await gateway.call(client.invoke, FunctionName="hello", LogType="Tail")
        assert "Init Duration" in base64.b64decode(again["LogResult"]).decode()
