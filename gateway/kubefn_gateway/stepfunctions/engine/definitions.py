"""A definition as the interpreter walks it: the states of each scope, found once."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from kubefn_gateway.stepfunctions.engine.runs import Scope


class Definition:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self._scopes: dict[Scope, Mapping[str, Any]] = {(): root}

    def machine(self, scope: Scope) -> Mapping[str, Any]:
        """The (sub-)machine of a scope: {StartAt, States, ...}."""
        found = self._scopes.get(scope)
        if found is None:
            outer = self.machine(scope[:-1])
            name, branch = scope[-1]
            state = outer["States"][name]
            if state["Type"] == "Parallel":
                found = state["Branches"][branch]
            else:
                found = state.get("ItemProcessor") or state["Iterator"]
            self._scopes[scope] = found
        return found

    def state(self, scope: Scope, name: str) -> Mapping[str, Any]:
        return self.machine(scope)["States"][name]

    def start_at(self, scope: Scope) -> str:
        return str(self.machine(scope)["StartAt"])

    @property
    def timeout_seconds(self) -> int | None:
        value = self.root.get("TimeoutSeconds")
        return int(value) if isinstance(value, int) and value > 0 else None


@functools.lru_cache(maxsize=512)
def parse(text: str) -> Definition:
    """The definition of a stored text; executions of one machine share one parse."""
    return Definition(json.loads(text))
