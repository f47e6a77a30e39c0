"""Field-level checks shared by the state, Choice and Map rules.

Each returns the problems of one value at one path, so the callers only pick
which rule applies where and collect every problem in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from kubefn.asl import intrinsics, paths
from kubefn.schema import Problem, show

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def join(path: str, key: str) -> str:
    """`path.key`, or `path["key"]` when the key holds dots, spaces or brackets."""
    if not _PLAIN_KEY.fullmatch(key):
        return f'{path}["{key}"]'
    return f"{path}.{key}" if path else key


def is_jsonata(value: Any) -> bool:
    """Whether `value` is a JSONata expression `{% ... %}` (evaluated at run time)."""
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def kind(value: Any) -> str:
    """The JSON type name of `value`, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_timestamp(value: Any) -> bool:
    """Whether `value` is an RFC 3339 timestamp such as 2016-03-14T01:59:00Z."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def string(value: Any, path: str) -> list[Problem]:
    if isinstance(value, str):
        return []
    return [Problem(path, f"must be a string (got {kind(value)} {show(value)})")]


def integer(value: Any, path: str, *, low: int, high: int | None = None) -> list[Problem]:
    """An integer within [low, high]."""
    if not is_integer(value):
        return [Problem(path, f"must be an integer (got {kind(value)} {show(value)})")]
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        return [Problem(path, f"must be {bound} (got {show(value)})")]
    return []


def number(value: Any, path: str, *, low: float, high: float | None = None) -> list[Problem]:
    """A number within [low, high]."""
    if not is_number(value):
        return [Problem(path, f"must be a number (got {kind(value)} {show(value)})")]
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        return [Problem(path, f"must be {bound} (got {show(value)})")]
    return []


def one_of(value: Any, path: str, allowed: Iterable[str]) -> list[Problem]:
    options = tuple(allowed)
    if value in options:
        return []
    return [Problem(path, f"must be one of {', '.join(options)} (got {show(value)})")]


def json_path(value: Any, path: str, *, reference: bool = False) -> list[Problem]:
    """A path (or, with `reference`, a reference path) in a string; null allowed by callers."""
    if not isinstance(value, str):
        return [Problem(path, f"must be a path string (got {kind(value)} {show(value)})")]
    problem = (paths.reference_path_problem if reference else paths.path_problem)(value)
    if problem is None:
        return []
    what = "a reference path" if reference else "a path"
    return [Problem(path, f"must be {what}: {problem} (got {show(value)})")]


def unknown(obj: Mapping[str, Any], path: str, allowed: Iterable[str], what: str) -> list[Problem]:
    """One problem for each field of `obj` that `what` does not have."""
    known = set(allowed)
    return [
        Problem(join(path, str(key)), f"is not a field of {what}")
        for key in obj
        if key not in known
    ]


def exclusive(obj: Mapping[str, Any], path: str, names: Iterable[str]) -> list[Problem]:
    """At most one of `names` in `obj`."""
    present = [name for name in names if name in obj]
    if len(present) < 2:
        return []
    return [Problem(path, f"must have at most one of {', '.join(present)} (got all of them)")]


def template(value: Any, path: str) -> list[Problem]:
    """A payload template: any `.$` key holds a path, a context path or an intrinsic call."""
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in template(item, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    found: list[Problem] = []
    for key, item in value.items():
        where = join(path, str(key))
        if isinstance(key, str) and key.endswith(".$"):
            found.extend(dynamic(item, where))
        else:
            found.extend(template(item, where))
    return found


def dynamic(value: Any, path: str) -> list[Problem]:
    """The value of a `.$` key: a path (`$`, `$$`, `$var`) or an intrinsic call."""
    if not isinstance(value, str):
        return [
            Problem(path, f"must be a path or an intrinsic call (got {kind(value)} {show(value)})")
        ]
    if intrinsics.is_call(value):
        return [
            Problem(path, f"{message}, in {show(value)}") for message in intrinsics.problems(value)
        ]
    return json_path(value, path)
