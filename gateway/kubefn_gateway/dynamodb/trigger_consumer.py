"""One trigger's delivery loop: its records, in stream order, to its function.

While it holds the trigger's lease, a Consumer reads the stream from the
checkpoint, collects batches (within the batching window and Lambda's payload
limit), invokes the function, and moves the checkpoint only past records that
were processed or given up on. The decisions along the way (retry, bisect, give
up) are the pure functions of kubefn_gateway.dynamodb.trigger_batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from kubefn import aio, limits, tabledata
from kubefn.lease import Lease
from kubefn_gateway import awserrors
from kubefn_gateway.dynamodb import streams
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
from kubefn_gateway.invoker import Invoker, function_arn
from kubefn_gateway.settings import GatewaySettings
from kubefn_runtime import protocol

log = logging.getLogger(__name__)

POLL_MS = 2000
"""How long one read waits for new records before the loop looks around again; well
under the Redis client's 5 s socket timeout, which a blocked read must never reach."""
FAILURES_KEPT = 10_000
"""On-failure records kept per trigger (the newest)."""
_EVENT_OVERHEAD = len(b'{"Records":[]}')

# KEYS: checkpoint; ARGV: sequence number. Sequence numbers have one width, so
# string order is their order: the checkpoint only ever moves forward.
_ADVANCE = """
local current = redis.call('HGET', KEYS[1], 'sequence')
if current and current >= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'sequence', ARGV[1])
return 1
"""


class Consumer:
    """Delivers one trigger's records in stream order while it holds the trigger's lease."""

    def __init__(
        self,
        trigger: Trigger,
        *,
        redis: aioredis.Redis,
        invoker: Invoker,
        settings: GatewaySettings,
        owner: str,
        lease_seconds: float,
        backoff: Backoff,
        on_batch: Callable[[Trigger, str], None],
    ) -> None:
        self.trigger = trigger
        self._redis = redis
        self._invoker = invoker
        self._settings = settings
        self._lease = Lease(redis, f"trigger:{trigger.name}", owner=owner, seconds=lease_seconds)
        self._backoff = backoff
        self._on_batch = on_batch
        self._advance = redis.register_script(_ADVANCE)
        self._checkpoint = checkpoint_key(trigger.table_id, trigger.function)
        self._stream_arn = ""
        self._shard_id = ""

    async def run(self) -> None:
        """Consume whenever the lease is ours, until cancelled; then give the lease up."""
        try:
            while not aio.cancel_requested():
                try:
                    if await self._lease.hold():
                        await self._while_held()
                        continue
                except Exception as exc:  # a background loop outlives its errors
                    if aio.cancel_requested():
                        raise asyncio.CancelledError from exc
                    if isinstance(exc, redis.exceptions.RedisError | OSError):
                        log.warning("trigger %s: %s", self.trigger.name, exc)
                    else:
                        log.exception("trigger %s failed", self.trigger.name)
                await asyncio.sleep(self._lease.seconds / 3)  # until the lease may be free
        finally:
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await self._lease.release()

    async def _while_held(self) -> None:
        work = asyncio.create_task(self._consume(), name=f"trigger {self.trigger.name}")
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=self._lease.seconds / 3)
                if work in done:
                    work.result()
                    return
                if not await self._lease.hold():
                    log.warning(
                        "trigger %s: lease lost, another replica consumes", self.trigger.name
                    )
                    return
        finally:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)

    async def _consume(self) -> None:
        generations = await tabledata.stream_generations(self._redis, self.trigger.table_id)
        current = generations[-1] if generations else None
        if current is None or not current.enabled:
            raise RuntimeError(f"table {self.trigger.table_id} has no enabled stream yet")
        self._stream_arn = streams.stream_arn(
            region=self._settings.region,
            account_id=self._settings.account_id,
            table_name=self.trigger.table_name,
            label=current.label,
        )
        self._shard_id = streams.shard_id(table_id=self.trigger.table_id, label=current.label)
        position = await self._start(current)
        while True:
            batch = await self._collect(after_id=position)
            if batch:
                await self._deliver(batch)
                position = batch[-1].id

    async def _start(self, stream: tabledata.StreamGeneration) -> str:
        """The entry id to read after: the checkpoint, made now for a new trigger.

        A new trigger's TRIM_HORIZON is where the table's current stream began,
        not the records of an earlier stream (or of a table deleted under the name).
        """
        sequence: Any = await self._redis.hget(self._checkpoint, "sequence")
        if sequence is None:
            if self.trigger.starting_position == "TRIM_HORIZON":
                first = stream.after
            else:
                bounds = await streams.bounds(self._redis, self.trigger.table_id)
                first = bounds.last_generated or await streams.now_id(self._redis)
            await self._redis.hsetnx(self._checkpoint, "sequence", tabledata.sequence_number(first))
            sequence = await self._redis.hget(self._checkpoint, "sequence")
        return tabledata.entry_id(
            sequence.decode() if isinstance(sequence, bytes) else str(sequence)
        )

    async def _collect(self, *, after_id: str) -> list[streams.Entry]:
        """The next batch: what is there, or what arrives within the batching window."""
        size = self.trigger.batch_size
        table_id = self.trigger.table_id
        entries = await streams.wait(
            self._redis, table_id, after_id=after_id, count=size, block_ms=POLL_MS
        )
        if not entries:
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.trigger.window_seconds
        while len(entries) < size and (remaining := deadline - loop.time()) > 0:
            entries += await streams.wait(
                self._redis,
                table_id,
                after_id=entries[-1].id,
                count=size - len(entries),
                block_ms=min(int(remaining * 1000), POLL_MS),
            )
        return self._fit(entries)

    def _fit(self, entries: list[streams.Entry]) -> list[streams.Entry]:
        """The longest prefix whose event fits Lambda's synchronous payload limit."""
        total = _EVENT_OVERHEAD
        for count, entry in enumerate(entries):
            total += len(json.dumps(self._record(entry))) + 1
            if total > limits.SYNC_PAYLOAD_BYTES_MAX and count:
                return entries[:count]
        return entries

    def _record(self, entry: streams.Entry) -> dict[str, Any]:
        return streams.lambda_record(
            entry,
            table_id=self.trigger.table_id,
            region=self._settings.region,
            stream_arn=self._stream_arn,
        )

    async def _deliver(self, batch: list[streams.Entry]) -> None:
        """Process `batch` until every record is done or given up; checkpoints follow."""
        pending: list[tuple[list[streams.Entry], int]] = [(batch, 0)]
        while pending:
            records, attempts = pending.pop(0)
            tries = 0
            while records:
                attempt = await self._attempt(records)
                self._on_batch(self.trigger, attempt.outcome)
                tries += 1
                if attempt.failed_from is None:
                    await self._advance_to(records[-1])
                    break
                if attempt.outcome != "throttled":  # throttles wait; they are not retries
                    attempts += 1
                if attempt.failed_from > 0:
                    await self._advance_to(records[attempt.failed_from - 1])
                    records = records[attempt.failed_from :]
                elif self.trigger.bisect and len(records) > 1 and attempt.outcome != "throttled":
                    half = len(records) // 2
                    pending[:0] = [(records[:half], attempts - 1), (records[half:], attempts - 1)]
                    break
                reason = give_up_reason(
                    self.trigger, attempts=attempts, oldest_at=records[0].record.at, now=time.time()
                )
                if reason is not None:
                    await self._give_up(records, attempt, attempts=attempts, condition=reason)
                    await self._advance_to(records[-1])
                    break
                await asyncio.sleep(self._backoff.seconds(tries))  # retry backoff

    async def _attempt(self, records: list[streams.Entry]) -> Attempt:
        request_id = str(uuid.uuid4())
        payload = json.dumps({"Records": [self._record(e) for e in records]}).encode()
        try:
            result = await self._invoker.invoke(
                self.trigger.function_key(self.trigger.function),
                payload=payload,
                headers={protocol.REQUEST_ID: request_id},
            )
        except awserrors.LambdaError as exc:
            throttled = isinstance(exc, awserrors.TooManyRequests)
            log.warning("trigger %s: invoke failed: %s", self.trigger.name, exc.message)
            return Attempt(
                request_id=request_id,
                failed_from=0,
                outcome="throttled" if throttled else "invoke_error",
                status=exc.status,
            )
        function_error = result.headers.get(protocol.FUNCTION_ERROR)
        if function_error is not None:
            return Attempt(
                request_id=request_id,
                failed_from=0,
                outcome="function_error",
                status=200,
                function_error=function_error,
            )
        failed_from = first_failure(result.body, [e.sequence_number for e in records])
        return Attempt(
            request_id=request_id,
            failed_from=failed_from,
            outcome="success" if failed_from is None else "partial",
            status=200,
        )

    async def _advance_to(self, entry: streams.Entry) -> None:
        await self._advance(keys=[self._checkpoint], args=[entry.sequence_number])

    async def _give_up(
        self, records: list[streams.Entry], attempt: Attempt, *, attempts: int, condition: str
    ) -> None:
        """Keep the on-failure record, then hand it to the trigger's destination (if any)."""
        log.warning(
            "trigger %s: gave up on %d records (%s) after %d attempts",
            self.trigger.name,
            len(records),
            condition,
            attempts,
        )
        self._on_batch(self.trigger, "discarded")
        record = failure_record(
            records,
            attempt,
            attempts=attempts,
            condition=condition,
            function_arn=function_arn(
                self._settings, self.trigger.function_key(self.trigger.function)
            ),
            shard_id=self._shard_id,
            stream_arn=self._stream_arn,
            now=time.time(),
        )
        body = json.dumps(record, separators=(",", ":"))
        key = failures_key(self.trigger.table_id, self.trigger.function)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, body)
            pipe.ltrim(key, -FAILURES_KEPT, -1)
            await pipe.execute()
        if self.trigger.on_failure is None:
            return
        destination = self.trigger.function_key(self.trigger.on_failure)
        try:
            result = await self._invoker.invoke(destination, payload=body.encode())
        except awserrors.LambdaError as exc:
            log.warning(
                "trigger %s: on-failure %s: %s", self.trigger.name, destination, exc.message
            )
            return
        if protocol.FUNCTION_ERROR in result.headers:
            log.warning("trigger %s: on-failure %s failed", self.trigger.name, destination)
