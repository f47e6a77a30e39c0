"""KeyConditionExpression: the partition key's value and at most one sort key condition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubefn_gateway.dynamodb.errors import ValidationError
from kubefn_gateway.dynamodb.expressions import nodes
from kubefn_gateway.dynamodb.expressions.lexer import invalid

FIELD = "KeyConditionExpression"
RANGE_OPERATORS = frozenset({"=", "<", "<=", ">", ">="})
_FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class KeyCondition:
    """What a Query reads: one partition, optionally narrowed on the sort key."""

    hash_value: dict[str, Any]
    range_op: str | None  # "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"
    range_values: tuple[dict[str, Any], ...]


def key_condition(tree: nodes.Condition, *, hash_key: str, range_key: str | None) -> KeyCondition:
    """Check a bound condition tree is a key condition for this key schema, and read it."""
    conditions: dict[str, tuple[str, tuple[dict[str, Any], ...]]] = {}
    for leaf in _leaves(tree):
        name, operator, operands = _key_term(leaf)
        if name in conditions:
            raise invalid(FIELD, "KeyConditionExpressions must only contain one condition per key")
        conditions[name] = (operator, operands)
    if hash_key not in conditions:
        raise ValidationError(f"Query condition missed key schema element: {hash_key}")
    hash_operator, hash_values = conditions.pop(hash_key)
    if hash_operator != "=":
        raise ValidationError("Query key condition not supported")
    if not conditions:
        return KeyCondition(hash_values[0], None, ())
    name, (operator, operands) = next(iter(conditions.items()))
    if name != range_key:
        if range_key is None:
            raise ValidationError("Query key condition not supported")
        raise ValidationError(f"Query condition missed key schema element: {range_key}")
    return KeyCondition(hash_values[0], operator, operands)


def _leaves(tree: nodes.Condition) -> list[nodes.Condition]:
    if isinstance(tree, nodes.And):
        return _leaves(tree.left) + _leaves(tree.right)
    if isinstance(tree, nodes.Or):
        raise invalid(FIELD, "Invalid operator used in KeyConditionExpression: OR")
    if isinstance(tree, nodes.Not):
        raise invalid(FIELD, "Invalid operator used in KeyConditionExpression: NOT")
    if isinstance(tree, nodes.In):
        raise invalid(FIELD, "Invalid operator used in KeyConditionExpression: IN")
    return [tree]


def _key_term(leaf: nodes.Condition) -> tuple[str, str, tuple[dict[str, Any], ...]]:
    """(attribute, operator, values) of one `key op :v` / BETWEEN / begins_with term."""
    if isinstance(leaf, nodes.Comparison):
        if leaf.operator not in RANGE_OPERATORS:
            raise invalid(
                FIELD, f"Invalid operator used in KeyConditionExpression: {leaf.operator}"
            )
        left, right, operator = leaf.left, leaf.right, leaf.operator
        if isinstance(left, nodes.Literal) and isinstance(right, nodes.Path):
            left, right, operator = right, left, _FLIPPED[operator]
        return _attribute(left), operator, (_value(right),)
    if isinstance(leaf, nodes.Between):
        return _attribute(leaf.operand), "BETWEEN", (_value(leaf.low), _value(leaf.high))
    assert isinstance(leaf, nodes.Function)
    if leaf.name != "begins_with":
        raise invalid(FIELD, f"Invalid operator used in KeyConditionExpression: {leaf.name}")
    return _attribute(leaf.arguments[0]), "begins_with", (_value(leaf.arguments[1]),)


def _attribute(node: nodes.Operand) -> str:
    if not isinstance(node, nodes.Path):
        raise invalid(FIELD, "KeyConditionExpressions must only contain key attributes")
    if len(node.elements) != 1:
        raise invalid(FIELD, "KeyConditionExpressions cannot have conditions on nested attributes")
    return str(node.elements[0])


def _value(node: nodes.Operand) -> dict[str, Any]:
    if not isinstance(node, nodes.Literal):
        raise invalid(
            FIELD, "KeyConditionExpressions must compare key attributes to expression values"
        )
    return node.value
