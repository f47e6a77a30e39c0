"""Status conditions, as Kubernetes API conventions define them.

Pure: the clock comes in as `now`, so a condition's `lastTransitionTime` moves
only when its status really flips, and re-running a handler changes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from kubefn import observed, table, tabledata

READY = "Ready"

# Reasons of the Ready condition (CamelCase, as Kubernetes reasons are).
PUBLISHED = "Published"
INVALID_SPEC = "InvalidSpec"
INVALID_DEFINITION = "InvalidDefinition"
"""A StateMachine whose Amazon States Language definition breaks rules."""
PUBLISH_FAILED = "PublishFailed"

Condition = Mapping[str, Any]


def find(conditions: Sequence[Condition] | None, kind: str) -> Condition | None:
    """The condition of type `kind`, if there is one."""
    return next((c for c in conditions or () if c.get("type") == kind), None)


def timestamp(now: datetime.datetime) -> str:
    """RFC 3339 in UTC with seconds precision, as the API server writes times."""
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_condition(
    conditions: Sequence[Condition] | None,
    *,
    kind: str,
    status: bool,
    reason: str,
    message: str,
    now: datetime.datetime,
) -> list[dict[str, Any]]:
    """`conditions` with the one of type `kind` set; the others are kept as they are.

    The transition time is kept when the status does not change (only the reason
    or message did), so it tells how long the object has been in its state.
    """
    previous = find(conditions, kind)
    value = "True" if status else "False"
    since = (
        previous["lastTransitionTime"]
        if previous is not None and previous.get("status") == value
        and "lastTransitionTime" in previous
        else timestamp(now)
    )  # fmt: skip
    condition = {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }
    others = [dict(c) for c in conditions or () if c.get("type") != kind]
    return [*others, condition]


def observed_view(summary: observed.Summary) -> dict[str, Any]:
    """The status fields a user reads to see a Function run: instances, last cold start."""
    last = summary.last_cold_start
    return {
        "instances": summary.instances,
        "lastColdStart": None
        if last is None
        else timestamp(datetime.datetime.fromtimestamp(last, datetime.UTC)),
    }


def table_view(
    stats: tabledata.TableStats,
    *,
    spec: Mapping[str, Any],
    region: str,
    account_id: str,
) -> dict[str, Any]:
    """The status fields a user reads to see a Table: its name, size and stream.

    `streamId` is None (removed by a merge patch) while the stream is off or has
    no label yet (the gateway labels a stream when it first serves the table).
    """
    enabled = bool((spec.get("stream") or {}).get("enabled"))
    stream = None
    if enabled and stats.stream_label is not None:
        stream = table.stream_arn(
            region=region,
            account_id=account_id,
            table_name=spec["tableName"],
            label=stats.stream_label,
        )
    return {
        "tableName": spec["tableName"],
        "itemCount": stats.items,
        "tableSizeBytes": stats.bytes,
        "streamId": stream,
    }
