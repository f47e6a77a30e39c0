"""What a cluster would do and the emulator does not: the test plays it.

The API server gains the optimistic concurrency of a real one (ApiServer). And
kmock's emulator stores objects and runs no controllers, so this module stands
in for three of them, for one function's Deployment: the ReplicaSet controller
(as many pods as `spec.replicas`, removing the lowest `pod-deletion-cost` first
and, on a tie, the newest), the kubelet (each pod's agent runs on 127.0.0.1 as
its container would, the operator's command line and config included, its code
unpacked by the operator's loader) and the EndpointSlice controller (a ready
endpoint once the agent answers its readiness probe; one slice per pod, since
every local agent listens on a port of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import signal
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import kmock

from kubefn import naming
from kubefn_gateway.providers.endpoints import SERVICE_LABEL
from kubefn_gateway.providers.kubernetes import DELETION_COST
from kubefn_operator import loader, objects
from kubefn_runtime import lifetime
from tests.operator import apiserver
from tests.operator.apiserver import DEPLOYMENTS, NAMESPACE, Api, eventually_awaited

PODS = "v1/pods"
ENDPOINT_SLICES = "discovery.k8s.io/v1/endpointslices"
POLL_SECONDS = 0.02
"""The controllers' reconcile period."""


class ApiServer(apiserver.ApiServer):
    """The operator tests' API server, with the optimistic concurrency a real one has
    on Deployments (their scale included): a patch naming a resourceVersion other than
    the current one fails with 409 Conflict, and every patch moves the version on.
    Gateways scaling one Deployment at once rely on it.

    Watches end and fail as a real server's do, when a test says so.
    """

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._patching = asyncio.Lock()
        self.refusing_watches = False
        """Answer every watch with 503, as a server that is restarting does."""

    async def expire_watches(self, resource: str) -> None:
        """End the watches of `resource` as a real server ends those whose version expired."""
        gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
        event = {"type": "ERROR", "object": {**gone, "metadata": {"namespace": NAMESPACE}}}
        await self._buses[kmock.resource(resource)].put(event)

    async def _handle(self, request: kmock.Request) -> Any:
        if self.refusing_watches and request.action == kmock.action.WATCH:
            raise kmock.KubernetesError(status=503, reason="ServiceUnavailable", message="later")
        if request.resource != kmock.resource(DEPLOYMENTS) or request.action != kmock.action.UPDATE:
            return await super()._handle(request)
        async with self._patching:  # the check and the change, at once
            key = (request.resource, request.namespace, request.name or "")
            if key in self.objects and isinstance(request.data, dict):
                current = self.objects[key].raw["metadata"]["resourceVersion"]
                metadata = request.data.setdefault("metadata", {})
                if metadata.get("resourceVersion", current) != current:
                    raise kmock.KubernetesError(status=409, reason="Conflict", message="stale")
                metadata["resourceVersion"] = str(int(current) + 1)
            return await super()._handle(request)


@dataclass
class Pod:
    name: str
    process: asyncio.subprocess.Process
    port: int
    output: asyncio.Task[bytes]
    """Reads what the agent prints after it is ready, so its stdout never fills up."""


@dataclass(frozen=True)
class Deletion:
    pod: str
    cost: str | None
    """The pod's deletion cost when the ReplicaSet chose it."""


class Cluster:
    def __init__(self, api: Api, *, function: str, redis_url: str, root: Path) -> None:
        self.api = api
        self.deployment = naming.workload_name(function)
        self.redis_url = redis_url
        self.root = root
        self.pods: dict[str, Pod] = {}
        """The ReplicaSet's pods, oldest first."""
        self.deletions: list[Deletion] = []
        self._running: dict[str, Pod] = {}
        """Every pod whose agent runs, strays included: all are stopped on exit."""
        self._acting = False
        self._task: asyncio.Task[None] | None = None

    @property
    def replicas(self) -> int:
        body = self.api.get(DEPLOYMENTS, self.deployment)
        assert body is not None
        return int(body["spec"].get("replicas") or 0)

    def settled(self, replicas: int) -> bool:
        """The Deployment asks for `replicas` and has as many pods, none coming or going."""
        return self.replicas == replicas and len(self.pods) == replicas and not self._acting

    async def __aenter__(self) -> Cluster:
        self._task = asyncio.create_task(self._reconcile_forever(), name="replicaset")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pod in list(self._running.values()):
            await self._stop(pod)

    # -- the ReplicaSet ----------------------------------------------------------

    async def _reconcile_forever(self) -> None:
        while True:
            body = self.api.get(DEPLOYMENTS, self.deployment)
            wanted = int((body or {}).get("spec", {}).get("replicas") or 0)
            self._acting = True
            if body is not None and len(self.pods) < wanted:
                pod = await self.run_pod(body["spec"]["template"])
                self.pods[pod.name] = pod
            elif len(self.pods) > wanted:
                await self._scale_in()
            else:
                self._acting = False
                await asyncio.sleep(POLL_SECONDS)

    async def _scale_in(self) -> None:
        costs = {name: self._cost(name) for name in self.pods}
        newest_first = list(reversed(self.pods))
        victim = min(newest_first, key=lambda name: int(costs[name] or 0))
        self.deletions.append(Deletion(victim, costs[victim]))
        await self._remove(self.pods.pop(victim))

    def _cost(self, pod: str) -> str | None:
        body = self.api.get(PODS, pod) or {}
        cost: str | None = (body.get("metadata", {}).get("annotations") or {}).get(DELETION_COST)
        return cost

    # -- the kubelet and the EndpointSlice controller ---------------------------------

    async def run_pod(self, template: dict[str, Any]) -> Pod:
        """A pod of `template`: its object, its agent, and a ready endpoint once it answers."""
        name = f"{self.deployment}-{uuid.uuid4().hex[:5]}"
        metadata = {"name": name, "labels": template["metadata"]["labels"]}
        await self.api.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata})
        [init] = template["spec"]["initContainers"]
        code_dir = self.root / name
        digest = init["command"][init["command"].index("--digest") + 1]
        await asyncio.to_thread(loader.load, redis_url=self.redis_url, digest=digest, into=code_dir)
        [container] = template["spec"]["containers"]
        command = container["command"]
        config = json.loads(_expand(command[command.index("--config") + 1], pod=name))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command[1:3],  # -m kubefn_runtime.agent
            "--config",
            json.dumps({**config, "codeDir": str(code_dir)}),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=functools.partial(lifetime.die_with_parent, expected_parent=os.getpid()),
        )
        assert process.stdout is not None
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
        except BaseException:
            process.kill()
            await process.wait()
            raise
        assert "ready" in line, line
        port = int(line.rsplit(":", 1)[1])
        pod = Pod(name, process, port, asyncio.create_task(process.stdout.read()))
        self._running[name] = pod
        await eventually_awaited(lambda: _probe(pod), what=f"{name}'s readiness probe")
        await self.api.create(ENDPOINT_SLICES, _endpoint_slice(pod, service=self.deployment))
        return pod

    async def run_stray(self, template: dict[str, Any]) -> Pod:
        """A ready pod that the ReplicaSet does not count (left over by a rollout)."""
        return await self.run_pod(template)

    async def kill(self, name: str) -> None:
        """The pod dies and is gone; the ReplicaSet notices it is a pod short."""
        await self._remove(self.pods.pop(name))

    async def _remove(self, pod: Pod) -> None:
        await self.api.delete(ENDPOINT_SLICES, pod.name)
        await self.api.delete(PODS, pod.name)
        await self._stop(pod)

    async def _stop(self, pod: Pod) -> None:
        """What the kubelet does on deletion: SIGTERM, and SIGKILL after the grace period."""
        if pod.process.returncode is None:
            pod.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(pod.process.wait(), 10)
            except TimeoutError:
                pod.process.kill()
                await pod.process.wait()
        await pod.output
        self._running.pop(pod.name, None)


def _expand(text: str, *, pod: str) -> str:
    """What the kubelet does to a command: `$(VAR)` is the variable, `$$` is `$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "$"
        assert match.group(1) == objects.POD_NAME_VARIABLE, match.group(0)
        return pod

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", one, text)


async def _probe(pod: Pod) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{pod.port}/kubefn/healthz") as response,
        ):
            return response.status == 200
    except aiohttp.ClientError:
        return False


def _endpoint_slice(pod: Pod, *, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": pod.name, "labels": {SERVICE_LABEL: service}},
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["127.0.0.1"],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "name": pod.name, "namespace": NAMESPACE},
            }
        ],
        "ports": [{"name": naming.PORT_NAME, "port": pod.port, "protocol": "TCP"}],
    }
