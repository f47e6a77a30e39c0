"""Functions through the whole operator: Kopf, the emulated API server, and Redis."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import redis.asyncio as aioredis

from kubefn import config, observed
from kubefn.redisserver import EmbeddedRedis
from tests.operator.apiserver import (
    CONFIG_MAPS,
    DEPLOYMENTS,
    FUNCTIONS,
    SERVICES,
    Api,
    Operator,
    eventually,
    eventually_awaited,
    published,
)

CODE = "def handler(event, context):\n    return 'hello'\n"
HELLO = {
    "runtime": "python3.11",
    "handler": "app.handler",
    "memoryMB": 256,
    "ephemeralStorageMB": 1024,
    "code": {"inline": {"app.py": CODE}},
}
BROKEN = {
    **HELLO,
    "memoryMB": 64,
    "handler": "handler",
    "environment": {"AWS_LAMBDA_RUNTIME_API": "x"},
}


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


async def files_of(client: aioredis.Redis, digest: str) -> dict[str, str]:
    data = await config.fetch_code(client, digest)
    assert data is not None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


async def test_a_new_function_is_published_and_ready(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_function("hello", HELLO)
    status = await eventually(
        lambda: api.status("hello", generation=1, ready="True"), what="Ready=True"
    )
    function = (await published(redis_client))["default/hello"]
    assert (status["revision"], function.revision) == (1, 1)
    assert status["codeDigest"] == function.spec["code"]["bundle"]
    assert ready(status)["reason"] == "Published"
    assert await files_of(redis_client, status["codeDigest"]) == {"app.py": CODE}


async def test_a_function_owns_its_deployment_and_service(api: Api, operator: Operator) -> None:
    await api.create_function("hello", HELLO)
    await eventually(lambda: api.status("hello", generation=1, ready="True"), what="Ready=True")
    function = api.get(FUNCTIONS, "hello")
    deployment = api.get(DEPLOYMENTS, "kubefn-fn-hello")
    service = api.get(SERVICES, "kubefn-fn-hello")
    assert function is not None and deployment is not None and service is not None
    for owned in (deployment, service):
        [owner] = owned["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "Function",
            function["metadata"]["uid"],
            True,
        )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"memory": "304Mi", "ephemeral-storage": "1024Mi"}
    assert deployment["spec"]["replicas"] == 0
    assert service["spec"]["clusterIP"] == "None"


async def test_an_invalid_function_is_refused_with_every_problem(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_function("broken", BROKEN)
    status = await eventually(
        lambda: api.status("broken", generation=1, ready="False"), what="Ready=False"
    )
    message = ready(status)["message"]
    assert ready(status)["reason"] == "InvalidSpec"
    for field in ("spec.memoryMB", "spec.handler", "spec.environment.AWS_LAMBDA_RUNTIME_API"):
        assert field in message
    assert "(got 64)" in message
    posted = await eventually(lambda: api.events(reason="InvalidSpec"), what="the event")
    assert {(e["type"], e["message"]) for e in posted} == {("Warning", message)}
    assert await published(redis_client) == {}
    assert api.get(DEPLOYMENTS, "kubefn-fn-broken") is None


async def test_fixing_an_invalid_function_publishes_it(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_function("broken", BROKEN)
    await eventually(lambda: api.status("broken", generation=1, ready="False"), what="refusal")
    fix = {"memoryMB": 128, "handler": "app.handler", "environment": None}
    await api.patch(FUNCTIONS, "broken", {"spec": fix})
    status = await eventually(
        lambda: api.status("broken", generation=2, ready="True"), what="recovery"
    )
    assert (await published(redis_client))["default/broken"].revision == status["revision"]


async def test_updating_the_spec_publishes_a_new_revision(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_function("hello", HELLO)
    await eventually(lambda: api.status("hello", generation=1, ready="True"), what="revision 1")
    await api.patch(DEPLOYMENTS, "kubefn-fn-hello", {"spec": {"replicas": 3}})  # the autoscaler
    await api.patch(FUNCTIONS, "hello", {"spec": {"memoryMB": 512}})
    status = await eventually(
        lambda: api.status("hello", generation=2, ready="True"), what="revision 2"
    )
    function = (await published(redis_client))["default/hello"]
    assert (status["revision"], function.revision, function.spec["memoryMB"]) == (2, 2, 512)
    deployment = api.get(DEPLOYMENTS, "kubefn-fn-hello")
    assert deployment is not None
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["kubefn.io/revision"] == "2"
    assert template["spec"]["containers"][0]["resources"]["limits"]["memory"] == "560Mi"
    assert deployment["spec"]["replicas"] == 3


async def test_code_comes_from_a_config_map(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    config_map = {"metadata": {"name": "hello-code"}, "data": {"app.py": CODE, "lib.py": "X = 1\n"}}
    await api.create(CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap", **config_map})
    await api.create_function("hello", {**HELLO, "code": {"configMapRef": {"name": "hello-code"}}})
    status = await eventually(
        lambda: api.status("hello", generation=1, ready="True"), what="Ready=True"
    )
    assert await files_of(redis_client, status["codeDigest"]) == config_map["data"]


async def test_a_function_waits_for_its_config_map(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_function("hello", {**HELLO, "code": {"configMapRef": {"name": "later"}}})
    status = await eventually(
        lambda: api.status("hello", generation=1, ready="False"), what="Ready=False"
    )
    assert "spec.code.configMapRef.name" in ready(status)["message"]
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "later"}}
    await api.create(CONFIG_MAPS, {**config_map, "data": {"app.py": CODE}})
    await eventually(lambda: api.status("hello", generation=1, ready="True"), what="Ready=True")
    assert "default/hello" in await published(redis_client)


async def test_deleting_a_function_withdraws_it(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_function("hello", HELLO)
    await eventually(lambda: api.status("hello", generation=1, ready="True"), what="Ready=True")
    await api.delete(FUNCTIONS, "hello")
    await eventually(lambda: api.get(FUNCTIONS, "hello") is None, what="finalization")
    assert await published(redis_client) == {}


async def test_a_restarted_operator_republishes_what_redis_lost(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_function("hello", HELLO)
    await eventually(lambda: api.status("hello", generation=1, ready="True"), what="Ready=True")
    await operator.stop()
    await redis_client.flushall()
    await operator.start()
    functions = await eventually_awaited(lambda: published(redis_client), what="republishing")
    assert functions["default/hello"].revision == 1


async def test_a_function_waits_for_redis(
    api: Api, operator: Operator, redis_server: EmbeddedRedis, redis_client: aioredis.Redis
) -> None:
    redis_server.stop()
    await api.create_function("hello", HELLO)
    status = await eventually(
        lambda: api.status("hello", generation=1, ready="False"), what="Ready=False"
    )
    assert ready(status)["reason"] == "PublishFailed"
    redis_server.start()
    await eventually(lambda: api.status("hello", generation=1, ready="True"), what="Ready=True")
    assert "default/hello" in await published(redis_client)


async def test_status_shows_what_the_gateways_observe(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_function("hello", HELLO)
    await eventually(lambda: api.status("hello", generation=1, ready="True"), what="Ready=True")
    now = time.time()
    for replica, idle in (("gw-a", 2), ("gw-b", 1)):
        await observed.report(
            redis_client,
            kind="Function",
            replica=replica,
            observations={
                "default/hello": observed.Observation(
                    at=now, revision=1, idle=idle, busy=1, last_cold_start=1_700_000_000.0
                )
            },
        )

    def shown() -> dict[str, Any] | None:
        status = (api.get(FUNCTIONS, "hello") or {}).get("status") or {}
        return status if status.get("instances") == 5 else None

    status = await eventually(shown, what="status.instances == 5")
    assert status["lastColdStart"] == "2023-11-14T22:13:20Z"
