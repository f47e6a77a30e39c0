"""Providers make instances exist: local processes, or pods in Kubernetes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kubefn_gateway.instance import Instance
from kubefn_gateway.version import FunctionVersion

LostCallback = Callable[[Instance], None]


class Provider(Protocol):
    async def start_instance(self, version: FunctionVersion, *, on_lost: LostCallback) -> Instance:
        """A new instance of `version`, reachable and about to initialise."""
        ...

    async def stop_instance(self, instance: Instance) -> None: ...

    async def close(self) -> None: ...
