"""The Kubernetes API beyond what Kopf does itself, through the official client.

The client is synchronous, so every call runs in a worker thread. It is built
from the same kopf.ConnectionInfo that Kopf logs in with, so both talk to the
same server with the same credentials.

PERMISSIONS is everything the operator does to the API, Kopf's share included;
the chart's ClusterRole grants exactly that, and the tests hold both to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import kopf
import kubernetes.client
from kubernetes.client.exceptions import ApiException

from kubefn.rbac import Permission
from kubefn.resources import FUNCTION, GROUP, STATE_MACHINE, TABLE, VERSION

FIELD_MANAGER = "kubefn-operator"
USER_AGENT = "kubefn-operator"
MERGE_PATCH = "application/merge-patch+json"


PERMISSIONS: tuple[Permission, ...] = (
    # Kopf: follows Functions, Tables and StateMachines, keeps its finalizer and
    # progress in annotations, writes our status, and posts events.
    Permission(GROUP, FUNCTION.plural, ("list", "watch", "patch")),
    Permission(GROUP, f"{FUNCTION.plural}/status", ("patch",)),
    Permission(GROUP, TABLE.plural, ("list", "watch", "patch")),
    Permission(GROUP, f"{TABLE.plural}/status", ("patch",)),
    Permission(GROUP, STATE_MACHINE.plural, ("list", "watch", "patch")),
    Permission(GROUP, f"{STATE_MACHINE.plural}/status", ("patch",)),
    Permission("", "events", ("create",)),
    # Kopf: notices CRDs and namespaces that come and go.
    Permission("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
    Permission("", "namespaces", ("list", "watch")),
    # This module: reads code from ConfigMaps, creates and updates the owned objects.
    Permission("", "configmaps", ("get",)),
    Permission("apps", "deployments", ("create", "patch")),
    Permission("", "services", ("create", "patch")),
)


def configuration(info: kopf.ConnectionInfo) -> kubernetes.client.Configuration:
    """The client's configuration for Kopf's connection.

    Certificates are taken by path, as kopf.login_via_client gives them; the
    Authorization header (bearer token or basic) is set by `Cluster.connect`.
    """
    config = kubernetes.client.Configuration(host=info.server.rstrip("/"))
    config.verify_ssl = not info.insecure
    config.ssl_ca_cert = _path(info.ca_path)
    config.cert_file = _path(info.certificate_path)
    config.key_file = _path(info.private_key_path)
    return config


def _path(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class Cluster:
    """Reading ConfigMaps and applying the objects a Function owns."""

    def __init__(self) -> None:
        self._client: kubernetes.client.ApiClient | None = None

    def connect(self, info: kopf.ConnectionInfo) -> None:
        """Use these credentials from now on (Kopf calls its login again when they expire)."""
        client = kubernetes.client.ApiClient(configuration(info))
        client.user_agent = USER_AGENT
        for header, value in info.as_http_headers().items():
            client.set_default_header(header, value)
        previous, self._client = self._client, client
        if previous is not None:
            previous.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> kubernetes.client.ApiClient:
        if self._client is None:
            raise RuntimeError("not connected: Kopf has not logged in yet")
        return self._client

    async def config_map_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        """The ConfigMap's text data, or None when there is no such ConfigMap."""
        api = kubernetes.client.CoreV1Api(self.client)
        try:
            found = await asyncio.to_thread(
                api.read_namespaced_config_map, name=name, namespace=namespace
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(found.data or {})

    async def ensure(
        self, body: Mapping[str, Any], *, patch: Mapping[str, Any] | None = None
    ) -> None:
        """Merge-patch the existing object with `patch` (default: `body`), or create `body`.

        A JSON merge patch replaces lists whole, so a container, volume or variable
        the new body lacks is really gone afterwards.
        """
        create, update = self._calls(body["kind"])
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            await asyncio.to_thread(
                update,
                name=name,
                namespace=namespace,
                body=patch if patch is not None else body,
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            await asyncio.to_thread(
                create, namespace=namespace, body=body, field_manager=FIELD_MANAGER
            )

    async def patch_status(
        self, *, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        """Merge `status` into a kubefn object's status (for what Kopf's handlers do not patch).

        A None in `status` removes that field (JSON merge patch).
        """
        api = kubernetes.client.CustomObjectsApi(self.client)
        await asyncio.to_thread(
            api.patch_namespaced_custom_object_status,
            group=GROUP,
            version=VERSION,
            namespace=namespace,
            plural=plural,
            name=name,
            body={"status": dict(status)},
            field_manager=FIELD_MANAGER,
            _content_type=MERGE_PATCH,
        )

    def _calls(self, kind: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
        if kind == "Deployment":
            apps = kubernetes.client.AppsV1Api(self.client)
            return apps.create_namespaced_deployment, apps.patch_namespaced_deployment
        if kind == "Service":
            core = kubernetes.client.CoreV1Api(self.client)
            return core.create_namespaced_service, core.patch_namespaced_service
        raise ValueError(f"the operator does not own objects of kind {kind!r}")
