"""Table triggers: real functions receive their table's stream records in batches.

Each function appends what it received to a file named in its environment, so the
test reads exactly what was delivered. Tables are published as manifests (where
triggers live); items are written with boto3. Where a test needs one exact first
batch, the items are written before the trigger exists and the trigger starts at
TRIM_HORIZON, so the whole backlog is there when the consumer first reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn import config
from kubefn.table import compile_table
from kubefn_gateway.dynamodb import streams, triggers
from kubefn_gateway.dynamodb.store import Change, Store
from kubefn_gateway.dynamodb.triggers import Backoff, Trigger, first_failure, give_up_reason
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway, running_gateway
from tests.gateway.dynamodb.conftest import Dynamo, n, s

# Appends each event to $OUT; fails (raises) for a batch holding a key named in
# $FAIL_KEYS; reports a partial failure for a record with `failOnce` the first
# time it sees it (a marker file beside $OUT remembers).
RECORDER = """
import json, os

def handler(event, context):
    out = os.environ["OUT"]
    with open(out, "a") as f:
        f.write(json.dumps(event) + "\\n")
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event.get("Records", [])]
    if set(keys) & set(os.environ.get("FAIL_KEYS", "").split(",")) - {""}:
        raise RuntimeError("poisoned batch")
    failures = []
    for record in event.get("Records", []):
        image = record["dynamodb"].get("NewImage", {})
        marker = out + "." + record["dynamodb"]["SequenceNumber"]
        if "failOnce" in image and not os.path.exists(marker):
            open(marker, "w").close()
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failures}
"""


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return dataclasses.replace(gateway_settings, ttl_sweep_seconds=3600)


async def recorder(gateway: Gateway, name: str, out: Path, **environment: str) -> Path:
    await gateway.deploy(
        name,
        files={"app.py": RECORDER},
        environment={"OUT": str(out), **environment},
        timeoutSeconds=10,
    )
    return out


def delivered(out: Path) -> list[dict[str, Any]]:
    """Every event a recorder received, in order."""
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines()]


def batches(out: Path) -> list[list[str]]:
    return [[r["dynamodb"]["Keys"]["pk"]["S"] for r in e["Records"]] for e in delivered(out)]


def flat(out: Path) -> list[str]:
    return [key for batch in batches(out) for key in batch]


async def publish_table(
    gateway: Gateway, name: str, *, triggers: list[dict[str, Any]] | None = None
) -> None:
    """Publish a Table manifest with a stream; return once this gateway serves it."""
    manifest = {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "Table",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "keySchema": [{"attributeName": "pk", "attributeType": "S", "keyType": "HASH"}],
            "stream": {"enabled": True, "viewType": "NEW_AND_OLD_IMAGES"},
            "triggers": triggers or [],
        },
    }
    compiled = compile_table(manifest)
    result = await config.publish_compiled(gateway.redis, compiled)
    await gateway.until(
        lambda: (
            (table := gateway.platform.tables.get(f"default/{name}")) is not None
            and table.revision == result.revision
        )
    )


async def put(dynamo: Dynamo, table: str, key: str, **values: Any) -> None:
    await dynamo("put_item", TableName=table, Item={"pk": s(key), **values})


async def checkpoint(redis: aioredis.Redis, table: str, function: str) -> str | None:
    key = triggers.checkpoint_key(f"default/{table}", function)
    raw: Any = await redis.hget(key, "sequence")
    return raw.decode() if raw is not None else None


async def failures(redis: aioredis.Redis, table: str, function: str) -> list[dict[str, Any]]:
    raw = await redis.lrange(triggers.failures_key(f"default/{table}", function), 0, -1)
    return [json.loads(r) for r in raw]


@pytest.mark.parametrize(
    ("body", "failed_from"),
    [
        pytest.param(b"", None, id="no-answer"),
        pytest.param(b"null", None, id="null"),
        pytest.param(b'{"batchItemFailures": []}', None, id="empty"),
        pytest.param(b'"done"', None, id="not-an-object"),
        pytest.param(b'{"batchItemFailures": [{"itemIdentifier": "3"}]}', 2, id="one"),
        pytest.param(
            b'{"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}',
            1,
            id="first-of-several",
        ),
        pytest.param(b'{"batchItemFailures": [{"itemIdentifier": "9"}]}', 0, id="unknown"),
        pytest.param(b'{"batchItemFailures": [{"itemIdentifier": ""}]}', 0, id="blank"),
        pytest.param(b'{"batchItemFailures": [{}]}', 0, id="no-identifier"),
        pytest.param(b'{"batchItemFailures": "2"}', 0, id="not-a-list"),
    ],
)
def test_first_failure(body: bytes, failed_from: int | None) -> None:
    assert first_failure(body, ["1", "2", "3"]) == failed_from


def trigger(**overrides: Any) -> Trigger:
    base = Trigger(
        table_id="default/t",
        namespace="default",
        table_name="t",
        function="f",
        batch_size=10,
        window_seconds=0,
        starting_position="LATEST",
        maximum_retry_attempts=2,
        bisect=False,
        on_failure=None,
    )
    return dataclasses.replace(base, **overrides)


@pytest.mark.parametrize(
    ("retries", "attempts", "age", "reason"),
    [
        pytest.param(2, 1, 0, None, id="first-failure"),
        pytest.param(2, 2, 0, None, id="one-retry-left"),
        pytest.param(2, 3, 0, "RetryAttemptsExhausted", id="exhausted"),
        pytest.param(0, 1, 0, "RetryAttemptsExhausted", id="no-retries"),
        pytest.param(-1, 10_000, 0, None, id="until-expiry"),
        pytest.param(-1, 5, 25 * 3600, "RecordAgeExceeded", id="expired"),
    ],
)
def test_give_up_reason(retries: int, attempts: int, age: float, reason: str | None) -> None:
    now = 1_000_000.0
    found = give_up_reason(
        trigger(maximum_retry_attempts=retries), attempts=attempts, oldest_at=now - age, now=now
    )
    assert found == reason


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 0.1), (1, 0.1), (2, 0.2), (3, 0.4), (10, 5.0)],
)
def test_backoff_doubles_up_to_its_cap(attempts: int, seconds: float) -> None:
    assert Backoff(base=0.1, cap=5.0).seconds(attempts) == pytest.approx(seconds)


async def test_batches_arrive_in_stream_order(
    gateway: Gateway, dynamo: Dynamo, tmp_path: Path
) -> None:
    out = await recorder(gateway, "audit", tmp_path / "audit.jsonl")
    await publish_table(
        gateway,
        "orders",
        triggers=[{"function": "audit", "batchSize": 2, "startingPosition": "TRIM_HORIZON"}],
    )
    for key in ("a", "b", "c", "d", "e"):
        await put(dynamo, "orders", key, qty=n(1))
    await put(dynamo, "orders", "a", qty=n(2))
    await dynamo("delete_item", TableName="orders", Key={"pk": s("b")})
    arn = (await dynamo("describe_table", TableName="orders"))["Table"]["LatestStreamArn"]

    await gateway.until(lambda: len(flat(out)) >= 7)

    records = [r for event in delivered(out) for r in event["Records"]]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [
        ("INSERT", "a"),
        ("INSERT", "b"),
        ("INSERT", "c"),
        ("INSERT", "d"),
        ("INSERT", "e"),
        ("MODIFY", "a"),
        ("REMOVE", "b"),
    ]
    assert all(1 <= len(batch) <= 2 for batch in batches(out))
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert numbers == sorted(set(numbers))
    modify = records[5]
    assert modify["eventSourceARN"] == arn
    assert modify["eventSource"] == "aws:dynamodb"
    assert modify["eventVersion"] == "1.1"
    assert modify["awsRegion"] == "us-east-1"
    assert modify["dynamodb"]["NewImage"] == {"pk": s("a"), "qty": n(2)}
    assert modify["dynamodb"]["OldImage"] == {"pk": s("a"), "qty": n(1)}
    assert modify["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"

    async def checkpointed() -> bool:
        return await checkpoint(gateway.redis, "orders", "audit") == numbers[-1]

    await until_async(checkpointed)
    success = gateway.platform.metrics.registry.get_sample_value(
        "kubefn_stream_batches_total",
        {"namespace": "default", "table": "orders", "function": "audit", "outcome": "success"},
    )
    assert success == len(batches(out))


async def test_latest_starts_when_the_trigger_starts(
    gateway: Gateway, dynamo: Dynamo, tmp_path: Path
) -> None:
    out = await recorder(gateway, "audit", tmp_path / "audit.jsonl")
    await publish_table(gateway, "orders")
    await put(dynamo, "orders", "before")
    await publish_table(gateway, "orders", triggers=[{"function": "audit"}])
    await until_async(lambda: checkpoint(gateway.redis, "orders", "audit"))
    await put(dynamo, "orders", "after")

    await gateway.until(lambda: len(flat(out)) >= 1)

    assert flat(out) == ["after"]


async def until_async(probe: Callable[[], Awaitable[Any]], *, timeout: float = 20.0) -> None:
    """Poll an async probe (Redis) until it answers something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)  # the polling period


async def test_a_restart_resumes_at_the_checkpoint(
    gateway_settings: GatewaySettings,
    redis_client: aioredis.Redis,
    tmp_path: Path,
) -> None:
    """Records written while no gateway runs are delivered by the next, once, in order."""
    out = tmp_path / "audit.jsonl"
    async with running_gateway(gateway_settings, redis_client) as first:
        dynamo = Dynamo(gateway=first, client=first.client("dynamodb"))
        await recorder(first, "audit", out)
        await publish_table(
            first, "orders", triggers=[{"function": "audit", "startingPosition": "TRIM_HORIZON"}]
        )
        for key in ("a", "b", "c"):
            await put(dynamo, "orders", key)
        await first.until(lambda: len(flat(out)) >= 3)
        table = first.platform.tables.get("default/orders")
    assert table is not None

    store = Store(redis_client)
    for key in ("d", "e", "f"):
        change = Change(table=table, key={"pk": s(key)}, before=None, after={"pk": s(key)})
        assert await store.commit([change]) is None

    async with running_gateway(gateway_settings, redis_client) as second:
        dynamo = Dynamo(gateway=second, client=second.client("dynamodb"))
        await second.until(lambda: len(flat(out)) >= 6)
        await put(dynamo, "orders", "g")
        await second.until(lambda: len(flat(out)) >= 7)

    assert flat(out) == ["a", "b", "c", "d", "e", "f", "g"]


async def test_two_replicas_deliver_each_record_once(
    gateway: Gateway,
    dynamo: Dynamo,
    gateway_settings: GatewaySettings,
    redis_client: aioredis.Redis,
    tmp_path: Path,
) -> None:
    out = await recorder(gateway, "audit", tmp_path / "audit.jsonl")
    other = dataclasses.replace(gateway_settings, state_dir=tmp_path / "other", replica="other")
    async with running_gateway(other, redis_client) as second:
        await publish_table(
            gateway, "orders", triggers=[{"function": "audit", "startingPosition": "TRIM_HORIZON"}]
        )
        await second.until(lambda: second.platform.tables.get("default/orders") is not None)
        keys = [f"k{i}" for i in range(8)]
        for key in keys:
            await put(dynamo, "orders", key)
        await gateway.until(lambda: len(flat(out)) >= len(keys))

    assert flat(out) == keys


async def test_a_failing_batch_goes_to_on_failure_and_the_list(
    gateway: Gateway, dynamo: Dynamo, tmp_path: Path
) -> None:
    broken = await recorder(gateway, "broken", tmp_path / "broken.jsonl", FAIL_KEYS="bad")
    dlq = await recorder(gateway, "dlq", tmp_path / "dlq.jsonl")
    await publish_table(gateway, "orders")
    await put(dynamo, "orders", "bad")
    await publish_table(
        gateway,
        "orders",
        triggers=[
            {
                "function": "broken",
                "startingPosition": "TRIM_HORIZON",
                "maximumRetryAttempts": 1,
                "onFailure": {"function": "dlq"},
            }
        ],
    )
    arn = (await dynamo("describe_table", TableName="orders"))["Table"]["LatestStreamArn"]

    await gateway.until(lambda: len(delivered(dlq)) >= 1)
    await put(dynamo, "orders", "good")  # the trigger moved on past the failed batch
    await gateway.until(lambda: "good" in flat(broken))

    assert batches(broken) == [["bad"], ["bad"], ["good"]]
    (sent,) = delivered(dlq)
    assert await failures(gateway.redis, "orders", "broken") == [sent]
    number = delivered(broken)[0]["Records"][0]["dynamodb"]["SequenceNumber"]
    info = sent.pop("DDBStreamBatchInfo")
    context = sent.pop("requestContext")
    assert sent.pop("timestamp").endswith("Z")
    assert sent == {
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
    }
    assert context.pop("requestId")
    assert context == {
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:broken",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 2,
    }
    assert info.pop("shardId").startswith("shardId-")
    assert info.pop("approximateArrivalOfFirstRecord").endswith("Z")
    assert info.pop("approximateArrivalOfLastRecord").endswith("Z")
    assert info == {
        "startSequenceNumber": number,
        "endSequenceNumber": number,
        "batchSize": 1,
        "streamArn": arn,
    }


async def test_a_failure_record_is_kept_when_its_destination_fails(
    gateway: Gateway, dynamo: Dynamo, tmp_path: Path
) -> None:
    await recorder(gateway, "broken", tmp_path / "broken.jsonl", FAIL_KEYS="bad")
    await publish_table(
        gateway,
        "orders",
        triggers=[
            {
                "function": "broken",
                "maximumRetryAttempts": 0,
                "startingPosition": "TRIM_HORIZON",
                "onFailure": {"function": "missing"},
            }
        ],
    )
    await put(dynamo, "orders", "bad")

    await until_async(lambda: failures(gateway.redis, "orders", "broken"))

    (kept,) = await failures(gateway.redis, "orders", "broken")
    assert kept["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert kept["requestContext"]["approximateInvokeCount"] == 1


async def test_batch_item_failures_retry_from_the_first_failed_record(
    gateway: Gateway, dynamo: Dynamo, tmp_path: Path
) -> None:
    out = await recorder(gateway, "partial", tmp_path / "partial.jsonl")
    await publish_table(gateway, "orders")
    await put(dynamo, "orders", "a")
    await put(dynamo, "orders", "b", failOnce=n(1))
    await put(dynamo, "orders", "c")
    await publish_table(
        gateway,
        "orders",
        triggers=[{"function": "partial", "startingPosition": "TRIM_HORIZON", "batchSize": 10}],
    )

    await gateway.until(lambda: len(batches(out)) >= 2)

    assert batches(out) == [["a", "b", "c"], ["b", "c"]]


async def test_bisect_isolates_the_failing_record(
    gateway: Gateway, dynamo: Dynamo, tmp_path: Path
) -> None:
    out = await recorder(gateway, "picky", tmp_path / "picky.jsonl", FAIL_KEYS="p")
    await publish_table(gateway, "orders")
    for key in ("a", "b", "p", "d"):
        await put(dynamo, "orders", key)
    await publish_table(
        gateway,
        "orders",
        triggers=[
            {
                "function": "picky",
                "startingPosition": "TRIM_HORIZON",
                "maximumRetryAttempts": 0,
                "bisectBatchOnFunctionError": True,
            }
        ],
    )

    await gateway.until(lambda: len(batches(out)) >= 5)
    await until_async(lambda: failures(gateway.redis, "orders", "picky"))

    assert batches(out) == [["a", "b", "p", "d"], ["a", "b"], ["p", "d"], ["p"], ["d"]]
    (kept,) = await failures(gateway.redis, "orders", "picky")
    assert kept["DDBStreamBatchInfo"]["batchSize"] == 1


async def test_throttles_are_retried_without_using_up_retries(
    gateway: Gateway, dynamo: Dynamo, tmp_path: Path
) -> None:
    out = tmp_path / "audit.jsonl"
    await gateway.deploy(
        "audit",
        files={"app.py": RECORDER},
        environment={"OUT": str(out)},
        reservedConcurrency=0,
    )
    await publish_table(
        gateway,
        "orders",
        triggers=[
            {"function": "audit", "startingPosition": "TRIM_HORIZON", "maximumRetryAttempts": 0}
        ],
    )
    await put(dynamo, "orders", "a")
    labels = {"namespace": "default", "table": "orders", "function": "audit"}

    def throttled() -> float:
        sample = gateway.platform.metrics.registry.get_sample_value(
            "kubefn_stream_batches_total", {**labels, "outcome": "throttled"}
        )
        return sample or 0.0

    await gateway.until(lambda: throttled() >= 3)
    await recorder(gateway, "audit", out)  # the same function, no longer throttled
    await gateway.until(lambda: len(flat(out)) >= 1)

    assert flat(out) == ["a"]
    assert await failures(gateway.redis, "orders", "audit") == []


async def test_an_idle_poll_of_a_stream_ends_empty_not_in_a_client_timeout(
    redis_client: aioredis.Redis,
) -> None:
    # The gateway's Redis client gives up on a reply after 5 s (redis-py's default): a
    # trigger's blocking read of a quiet stream must end before that, or every idle
    # poll would fail and back off.
    client = aioredis.Redis.from_url(
        f"redis://127.0.0.1:{redis_client.connection_pool.connection_kwargs['port']}/0"
    )
    try:
        found = await streams.wait(
            client, "default/quiet", after_id="0-0", count=10, block_ms=triggers.POLL_MS
        )
    finally:
        await client.aclose()
    assert found == []
