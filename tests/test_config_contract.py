"""The config contract against a real Redis: publish, revisions, removal, follow."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from kubefn import config


async def test_publish_assigns_growing_revisions(redis_client: aioredis.Redis) -> None:
    first = await config.publish(
        redis_client, kind="Function", key="default/a", digest="d1", spec={"x": 1}
    )
    same = await config.publish(
        redis_client, kind="Function", key="default/a", digest="d1", spec={"x": 1}
    )
    second = await config.publish(
        redis_client, kind="Function", key="default/a", digest="d2", spec={"x": 2}
    )
    assert (first.changed, first.revision) == (True, 1)
    assert (same.changed, same.revision) == (False, 1)
    assert (second.changed, second.revision) == (True, 2)
    snap = await config.snapshot(redis_client, kinds=("Function",))
    published = snap.resources["Function"]["default/a"]
    assert (published.revision, published.spec, published.name) == (2, {"x": 2}, "a")


async def test_revision_never_goes_back_after_delete(redis_client: aioredis.Redis) -> None:
    await config.publish(redis_client, kind="Function", key="default/a", digest="d1", spec={})
    assert await config.remove(redis_client, kind="Function", key="default/a")
    assert not await config.remove(redis_client, kind="Function", key="default/a")
    again = await config.publish(
        redis_client, kind="Function", key="default/a", digest="d1", spec={}
    )
    assert again.revision == 2


async def test_code_bundle_is_stored_before_the_spec(redis_client: aioredis.Redis) -> None:
    await config.publish(
        redis_client,
        kind="Function",
        key="default/a",
        digest="d1",
        spec={"code": {"bundle": "abc"}},
        bundle=("abc", b"zipbytes"),
    )
    assert await config.fetch_code(redis_client, "abc") == b"zipbytes"


async def test_follow_sees_every_change(redis_client: aioredis.Redis) -> None:
    seen: asyncio.Queue[config.Snapshot] = asyncio.Queue()

    async def on_snapshot(snap: config.Snapshot) -> None:
        await seen.put(snap)

    task = asyncio.create_task(
        config.follow(redis_client, kinds=("Function",), on_snapshot=on_snapshot, poll_seconds=0.5)
    )
    try:
        initial = await asyncio.wait_for(seen.get(), 10)
        assert initial.resources["Function"] == {}
        await config.publish(redis_client, kind="Function", key="ns/f", digest="d", spec={"v": 1})
        changed = await asyncio.wait_for(seen.get(), 10)
        assert changed.resources["Function"]["ns/f"].spec == {"v": 1}
        await config.remove(redis_client, kind="Function", key="ns/f")
        removed = await asyncio.wait_for(seen.get(), 10)
        assert removed.resources["Function"] == {}
    finally:
        task.cancel()
