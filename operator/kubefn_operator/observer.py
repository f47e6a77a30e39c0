"""Showing what the data plane observes in status: a Function's instances and
last cold start, a Table's item count, size and stream, a StateMachine's
executions by status.

One loop for the whole operator, not a daemon per object: it reads every
published object's observations each period and patches only the statuses
whose view changed, so quiet functions and tables cost no API calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, NamedTuple

import kopf
import redis.exceptions
from kubernetes.client.exceptions import ApiException

from kubefn import aio, config, executions, function, observed, statemachine, tabledata
from kubefn.resources import FUNCTION, STATE_MACHINE, TABLE
from kubefn_operator import conditions, objects, tables
from kubefn_operator.cluster import Cluster

log = logging.getLogger(__name__)


@kopf.on.startup()
async def start(*, memo: kopf.Memo, **_: Any) -> None:
    memo.observer = asyncio.create_task(observe(memo), name="status-observer")


@kopf.on.cleanup()
async def stop(*, memo: kopf.Memo, **_: Any) -> None:
    task: asyncio.Task[None] | None = memo.get("observer")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def observe(memo: kopf.Memo) -> None:
    """Every `observe_seconds`, bring each published Function's and Table's status up to date."""
    cluster: Cluster = memo.cluster
    shown: dict[Target, dict[str, Any]] = {}
    while not aio.cancel_requested():
        try:
            await _once(memo, cluster=cluster, shown=shown)
        except (redis.exceptions.RedisError, OSError) as exc:
            if aio.cancel_requested():
                raise asyncio.CancelledError from exc
            log.warning("cannot read what the gateways observe: %s", exc)
        await asyncio.sleep(memo.config.observe_seconds)  # the observation period


class Target(NamedTuple):
    """An object whose status shows observations."""

    plural: str
    namespace: str
    name: str


async def _once(memo: kopf.Memo, *, cluster: Cluster, shown: dict[Target, dict[str, Any]]) -> None:
    views = {
        **await _function_views(memo),
        **await _table_views(memo),
        **await _machine_views(memo),
    }
    for target in [t for t in shown if t not in views]:
        del shown[target]
    for target, view in views.items():
        if shown.get(target) == view:
            continue
        try:
            await cluster.patch_status(
                plural=target.plural, namespace=target.namespace, name=target.name, status=view
            )
        except ApiException as exc:
            if exc.status != 404:  # not an object of this cluster (e.g. removed meanwhile)
                log.warning("cannot show the status of %s: %s", target, exc.reason)
            continue
        except RuntimeError:  # not logged in yet
            return
        shown[target] = view


async def _function_views(memo: kopf.Memo) -> dict[Target, dict[str, Any]]:
    """Every published Function's instances, as the gateways observe them."""
    snapshot = await config.snapshot(memo.redis, kinds=(function.KIND,))
    published = snapshot.resources[function.KIND]
    summaries = await observed.read_many(
        memo.redis, kind=function.KIND, names=list(published), now=time.time()
    )
    return {
        Target(FUNCTION.plural, item.namespace, item.name): conditions.observed_view(summaries[key])
        for key, item in published.items()
    }


async def _table_views(memo: kopf.Memo) -> dict[Target, dict[str, Any]]:
    """Every Table object's items, size and stream, as the gateways keep them.

    Only tables published by Table objects (not those created through the
    DynamoDB API, which have no object to show them).
    """
    installation: objects.Installation = memo.config.installation
    served: dict[str, tables.Served] = memo.tables
    views = {}
    for key, item in list(served.items()):
        view = conditions.table_view(
            await tabledata.stats(memo.redis, key),
            spec=item.spec,
            region=installation.region,
            account_id=installation.account_id,
        )
        views[Target(TABLE.plural, item.namespace, item.name)] = view
    return views


async def _machine_views(memo: kopf.Memo) -> dict[Target, dict[str, Any]]:
    """Every published StateMachine's executions by status, as the gateways count them.

    A machine created through the Step Functions API has no object; its patch
    finds none (404) and is skipped.
    """
    snapshot = await config.snapshot(memo.redis, kinds=(statemachine.KIND,))
    return {
        Target(STATE_MACHINE.plural, item.namespace, item.name): {
            "executions": await executions.counts(memo.redis, key)
        }
        for key, item in snapshot.resources[statemachine.KIND].items()
    }
