"""Reconciling Functions: compile, publish to Redis, own the pods, report status.
(Tables, which own no pods, are reconciled in `tables`.)

The handlers are idempotent: running one again with the same spec publishes
nothing new (same digest, same revision), patches the owned objects to what
they already are, and leaves status and events alone. An invalid update leaves
the last good revision serving, as Lambda refuses a bad update and keeps the
function it has; Ready=False says the spec is not what runs.

They find their dependencies in Kopf's memo (see wiring.operate): `config`,
`redis` and `cluster`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import kopf
import redis.asyncio as aioredis
import redis.exceptions

from kubefn import config, function
from kubefn.resources import FUNCTION, GROUP, VERSION
from kubefn.schema import Problem
from kubefn_operator import conditions, objects
from kubefn_operator.cluster import Cluster

CONFIG_MAP_FIELD = "spec.code.configMapRef.name"


@kopf.on.resume(GROUP, VERSION, FUNCTION.plural)
@kopf.on.create(GROUP, VERSION, FUNCTION.plural)
@kopf.on.update(GROUP, VERSION, FUNCTION.plural)
async def reconcile(
    *,
    body: kopf.Body,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """Publish the Function and apply its Deployment and Service; or say why not."""
    cluster: Cluster = memo.cluster
    config_maps = await _config_maps(body, cluster=cluster)
    try:
        compiled = function.compile_function(body, config_maps=config_maps)
    except function.InvalidFunction as exc:
        report(body, status, patch, ok=False, reason=conditions.INVALID_SPEC, message=str(exc))
        if _only_config_map_missing(exc.problems):  # `kubectl apply -f DIR` sends any order
            raise kopf.TemporaryError(str(exc), delay=memo.config.retry_seconds) from None
        return
    try:
        revision = await _publish(compiled, redis=memo.redis)
    except redis.exceptions.RedisError as exc:
        message = f"cannot publish to Redis: {exc}"
        report(body, status, patch, ok=False, reason=conditions.PUBLISH_FAILED, message=message)
        raise kopf.TemporaryError(message, delay=memo.config.retry_seconds) from None
    installation: objects.Installation = memo.config.installation
    deployment = objects.deployment(
        compiled, revision=revision, owner=body, installation=installation
    )
    await cluster.ensure(deployment, patch=objects.without_replicas(deployment))
    await cluster.ensure(objects.service(compiled, owner=body))
    message = f"revision {revision} is published"
    report(body, status, patch, ok=True, reason=conditions.PUBLISHED, message=message)
    patch.status["revision"] = revision
    patch.status["codeDigest"] = compiled.spec["code"].get("bundle")


@kopf.on.delete(GROUP, VERSION, FUNCTION.plural)
async def withdraw(*, namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    """Stop serving it. Kubernetes deletes the owned objects by their owner references."""
    await config.remove(memo.redis, kind=function.KIND, key=f"{namespace}/{name}")


async def _config_maps(body: Mapping[str, Any], *, cluster: Cluster) -> dict[str, dict[str, str]]:
    """The data of the ConfigMap that the code comes from, if any and if it exists."""
    spec = body.get("spec") or {}
    code = spec.get("code") if isinstance(spec, Mapping) else None
    ref = code.get("configMapRef") if isinstance(code, Mapping) else None
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if not isinstance(name, str) or not name:
        return {}
    data = await cluster.config_map_data(namespace=body["metadata"]["namespace"], name=name)
    return {} if data is None else {name: data}


def _only_config_map_missing(problems: list[Problem]) -> bool:
    return bool(problems) and all(problem.path == CONFIG_MAP_FIELD for problem in problems)


async def _publish(compiled: function.CompiledFunction, *, redis: aioredis.Redis) -> int:
    """Its revision: a new one when the digest changed, the same one otherwise."""
    return (await config.publish_compiled(redis, compiled)).revision


def report(
    body: kopf.Body,
    status: kopf.Status,
    patch: kopf.Patch,
    *,
    ok: bool,
    reason: str,
    message: str,
) -> None:
    """Set the Ready condition and observedGeneration; post an event when Ready changes."""
    previous = status.get("conditions")
    updated = conditions.with_condition(
        previous,
        kind=conditions.READY,
        status=ok,
        reason=reason,
        message=message,
        now=datetime.datetime.now(datetime.UTC),
    )
    patch.status["observedGeneration"] = body.meta.get("generation")
    if conditions.find(updated, conditions.READY) == conditions.find(previous, conditions.READY):
        return
    patch.status["conditions"] = updated
    if ok:
        kopf.info(body, reason=reason, message=message)
    else:
        kopf.warn(body, reason=reason, message=message)
