"""The syntax tree of DynamoDB expressions.

A parsed tree keeps placeholders (`#n` path elements, `Placeholder(":v")`) so
it can be cached by expression text; `binding` then resolves them against one
request's ExpressionAttributeNames/Values, giving the same node types with
names resolved and `Literal` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PathElement = str | int


@dataclass(frozen=True, slots=True)
class Path:
    """A document path: attribute names (str) and list indexes (int)."""

    elements: tuple[PathElement, ...]


@dataclass(frozen=True, slots=True)
class Placeholder:
    """`:name`, an ExpressionAttributeValues reference not yet resolved."""

    name: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A resolved attribute value (wire JSON)."""

    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Size:
    path: Path


@dataclass(frozen=True, slots=True)
class IfNotExists:
    path: Path
    default: Operand


@dataclass(frozen=True, slots=True)
class ListAppend:
    first: Operand
    second: Operand


@dataclass(frozen=True, slots=True)
class Arithmetic:
    operator: str  # "+" or "-"
    left: Operand
    right: Operand


Operand = Path | Placeholder | Literal | Size | IfNotExists | ListAppend | Arithmetic


@dataclass(frozen=True, slots=True)
class Comparison:
    operator: str  # = <> < <= > >=
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    operand: Operand
    options: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Function:
    """A boolean function: attribute_exists, attribute_not_exists, attribute_type,
    begins_with or contains."""

    name: str
    arguments: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


Condition = Comparison | Between | In | Function | And | Or | Not


@dataclass(frozen=True, slots=True)
class Action:
    """One update action; `value` is None for REMOVE."""

    clause: str  # SET, REMOVE, ADD or DELETE
    path: Path
    value: Operand | None
