"""Tables through the whole operator: Kopf, the emulated API server, and Redis."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from kubefn import config, table, tabledata
from kubefn.redisserver import EmbeddedRedis
from tests.operator.apiserver import (
    DEPLOYMENTS,
    TABLES,
    Api,
    Operator,
    eventually,
    eventually_awaited,
    published,
)

KEY = [{"attributeName": "id", "attributeType": "S", "keyType": "HASH"}]
USERS = {
    "tableName": "Users",
    "keySchema": KEY,
    "stream": {"enabled": True, "viewType": "NEW_IMAGE"},
}
BROKEN = {
    "keySchema": [{**KEY[0], "keyType": "RANGE"}],
    "billingMode": "PROVISIONED",
}


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def table_status(api: Api, name: str, *, generation: int, ready: str) -> dict[str, Any] | None:
    return api.status(name, generation=generation, ready=ready, resource=TABLES)


async def tables(client: aioredis.Redis) -> dict[str, config.Published]:
    return await published(client, kind="Table")


async def test_a_new_table_is_published_and_ready(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", USERS)
    status = await eventually(
        lambda: table_status(api, "users", generation=1, ready="True"), what="Ready=True"
    )
    record = (await tables(redis_client))["default/Users"]
    assert record.spec == table.compile_spec("default", "users", USERS).spec
    assert ready(status)["reason"] == "Published"
    assert ready(status)["message"] == "revision 1 of table Users is published"
    assert (status["tableName"], status["itemCount"], status["tableSizeBytes"]) == ("Users", 0, 0)
    assert api.every(DEPLOYMENTS) == []  # a table owns no pods


async def test_an_invalid_table_is_refused_with_every_problem(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("broken", BROKEN)
    status = await eventually(
        lambda: table_status(api, "broken", generation=1, ready="False"), what="Ready=False"
    )
    assert ready(status)["reason"] == "InvalidSpec"
    assert ready(status)["message"] == (
        "spec.keySchema: must have exactly one HASH key (got keyTypes RANGE); "
        "spec.provisionedThroughput: is required for billingMode PROVISIONED"
    )
    posted = await eventually(lambda: api.events(reason="InvalidSpec"), what="the event")
    assert {(e["type"], e["message"]) for e in posted} == {("Warning", ready(status)["message"])}
    assert await tables(redis_client) == {}


async def test_an_invalid_update_keeps_the_last_good_table(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", USERS)
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="v1")
    await api.patch(TABLES, "users", {"spec": {"billingMode": "PROVISIONED"}})
    await eventually(lambda: table_status(api, "users", generation=2, ready="False"), what="v2")
    assert (await tables(redis_client))["default/Users"].revision == 1


async def test_an_update_publishes_a_new_revision(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", USERS)
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="v1")
    await api.patch(TABLES, "users", {"spec": {"ttl": {"attributeName": "exp"}}})
    status = await eventually(
        lambda: table_status(api, "users", generation=2, ready="True"), what="v2"
    )
    record = (await tables(redis_client))["default/Users"]
    assert (status["revision"], record.revision, record.spec["ttl"]) == (
        2,
        2,
        {"attributeName": "exp"},
    )


async def test_a_table_keeps_its_name_and_key_schema(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", USERS)
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="v1")
    other_key = [{**KEY[0], "attributeType": "N"}]
    await api.patch(TABLES, "users", {"spec": {"tableName": "People", "keySchema": other_key}})
    status = await eventually(
        lambda: table_status(api, "users", generation=2, ready="False"), what="refusal"
    )
    assert ready(status)["message"] == (
        "spec.tableName: cannot change once the table exists (is 'Users', got 'People')"
    )
    assert list(await tables(redis_client)) == ["default/Users"]


async def test_two_tables_cannot_publish_one_table(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", USERS)
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="first")
    await api.create_table("users-copy", USERS)
    status = await eventually(
        lambda: table_status(api, "users-copy", generation=1, ready="False"), what="second"
    )
    assert ready(status)["message"] == (
        "spec.tableName: is already the table of Table users (got 'Users')"
    )


async def test_a_table_created_through_the_api_keeps_its_key_schema(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    other_key = [{**KEY[0], "attributeName": "email"}]
    await config.publish_compiled(
        redis_client, table.compile_spec("default", "Users", {"keySchema": other_key})
    )
    await api.create_table("users", USERS)
    status = await eventually(
        lambda: table_status(api, "users", generation=1, ready="False"), what="refusal"
    )
    assert ready(status)["message"].startswith(
        "spec.keySchema: cannot change once the table exists"
    )


async def test_status_shows_items_size_and_stream(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", USERS)
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="Ready")
    meta = tabledata.meta_key("default/Users")
    await redis_client.hset(
        meta, mapping={"items": 3, "bytes": 120, "streamLabel": "2024-05-01T12:00:00.000"}
    )

    def shown() -> dict[str, Any] | None:
        status = (api.get(TABLES, "users") or {}).get("status") or {}
        return status if status.get("itemCount") == 3 else None

    status = await eventually(shown, what="status.itemCount == 3")
    assert status["tableSizeBytes"] == 120
    assert status["streamId"] == (
        "arn:aws:dynamodb:us-east-1:000000000000:table/Users/stream/2024-05-01T12:00:00.000"
    )


async def test_no_stream_id_without_a_stream(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await redis_client.hset(
        tabledata.meta_key("default/Users"), mapping={"items": 1, "streamLabel": "label"}
    )
    await api.create_table("users", {**USERS, "stream": {"enabled": False}})
    status = await eventually(
        lambda: table_status(api, "users", generation=1, ready="True"), what="Ready"
    )
    assert (status["itemCount"], "streamId" in status) == (1, False)


async def test_deleting_a_table_withdraws_it_and_keeps_its_items(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", USERS)
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="Ready")
    await redis_client.hset(tabledata.meta_key("default/Users"), "items", 1)
    await api.delete(TABLES, "users")
    await eventually(lambda: api.get(TABLES, "users") is None, what="finalization")
    assert await tables(redis_client) == {}
    assert await redis_client.exists(tabledata.meta_key("default/Users"))


async def test_deleting_a_table_with_deletion_policy_delete_deletes_its_items(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", {**USERS, "deletionPolicy": "Delete"})
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="Ready")
    await redis_client.hset(tabledata.meta_key("default/Users"), "items", 1)
    await api.delete(TABLES, "users")
    await eventually(lambda: api.get(TABLES, "users") is None, what="finalization")
    assert await tables(redis_client) == {}
    assert not await redis_client.exists(tabledata.meta_key("default/Users"))


async def test_deleting_a_refused_table_withdraws_nothing(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    """A Table that never published must not take a table of the same name with it."""
    await config.publish_compiled(
        redis_client, table.compile_spec("default", "Users", {"keySchema": KEY})
    )
    await api.create_table("users", {**USERS, "billingMode": "PROVISIONED"})
    await eventually(lambda: table_status(api, "users", generation=1, ready="False"), what="no")
    await api.delete(TABLES, "users")
    await eventually(lambda: api.get(TABLES, "users") is None, what="finalization")
    assert list(await tables(redis_client)) == ["default/Users"]


async def test_a_table_waits_for_redis(
    api: Api, operator: Operator, redis_server: EmbeddedRedis, redis_client: aioredis.Redis
) -> None:
    redis_server.stop()
    await api.create_table("users", USERS)
    status = await eventually(
        lambda: table_status(api, "users", generation=1, ready="False"), what="Ready=False"
    )
    assert ready(status)["reason"] == "PublishFailed"
    redis_server.start()
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="Ready")
    assert "default/Users" in await tables(redis_client)


async def test_a_restarted_operator_republishes_what_redis_lost(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_table("users", USERS)
    await eventually(lambda: table_status(api, "users", generation=1, ready="True"), what="Ready")
    await operator.stop()
    await redis_client.flushall()
    await operator.start()
    found = await eventually_awaited(lambda: tables(redis_client), what="republishing")
    assert found["default/Users"].revision == 1
