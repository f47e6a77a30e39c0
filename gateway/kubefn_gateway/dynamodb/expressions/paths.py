"""Document paths over items in wire JSON: read, write, remove, project, overlap.

A resolved path is a tuple of attribute names (str) and list indexes (int).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from kubefn_gateway.dynamodb.errors import ValidationError
from kubefn_gateway.dynamodb.expressions.lexer import invalid

ResolvedPath = tuple[str | int, ...]
Item = dict[str, dict[str, Any]]

INVALID_FOR_UPDATE = "The document path provided in the update expression is invalid for update"


def get(item: Mapping[str, dict[str, Any]] | None, path: Sequence[str | int]) -> dict | None:
    """The value at `path`, or None when any step is missing or of the wrong type."""
    if not item:
        return None
    value = item.get(path[0])  # type: ignore[arg-type]
    for element in path[1:]:
        if value is None:
            return None
        if isinstance(element, int):
            elements = value.get("L")
            value = elements[element] if elements is not None and element < len(elements) else None
        else:
            members = value.get("M")
            value = members.get(element) if members is not None else None
    return value


def put(item: Item, path: ResolvedPath, value: dict[str, Any]) -> None:
    """Write `value` at `path` in place; a list index past the end appends.

    The parent must exist with the right type, as DynamoDB creates no
    intermediate maps or lists.
    """
    parent, last = _parent(item, path)
    if isinstance(last, int):
        elements = parent.get("L") if parent is not None else None
        if elements is None:
            raise ValidationError(INVALID_FOR_UPDATE)
        if last < len(elements):
            elements[last] = value
        else:
            elements.append(value)
        return
    members = item if parent is None else parent.get("M")
    if members is None:
        raise ValidationError(INVALID_FOR_UPDATE)
    members[last] = value


def remove(item: Item, path: ResolvedPath) -> None:
    """Remove the value at `path` in place; a missing one is not an error."""
    if len(path) == 1:
        item.pop(path[0], None)  # type: ignore[arg-type]
        return
    container = get(item, path[:-1])
    last = path[-1]
    if container is None:
        return
    if isinstance(last, int):
        elements = container.get("L")
        if elements is not None and last < len(elements):
            del elements[last]
    elif "M" in container:
        container["M"].pop(last, None)


def _parent(item: Item, path: ResolvedPath) -> tuple[dict[str, Any] | None, str | int]:
    """The value holding the last element (None: the item itself), which must exist."""
    if len(path) == 1:
        return None, path[0]
    parent = get(item, path[:-1])
    if parent is None:
        raise ValidationError(INVALID_FOR_UPDATE)
    return parent, path[-1]


def describe(path: ResolvedPath) -> str:
    """A path as DynamoDB's messages show it: `[a, b, [0]]`."""
    return "[" + ", ".join(f"[{e}]" if isinstance(e, int) else e for e in path) + "]"


def check_disjoint(paths: Sequence[ResolvedPath], *, field: str) -> None:
    """Refuse two paths where one contains the other, or that use one step as map and list."""
    for i, first in enumerate(paths):
        for second in paths[i + 1 :]:
            problem = _clash(first, second)
            if problem:
                raise invalid(
                    field,
                    f"Two document paths {problem} with each other; must remove or rewrite one "
                    f"of these paths; path one: {describe(first)}, path two: {describe(second)}",
                )


def _clash(first: ResolvedPath, second: ResolvedPath) -> str | None:
    for a, b in zip(first, second, strict=False):
        if a == b and type(a) is type(b):
            continue
        return "conflict" if type(a) is not type(b) else None
    return "overlap"


# Projection: the paths become a tree; each node maps a step to its subtree, and
# an empty node means "the whole value from here".

Tree: TypeAlias = dict[str | int, "Tree"]


def tree_of(paths: Iterable[ResolvedPath]) -> Tree:
    """The projection tree of `paths`; a shorter path wins over longer ones below it."""
    root: Tree = {}
    whole: set[int] = set()  # ids of nodes that take the whole value
    for path in paths:
        node = root
        for element in path:
            if id(node) in whole:
                break
            node = node.setdefault(element, {})
        else:
            node.clear()
            whole.add(id(node))
    return root


def project(item: Mapping[str, dict[str, Any]] | None, tree: Tree) -> Item:
    """The parts of `item` the tree names; lists keep the chosen elements in index order."""
    if not item:
        return {}
    result: Item = {}
    for name, subtree in tree.items():
        value = item.get(name) if isinstance(name, str) else None
        if value is not None:
            projected = _project_value(value, subtree)
            if projected is not None:
                result[name] = projected  # type: ignore[index]
    return result


def _project_value(value: dict[str, Any], tree: Tree) -> dict[str, Any] | None:
    if not tree:
        return copy.deepcopy(value)
    if "M" in value:
        members = project(value["M"], tree)
        return {"M": members} if members else None
    if "L" in value:
        elements = value["L"]
        chosen = []
        for index in sorted(step for step in tree if isinstance(step, int)):
            if index < len(elements):
                projected = _project_value(elements[index], tree[index])
                if projected is not None:
                    chosen.append(projected)
        return {"L": chosen} if chosen else None
    return None
