"""Table triggers: a function called with batches of its table's stream records,
as a Lambda event source mapping for DynamoDB Streams calls it.

One consumer per (table, function) across all replicas: it holds a lease (lost
when its replica stops renewing it) and reads the stream from a checkpoint kept
in Redis, which moves only past records that were processed or given up on. So a
restart resumes where the last holder stopped: no record is lost or reordered;
a batch in flight when its holder died is delivered again (at least once, as on
AWS, with the same eventID).

A failed batch is retried with a bounded backoff until `maximumRetryAttempts`
(or, with -1, until its records leave the stream's retention); a partial batch
response (`batchItemFailures`) checkpoints the records before the first failure
and retries from there; `bisectBatchOnFunctionError` splits a failing batch in
halves, which does not count as a retry. A batch given up on becomes an
on-failure record, kept in a Redis list and sent to `onFailure.function`.

Here the runner that starts and stops a consumer per trigger as tables change;
one consumer's delivery loop is kubefn_gateway.dynamodb.trigger_consumer, the
pure decisions on its batches kubefn_gateway.dynamodb.trigger_batches. Their
names are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

import redis.asyncio as aioredis

from kubefn import aio
from kubefn_gateway.dynamodb.tables import TableCatalog
from kubefn_gateway.dynamodb.trigger_batches import (
    Attempt,
    Backoff,
    Trigger,
    checkpoint_key,
    failure_record,
    failures_key,
    first_failure,
    give_up_reason,
)
from kubefn_gateway.dynamodb.trigger_consumer import FAILURES_KEPT, POLL_MS, Consumer
from kubefn_gateway.invoker import Invoker
from kubefn_gateway.settings import GatewaySettings

__all__ = [
    "FAILURES_KEPT",
    "POLL_MS",
    "Attempt",
    "Backoff",
    "Consumer",
    "Trigger",
    "TriggerRunner",
    "checkpoint_key",
    "failure_record",
    "failures_key",
    "first_failure",
    "give_up_reason",
]

log = logging.getLogger(__name__)

_BACKOFF = Backoff()
"""The default retry backoff; a frozen value, so every runner may share it."""


class TriggerRunner:
    """Runs a consumer for every trigger of every served table, following the tables."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        tables: TableCatalog,
        invoker: Invoker,
        settings: GatewaySettings,
        on_batch: Callable[[Trigger, str], None] = lambda trigger, outcome: None,
        lease_seconds: float = 15.0,
        reconcile_seconds: float = 1.0,
        backoff: Backoff = _BACKOFF,
    ) -> None:
        self._redis = redis
        self._tables = tables
        self._invoker = invoker
        self._settings = settings
        self._on_batch = on_batch
        self._lease_seconds = lease_seconds
        self._reconcile_seconds = reconcile_seconds
        self._backoff = backoff
        # Unique per runner: two gateways of one replica name never share a lease.
        self._owner = f"{settings.replica}/{uuid.uuid4().hex[:8]}"
        self._running: dict[str, tuple[Trigger, asyncio.Task[None]]] = {}

    async def run(self) -> None:
        """Follow the tables until cancelled; then stop every consumer (leases released)."""
        try:
            while not aio.cancel_requested():
                self._tables.changed.clear()
                await self.reconcile()
                # Woken by a table change; the timeout also catches a change whose
                # wake-up another waiter consumed, and restarts a consumer that ended.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._tables.changed.wait(), timeout=self._reconcile_seconds
                    )
        finally:
            for name in list(self._running):
                await self._stop(name)

    async def reconcile(self) -> None:
        desired: dict[str, Trigger] = {}
        for table in self._tables.all():
            if table.stream_view_type is None:
                continue
            for spec in table.triggers:
                trigger = Trigger.of(table, spec)
                desired[trigger.name] = trigger
        for name, (trigger, task) in list(self._running.items()):
            if desired.get(name) != trigger or task.done():
                await self._stop(name)
        for name, trigger in desired.items():
            if name not in self._running:
                consumer = Consumer(
                    trigger,
                    redis=self._redis,
                    invoker=self._invoker,
                    settings=self._settings,
                    owner=self._owner,
                    lease_seconds=self._lease_seconds,
                    backoff=self._backoff,
                    on_batch=self._on_batch,
                )
                task = asyncio.create_task(consumer.run(), name=f"trigger-consumer {name}")
                self._running[name] = (trigger, task)
                log.info("trigger %s started", name)

    async def _stop(self, name: str) -> None:
        _, task = self._running.pop(name)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        log.info("trigger %s stopped", name)
