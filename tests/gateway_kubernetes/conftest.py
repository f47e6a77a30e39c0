"""A real gateway with the KubernetesProvider, against kmock's Kubernetes emulator
(see /work/shared/notes/kmock.md) and a real Redis; the test plays the operator
(with its own builders) and the cluster's controllers (cluster.py).

The scale subresource is really requested: the emulator serves
`deployments/<name>/scale` by reading and merge-patching the Deployment itself,
and since a Scale's `spec.replicas` is the Deployment's, the two agree.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kmock
import pytest
import redis.asyncio as aioredis

from kubefn import config, naming
from kubefn.function import CompiledFunction, compile_function
from kubefn.redisserver import EmbeddedRedis
from kubefn_gateway.pool import InstancePool
from kubefn_gateway.settings import GatewaySettings
from kubefn_operator import objects
from tests.gateway.conftest import Gateway, running_gateway
from tests.gateway_kubernetes.cluster import ENDPOINT_SLICES, PODS, ApiServer, Cluster
from tests.operator.apiserver import DEPLOYMENTS, NAMESPACE, Api

_RESOURCES = {  # resource: (kind, subresources)
    DEPLOYMENTS: ("Deployment", {"scale"}),
    ENDPOINT_SLICES: ("EndpointSlice", set()),
    PODS: ("Pod", set()),
}
_VERBS = {"list", "watch", "get", "create", "patch", "delete"}


@dataclass
class KubernetesGateway(Gateway):
    api: Api
    redis_url: str

    async def apply(self, name: str, *, files: dict[str, str], **spec: Any) -> dict[str, Any]:
        """What the operator does for a Function: publish it and apply its Deployment.

        Returns the Deployment; this gateway serves the new revision by then.
        """
        compiled = _compile(name, files=files, **spec)
        result = await config.publish_compiled(self.redis, compiled)
        owner = {
            "apiVersion": "kubefn.io/v1alpha1",
            "kind": "Function",
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}"},
        }
        installation = objects.Installation(
            redis_url=self.redis_url, runtime_image="runtime:test", loader_image="operator:test"
        )
        body = objects.deployment(
            compiled, revision=result.revision, owner=owner, installation=installation
        )
        if self.api.get(DEPLOYMENTS, naming.workload_name(name)) is None:
            await self.api.create(DEPLOYMENTS, body)
        else:
            await self.api.patch(
                DEPLOYMENTS, naming.workload_name(name), objects.without_replicas(body)
            )
        await self.until(lambda: self.revision(name) == result.revision)
        return body

    def revision(self, name: str) -> int | None:
        served = self.platform.catalog.get(f"{NAMESPACE}/{name}")
        return None if served is None else served.version.revision

    def pool(self, name: str) -> InstancePool:
        served = self.platform.catalog.get(f"{NAMESPACE}/{name}")
        assert served is not None
        return served.pool

    def cluster(self, function: str, *, root: Path) -> Cluster:
        return Cluster(self.api, function=function, redis_url=self.redis_url, root=root)


def _compile(name: str, *, files: dict[str, str], **spec: Any) -> CompiledFunction:
    return compile_function(
        {
            "apiVersion": "kubefn.io/v1alpha1",
            "kind": "Function",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "runtime": "python3.11",
                "handler": "app.handler",
                **spec,
                "code": {"inline": files},
            },
        }
    )


@pytest.fixture
def kmock_options(kmock_options: dict[str, Any]) -> dict[str, Any]:
    return {**kmock_options, "cls": ApiServer}


@pytest.fixture
def api(kmock: kmock.KubernetesEmulator) -> Api:
    for resource, (kind, subresources) in _RESOURCES.items():
        kmock.resources[resource] = kmock.ResourceInfo(
            kind=kind,
            singular=kind.lower(),
            namespaced=True,
            verbs=_VERBS,
            subresources=subresources,
        )
    return Api(kmock)


@contextlib.asynccontextmanager
async def serving(
    api: Api, *, redis_url: str, redis_client: aioredis.Redis, replica: str, state_dir: Path
) -> AsyncIterator[KubernetesGateway]:
    """One gateway replica on a free loopback port."""
    settings = GatewaySettings(
        redis_url=redis_url,
        state_dir=state_dir,
        config_poll_seconds=0.2,
        start_timeout_seconds=20,
        replica=replica,
        provider="kubernetes",
        kubernetes_api=str(api.emulator.url),
    )
    async with running_gateway(settings, redis_client) as gateway:
        yield KubernetesGateway(
            url=gateway.url,
            platform=gateway.platform,
            redis=redis_client,
            api=api,
            redis_url=redis_url,
        )


@pytest.fixture
async def gateway(
    api: Api, redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[KubernetesGateway]:
    async with serving(
        api,
        redis_url=redis_server.url,
        redis_client=redis_client,
        replica="gateway-a",
        state_dir=tmp_path / "gateway-a",
    ) as running:
        yield running


@pytest.fixture
async def second_gateway(
    api: Api, redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[KubernetesGateway]:
    """Another replica, sharing the API server and Redis with `gateway`."""
    async with serving(
        api,
        redis_url=redis_server.url,
        redis_client=redis_client,
        replica="gateway-b",
        state_dir=tmp_path / "gateway-b",
    ) as running:
        yield running
