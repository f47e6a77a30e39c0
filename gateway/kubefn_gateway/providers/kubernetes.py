"""KubernetesProvider: instances are pods of the function's Deployment.

Knative's split: the pool decides how many instances a version needs, and this
provider only acts on the cluster. A start asks the Deployment for one replica
more through its scale subresource, then claims a ready pod of the version's
revision from the EndpointSlices of the function's Service. A stop marks its
pod the cheapest to delete (the ReplicaSet removes the lowest
`pod-deletion-cost` first), then asks for one replica fewer. A pod whose
endpoint goes away while handed out is reported lost, and its replica given
back the same way.

Every gateway replica scales the same Deployments. The count changes by
read-modify-write guarded by the Scale's resourceVersion (a conflict is read
again), under a lock per function so one replica's starts do not conflict with
each other. A pod serves one gateway at a time: its claim is a Redis key set
only if absent, `kubefn:claim:{<namespace>/<pod>}`, deleted when the pod is
given back, since the state gateways share lives in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import kubernetes.client
import kubernetes.config
import redis.asyncio as aioredis
import redis.exceptions
import urllib3
from kubernetes.client.exceptions import ApiException

from kubefn.naming import REVISION_LABEL, workload_name
from kubefn.rbac import Permission
from kubefn_gateway.awserrors import InstanceFailed
from kubefn_gateway.instance import Instance
from kubefn_gateway.providers import LostCallback
from kubefn_gateway.providers.endpoints import Ready, SliceWatch
from kubefn_gateway.settings import GatewaySettings
from kubefn_gateway.version import FunctionVersion

log = logging.getLogger(__name__)

USER_AGENT = "kubefn-gateway"
MERGE_PATCH = "application/merge-patch+json"
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
CHEAPEST = "-1000"
REQUEST_SECONDS = 10.0
CONFLICT_RETRIES = 10
RECHECK_SECONDS = 1.0
"""While a start waits, how often it looks again at pods another gateway may have let go."""


PERMISSIONS: tuple[Permission, ...] = (
    Permission("apps", "deployments/scale", ("get", "patch")),
    Permission("discovery.k8s.io", "endpointslices", ("list", "watch")),
    Permission("", "pods", ("get", "patch")),
)
"""Everything this provider does to the API; the chart's gateway ClusterRole grants exactly it."""

_UNCLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_API_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)


def configuration(api_url: str | None) -> kubernetes.client.Configuration:
    """An explicit API server (tests, `kubectl proxy`), else the pod's service account,
    else the kubeconfig, as kubectl finds it."""
    if api_url:
        return kubernetes.client.Configuration(host=api_url.rstrip("/"))
    config = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=config)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=config)
    return config


class _Held(NamedTuple):
    instance: Instance
    on_lost: LostCallback


@dataclass(eq=False)
class _Workload:
    """One function's Deployment and Service, followed while it has instances or starts."""

    key: str
    """The function's "<namespace>/<name>"."""
    namespace: str
    name: str
    """Of its Deployment and its Service."""
    held: dict[str, _Held] = field(default_factory=dict)
    ready: Ready = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)
    """Known revisions of ready pods (a pod's template never changes)."""
    busy: int = 0
    """Starts and give-backs in flight."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    scaling: asyncio.Lock = field(default_factory=asyncio.Lock)
    claiming: asyncio.Lock = field(default_factory=asyncio.Lock)
    watch: SliceWatch | None = None


class KubernetesProvider:
    def __init__(
        self,
        *,
        settings: GatewaySettings,
        redis: aioredis.Redis,
        client: kubernetes.client.ApiClient | None = None,
    ) -> None:
        self._settings = settings
        self._redis = redis
        self._client = client or kubernetes.client.ApiClient(configuration(settings.kubernetes_api))
        self._client.user_agent = USER_AGENT
        self._apps = kubernetes.client.AppsV1Api(self._client)
        self._core = kubernetes.client.CoreV1Api(self._client)
        self._unclaim_script = redis.register_script(_UNCLAIM)
        self._id = settings.replica
        self._workloads: dict[str, _Workload] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def prepare(self) -> None:
        """Nothing to boot: each function's watch starts with its first instance."""

    async def start_instance(self, version: FunctionVersion, *, on_lost: LostCallback) -> Instance:
        workload = self._workload(version)
        workload.busy += 1
        try:
            try:
                await self._scale(workload, by=1)
            except _API_ERRORS as exc:
                raise InstanceFailed(f"Could not scale {version.key} up: {_reason(exc)}") from None
            try:
                async with asyncio.timeout(self._settings.start_timeout_seconds):
                    return await self._claim(workload, revision=version.revision, on_lost=on_lost)
            except BaseException as exc:
                self._spawn(workload, self._give_back(workload, pod=None))
                if isinstance(exc, TimeoutError):
                    raise InstanceFailed(
                        f"No pod of {version.key} revision {version.revision} became ready "
                        f"within {self._settings.start_timeout_seconds:.0f} seconds"
                    ) from None
                raise
        finally:
            workload.busy -= 1
            self._forget_if_unused(workload)

    async def stop_instance(self, instance: Instance) -> None:
        instance.alive = False
        pod = str(instance.handle)
        for workload in self._workloads.values():
            held = workload.held.get(pod)
            if held is not None and held.instance is instance:
                del workload.held[pod]
                workload.busy += 1
                try:
                    await self._give_back(workload, pod=pod)
                finally:
                    workload.busy -= 1
                    self._forget_if_unused(workload)
                return
        # Not held: it was lost, and its replica given back then.

    async def close(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        workloads = list(self._workloads.values())
        self._workloads.clear()
        await asyncio.gather(*(w.watch.close() for w in workloads if w.watch is not None))
        await asyncio.to_thread(self._client.close)

    # -- following a function's pods --------------------------------------------

    def _workload(self, version: FunctionVersion) -> _Workload:
        workload = self._workloads.get(version.key)
        if workload is None:
            workload = _Workload(
                key=version.key, namespace=version.namespace, name=workload_name(version.name)
            )
            workload.watch = SliceWatch(
                client=self._client,
                namespace=workload.namespace,
                service=workload.name,
                on_change=lambda ready: self._changed(workload, ready),
            )
            workload.watch.start(asyncio.get_running_loop())
            self._workloads[version.key] = workload
        return workload

    def _forget_if_unused(self, workload: _Workload) -> None:
        """Stop following a function without instances, so the watches follow the load."""
        if workload.held or workload.busy or self._workloads.get(workload.key) is not workload:
            return
        del self._workloads[workload.key]
        if workload.watch is not None:
            self._track(workload.watch.close())

    def _changed(self, workload: _Workload, ready: Ready) -> None:
        """A new view of the ready pods: report the handed-out ones that left it as lost."""
        workload.ready = ready
        workload.revisions = {p: r for p, r in workload.revisions.items() if p in ready}
        for pod in [p for p in workload.held if p not in ready]:
            instance, on_lost = workload.held.pop(pod)
            log.info("pod %s/%s is gone or no longer ready", workload.namespace, pod)
            instance.alive = False
            on_lost(instance)
            self._spawn(workload, self._give_back(workload, pod=pod))
        workload.changed.set()
        workload.changed = asyncio.Event()

    # -- claiming a pod ------------------------------------------------------------

    async def _claim(
        self, workload: _Workload, *, revision: int, on_lost: LostCallback
    ) -> Instance:
        """The first ready pod of `revision` that no gateway holds; waits for one."""
        while True:
            changed = workload.changed
            async with workload.claiming:
                for pod in sorted(workload.ready):
                    try:
                        instance = await self._try(workload, pod=pod, revision=revision)
                    except (*_API_ERRORS, redis.exceptions.RedisError) as exc:
                        log.warning("cannot claim pod %s: %s", pod, _reason(exc))
                        continue  # looked at again on the next change or recheck
                    if instance is not None:
                        workload.held[pod] = _Held(instance, on_lost)
                        return instance
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), RECHECK_SECONDS)

    async def _try(self, workload: _Workload, *, pod: str, revision: int) -> Instance | None:
        if pod in workload.held or workload.revisions.get(pod, revision) != revision:
            return None
        body = await self._pod(workload, pod)
        if body is None:
            return None
        labels = body["metadata"].get("labels") or {}
        workload.revisions[pod] = _revision(labels.get(REVISION_LABEL))
        if workload.revisions[pod] != revision:
            return None
        if not await self._redis.set(_claim_key(workload.namespace, pod), self._id, nx=True):
            return None  # another gateway's
        try:
            if DELETION_COST in (body["metadata"].get("annotations") or {}):
                # A stop marked it and a start kept it: it must not be the cheapest now.
                await self._annotate(workload, pod, cost=None)
        except BaseException:
            await self._unclaim(workload, pod)
            raise
        address = workload.ready.get(pod)
        if address is None:  # it left while being claimed
            await self._unclaim(workload, pod)
            return None
        return Instance(address=address, handle=pod)

    async def _pod(self, workload: _Workload, pod: str) -> dict[str, Any] | None:
        """The pod, unless it is gone or on its way out."""
        try:
            body = await self._call(self._core.read_namespaced_pod, pod, workload.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return None if body["metadata"].get("deletionTimestamp") else body

    # -- giving a replica back -------------------------------------------------------

    async def _give_back(self, workload: _Workload, *, pod: str | None) -> None:
        """One replica fewer, taken from `pod` if it still runs; then let the pod go."""
        try:
            if pod is not None:
                try:
                    await self._annotate(workload, pod, cost=CHEAPEST)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
            await self._scale(workload, by=-1)
        except _API_ERRORS as exc:
            log.warning("could not scale %s down: %s", workload.name, _reason(exc))
        finally:
            if pod is not None:
                await self._unclaim(workload, pod)

    async def _unclaim(self, workload: _Workload, pod: str) -> None:
        try:
            await self._unclaim_script(keys=[_claim_key(workload.namespace, pod)], args=[self._id])
        except redis.exceptions.RedisError as exc:
            log.warning("could not release the claim on pod %s: %s", pod, exc)

    def _spawn(self, workload: _Workload, give_back: Coroutine[Any, Any, None]) -> None:
        """Give back in the background; the function stays followed until that is done."""
        workload.busy += 1

        async def run() -> None:
            try:
                await give_back
            finally:
                workload.busy -= 1
                self._forget_if_unused(workload)

        self._track(run())

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the API calls -----------------------------------------------------------------

    async def _scale(self, workload: _Workload, *, by: int) -> None:
        """Change the replica count by `by`, never below zero; retried on conflict."""
        async with workload.scaling:
            for _ in range(CONFLICT_RETRIES):
                scale = await self._call(
                    self._apps.read_namespaced_deployment_scale, workload.name, workload.namespace
                )
                replicas = max(0, int((scale.get("spec") or {}).get("replicas") or 0) + by)
                patch: dict[str, Any] = {"spec": {"replicas": replicas}}
                resource_version = scale["metadata"].get("resourceVersion")
                if resource_version:  # a precondition: fails if another gateway scaled meanwhile
                    patch["metadata"] = {"resourceVersion": resource_version}
                try:
                    await self._call(
                        self._apps.patch_namespaced_deployment_scale,
                        workload.name,
                        workload.namespace,
                        patch,
                        _content_type=MERGE_PATCH,
                    )
                    return
                except ApiException as exc:
                    if exc.status != 409:
                        raise
            raise ApiException(status=409, reason=f"{CONFLICT_RETRIES} conflicts in a row")

    async def _annotate(self, workload: _Workload, pod: str, *, cost: str | None) -> None:
        patch = {"metadata": {"annotations": {DELETION_COST: cost}}}
        await self._call(
            self._core.patch_namespaced_pod,
            pod,
            workload.namespace,
            patch,
            _content_type=MERGE_PATCH,
        )

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One request in a worker thread (the client is synchronous); the JSON answer."""

        def call() -> dict[str, Any]:
            response = method(
                *args, _preload_content=False, _request_timeout=REQUEST_SECONDS, **kwargs
            )
            try:
                answer: dict[str, Any] = json.loads(response.data)
            finally:
                response.release_conn()
            return answer

        return await asyncio.to_thread(call)


def _claim_key(namespace: str, pod: str) -> str:
    return f"kubefn:claim:{{{namespace}/{pod}}}"


def _revision(label: str | None) -> int:
    """A pod's revision label as a number; -1 (no revision) for a pod without one."""
    return int(label) if label is not None and label.isdigit() else -1


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    return str(exc) or type(exc).__name__
