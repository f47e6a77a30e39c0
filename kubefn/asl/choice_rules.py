"""A Choice state's rules evaluated against its input, as Step Functions evaluates them.

A comparison whose operands are of the wrong kind (NumericEquals on a string,
BooleanEquals on 1) is simply false: booleans are no numbers, and a timestamp is
a string that parses as RFC 3339. A Variable, or a *Path operand, that names
nothing fails the state with States.Runtime; only IsPresent asks whether it exists.
The rules were checked when the machine was created (kubefn.asl.choice), so
their shape is trusted here.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kubefn.asl import jsonpath, waits
from kubefn.asl.choice import OPERATORS
from kubefn.asl.errors import NO_CHOICE_MATCHED, RUNTIME, StatesError

NO_MATCH_CAUSE = (
    "No Choice rule matched the input and the Choice state has no Default: "
    "failed to transition out of the state."
)

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
_KINDS = ("String", "Numeric", "Timestamp")


def choose(
    state: Mapping[str, Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> str:
    """The Next of the first rule that holds, else Default; States.NoChoiceMatched without one."""
    for rule in state.get("Choices", ()):
        if evaluate(rule, data, context=context, variables=variables):
            return str(rule["Next"])
    if "Default" in state:
        return str(state["Default"])
    raise StatesError(NO_CHOICE_MATCHED, NO_MATCH_CAUSE)


def evaluate(
    rule: Mapping[str, Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> bool:
    """Whether one rule holds; And and Or stop at the first part that decides."""
    if "And" in rule:
        return all(evaluate(r, data, context=context, variables=variables) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate(r, data, context=context, variables=variables) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate(rule["Not"], data, context=context, variables=variables)
    name = next(key for key in rule if key in OPERATORS)
    variable = rule["Variable"]
    if name == "IsPresent":
        present = _is_present(variable, data, context=context, variables=variables)
        return present is rule[name]
    value = _read(variable, data, context=context, variables=variables)
    expected = rule[name]
    if name.endswith("Path"):
        name = name[: -len("Path")]
        expected = _read(expected, data, context=context, variables=variables)
    return _holds(name, value, expected)


def _holds(name: str, value: Any, expected: Any) -> bool:
    """Whether the data test `name` (no Path suffix) holds for `value` against `expected`."""
    if name.startswith("Is"):
        return _TYPE_TESTS[name](value) is expected
    if name == "BooleanEquals":
        return isinstance(value, bool) and isinstance(expected, bool) and value is expected
    if name == "StringMatches":
        return (
            isinstance(value, str)
            and isinstance(expected, str)
            and _pattern(expected).fullmatch(value) is not None
        )
    kind = next(k for k in _KINDS if name.startswith(k))
    compare = _ORDERINGS[name[len(kind) :]]
    if kind == "Numeric":
        return _is_number(value) and _is_number(expected) and compare(value, expected)
    if kind == "String":
        if not (isinstance(value, str) and isinstance(expected, str)):
            return False
        return compare(_code_units(value), _code_units(expected))
    left, right = _timestamp(value), _timestamp(expected)
    return left is not None and right is not None and compare(left, right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return waits.parse_timestamp(value)
    except ValueError:
        return None


def _code_units(text: str) -> bytes:
    """`text` ordered as Java orders strings (UTF-16 code units), as Step Functions compares."""
    return text.encode("utf-16-be", "surrogatepass")


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda value: value is None,
    "IsNumeric": _is_number,
    "IsString": lambda value: isinstance(value, str),
    "IsBoolean": lambda value: isinstance(value, bool),
    "IsTimestamp": lambda value: _timestamp(value) is not None,
}


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(text: str) -> re.Pattern[str]:
    """StringMatches: `*` matches any run of characters; `\\*` and `\\\\` stand for themselves.

    A backslash before any other character is an ordinary backslash.
    """
    cached = _PATTERNS.get(text)
    if cached is not None:
        return cached
    parts: list[str] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char == "\\" and text[at + 1 : at + 2] in ("*", "\\"):
            parts.append(re.escape(text[at + 1]))
            at += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        at += 1
    compiled = re.compile("".join(parts), re.DOTALL)
    if len(_PATTERNS) < 1024:
        _PATTERNS[text] = compiled
    return compiled


def _read(
    path: str,
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None,
) -> Any:
    try:
        return jsonpath.read(path, data, context=context, variables=variables)
    except jsonpath.PathNotFound:
        raise StatesError(
            RUNTIME,
            f"Invalid path '{path}': The choice state's condition path references an "
            "invalid value.",
        ) from None


def _is_present(
    path: str,
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None,
) -> bool:
    try:
        found = jsonpath.read(path, data, context=context, variables=variables)
    except jsonpath.PathNotFound:
        return False
    return jsonpath.is_definite(path) or found != []
