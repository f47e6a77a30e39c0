"""kubefn.tabledata's stream generations against a real Redis, time passed in."""

from __future__ import annotations

import redis.asyncio as aioredis

from kubefn import tabledata

TABLE = "default/orders"
KEYS = ({"AttributeName": "pk", "KeyType": "HASH"},)
NOW = 1_700_000_000.0
DAY = tabledata.STREAM_RETENTION_SECONDS


async def sync(redis: aioredis.Redis, *, revision: int, enabled: bool, now: float = NOW) -> None:
    await tabledata.sync_stream(
        redis,
        TABLE,
        revision=revision,
        view_type="NEW_IMAGE" if enabled else None,
        key_schema=KEYS,
        now=now,
    )


async def test_an_older_revision_changes_nothing(redis_client: aioredis.Redis) -> None:
    """A lagging replica serving revision 1 after revision 2 does not close the stream."""
    await sync(redis_client, revision=2, enabled=True)
    await sync(redis_client, revision=1, enabled=False)

    (generation,) = await tabledata.stream_generations(redis_client, TABLE)
    assert generation.enabled


async def test_a_revision_seen_twice_opens_one_stream(redis_client: aioredis.Redis) -> None:
    await sync(redis_client, revision=1, enabled=True)
    await sync(redis_client, revision=1, enabled=True, now=NOW + 5)

    assert len(await tabledata.stream_generations(redis_client, TABLE)) == 1


async def test_enabling_within_one_millisecond_gets_a_new_label(
    redis_client: aioredis.Redis,
) -> None:
    await sync(redis_client, revision=1, enabled=True)
    await sync(redis_client, revision=2, enabled=False)
    await sync(redis_client, revision=3, enabled=True)

    labels = [g.label for g in await tabledata.stream_generations(redis_client, TABLE)]
    assert labels == [tabledata.stream_label(NOW), tabledata.stream_label(NOW + 0.001)]


async def test_streams_closed_a_day_ago_are_dropped_when_one_opens(
    redis_client: aioredis.Redis,
) -> None:
    await sync(redis_client, revision=1, enabled=True)
    await sync(redis_client, revision=2, enabled=False)
    await sync(redis_client, revision=3, enabled=True, now=NOW + DAY + 1)

    generations = await tabledata.stream_generations(redis_client, TABLE)
    assert [g.label for g in generations] == [tabledata.stream_label(NOW + DAY + 1)]


async def test_delete_data_is_idempotent_and_keeps_the_stream(
    redis_client: aioredis.Redis,
) -> None:
    await sync(redis_client, revision=1, enabled=True)
    await redis_client.xadd(tabledata.stream_key(TABLE), {"r": b"{}"})
    await redis_client.hset(tabledata.tags_key(TABLE), "k", "v")

    first = await tabledata.delete_data(redis_client, TABLE, now=NOW)
    second = await tabledata.delete_data(redis_client, TABLE, now=NOW + 10)

    (generation,) = await tabledata.stream_generations(redis_client, TABLE)
    assert (first, second) == (2, 0)  # meta and tags; then nothing
    assert generation.closed == NOW
    assert await redis_client.ttl(tabledata.stream_key(TABLE)) == DAY - 10
    assert await tabledata.deleted_streams(redis_client, now=NOW + DAY - 1) == [TABLE]
    assert await tabledata.deleted_streams(redis_client, now=NOW + DAY) == []


async def test_delete_data_without_a_stream_keeps_nothing(redis_client: aioredis.Redis) -> None:
    await sync(redis_client, revision=1, enabled=False)

    await tabledata.delete_data(redis_client, TABLE, now=NOW)

    assert await redis_client.keys("*") == []
