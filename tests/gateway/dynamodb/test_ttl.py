"""Time to Live: expired items are deleted once each, with a REMOVE record by the service.

Most tests sweep on demand (`platform.ttl.sweep()`) on a gateway whose own sweeper
waits an hour between passes, so what a pass sees is exactly what the test wrote;
the background sweepers of two gateways are tested on their own, until done.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn import config, tabledata
from kubefn import table as tablespec
from kubefn.redisserver import free_port
from kubefn_gateway.dynamodb.store import Store
from kubefn_gateway.dynamodb.tables import TableCatalog
from kubefn_gateway.dynamodb.ttl import Sweeper, expired
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway, running_gateway
from tests.gateway.dynamodb.conftest import Dynamo, n, s

STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
PAST = int(time.time()) - 3600
FUTURE = int(time.time()) + 3600


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return dataclasses.replace(gateway_settings, ttl_sweep_seconds=3600)


async def ttl_table(dynamo: Dynamo, name: str, **keys: Any) -> None:
    await dynamo.table(name, StreamSpecification=STREAM, **keys)
    await dynamo(
        "update_time_to_live",
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )


async def removals(redis: aioredis.Redis, table: str) -> list[tabledata.StreamRecord]:
    entries = await redis.xrange(tabledata.stream_key(tabledata.table_id("default", table)))
    records = [tabledata.StreamRecord.from_json(fields[b"r"]) for _, fields in entries]
    return [r for r in records if r.event_name == "REMOVE"]


async def keys_of(dynamo: Dynamo, table: str) -> set[str]:
    items = (await dynamo("scan", TableName=table, ConsistentRead=True))["Items"]
    return {item["pk"]["S"] for item in items}


@pytest.mark.parametrize(
    ("expiry", "now", "due"),
    [
        pytest.param(None, 100.0, False, id="no-expiry"),
        pytest.param(99.5, 100.0, True, id="past"),
        pytest.param(100.0, 100.0, True, id="now"),
        pytest.param(100.5, 100.0, False, id="future"),
    ],
)
def test_expired(expiry: float | None, now: float, due: bool) -> None:
    assert expired(expiry, now=now) is due


async def test_expired_items_go_and_the_others_stay(dynamo: Dynamo) -> None:
    await ttl_table(dynamo, "sessions")
    items = {
        "old": {"pk": s("old"), "expires": n(PAST)},
        "older": {"pk": s("older"), "expires": n(PAST - 86400)},
        "fresh": {"pk": s("fresh"), "expires": n(FUTURE)},
        "forever": {"pk": s("forever")},
        "text": {"pk": s("text"), "expires": s(str(PAST))},  # not a number: never expires
    }
    for item in items.values():
        await dynamo("put_item", TableName="sessions", Item=item)

    assert await dynamo.gateway.platform.ttl.sweep() == 2
    assert await keys_of(dynamo, "sessions") == {"fresh", "forever", "text"}
    assert await dynamo.gateway.platform.ttl.sweep() == 0


async def test_each_deletion_is_a_remove_record_by_the_service(dynamo: Dynamo) -> None:
    await ttl_table(dynamo, "carts")
    item = {"pk": s("c1"), "expires": n(PAST), "total": n("12.5")}
    await dynamo("put_item", TableName="carts", Item=item)
    await dynamo.gateway.platform.ttl.sweep()

    [record] = await removals(dynamo.gateway.redis, "carts")
    assert record.by_ttl
    assert record.keys == {"pk": s("c1")}
    assert record.old_image == item

    streams = dynamo.gateway.client("dynamodbstreams")
    [stream] = (await dynamo.gateway.call(streams.list_streams, TableName="carts"))["Streams"]
    description = await dynamo.gateway.call(streams.describe_stream, StreamArn=stream["StreamArn"])
    [shard] = description["StreamDescription"]["Shards"]
    iterator = await dynamo.gateway.call(
        streams.get_shard_iterator,
        StreamArn=stream["StreamArn"],
        ShardId=shard["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )
    got = await dynamo.gateway.call(streams.get_records, ShardIterator=iterator["ShardIterator"])
    assert [(r["eventName"], r.get("userIdentity")) for r in got["Records"]] == [
        ("INSERT", None),
        ("REMOVE", {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}),
    ]


async def test_an_expiry_pushed_into_the_future_keeps_the_item(dynamo: Dynamo) -> None:
    await ttl_table(dynamo, "renewed")
    await dynamo("put_item", TableName="renewed", Item={"pk": s("r"), "expires": n(PAST)})
    await dynamo(
        "update_item",
        TableName="renewed",
        Key={"pk": s("r")},
        UpdateExpression="SET expires = :e",
        ExpressionAttributeValues={":e": n(FUTURE)},
    )
    assert await dynamo.gateway.platform.ttl.sweep() == 0
    assert await keys_of(dynamo, "renewed") == {"r"}
    assert await removals(dynamo.gateway.redis, "renewed") == []


async def test_keys_of_every_type_are_found_from_the_ttl_schedule(dynamo: Dynamo) -> None:
    await ttl_table(dynamo, "typed", hash_key=("pk", "B"), range_key=("sk", "N"))
    keys = [
        {"pk": {"B": b"\x00\x01"}, "sk": n("-1.5")},
        {"pk": {"B": b"\xff"}, "sk": n("12345678901234567890123456789012345678")},
        {"pk": {"B": b"\xff"}, "sk": n("0")},
    ]
    for key in keys:
        await dynamo("put_item", TableName="typed", Item={**key, "expires": n(PAST)})
    assert await dynamo.gateway.platform.ttl.sweep() == 3
    assert (await dynamo("scan", TableName="typed"))["Count"] == 0
    removed = [r.keys for r in await removals(dynamo.gateway.redis, "typed")]
    assert sorted(map(repr, removed)) == sorted(repr(wire(key)) for key in keys)


def wire(key: dict[str, Any]) -> dict[str, Any]:
    """A key as DynamoDB JSON carries it (binary values in base64)."""
    return {"pk": {"B": base64.b64encode(key["pk"]["B"]).decode()}, "sk": key["sk"]}


async def test_a_large_backlog_drains_in_bounded_passes(dynamo: Dynamo) -> None:
    await ttl_table(dynamo, "backlog")
    for chunk in range(0, 1100, 25):
        await dynamo(
            "batch_write_item",
            RequestItems={
                "backlog": [
                    {"PutRequest": {"Item": {"pk": s(f"k{i}"), "expires": n(PAST)}}}
                    for i in range(chunk, min(chunk + 25, 1100))
                ]
            },
        )
    assert await dynamo.gateway.platform.ttl.sweep() == 1000  # PER_PASS
    assert await dynamo.gateway.platform.ttl.sweep() == 100
    assert len(await removals(dynamo.gateway.redis, "backlog")) == 1100


async def test_racing_sweepers_delete_each_item_once(dynamo: Dynamo) -> None:
    await ttl_table(dynamo, "raced")
    for i in range(60):
        await dynamo("put_item", TableName="raced", Item={"pk": s(f"k{i}"), "expires": n(PAST)})
    platform = dynamo.gateway.platform
    table = platform.tables.get("default/raced")
    assert table is not None
    sweepers = [
        Sweeper(
            redis=platform.redis,
            store=Store(platform.redis),
            tables=platform.tables,
            replica=f"r{i}",
            period=3600,
        )
        for i in range(3)
    ]
    # No lease: only the guarded commits keep them apart.
    counts = await asyncio.gather(*(sweeper.sweep_table(table) for sweeper in sweepers))
    assert sum(counts) == 60
    records = await removals(dynamo.gateway.redis, "raced")
    assert sorted(r.keys["pk"]["S"] for r in records) == sorted(f"k{i}" for i in range(60))


@pytest.fixture
async def two_gateways(
    gateway_settings: GatewaySettings, redis_client: aioredis.Redis
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    fast = dataclasses.replace(gateway_settings, ttl_sweep_seconds=0.05)
    async with (
        running_gateway(dataclasses.replace(fast, replica="a"), redis_client) as a,
        running_gateway(dataclasses.replace(fast, replica="b"), redis_client) as b,
    ):
        yield a, b


async def test_two_gateways_delete_each_item_exactly_once(
    two_gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = two_gateways
    dynamo = Dynamo(gateway=a, client=a.client("dynamodb"))
    await ttl_table(dynamo, "shared")
    await b.until(lambda: (t := b.platform.tables.get("default/shared")) and t.ttl_attribute)
    written = [f"k{i}" for i in range(120)]
    for chunk in range(0, len(written), 25):
        await dynamo(
            "batch_write_item",
            RequestItems={
                "shared": [
                    {"PutRequest": {"Item": {"pk": s(k), "expires": n(PAST)}}}
                    for k in written[chunk : chunk + 25]
                ]
            },
        )
    await dynamo("put_item", TableName="shared", Item={"pk": s("kept"), "expires": n(FUTURE)})

    ttl = tabledata.ttl_key("default/shared")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while await a.redis.zcount(ttl, "-inf", time.time()) > 0:
        assert loop.time() < deadline, "expired items were not deleted in time"
        await asyncio.sleep(0.02)

    records = await removals(a.redis, "shared")
    assert sorted(r.keys["pk"]["S"] for r in records) == sorted(written)
    assert all(r.by_ttl for r in records)
    assert await keys_of(dynamo, "shared") == {"kept"}
    counted = sum(
        g.platform.metrics.registry.get_sample_value(
            "kubefn_ttl_deletions_total", {"namespace": "default", "table": "shared"}
        )
        or 0
        for g in (a, b)
    )
    assert counted == len(written)


async def test_the_sweeper_survives_an_unreachable_redis(
    redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    compiled = tablespec.compile_spec(
        "default",
        "tokens",
        {
            "keySchema": [{"attributeName": "pk", "keyType": "HASH", "attributeType": "S"}],
            "billingMode": "PAY_PER_REQUEST",
            "ttl": {"attributeName": "expires"},
        },
    )
    tables = TableCatalog(redis_client)
    await tables.put(
        config.Published(
            kind=tablespec.KIND,
            key=compiled.key,
            revision=1,
            digest=compiled.digest,
            spec=compiled.spec,
        )
    )
    unreachable = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    sweeper = Sweeper(
        redis=unreachable, store=Store(unreachable), tables=tables, replica="x", period=0.01
    )
    caplog.set_level(logging.WARNING, logger="kubefn_gateway.dynamodb.ttl")
    task = asyncio.create_task(sweeper.run())
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while sum("TTL sweep failed" in r.getMessage() for r in caplog.records) < 3:
            assert not task.done(), task
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await unreachable.aclose()


async def test_stale_schedule_entries_do_not_block_the_sweep(dynamo: Dynamo) -> None:
    """More leftover members than one batch (items gone, e.g. a half-applied write on
    Redis Cluster) sit before an expired item: the sweep clears them and goes on."""
    await ttl_table(dynamo, "leftovers")
    ttl = tabledata.ttl_key("default/leftovers")
    await dynamo.gateway.redis.zadd(ttl, {f"gone{i}\x00".encode(): PAST - 60 for i in range(150)})
    await dynamo("put_item", TableName="leftovers", Item={"pk": s("due"), "expires": n(PAST)})

    assert await dynamo.gateway.platform.ttl.sweep() == 1
    assert await keys_of(dynamo, "leftovers") == set()
    assert await dynamo.gateway.redis.zcard(ttl) == 0
