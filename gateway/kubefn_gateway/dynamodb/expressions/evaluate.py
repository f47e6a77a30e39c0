"""Evaluate a bound condition against an item (None or {} when there is no item).

Comparisons of values of different types are simply false, never errors, as in
DynamoDB; a missing attribute makes every comparison false except `<>`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kubefn_gateway.dynamodb import values
from kubefn_gateway.dynamodb.expressions import nodes, paths

ItemView = Mapping[str, dict[str, Any]] | None


def condition(node: nodes.Condition, item: ItemView) -> bool:
    """Whether `item` satisfies the bound condition `node`."""
    if isinstance(node, nodes.And):
        return condition(node.left, item) and condition(node.right, item)
    if isinstance(node, nodes.Or):
        return condition(node.left, item) or condition(node.right, item)
    if isinstance(node, nodes.Not):
        return not condition(node.condition, item)
    if isinstance(node, nodes.Comparison):
        return _compare(node.operator, operand(node.left, item), operand(node.right, item))
    if isinstance(node, nodes.Between):
        value, low, high = (operand(n, item) for n in (node.operand, node.low, node.high))
        if value is None or low is None or high is None:
            return False
        above, below = values.compare(low, value), values.compare(value, high)
        return above is not None and below is not None and above <= 0 and below <= 0
    if isinstance(node, nodes.In):
        value = operand(node.operand, item)
        if value is None:
            return False
        options = (operand(option, item) for option in node.options)
        return any(option is not None and values.equal(value, option) for option in options)
    return _function(node, item)


def operand(node: nodes.Operand, item: ItemView) -> dict[str, Any] | None:
    """The value of a condition operand; None when its attribute is missing."""
    if isinstance(node, nodes.Literal):
        return node.value
    if isinstance(node, nodes.Path):
        return paths.get(item, node.elements)
    if isinstance(node, nodes.Size):
        value = paths.get(item, node.path.elements)
        count = size(value) if value is not None else None
        return {"N": str(count)} if count is not None else None
    raise TypeError(f"not a condition operand: {node!r}")


def size(value: dict[str, Any]) -> int | None:
    """DynamoDB's size(): characters, bytes or elements; None for types without one."""
    type_, inner = next(iter(value.items()))
    if type_ == "S":
        return len(inner)
    if type_ == "B":
        return len(base64.b64decode(inner))
    if type_ in ("SS", "NS", "BS", "L", "M"):
        return len(inner)
    return None


def _compare(operator: str, left: dict[str, Any] | None, right: dict[str, Any] | None) -> bool:
    if operator in ("=", "<>"):
        same = left is not None and right is not None and values.equal(left, right)
        return same if operator == "=" else not same
    if left is None or right is None:
        return False
    order = values.compare(left, right)
    if order is None:
        return False
    if operator == "<":
        return order < 0
    if operator == "<=":
        return order <= 0
    if operator == ">":
        return order > 0
    return order >= 0


def _function(node: nodes.Function, item: ItemView) -> bool:
    first = operand(node.arguments[0], item)
    if node.name == "attribute_exists":
        return first is not None
    if node.name == "attribute_not_exists":
        return first is None
    second = operand(node.arguments[1], item)
    if first is None or second is None:
        return False
    if node.name == "attribute_type":
        return next(iter(first)) == second.get("S")
    if node.name == "begins_with":
        return _begins_with(first, second)
    return _contains(first, second)


def _begins_with(value: dict[str, Any], prefix: dict[str, Any]) -> bool:
    if "S" in value and "S" in prefix:
        return bool(value["S"].startswith(prefix["S"]))
    if "B" in value and "B" in prefix:
        return base64.b64decode(value["B"]).startswith(base64.b64decode(prefix["B"]))
    return False


def _contains(value: dict[str, Any], member: dict[str, Any]) -> bool:
    type_, inner = next(iter(value.items()))
    member_type, member_inner = next(iter(member.items()))
    if type_ == "S" and member_type == "S":
        return bool(member_inner in inner)
    if type_ == "B" and member_type == "B":
        return base64.b64decode(member_inner) in base64.b64decode(inner)
    if type_ == "L":
        return any(values.equal(element, member) for element in inner)
    if values.SET_TYPES.get(type_) == member_type:
        return values.member_identity(type_, member_inner) in values.set_members(value)
    return False
