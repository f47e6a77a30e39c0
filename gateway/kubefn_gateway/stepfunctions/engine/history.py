"""History events in GetExecutionHistory's shape, written before their ids are known.

An event is stored as its JSON without the closing brace; the store appends
`"id"` and `"previousEventId"` when it commits (see redis_store), so ids follow
commit order and each thread of the execution links to its own previous event.
"""

from __future__ import annotations

import json
from typing import Any

_UNTRUNCATED = {"truncated": False}

_NO_DETAILS = {
    "LambdaFunctionStarted",
    "ParallelStateStarted",
    "ParallelStateSucceeded",
    "ParallelStateFailed",
    "ParallelStateAborted",
    "MapStateSucceeded",
    "MapStateFailed",
    "MapStateAborted",
}


def _details_field(kind: str) -> str:
    if kind.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if kind.endswith("StateExited"):
        return "stateExitedEventDetails"
    return kind[0].lower() + kind[1:] + "EventDetails"  # TaskFailed: taskFailedEventDetails


def event(kind: str, *, at_ms: int, **details: Any) -> str:
    """One event of type `kind` at `at_ms`, its details under the field AWS names for it."""
    body: dict[str, Any] = {"timestamp": at_ms / 1000, "type": kind}
    if kind not in _NO_DETAILS or details:
        body[_details_field(kind)] = details
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return text[:-1]


def entered(state_type: str, *, name: str, input_text: str, at_ms: int) -> str:
    return event(
        f"{state_type}StateEntered",
        at_ms=at_ms,
        name=name,
        input=input_text,
        inputDetails=_UNTRUNCATED,
    )


def exited(state_type: str, *, name: str, output_text: str, at_ms: int) -> str:
    return event(
        f"{state_type}StateExited",
        at_ms=at_ms,
        name=name,
        output=output_text,
        outputDetails=_UNTRUNCATED,
    )


def with_data(field: str, text: str) -> dict[str, Any]:
    """`{field: text, fieldDetails: {truncated: false}}`, as data-carrying details have it."""
    return {field: text, f"{field}Details": _UNTRUNCATED}


def complete(text: str, *, event_id: int, previous: int) -> dict[str, Any]:
    """A stored event as a dict (the store wrote the ids in; tests and memory use this)."""
    return json.loads(f'{text},"id":{event_id},"previousEventId":{previous}}}')
