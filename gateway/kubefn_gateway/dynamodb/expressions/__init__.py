"""DynamoDB's expression language: parse once per text, bind per request, evaluate purely.

ctx = ExpressionContext(request.get("ExpressionAttributeNames"),
                        request.get("ExpressionAttributeValues"))
condition = parse_condition(text, ctx)          # ConditionExpression / FilterExpression
update = parse_update(text, ctx)
ctx.check_all_used()
if condition.evaluate(old_item): new_item = update.apply(old_item)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubefn_gateway.dynamodb.expressions import binding, evaluate, nodes, parser, paths
from kubefn_gateway.dynamodb.expressions.context import ExpressionContext
from kubefn_gateway.dynamodb.expressions.keycondition import KeyCondition, key_condition
from kubefn_gateway.dynamodb.expressions.projection import Projection, project_paths
from kubefn_gateway.dynamodb.expressions.reserved import RESERVED_WORDS, is_reserved
from kubefn_gateway.dynamodb.expressions.update import Update

__all__ = [
    "RESERVED_WORDS",
    "Condition",
    "ExpressionContext",
    "KeyCondition",
    "Projection",
    "Update",
    "is_reserved",
    "parse_condition",
    "parse_key_condition",
    "parse_projection",
    "parse_update",
    "project_paths",
]


@dataclass(frozen=True)
class Condition:
    """A parsed and bound ConditionExpression or FilterExpression."""

    tree: nodes.Condition

    def evaluate(self, item: dict[str, dict[str, Any]] | None) -> bool:
        """Whether `item` (None or {} when there is none) satisfies the condition."""
        return evaluate.condition(self.tree, item)


def parse_condition(
    text: str, ctx: ExpressionContext, *, field: str = "ConditionExpression"
) -> Condition:
    """A ConditionExpression (or, with field="FilterExpression", a filter) bound to `ctx`."""
    return Condition(binding.condition(parser.condition_tree(text, field), ctx, field))


def parse_projection(text: str, ctx: ExpressionContext) -> Projection:
    """A ProjectionExpression bound to `ctx`; overlapping paths are refused."""
    field = "ProjectionExpression"
    resolved = tuple(
        binding.path(path, ctx, field).elements for path in parser.projection_tree(text, field)
    )
    paths.check_disjoint(resolved, field=field)
    return Projection(resolved)


def parse_update(text: str, ctx: ExpressionContext) -> Update:
    """An UpdateExpression bound to `ctx`; overlapping or conflicting paths are refused."""
    field = "UpdateExpression"
    actions = tuple(binding.action(action, ctx, field) for action in parser.update_tree(text))
    paths.check_disjoint([action.path.elements for action in actions], field=field)
    return Update(actions)


def parse_key_condition(
    text: str, ctx: ExpressionContext, *, hash_key: str, range_key: str | None
) -> KeyCondition:
    """A Query's KeyConditionExpression for the key schema (hash_key, range_key)."""
    field = "KeyConditionExpression"
    tree = binding.condition(parser.condition_tree(text, field), ctx, field)
    return key_condition(tree, hash_key=hash_key, range_key=range_key)
