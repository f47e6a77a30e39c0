"""Retry and Catch: which retrier or catcher takes an error, and how long to back off.

Error names match as Step Functions matches them. `States.ALL` takes every error
but the two terminal ones, `States.Runtime` and `States.DataLimitExceeded`.
`States.TaskFailed` takes every error `States.ALL` takes except the timeouts.
`States.Timeout` also takes `States.HeartbeatTimeout`, since AWS counts a missed
heartbeat as a timeout. A `States.Runtime` error is never retried or caught, not
even when it is named: AWS documents that it always fails the execution.
`States.DataLimitExceeded` is taken only by its own name.

The engine keeps the retry counts and the clock; these functions only decide.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from kubefn.asl.errors import (
    ALL,
    DATA_LIMIT_EXCEEDED,
    HEARTBEAT_TIMEOUT,
    RUNTIME,
    TASK_FAILED,
    TIMEOUT,
)

MAX_ATTEMPTS_DEFAULT = 3
INTERVAL_SECONDS_DEFAULT = 1
BACKOFF_RATE_DEFAULT = 2.0
DELAY_SECONDS_CEILING = 31622400
"""The longest back-off: one year, the most MaxDelaySeconds may be. It bounds a
retrier without MaxDelaySeconds whose BackoffRate would otherwise grow without end."""

_TERMINAL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})
_TIMEOUTS = frozenset({TIMEOUT, HEARTBEAT_TIMEOUT})


class RetryPlan(NamedTuple):
    """Retry after `delay_seconds`; `attempt` is the retrier's count including this retry."""

    retrier: int
    attempt: int
    delay_seconds: float


def matches(error_equals: Sequence[str], error: str) -> bool:
    """Whether a retrier's or catcher's ErrorEquals takes `error`."""
    if error == RUNTIME:
        return False
    return any(_name_takes(name, error) for name in error_equals)


def _name_takes(name: str, error: str) -> bool:
    if name == error:
        return True
    if name == ALL:
        return error not in _TERMINAL
    if name == TASK_FAILED:
        return error not in _TERMINAL and error not in _TIMEOUTS
    return name == TIMEOUT and error == HEARTBEAT_TIMEOUT


def plan_retry(
    retriers: Sequence[Mapping[str, Any]],
    *,
    error: str,
    attempts: Mapping[int, int],
    random: Callable[[], float],
) -> RetryPlan | None:
    """The retry for `error`, or None when the state fails (to its Catch, if any).

    The first retrier whose ErrorEquals takes the error decides, even when it has
    used all its attempts: later retriers are not consulted. `attempts` maps a
    retrier's index to the retries it has already made; `random` returns a float
    in [0, 1) for JitterStrategy FULL.
    """
    for index, retrier in enumerate(retriers):
        if not matches(retrier.get("ErrorEquals", ()), error):
            continue
        made = attempts.get(index, 0)
        if made >= retrier.get("MaxAttempts", MAX_ATTEMPTS_DEFAULT):
            return None
        delay = backoff_seconds(retrier, retries_made=made)
        if retrier.get("JitterStrategy", "NONE") == "FULL":
            delay *= random()
        return RetryPlan(retrier=index, attempt=made + 1, delay_seconds=delay)
    return None


def backoff_seconds(retrier: Mapping[str, Any], *, retries_made: int) -> float:
    """IntervalSeconds * BackoffRate ** retries_made, capped by MaxDelaySeconds (before jitter)."""
    interval = float(retrier.get("IntervalSeconds", INTERVAL_SECONDS_DEFAULT))
    rate = float(retrier.get("BackoffRate", BACKOFF_RATE_DEFAULT))
    try:
        delay = interval * rate**retries_made
    except OverflowError:
        delay = math.inf
    ceiling = float(retrier.get("MaxDelaySeconds", DELAY_SECONDS_CEILING))
    return min(delay, ceiling, DELAY_SECONDS_CEILING)


def find_catcher(catchers: Sequence[Mapping[str, Any]], *, error: str) -> Mapping[str, Any] | None:
    """The first catcher whose ErrorEquals takes `error`, or None."""
    for catcher in catchers:
        if matches(catcher.get("ErrorEquals", ()), error):
            return catcher
    return None


def error_output(error: str, cause: str) -> dict[str, str]:
    """The error output a catcher hands to its ResultPath: {"Error": ..., "Cause": ...}."""
    return {"Error": error, "Cause": cause}
