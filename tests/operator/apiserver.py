"""The API server the operator tests run against (kmock's emulator, plus the
metadata a real one stamps), the test's side of it, and the operator itself as
`python -m kubefn_operator` runs it.
"""

from __future__ import annotations

import asyncio
import datetime
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import kmock
import kopf
import redis.asyncio as aioredis

from kubefn import config
from kubefn_operator import objects, wiring

T = TypeVar("T")

NAMESPACE = "default"
FUNCTIONS = "kubefn.io/v1alpha1/functions"
TABLES = "kubefn.io/v1alpha1/tables"
STATE_MACHINES = "kubefn.io/v1alpha1/statemachines"
DEPLOYMENTS = "apps/v1/deployments"
SERVICES = "v1/services"
CONFIG_MAPS = "v1/configmaps"
EVENTS = "v1/events"

_VERBS = {"list", "watch", "get", "create", "patch", "delete"}
_RESOURCES = {  # resource: (kind, namespaced)
    "v1/namespaces": ("Namespace", False),
    "apiextensions.k8s.io/v1/customresourcedefinitions": ("CustomResourceDefinition", False),
    EVENTS: ("Event", True),
    CONFIG_MAPS: ("ConfigMap", True),
    DEPLOYMENTS: ("Deployment", True),
    SERVICES: ("Service", True),
    FUNCTIONS: ("Function", True),
    TABLES: ("Table", True),
    STATE_MACHINES: ("StateMachine", True),
}


def register(emulator: kmock.KubernetesEmulator) -> None:
    """Make every resource the operator or a test touches discoverable."""
    for resource, (kind, namespaced) in _RESOURCES.items():
        emulator.resources[resource] = kmock.ResourceInfo(
            kind=kind,
            singular=kind.lower(),
            namespaced=namespaced,
            verbs=_VERBS,
            subresources={"status"} if resource in (FUNCTIONS, TABLES, STATE_MACHINES) else set(),
        )


class ApiServer(kmock.KubernetesEmulator):
    """kmock's emulator, stamping the metadata the real API server stamps.

    A name from `generateName` lets every event be stored (Kopf names none);
    `uid` makes owner references real; `generation` (bumped when the spec changes)
    gives observedGeneration its meaning. The resourceVersion stays the one given
    at creation: the emulator replays existing objects when a watch starts, and a
    version that moved on would fail Kopf's optimistic-concurrency checks on those
    replays; a constant one makes Kopf handle a replay once more, idempotently.
    """

    async def _handle(self, request: kmock.Request) -> Any:
        if request.resource is not None and isinstance(request.data, dict):
            metadata = request.data.setdefault("metadata", {})
            if request.action == kmock.action.CREATE:
                self._created(metadata)
            elif request.action == kmock.action.UPDATE and request.subresource is None:
                key = (request.resource, request.namespace, request.name or "")
                if "spec" in request.data and key in self.objects and not self.objects[key].deleted:
                    metadata["generation"] = self.objects[key].raw["metadata"]["generation"] + 1
        return await super()._handle(request)

    @staticmethod
    def _created(metadata: dict[str, Any]) -> None:
        if "name" not in metadata and "generateName" in metadata:
            metadata["name"] = metadata["generateName"] + uuid.uuid4().hex[:5]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata.update(
            uid=str(uuid.uuid4()), generation=1, creationTimestamp=now, resourceVersion="1"
        )


POLL_SECONDS = 0.05
WAIT_SECONDS = 15.0


async def eventually(check: Callable[[], T | None], *, what: str) -> T:
    """Poll `check` until it returns something truthy; bounded."""

    async def awaitable() -> T | None:
        return check()

    return await eventually_awaited(awaitable, what=what)


async def eventually_awaited(check: Callable[[], Awaitable[T | None]], *, what: str) -> T:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)


class Api:
    """The test's side of the API server: what `kubectl` would do, and what it would show."""

    def __init__(self, emulator: kmock.KubernetesEmulator) -> None:
        self.emulator = emulator

    def get(self, resource: str, name: str) -> dict[str, Any] | None:
        key = (kmock.resource(resource), NAMESPACE, name)
        if key not in self.emulator.objects or self.emulator.objects[key].deleted:
            return None
        return dict(self.emulator.objects[key].raw)

    async def create(self, resource: str, body: dict[str, Any]) -> None:
        body["metadata"]["namespace"] = NAMESPACE
        await self._call("post", self._path(resource), json=body, what=body["metadata"]["name"])

    async def create_function(self, name: str, spec: dict[str, Any]) -> None:
        body = {"apiVersion": "kubefn.io/v1alpha1", "kind": "Function"}
        await self.create(FUNCTIONS, {**body, "metadata": {"name": name}, "spec": spec})

    async def create_table(self, name: str, spec: dict[str, Any]) -> None:
        body = {"apiVersion": "kubefn.io/v1alpha1", "kind": "Table"}
        await self.create(TABLES, {**body, "metadata": {"name": name}, "spec": spec})

    async def create_statemachine(self, name: str, spec: dict[str, Any]) -> None:
        body = {"apiVersion": "kubefn.io/v1alpha1", "kind": "StateMachine"}
        await self.create(STATE_MACHINES, {**body, "metadata": {"name": name}, "spec": spec})

    async def patch(self, resource: str, name: str, patch: dict[str, Any]) -> None:
        await self._call("patch", self._path(resource, name), json=patch, what=name)

    async def delete(self, resource: str, name: str) -> None:
        await self._call("delete", self._path(resource, name), what=name)

    def every(self, resource: str) -> list[dict[str, Any]]:
        wanted = kmock.resource(resource)
        return [
            dict(obj.raw)
            for (kind, _, _), obj in self.emulator.objects.items()
            if kind == wanted and not obj.deleted
        ]

    def status(
        self, name: str, *, generation: int, ready: str, resource: str = FUNCTIONS
    ) -> dict[str, Any] | None:
        """The object's status once it has observed `generation` and is Ready (or not)."""
        found = self.get(resource, name) or {}
        status = found.get("status") or {}
        conditions = status.get("conditions") or []
        condition: dict[str, Any] = next((c for c in conditions if c["type"] == "Ready"), {})
        if status.get("observedGeneration") == generation and condition.get("status") == ready:
            return status
        return None

    def events(self, *, reason: str) -> list[dict[str, Any]]:
        return [event for event in self.every(EVENTS) if event.get("reason") == reason]

    @staticmethod
    def _path(resource: str, name: str | None = None) -> str:
        parsed = kmock.resource(resource)
        base = f"/apis/{parsed.group}/{parsed.version}" if parsed.group else "/api/v1"
        path = f"{base}/namespaces/{NAMESPACE}/{parsed.plural}"
        return f"{path}/{name}" if name else path

    async def _call(self, method: str, path: str, *, what: str, **kw: Any) -> None:
        response = await self.emulator.request(method, path, **kw)
        assert response.status < 300, f"{method} {what}: {await response.text()}"


class Operator:
    """The operator, run as `python -m kubefn_operator` runs it; restartable.

    It runs in a thread with its own event loop, as kopf.testing.KopfRunner does:
    on its way out Kopf cancels every task its loop gained since it started, and
    the emulator's request handlers must not be among them.
    """

    def __init__(self, *, api_url: str, redis_url: str) -> None:
        self.config = wiring.Config(
            installation=objects.Installation(
                redis_url=redis_url,
                runtime_image="kubefn-runtime:test",
                loader_image="kubefn-operator:test",
            ),
            retry_seconds=0.2,
            observe_seconds=0.2,
            connection=kopf.ConnectionInfo(server=api_url, insecure=True),
        )
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failure: BaseException | None = None

    async def start(self) -> None:
        self._stop, ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="operator")
        self._thread.start()
        if not await asyncio.to_thread(ready.wait, WAIT_SECONDS):
            await self.stop()
            raise AssertionError("the operator did not start")

    async def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        await asyncio.to_thread(self._thread.join, WAIT_SECONDS)
        assert not self._thread.is_alive(), "the operator did not stop"
        self._thread = None
        if self._failure is not None:
            raise self._failure

    def _run(self, ready: threading.Event) -> None:
        settings = kopf.OperatorSettings()
        settings.scanning.disabled = True  # kmock 0.8 cannot list namespaces
        try:
            asyncio.run(
                wiring.operate(
                    config=self.config, settings=settings, stop_flag=self._stop, ready_flag=ready
                )
            )
        except BaseException as exc:  # handed to the test by stop()
            self._failure = exc


async def published(
    client: aioredis.Redis, *, kind: str = "Function"
) -> dict[str, config.Published]:
    snap = await config.snapshot(client, kinds=(kind,))
    return dict(snap.resources[kind])
