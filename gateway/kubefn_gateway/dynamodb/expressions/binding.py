"""Resolve a cached tree's placeholders against one request's names and values.

Checks that need the values but not the item happen here, as DynamoDB refuses
them before reading anything: operand types of ADD/DELETE/arithmetic/
list_append/begins_with, attribute_type's type name, BETWEEN bounds.
"""

from __future__ import annotations

from typing import Any

from kubefn_gateway.dynamodb import values
from kubefn_gateway.dynamodb.expressions import nodes
from kubefn_gateway.dynamodb.expressions.context import ExpressionContext
from kubefn_gateway.dynamodb.expressions.lexer import invalid

ATTRIBUTE_TYPES = "B,NULL,SS,BOOL,L,BS,N,NS,S,M"
_TYPE_WORDS = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "L": "LIST",
    "M": "MAP",
    "SS": "STRING_SET",
    "NS": "NUMBER_SET",
    "BS": "BINARY_SET",
}


def type_of(value: dict[str, Any]) -> str:
    return next(iter(value))


def path(node: nodes.Path, ctx: ExpressionContext, field: str) -> nodes.Path:
    return nodes.Path(
        tuple(
            ctx.name(element, field=field)
            if isinstance(element, str) and element.startswith("#")
            else element
            for element in node.elements
        )
    )


def operand(node: nodes.Operand, ctx: ExpressionContext, field: str) -> nodes.Operand:
    if isinstance(node, nodes.Path):
        return path(node, ctx, field)
    if isinstance(node, nodes.Placeholder):
        return nodes.Literal(ctx.value(node.name, field=field))
    if isinstance(node, nodes.Size):
        return nodes.Size(path(node.path, ctx, field))
    if isinstance(node, nodes.IfNotExists):
        return nodes.IfNotExists(path(node.path, ctx, field), operand(node.default, ctx, field))
    if isinstance(node, nodes.ListAppend):
        first, second = operand(node.first, ctx, field), operand(node.second, ctx, field)
        for argument in (first, second):
            _expect_type(argument, ("L",), "operator or function: list_append", field, short=True)
        return nodes.ListAppend(first, second)
    if isinstance(node, nodes.Arithmetic):
        left, right = operand(node.left, ctx, field), operand(node.right, ctx, field)
        for argument in (left, right):
            _expect_type(argument, ("N",), f"operator: {node.operator}", field)
        return nodes.Arithmetic(node.operator, left, right)
    return node


def condition(node: nodes.Condition, ctx: ExpressionContext, field: str) -> nodes.Condition:
    if isinstance(node, nodes.And):
        return nodes.And(condition(node.left, ctx, field), condition(node.right, ctx, field))
    if isinstance(node, nodes.Or):
        return nodes.Or(condition(node.left, ctx, field), condition(node.right, ctx, field))
    if isinstance(node, nodes.Not):
        return nodes.Not(condition(node.condition, ctx, field))
    if isinstance(node, nodes.Comparison):
        left, right = operand(node.left, ctx, field), operand(node.right, ctx, field)
        _distinct((node.left, left), [(node.right, right)], node.operator, field)
        return nodes.Comparison(node.operator, left, right)
    if isinstance(node, nodes.Between):
        low, high = operand(node.low, ctx, field), operand(node.high, ctx, field)
        if isinstance(low, nodes.Literal) and isinstance(high, nodes.Literal):
            order = values.compare(low.value, high.value)
            if order is not None and order > 0:
                raise invalid(
                    field,
                    "The BETWEEN operator requires upper bound to be greater than or equal to "
                    f"lower bound; lower bound operand: AttributeValue: {_show(low.value)}, "
                    f"upper bound operand: AttributeValue: {_show(high.value)}",
                )
        subject = operand(node.operand, ctx, field)
        _distinct((node.operand, subject), [(node.low, low), (node.high, high)], "BETWEEN", field)
        return nodes.Between(subject, low, high)
    if isinstance(node, nodes.In):
        subject = operand(node.operand, ctx, field)
        options = tuple(operand(option, ctx, field) for option in node.options)
        pairs = list(zip(node.options, options, strict=True))
        _distinct((node.operand, subject), pairs, "IN", field)
        return nodes.In(subject, options)
    return _function(node, ctx, field)


def _function(node: nodes.Function, ctx: ExpressionContext, field: str) -> nodes.Function:
    arguments = tuple(operand(argument, ctx, field) for argument in node.arguments)
    if node.name == "attribute_type":
        kind = arguments[1]
        if isinstance(kind, nodes.Literal):
            _expect_type(kind, ("S",), "operator or function: attribute_type", field, short=True)
            name = kind.value["S"]
            if name not in ATTRIBUTE_TYPES.split(","):
                raise invalid(
                    field,
                    f"Invalid attribute type name found; type: {name}, "
                    f"valid types: {{ {ATTRIBUTE_TYPES} }}",
                )
    elif node.name == "begins_with":
        for argument in arguments:
            _expect_type(
                argument, ("S", "B"), "operator or function: begins_with", field, short=True
            )
    if node.name in ("begins_with", "contains"):
        pairs = list(zip(node.arguments, arguments, strict=True))
        _distinct(pairs[0], pairs[1:], node.name, field)
    return nodes.Function(node.name, arguments)


def _distinct(
    first: tuple[nodes.Operand, nodes.Operand],
    others: list[tuple[nodes.Operand, nodes.Operand]],
    operator: str,
    field: str,
) -> None:
    """DynamoDB refuses an operator whose first operand repeats among the others (`a = a`,
    `contains(a, a)`): the same path (whatever names spell it) or the same placeholder."""
    written, bound = first
    shown = bound if isinstance(bound, nodes.Path | nodes.Size) else written
    for other_written, other_bound in others:
        same_path = isinstance(bound, nodes.Path | nodes.Size) and bound == other_bound
        if same_path or written == other_written:
            raise invalid(
                field,
                "The first operand must be distinct from the remaining operands for this "
                f"operator or function; operator: {operator}, first operand: {_operand(shown)}",
            )


def _operand(node: nodes.Operand) -> str:
    if isinstance(node, nodes.Path):
        return "[" + ", ".join(str(e) for e in node.elements) + "]"
    if isinstance(node, nodes.Placeholder):
        return node.name
    if isinstance(node, nodes.Size):
        return f"size({_operand(node.path)})"
    return type(node).__name__


def action(node: nodes.Action, ctx: ExpressionContext, field: str) -> nodes.Action:
    value = operand(node.value, ctx, field) if node.value is not None else None
    if node.clause == "ADD":
        assert isinstance(value, nodes.Literal)
        allowed = ("N", "SS", "NS", "BS")
        _expect_type(value, allowed, "operator: ADD", field)
    elif node.clause == "DELETE":
        assert isinstance(value, nodes.Literal)
        _expect_type(value, ("SS", "NS", "BS"), "operator: DELETE", field)
    return nodes.Action(node.clause, path(node.path, ctx, field), value)


def _expect_type(
    node: nodes.Operand,
    allowed: tuple[str, ...],
    operator: str,
    field: str,
    *,
    short: bool = False,
) -> None:
    """Refuse a literal operand of a type the operator cannot take (paths are checked later)."""
    if isinstance(node, nodes.Literal):
        type_ = type_of(node.value)
        if type_ not in allowed:
            shown = type_ if short else _TYPE_WORDS[type_]
            raise invalid(
                field,
                f"Incorrect operand type for operator or function; {operator}, "
                f"operand type: {shown}",
            )


def _show(value: dict[str, Any]) -> str:
    type_, inner = next(iter(value.items()))
    return f"{{{type_}:{inner}}}"
