"""Showing what the gateways observe (instances, last cold start) in Functions' status.

One loop for the whole operator, not a daemon per Function: it reads every
published function's observations each period and patches only the statuses
whose view changed, so quiet functions cost no API calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import kopf
import redis.exceptions
from kubernetes.client.exceptions import ApiException

from kubefn import aio, config, function, observed
from kubefn_operator import conditions
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
    """Every `observe_seconds`, bring each published Function's status up to date."""
    cluster: Cluster = memo.cluster
    shown: dict[str, dict[str, Any]] = {}
    while not aio.cancel_requested():
        try:
            await _once(memo, cluster=cluster, shown=shown)
        except (redis.exceptions.RedisError, OSError) as exc:
            if aio.cancel_requested():
                raise asyncio.CancelledError from exc
            log.warning("cannot read what the gateways observe: %s", exc)
        await asyncio.sleep(memo.config.observe_seconds)  # the observation period


async def _once(memo: kopf.Memo, *, cluster: Cluster, shown: dict[str, dict[str, Any]]) -> None:
    snapshot = await config.snapshot(memo.redis, kinds=(function.KIND,))
    published = snapshot.resources[function.KIND]
    for key in [k for k in shown if k not in published]:
        del shown[key]
    summaries = await observed.read_many(
        memo.redis, kind=function.KIND, names=list(published), now=time.time()
    )
    for key, item in published.items():
        view = conditions.observed_view(summaries[key])
        if shown.get(key) == view:
            continue
        try:
            await cluster.patch_function_status(
                namespace=item.namespace, name=item.name, status=view
            )
        except ApiException as exc:
            if exc.status != 404:  # not a Function of this cluster (e.g. removed meanwhile)
                log.warning("cannot show the status of %s: %s", key, exc.reason)
            continue
        except RuntimeError:  # not logged in yet
            return
        shown[key] = view
