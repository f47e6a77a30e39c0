"""Providers make instances exist: local processes, or pods in Kubernetes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis

from kubefn_gateway.instance import Instance
from kubefn_gateway.settings import GatewaySettings
from kubefn_gateway.version import FunctionVersion

LostCallback = Callable[[Instance], None]

PROVIDERS = ("local", "kubernetes")


class Provider(Protocol):
    async def prepare(self) -> None:
        """Get ready before the first request, so no cold start pays for set-up."""
        ...

    async def start_instance(self, version: FunctionVersion, *, on_lost: LostCallback) -> Instance:
        """A new instance of `version`, reachable and about to initialise."""
        ...

    async def stop_instance(self, instance: Instance) -> None: ...

    async def close(self) -> None: ...


def create(settings: GatewaySettings, *, redis: aioredis.Redis) -> Provider:
    """The provider `settings.provider` names.

    Each is imported only when chosen, so `kubefn dev` never loads the Kubernetes client.
    """
    if settings.provider == "local":
        from kubefn_gateway.providers.local import LocalProvider

        return LocalProvider(settings=settings, redis=redis)
    if settings.provider == "kubernetes":
        from kubefn_gateway.providers.kubernetes import KubernetesProvider

        return KubernetesProvider(settings=settings, redis=redis)
    raise ValueError(f"unknown provider {settings.provider!r}: choose {' or '.join(PROVIDERS)}")
