"""ProjectionExpression: the attributes (or nested parts) a read returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubefn_gateway.dynamodb.expressions import paths as document_paths


@dataclass(frozen=True)
class Projection:
    """A parsed and bound ProjectionExpression."""

    paths: tuple[document_paths.ResolvedPath, ...]
    _tree: document_paths.Tree = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tree", document_paths.tree_of(self.paths))

    def apply(self, item: Mapping[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
        """Only the projected parts of `item` (a new object)."""
        return document_paths.project(item, self._tree)


def project_paths(
    item: Mapping[str, dict[str, Any]] | None,
    selected: Iterable[document_paths.ResolvedPath],
) -> dict[str, dict[str, Any]]:
    """The parts of `item` at `selected` paths, e.g. an update's paths for UPDATED_NEW."""
    return document_paths.project(item, document_paths.tree_of(selected))
