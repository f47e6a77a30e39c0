"""The rules of a Choice state's Choices: comparisons, their operands, nesting.

A top-level rule names its Next state; a rule nested in And/Or/Not must not.
Next targets are checked by the caller, which knows the state names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubefn.asl.fields import (
    is_jsonata,
    is_number,
    is_timestamp,
    join,
    json_path,
    kind,
    string,
    unknown,
)
from kubefn.schema import Problem, show

_ORDER = ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


_COMPARED: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "String": ("a string", _is_string),
    "Numeric": ("a number", is_number),
    "Timestamp": ("an RFC 3339 timestamp string", is_timestamp),
}

OPERATORS: dict[str, tuple[str, Callable[[Any], bool]] | None] = {
    **{f"{kind_}{op}": _COMPARED[kind_] for kind_ in _COMPARED for op in _ORDER},
    **{f"{kind_}{op}Path": None for kind_ in _COMPARED for op in _ORDER},
    "BooleanEquals": ("a boolean", _is_boolean),
    "BooleanEqualsPath": None,
    "StringMatches": ("a string pattern", _is_string),
    **{
        f"Is{test}": ("a boolean", _is_boolean)
        for test in ("Null", "Present", "Numeric", "String", "Boolean", "Timestamp")
    },
}
"""Data-test operator -> (what its value must be, test); None: its value is a path."""

BOOLEAN = ("And", "Or", "Not")


def check_rules(
    choices: Any, path: str, *, jsonata: bool
) -> tuple[list[Problem], list[tuple[str, str]]]:
    """(problems, [(path of Next, target)]) of a Choices list."""
    if not isinstance(choices, list) or not choices:
        got = f"{kind(choices)} {show(choices)}"
        return [Problem(path, f"must be a non-empty array of rules (got {got})")], []
    found: list[Problem] = []
    targets: list[tuple[str, str]] = []
    for i, rule in enumerate(choices):
        where = f"{path}[{i}]"
        found.extend(_rule(rule, where, top=True, jsonata=jsonata))
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            targets.append((join(where, "Next"), rule["Next"]))
    return found, targets


def _rule(rule: Any, path: str, *, top: bool, jsonata: bool) -> list[Problem]:
    if not isinstance(rule, dict):
        return [Problem(path, f"must be an object (got {kind(rule)} {show(rule)})")]
    found: list[Problem] = []
    if top:
        if "Next" not in rule:
            found.append(Problem(path, "must have Next: a top-level Choice rule names a state"))
        else:
            found.extend(string(rule["Next"], join(path, "Next")))
    elif "Next" in rule:
        found.append(Problem(join(path, "Next"), "is not allowed in a nested Choice rule"))
    if jsonata:
        allowed = ("Condition", "Next", "Comment", *(("Assign", "Output") if top else ()))
        found.extend(unknown(rule, path, allowed, "a Choice rule"))
        if "Condition" not in rule:
            found.append(Problem(path, "must have Condition (QueryLanguage is JSONata)"))
        elif not (isinstance(rule["Condition"], bool) or is_jsonata(rule["Condition"])):
            found.append(
                Problem(
                    join(path, "Condition"),
                    f"must be a JSONata expression {{% ... %}} or a boolean "
                    f"(got {show(rule['Condition'])})",
                )
            )
        return found
    operators = [key for key in rule if key in OPERATORS or key in BOOLEAN]
    allowed = ("Variable", "Next", "Comment", *(("Assign",) if top else ()), *OPERATORS, *BOOLEAN)
    found.extend(unknown(rule, path, allowed, "a Choice rule"))
    if len(operators) != 1:
        got = ", ".join(operators) or "none"
        found.append(Problem(path, f"must have exactly one comparison operator (got {got})"))
        return found
    operator = operators[0]
    where = join(path, operator)
    if operator in BOOLEAN:
        if "Variable" in rule:
            found.append(Problem(join(path, "Variable"), f"is not allowed with {operator}"))
        found.extend(_boolean(operator, rule[operator], where, jsonata=jsonata))
        return found
    if "Variable" not in rule:
        found.append(Problem(path, f"must have Variable for {operator}"))
    else:
        found.extend(json_path(rule["Variable"], join(path, "Variable")))
    found.extend(_operand(operator, rule[operator], where))
    return found


def _boolean(operator: str, value: Any, path: str, *, jsonata: bool) -> list[Problem]:
    if operator == "Not":
        return _rule(value, path, top=False, jsonata=jsonata)
    if not isinstance(value, list) or not value:
        got = f"{kind(value)} {show(value)}"
        return [Problem(path, f"must be a non-empty array of rules (got {got})")]
    return [
        p
        for i, item in enumerate(value)
        for p in _rule(item, f"{path}[{i}]", top=False, jsonata=jsonata)
    ]


def _operand(operator: str, value: Any, path: str) -> list[Problem]:
    expected = OPERATORS[operator]
    if expected is None:
        return json_path(value, path)
    what, test = expected
    if test(value):
        return []
    return [Problem(path, f"must be {what} for {operator} (got {kind(value)} {show(value)})")]
