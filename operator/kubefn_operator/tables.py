"""Reconciling Tables: compile, publish to Redis, report status. A table owns no
Kubernetes objects: the gateways serve it from Redis, where its items live.

Like Functions' handlers these are idempotent, and an invalid update leaves the
last good version serving. A table keeps what lays out its items (its name, key
schema and local indexes) for life, as DynamoDB's do; changing them is refused.

`memo.tables` ("<namespace>/<tableName>" -> Served) lists the tables these
handlers published, for the status observer and to keep two Table objects from
claiming one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf
import redis.asyncio as aioredis
import redis.exceptions

from kubefn import config, table, tabledata
from kubefn.resources import GROUP, TABLE, VERSION
from kubefn.schema import Problem, show
from kubefn_operator import conditions, objects
from kubefn_operator.handlers import report


@dataclass(frozen=True)
class Served:
    """A published table and the Table object it comes from."""

    namespace: str
    name: str
    spec: Mapping[str, Any]
    """The compiled spec."""


@kopf.on.resume(GROUP, VERSION, TABLE.plural)
@kopf.on.create(GROUP, VERSION, TABLE.plural)
@kopf.on.update(GROUP, VERSION, TABLE.plural)
async def reconcile(
    *,
    body: kopf.Body,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """Publish the Table and show its name, size and stream; or say why not."""
    try:
        compiled = table.compile_table(body)
    except table.InvalidTable as exc:
        report(body, status, patch, ok=False, reason=conditions.INVALID_SPEC, message=str(exc))
        return
    served: dict[str, Served] = memo.tables
    namespace, name = body.meta["namespace"], body.meta["name"]
    try:
        problems = _claimed(compiled, served=served, namespace=namespace, name=name)
        problems += await _changes(compiled, previous=status.get("tableName"), redis=memo.redis)
        if problems:
            message = "; ".join(str(problem) for problem in problems)
            report(body, status, patch, ok=False, reason=conditions.INVALID_SPEC, message=message)
            return
        result = await config.publish_compiled(memo.redis, compiled)
        stats = await tabledata.stats(memo.redis, compiled.key)
    except redis.exceptions.RedisError as exc:
        message = f"cannot publish to Redis: {exc}"
        report(body, status, patch, ok=False, reason=conditions.PUBLISH_FAILED, message=message)
        raise kopf.TemporaryError(message, delay=memo.config.retry_seconds) from None
    served[compiled.key] = Served(namespace=namespace, name=name, spec=compiled.spec)
    message = f"revision {result.revision} of table {compiled.name} is published"
    report(body, status, patch, ok=True, reason=conditions.PUBLISHED, message=message)
    installation: objects.Installation = memo.config.installation
    patch.status["revision"] = result.revision
    patch.status.update(
        conditions.table_view(
            stats,
            spec=compiled.spec,
            region=installation.region,
            account_id=installation.account_id,
        )
    )


@kopf.on.delete(GROUP, VERSION, TABLE.plural)
async def withdraw(
    *, body: kopf.Body, status: kopf.Status, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """Stop serving the table it published; delete its items only under deletionPolicy Delete."""
    published = status.get("tableName")
    if not published:
        return  # it never published a table: nothing of its own to withdraw
    key = f"{namespace}/{published}"
    memo.tables.pop(key, None)
    await config.remove(memo.redis, kind=table.KIND, key=key)
    if table.deletes_items(body.get("spec")):
        await tabledata.delete_data(memo.redis, key)


def _claimed(
    compiled: table.CompiledTable, *, served: Mapping[str, Served], namespace: str, name: str
) -> list[Problem]:
    """A table another Table object publishes is not this one's to change."""
    owner = served.get(compiled.key)
    if owner is None or (owner.namespace, owner.name) == (namespace, name):
        return []
    message = f"is already the table of Table {owner.name} (got {show(compiled.name)})"
    return [Problem(TABLE.name_path, message)]


async def _changes(
    compiled: table.CompiledTable, *, previous: str | None, redis: aioredis.Redis
) -> list[Problem]:
    """What the new spec would change that a table keeps for life."""
    problems = []
    if previous and previous != compiled.name:  # a rename: the published table keeps serving
        problems += table.check_change({**compiled.spec, "tableName": previous}, compiled.spec)
    snapshot = await config.snapshot(redis, kinds=(table.KIND,))
    published = snapshot.resources[table.KIND].get(compiled.key)
    if published is not None:
        problems += table.check_change(published.spec, compiled.spec)
    return problems
