"""How long a Wait state waits, and a Task's timeouts, from the definition and the input.

The static forms (Seconds, Timestamp, TimeoutSeconds, HeartbeatSeconds) were
checked when the machine was created. The *Path forms are read at run time, and a
value that is missing or of the wrong kind fails the state with States.Runtime,
naming the field and the value. The engine turns the result into a timer with
its own clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from kubefn.asl import jsonpath
from kubefn.asl.errors import RUNTIME, StatesError, encoded
from kubefn.asl.fields import kind

SECONDS_MAX = 99999999
"""The most seconds a Wait or a Task timeout may name."""

_TIMESTAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d+)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})"
)


class WaitFor(NamedTuple):
    """A relative wait in seconds, or an absolute instant: exactly one is set."""

    seconds: float | None
    until: datetime | None


def parse_timestamp(text: str) -> datetime:
    """A timezone-aware instant from an RFC 3339 timestamp as Step Functions accepts it.

    An uppercase T separates date and time, the zone is an uppercase Z or a
    numeric offset, fractional seconds are optional. Raises ValueError with the reason.
    """
    if not isinstance(text, str):
        raise ValueError(f"a timestamp is a string, not {kind(text)}")
    shape = _TIMESTAMP.fullmatch(text)
    if not shape:
        raise ValueError(
            "a timestamp is RFC 3339 with an uppercase T and a Z or numeric offset, "
            "such as 2024-08-18T17:33:00Z"
        )
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError as error:
        raise ValueError(f"not a valid date and time: {error}") from None


def wait_for(
    state: Mapping[str, Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> WaitFor:
    """The wait of a Wait state: Seconds, Timestamp, SecondsPath or TimestampPath.

    A timestamp counts to the second, as Step Functions truncates milliseconds.
    """
    if "Seconds" in state:
        return WaitFor(seconds=float(state["Seconds"]), until=None)
    if "Timestamp" in state:
        return WaitFor(seconds=None, until=_instant(state["Timestamp"], field="Timestamp"))
    if "SecondsPath" in state:
        path = state["SecondsPath"]
        value = read_field(path, data, context=context, variables=variables, field="SecondsPath")
        if not _is_whole(value) or value < 0 or value > SECONDS_MAX:
            raise StatesError(
                RUNTIME,
                f"The SecondsPath '{path}' must reference an integer from 0 to {SECONDS_MAX}, "
                f"but found {encoded(value)}",
            )
        return WaitFor(seconds=float(value), until=None)
    if "TimestampPath" in state:
        path = state["TimestampPath"]
        value = read_field(path, data, context=context, variables=variables, field="TimestampPath")
        return WaitFor(seconds=None, until=_instant(value, field=f"TimestampPath '{path}'"))
    raise StatesError(
        RUNTIME, "A Wait state needs one of Seconds, Timestamp, SecondsPath or TimestampPath"
    )


def task_timeouts(
    state: Mapping[str, Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> tuple[float | None, float | None]:
    """(timeout, heartbeat) of a Task in seconds; None where the state gives none.

    The engine applies Step Functions' default (99999999 s) to a missing timeout.
    """
    return (
        _seconds(state, "TimeoutSeconds", data, context=context, variables=variables),
        _seconds(state, "HeartbeatSeconds", data, context=context, variables=variables),
    )


def read_field(
    path: str,
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
    field: str,
) -> Any:
    """The value a *Path field names; States.Runtime naming the field when it names nothing."""
    try:
        return jsonpath.read(path, data, context=context, variables=variables)
    except jsonpath.PathNotFound:
        where = "the context object" if path.startswith("$$") else f"the input '{encoded(data)}'"
        raise StatesError(
            RUNTIME,
            f"The JSONPath '{path}' specified for the field '{field}' could not be found in "
            f"{where}",
        ) from None


def _seconds(
    state: Mapping[str, Any],
    field: str,
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None,
) -> float | None:
    if field in state:
        return float(state[field])
    path_field = f"{field}Path"
    if path_field not in state:
        return None
    path = state[path_field]
    value = read_field(path, data, context=context, variables=variables, field=path_field)
    if not _is_whole(value) or value < 1 or value > SECONDS_MAX:
        raise StatesError(
            RUNTIME,
            f"The {path_field} '{path}' must reference a positive integer up to {SECONDS_MAX}, "
            f"but found {encoded(value)}",
        )
    return float(value)


def _instant(value: Any, *, field: str) -> datetime:
    try:
        instant = parse_timestamp(value)
    except ValueError as error:
        raise StatesError(
            RUNTIME, f"The {field} value {encoded(value)} is not a valid timestamp: {error}"
        ) from None
    return instant.replace(microsecond=0)


def _is_whole(value: Any) -> bool:
    """An integer, as JSON has it: not a boolean, not a fraction."""
    return isinstance(value, int) and not isinstance(value, bool)
