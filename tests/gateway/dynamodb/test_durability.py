"""Durability: acknowledged writes survive a Redis restart, and a killed gateway
leaves every write whole or absent (item, index entries, count, stream record).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from kubefn import tabledata
from kubefn.redisserver import EmbeddedRedis, free_port
from tests.conftest import REPO, aws_client
from tests.gateway.dynamodb.conftest import Dynamo, n, s

TABLE = "durable"


async def create_table(dynamo: Dynamo) -> None:
    """A table with a sort key, a GSI, an LSI and a stream of both images."""
    await dynamo.table(
        TABLE,
        range_key=("sk", "N"),
        definitions={"g": "S", "l": "N"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byG",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byL",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def item(partition: str, sk: int, *, g: str | None = None) -> dict[str, Any]:
    value = {"pk": s(partition), "sk": n(sk), "l": n(1000 - sk), "v": s("x" * 50)}
    if g is not None:
        value["g"] = s(g)
    return value


async def scan_all(dynamo: Dynamo, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = await dynamo("scan", TableName=TABLE, **{"ConsistentRead": True, **params, **extra})
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if start is None:
            return items


def identity(value: dict[str, Any]) -> tuple[str, str]:
    return value["pk"]["S"], value["sk"]["N"]


async def stream_records(redis: aioredis.Redis) -> list[tabledata.StreamRecord]:
    key = tabledata.stream_key(tabledata.table_id("default", TABLE))
    entries: list[Any] = await redis.xrange(key) or []
    return [tabledata.StreamRecord.from_json(fields[b"r"]) for _, fields in entries]


async def check_whole(dynamo: Dynamo, redis: aioredis.Redis) -> list[dict[str, Any]]:
    """Every stored item has exactly its index entries and its latest stream image,
    and the table's counters match the items; returns the items."""
    items = await scan_all(dynamo)
    keys = sorted(identity(i) for i in items)
    assert len(set(keys)) == len(keys)
    gsi = await scan_all(dynamo, IndexName="byG", ConsistentRead=False)
    assert sorted(identity(i) for i in gsi) == sorted(identity(i) for i in items if "g" in i)
    assert sorted(map(str, gsi)) == sorted(str(i) for i in items if "g" in i)
    lsi = await scan_all(dynamo, IndexName="byL")
    assert sorted(map(str, lsi)) == sorted(map(str, items))
    for one in items:
        if "g" in one:
            found = await dynamo(
                "query",
                TableName=TABLE,
                IndexName="byG",
                KeyConditionExpression="g = :g AND sk = :sk",
                ExpressionAttributeValues={":g": one["g"], ":sk": one["sk"]},
            )
            assert [identity(i) for i in found["Items"]].count(identity(one)) == 1
    described = (await dynamo("describe_table", TableName=TABLE))["Table"]
    assert described["ItemCount"] == len(items)
    stats = await tabledata.stats(redis, tabledata.table_id("default", TABLE))
    assert stats.items == len(items)
    latest: dict[tuple[str, str], Any] = {}
    for record in await stream_records(redis):
        latest[identity(dict(record.keys))] = record
    stored = {identity(i): i for i in items}
    assert {k for k, r in latest.items() if r.event_name != "REMOVE"} == set(stored)
    for key, one in stored.items():
        assert latest[key].new_image == one  # S and N only: boto3's form is the stored one
    return items


# -- Redis restarted (AOF) under a running gateway


async def test_acknowledged_writes_survive_a_redis_restart(
    dynamo: Dynamo, redis_server: EmbeddedRedis, redis_client: aioredis.Redis
) -> None:
    await create_table(dynamo)
    for i in range(30):
        await dynamo("put_item", TableName=TABLE, Item=item(f"p{i % 4}", i, g=f"g{i % 3}"))
    await dynamo(
        "update_item",
        TableName=TABLE,
        Key={"pk": s("p0"), "sk": n(0)},
        UpdateExpression="SET g = :g REMOVE v",
        ExpressionAttributeValues={":g": s("moved")},
    )
    await dynamo("delete_item", TableName=TABLE, Key={"pk": s("p1"), "sk": n(1)})
    before = await check_whole(dynamo, redis_client)
    records_before = len(await stream_records(redis_client))

    port = redis_server.port
    redis_server.stop()
    redis_server.start()  # the same data directory and port: Redis replays its AOF
    assert redis_server.port == port

    # The gateway reconnects by itself: no request fails, not even the first (the
    # client here does not retry).
    fresh = redis_server.client()
    try:
        after = await check_whole(dynamo, fresh)
        assert sorted(map(str, after)) == sorted(map(str, before))
        assert len(await stream_records(fresh)) == records_before
        moved = await dynamo(
            "query",
            TableName=TABLE,
            IndexName="byG",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": s("moved")},
        )
        assert [identity(i) for i in moved["Items"]] == [("p0", "0")]
        # and it keeps writing
        await dynamo("put_item", TableName=TABLE, Item=item("later", 99, g="g0"))
        assert len(await check_whole(dynamo, fresh)) == len(before) + 1
    finally:
        await fresh.aclose()


# -- a gateway killed in the middle of writes


def _start_gateway(redis_url: str, state_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "gateway"), str(REPO)])}
    process = subprocess.Popen(
        [sys.executable, "-m", "kubefn_gateway", "--host", "127.0.0.1", "--port", str(port),
         "--redis-url", redis_url, "--state-dir", str(state_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:  # readiness: /healthz answers 200 once the config is loaded
        if process.poll() is not None:
            raise AssertionError(f"gateway exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("gateway did not become ready")
        time.sleep(0.02)  # poll interval of the readiness check


class Hammer:
    """Threads writing through boto3 until the gateway goes; records what was acknowledged."""

    def __init__(self, url: str, *, threads: int) -> None:
        self.url = url
        self.acknowledged: list[dict[str, Any]] = []
        self.enough = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(t,)) for t in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=60)
            assert not thread.is_alive()

    def _run(self, worker: int) -> None:
        client = aws_client("dynamodb", self.url, read_timeout=10)
        i = 0
        while True:
            i += 1
            # puts of new items, and updates that move the item put just before to
            # another GSI partition
            if i % 3 == 0:
                key = {"pk": s(f"w{worker}"), "sk": n(i - 1)}
                request: dict[str, Any] = {
                    "Key": key,
                    "UpdateExpression": "SET g = :g, l = l + :one",
                    "ExpressionAttributeValues": {":g": s(f"moved{i % 5}"), ":one": n(1)},
                }
                operation = client.update_item
            else:
                request = {"Item": item(f"w{worker}", i, g=f"g{i % 7}")}
                operation = client.put_item
            try:
                operation(TableName=TABLE, **request)
            except Exception:  # the gateway is gone
                return
            with self._lock:
                self.acknowledged.append(request)
                if len(self.acknowledged) >= 150:
                    self.enough.set()


async def test_a_killed_gateway_leaves_no_half_written_item(
    dynamo: Dynamo, redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    await create_table(dynamo)  # published through Redis; the other gateway follows it
    process, url = await asyncio.to_thread(
        _start_gateway, redis_server.url, tmp_path / "killed-state"
    )
    try:
        await asyncio.to_thread(_until_served, url)
        hammer = Hammer(url, threads=6)
        hammer.start()
        try:
            assert await asyncio.to_thread(hammer.enough.wait, 60), "the writers stopped early"
            process.send_signal(signal.SIGKILL)  # while the writers are in full flow
            await asyncio.to_thread(process.wait)
        finally:
            await asyncio.to_thread(hammer.join)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()

    # The fixture's gateway, which wrote none of it, finds every write whole.
    items = await check_whole(dynamo, redis_client)
    stored = {identity(i): i for i in items}
    for request in hammer.acknowledged:  # and every acknowledged write there
        if "Item" in request:
            assert identity(request["Item"]) in stored
        else:
            assert stored[identity(request["Key"])]["g"]["S"].startswith("moved")
    assert len(stored) >= sum(1 for r in hammer.acknowledged if "Item" in r)


def _until_served(url: str) -> None:
    """Poll (bounded) until the gateway serves the table."""
    client = aws_client("dynamodb", url)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.describe_table(TableName=TABLE)
            return
        except client.exceptions.ResourceNotFoundException:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.02)  # poll interval while the config arrives
