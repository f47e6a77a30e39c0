"""What a table trigger is, and the pure decisions about its batches.

A trigger from the compiled spec, the Redis keys of its checkpoint and
on-failure records, how long to wait before a retry, where a partial batch
response failed, when a failing batch is given up on, and the record AWS sends
an on-failure destination. No I/O and no clock of their own: the consumer
(kubefn_gateway.dynamodb.trigger_consumer) passes `now` in.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubefn import tabledata
from kubefn_gateway.dynamodb import streams
from kubefn_gateway.dynamodb.tables import Table


def checkpoint_key(table_id: str, function: str) -> bytes:
    return f"{tabledata.PREFIX}:{{{table_id}}}:trigger:{function}".encode()


def failures_key(table_id: str, function: str) -> bytes:
    """A list of on-failure records (JSON), oldest first."""
    return checkpoint_key(table_id, function) + b":failures"


@dataclass(frozen=True)
class Trigger:
    """One trigger of a table, from the compiled spec (which has every default)."""

    table_id: str
    namespace: str
    table_name: str
    function: str
    batch_size: int
    window_seconds: float
    starting_position: str  # TRIM_HORIZON | LATEST
    maximum_retry_attempts: int  # -1: until the records leave the stream
    bisect: bool
    on_failure: str | None

    @classmethod
    def of(cls, table: Table, spec: Mapping[str, Any]) -> Trigger:
        on_failure = spec.get("onFailure") or {}
        return cls(
            table_id=table.id,
            namespace=table.namespace,
            table_name=table.name,
            function=str(spec["function"]),
            batch_size=int(spec.get("batchSize", 100)),
            window_seconds=float(spec.get("maximumBatchingWindowSeconds", 0)),
            starting_position=str(spec.get("startingPosition", "LATEST")),
            maximum_retry_attempts=int(spec.get("maximumRetryAttempts", -1)),
            bisect=bool(spec.get("bisectBatchOnFunctionError", False)),
            on_failure=str(on_failure["function"]) if on_failure.get("function") else None,
        )

    @property
    def name(self) -> str:
        return f"{self.table_id}:{self.function}"

    def function_key(self, function: str) -> str:
        return f"{self.namespace}/{function}"


@dataclass(frozen=True)
class Backoff:
    """Delay before retrying a failed batch: doubling from `base`, at most `cap`."""

    base: float = 0.1
    cap: float = 5.0

    def seconds(self, attempts: int) -> float:
        return float(min(self.cap, self.base * 2 ** max(0, attempts - 1)))


def first_failure(body: bytes, sequence_numbers: Sequence[str]) -> int | None:
    """Where a batch failed by its function's partial batch response, or None if it did not.

    As on AWS: no `batchItemFailures` (or an empty list) is success, and an entry
    that names no record of the batch fails the whole batch (0).
    """
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        return None
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    if not failures:
        return None
    if not isinstance(failures, list):
        return 0
    where = {sequence: index for index, sequence in enumerate(sequence_numbers)}
    found: list[int] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in where:
            return 0
        found.append(where[identifier])
    return min(found)


def give_up_reason(trigger: Trigger, *, attempts: int, oldest_at: float, now: float) -> str | None:
    """Why a failing batch is given up on (AWS's condition), or None to retry it."""
    if oldest_at < now - tabledata.STREAM_RETENTION_SECONDS:
        return "RecordAgeExceeded"
    if 0 <= trigger.maximum_retry_attempts < attempts:
        return "RetryAttemptsExhausted"
    return None


@dataclass(frozen=True)
class Attempt:
    """One invocation of a batch and what came of it."""

    request_id: str
    failed_from: int | None  # None: every record processed
    outcome: str  # success | partial | function_error | invoke_error | throttled
    status: int
    function_error: str | None = None


def failure_record(
    records: Sequence[streams.Entry],
    attempt: Attempt,
    *,
    attempts: int,
    condition: str,
    function_arn: str,
    shard_id: str,
    stream_arn: str,
    now: float,
) -> dict[str, Any]:
    """AWS's record for a stream batch sent to an on-failure destination."""
    response: dict[str, Any] = {"statusCode": attempt.status}
    if attempt.outcome not in ("invoke_error", "throttled"):
        response["executedVersion"] = "$LATEST"
    if attempt.function_error is not None:
        response["functionError"] = attempt.function_error
    return {
        "requestContext": {
            "requestId": attempt.request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": _iso(now, millis=True),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": _iso(records[0].record.at),
            "approximateArrivalOfLastRecord": _iso(records[-1].record.at),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def _iso(moment: float, *, millis: bool = False) -> str:
    at = datetime.datetime.fromtimestamp(moment, tz=datetime.UTC)
    if millis:
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
