"""Apply a bound UpdateExpression to an item, as DynamoDB does.

Every operand is read from the item as it was before the update (so
`SET a = b, b = a` swaps), then the actions are written: assignments in path
order (list indexes ascending, so indexes past the end append in order), then
removals with list indexes descending (so each index means the original
element).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kubefn_gateway.dynamodb import values
from kubefn_gateway.dynamodb.errors import ValidationError
from kubefn_gateway.dynamodb.expressions import nodes
from kubefn_gateway.dynamodb.expressions import paths as document_paths

MISSING_ATTRIBUTE = "The provided expression refers to an attribute that does not exist in the item"
WRONG_TYPE = "An operand in the update expression has an incorrect data type"


@dataclass(frozen=True)
class Update:
    """A parsed and bound UpdateExpression."""

    actions: tuple[nodes.Action, ...]

    @property
    def paths(self) -> tuple[document_paths.ResolvedPath, ...]:
        """The document paths the update writes or removes (for UPDATED_OLD/UPDATED_NEW)."""
        return tuple(action.path.elements for action in self.actions)

    @property
    def top_level_names(self) -> frozenset[str]:
        """The attributes the update touches, so key attributes can be refused."""
        return frozenset(str(action.path.elements[0]) for action in self.actions)

    def apply(self, item: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
        """The item after the update (a new object; `item` is not changed)."""
        old = item or {}
        writes: list[tuple[document_paths.ResolvedPath, dict[str, Any] | None]] = []
        for action in self.actions:
            writes.append((action.path.elements, _new_value(action, old)))
        new = copy.deepcopy(old)
        assignments = sorted(
            ((path, value) for path, value in writes if value is not None),
            key=lambda write: _order(write[0]),
        )
        for path, value in assignments:
            document_paths.put(new, path, copy.deepcopy(value))
        removals = sorted(
            (path for path, value in writes if value is None),
            key=_order,
            reverse=True,
        )
        for path in removals:
            document_paths.remove(new, path)
        return new


def _order(path: document_paths.ResolvedPath) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, element) if isinstance(element, int) else (1, element) for element in path)


def _new_value(action: nodes.Action, item: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """What the action writes at its path; None to remove it."""
    if action.clause == "REMOVE":
        return None
    assert action.value is not None
    if action.clause == "SET":
        return _operand(action.value, item)
    assert isinstance(action.value, nodes.Literal)
    current = document_paths.get(item, action.path.elements)
    if action.clause == "ADD":
        return _add(current, action.value.value)
    return _delete(current, action.value.value)


def _operand(node: nodes.Operand, item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if isinstance(node, nodes.Literal):
        return node.value
    if isinstance(node, nodes.Path):
        value = document_paths.get(item, node.elements)
        if value is None:
            raise ValidationError(MISSING_ATTRIBUTE)
        return value
    if isinstance(node, nodes.IfNotExists):
        existing = document_paths.get(item, node.path.elements)
        return existing if existing is not None else _operand(node.default, item)
    if isinstance(node, nodes.ListAppend):
        first, second = _operand(node.first, item), _operand(node.second, item)
        if "L" not in first or "L" not in second:
            raise ValidationError(WRONG_TYPE)
        return {"L": first["L"] + second["L"]}
    if isinstance(node, nodes.Arithmetic):
        left, right = _operand(node.left, item), _operand(node.right, item)
        if "N" not in left or "N" not in right:
            raise ValidationError(WRONG_TYPE)
        return {"N": values.add_numbers(left["N"], right["N"], subtract=node.operator == "-")}
    raise TypeError(f"not an update operand: {node!r}")


def _add(current: dict[str, Any] | None, value: dict[str, Any]) -> dict[str, Any]:
    type_ = next(iter(value))
    if current is None:
        return value
    if type_ not in current:
        raise ValidationError(WRONG_TYPE)
    if type_ == "N":
        return {"N": values.add_numbers(current["N"], value["N"])}
    present = values.set_members(current)
    added = list(current[type_])
    for member in value[type_]:
        identity = values.member_identity(type_, member)
        if identity not in present:
            present.add(identity)
            added.append(member)
    return {type_: added}


def _delete(current: dict[str, Any] | None, value: dict[str, Any]) -> dict[str, Any] | None:
    type_ = next(iter(value))
    if current is None:
        return None
    if type_ not in current:
        raise ValidationError(WRONG_TYPE)
    removed = values.set_members(value)
    kept = [m for m in current[type_] if values.member_identity(type_, m) not in removed]
    return {type_: kept} if kept else None
