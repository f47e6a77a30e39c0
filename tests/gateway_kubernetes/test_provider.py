"""boto3's `lambda.invoke` through a gateway whose instances are pods: it scales the
function's Deployment and finds ready pods through EndpointSlices, while the test
plays the cluster's controllers and runs each pod's agent on loopback.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import kmock

from kubefn_gateway.providers.kubernetes import PERMISSIONS, USER_AGENT
from tests.gateway_kubernetes.cluster import ENDPOINT_SLICES, ApiServer
from tests.gateway_kubernetes.conftest import KubernetesGateway

HELLO = "v1"


def code(version: str) -> dict[str, str]:
    """A handler that says which code it runs and in which pod, and may wait for a gate."""
    return {
        "app.py": (
            "import os, time\n"
            f"VERSION = {version!r}\n"
            "def handler(event, context):\n"
            "    gate = event.get('gate')\n"
            "    while gate and not os.path.exists(gate):\n"
            "        time.sleep(0.01)\n"
            "    return {'version': VERSION, 'stream': context.log_stream_name}\n"
        )
    }


async def invoke(gateway: KubernetesGateway, **event: Any) -> dict[str, Any]:
    client = gateway.lambda_client()
    response = await gateway.call(
        client.invoke, FunctionName="hello", Payload=json.dumps(event).encode()
    )
    assert response["StatusCode"] == 200 and "FunctionError" not in response, response
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    return answer


def pod_of(answer: dict[str, Any]) -> str:
    """The pod that answered: its name is the instance id, the end of the log stream."""
    return str(answer["stream"]).rsplit("]", 1)[1]


def reap(gateway: KubernetesGateway) -> None:
    """Every idle instance is past its idle period (time moved forward, not waited for)."""
    gateway.pool("hello").reap(now=gateway.platform.catalog._clock() + 10_000, idle_seconds=600)


async def test_the_first_invocation_scales_from_zero(
    gateway: KubernetesGateway, tmp_path: Path
) -> None:
    await gateway.apply("hello", files=code(HELLO))
    async with gateway.cluster("hello", root=tmp_path) as cluster:
        assert cluster.replicas == 0
        answer = await invoke(gateway)
        assert answer["version"] == HELLO
        assert cluster.replicas == 1
        assert list(cluster.pods) == [pod_of(answer)]


async def test_concurrency_scales_out_and_idleness_scales_in_to_zero(
    gateway: KubernetesGateway, tmp_path: Path
) -> None:
    await gateway.apply("hello", files=code(HELLO), timeoutSeconds=30)
    pool, gate = gateway.pool("hello"), tmp_path / "gate"
    async with gateway.cluster("hello", root=tmp_path / "pods") as cluster:
        both = asyncio.gather(invoke(gateway, gate=str(gate)), invoke(gateway, gate=str(gate)))
        await gateway.until(lambda: pool.busy == 2)  # two cold starts at once
        assert cluster.replicas == 2
        gate.touch()
        served = {pod_of(answer) for answer in await both}
        assert served == set(cluster.pods) and len(served) == 2

        reap(gateway)
        await gateway.until(lambda: cluster.settled(0))
        assert {deletion.pod for deletion in cluster.deletions} == served
        assert {deletion.cost for deletion in cluster.deletions} == {"-1000"}


async def test_a_pod_that_dies_is_lost_and_the_next_invocation_gets_a_new_one(
    gateway: KubernetesGateway, tmp_path: Path
) -> None:
    await gateway.apply("hello", files=code(HELLO))
    pool = gateway.pool("hello")
    async with gateway.cluster("hello", root=tmp_path) as cluster:
        first = pod_of(await invoke(gateway))
        await cluster.kill(first)
        await gateway.until(lambda: pool.idle == 0)  # the gateway forgot it
        await gateway.until(lambda: cluster.settled(0))  # and gave its replica back
        second = pod_of(await invoke(gateway))
        assert second != first
        assert list(cluster.pods) == [second]


async def test_a_pod_that_dies_while_the_watch_is_down_is_noticed_once_it_is_back(
    gateway: KubernetesGateway, tmp_path: Path
) -> None:
    await gateway.apply("hello", files=code(HELLO))
    pool, server = gateway.pool("hello"), gateway.api.emulator
    assert isinstance(server, ApiServer)
    async with gateway.cluster("hello", root=tmp_path) as cluster:
        first = pod_of(await invoke(gateway))
        lists = len(requests(server, kmock.action.LIST))
        server.refusing_watches = True
        await server.expire_watches(ENDPOINT_SLICES)  # 410 Gone: list again, watch again
        await gateway.until(lambda: len(requests(server, kmock.action.LIST)) > lists)
        await gateway.until(lambda: len(requests(server, kmock.action.WATCH)) > 1)  # refused
        await cluster.kill(first)  # an event no watch hears
        server.refusing_watches = False
        await gateway.until(lambda: pool.idle == 0)  # the next list shows it gone
        await gateway.until(lambda: cluster.settled(0))
        assert pod_of(await invoke(gateway)) != first


async def test_only_pods_of_the_served_revision_are_handed_out(
    gateway: KubernetesGateway, tmp_path: Path
) -> None:
    old = await gateway.apply("hello", files=code("v1"))
    await gateway.apply("hello", files=code("v2"))
    async with gateway.cluster("hello", root=tmp_path) as cluster:
        stray = await cluster.run_stray(old["spec"]["template"])
        answer = await invoke(gateway)
        assert answer["version"] == "v2"
        assert pod_of(answer) != stray.name
        assert cluster.replicas == 1


async def test_two_gateways_scale_together_and_never_share_a_pod(
    gateway: KubernetesGateway, second_gateway: KubernetesGateway, tmp_path: Path
) -> None:
    await gateway.apply("hello", files=code(HELLO), timeoutSeconds=30)
    await second_gateway.until(lambda: second_gateway.revision("hello") is not None)
    pools, gate = (gateway.pool("hello"), second_gateway.pool("hello")), tmp_path / "gate"
    async with gateway.cluster("hello", root=tmp_path / "pods") as cluster:
        both = asyncio.gather(
            invoke(gateway, gate=str(gate)), invoke(second_gateway, gate=str(gate))
        )
        await gateway.until(lambda: all(pool.busy == 1 for pool in pools))
        assert cluster.replicas == 2
        gate.touch()
        served = {pod_of(answer) for answer in await both}
        assert served == set(cluster.pods) and len(served) == 2


def requests(emulator: kmock.KubernetesEmulator, action: kmock.action) -> list[kmock.Request]:
    """The gateway's requests of one kind so far."""
    return [r for r in emulator if r.headers.get("User-Agent") == USER_AGENT and r.action == action]


def used_by_gateway(emulator: kmock.KubernetesEmulator) -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every API request the gateway made."""
    verbs = {
        kmock.action.LIST: "list",
        kmock.action.WATCH: "watch",
        kmock.action.FETCH: "get",
        kmock.action.CREATE: "create",
        kmock.action.UPDATE: "patch",
        kmock.action.DELETE: "delete",
    }
    used = set()
    for request in emulator:
        if request.headers.get("User-Agent") != USER_AGENT or request.action is None:
            continue
        assert request.resource is not None and request.resource.plural is not None
        plural = request.resource.plural
        resource = f"{plural}/{request.subresource}" if request.subresource else plural
        used.add((request.resource.group or "", resource, verbs[request.action]))
    return used


async def test_the_gateway_uses_exactly_what_its_role_grants(
    gateway: KubernetesGateway, tmp_path: Path
) -> None:
    await gateway.apply("hello", files=code(HELLO))
    async with gateway.cluster("hello", root=tmp_path) as cluster:
        await invoke(gateway)
        reap(gateway)
        await gateway.until(lambda: cluster.settled(0))
    granted = {(p.group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    assert used_by_gateway(gateway.api.emulator) == granted
