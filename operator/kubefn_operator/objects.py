"""The Kubernetes objects a Function owns: a Deployment of runtime agents and a
headless Service in front of them.

Pure builders: the same compiled function, revision and installation always give
the same objects, so applying them again changes nothing.

Replicas start at 0 and belong to the gateway's autoscaler from then on (it scales
through the scale subresource), so `without_replicas` is what later updates apply.
The headless Service gives the gateway one EndpointSlice per function, listing the
instances that are ready. Each pod carries its revision as a label, so the gateway
hands a version only its own pods while a rollout replaces them; the selector is
the function's label alone, since a Deployment's selector cannot change.

Every instance runs the runtime agent. A code bundle is copied from Redis by an
init container; a function packaged as an image brings its code in /var/task and
is built FROM the runtime image, as Lambda's container images build FROM AWS's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubefn.function import CompiledFunction
from kubefn.naming import FUNCTION_LABEL, PORT_NAME, REVISION_LABEL, workload_name

AGENT_PORT = 8080
AGENT_COMMAND = ("python", "-m", "kubefn_runtime.agent")
POD_NAME_VARIABLE = "KUBEFN_POD_NAME"
"""Set from the pod's name, which becomes the instance's id (and its log stream's)."""
LOADER_COMMAND = ("python", "-m", "kubefn_operator.loader")
CODE_DIR = "/var/task"
"""Where the code is unpacked: Lambda's LAMBDA_TASK_ROOT."""

RUN_AS = 10001
"""The unprivileged user the kubefn images create (see the Dockerfiles)."""

MB_PER_VCPU = 1769
"""Lambda gives a function one vCPU at 1769 MB, and CPU in proportion to memory."""

AGENT_OVERHEAD_MB = 48
"""The runtime agent shares the pod's memory limit with the function. The agent itself
holds the function to memoryMB (Runtime.OutOfMemory); the kernel's limit sits above
that, so it never kills the agent first."""

TERMINATION_GRACE_SECONDS = 10
"""Beyond the function's timeout, so an invocation in flight may finish on scale-in."""


@dataclass(frozen=True, kw_only=True)
class Installation:
    """What every function pod of one kubefn installation shares."""

    redis_url: str
    runtime_image: str
    loader_image: str
    """An image with kubefn installed; its init container copies the code from Redis."""
    pull_policy: str = "IfNotPresent"
    region: str = "us-east-1"
    account_id: str = "000000000000"


def labels(function: str) -> dict[str, str]:
    return {
        FUNCTION_LABEL: function,
        "app.kubernetes.io/managed-by": "kubefn",
        "app.kubernetes.io/component": "function",
    }


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """Makes the owner's deletion delete the object (Kubernetes garbage collection)."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def instance_config(
    compiled: CompiledFunction, *, revision: int, installation: Installation
) -> dict[str, Any]:
    """The runtime agent's configuration (docs/internals.md), but the pod's instanceId."""
    spec = compiled.spec
    return {
        "function": compiled.name,
        "namespace": compiled.namespace,
        "version": "$LATEST",
        "revision": revision,
        "runtime": spec["runtime"],
        "handler": spec.get("handler"),
        "command": spec.get("command"),
        "codeDir": CODE_DIR,
        "memoryMB": spec["memoryMB"],
        "timeoutSeconds": spec["timeoutSeconds"],
        "environment": spec["environment"],
        "region": installation.region,
        "accountId": installation.account_id,
        "logPrefix": f"[{compiled.name}] ",
    }


def _security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _mebibytes(megabytes: int) -> str:
    return f"{megabytes}Mi"


def _loader(digest: str, *, installation: Installation) -> dict[str, Any]:
    return {
        "name": "code",
        "image": installation.loader_image,
        "imagePullPolicy": installation.pull_policy,
        "command": [*LOADER_COMMAND, "--digest", digest, "--into", CODE_DIR],
        "env": [{"name": "REDIS_URL", "value": installation.redis_url}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": _security_context(),
        "volumeMounts": [{"name": "code", "mountPath": CODE_DIR}],
    }


def _agent(
    compiled: CompiledFunction, *, revision: int, installation: Installation
) -> dict[str, Any]:
    spec = compiled.spec
    config = instance_config(compiled, revision=revision, installation=installation)
    memory = _mebibytes(spec["memoryMB"] + AGENT_OVERHEAD_MB)
    cpu = f"{math.ceil(spec['memoryMB'] * 1000 / MB_PER_VCPU)}m"
    listen = ["--host", "0.0.0.0", "--port", str(AGENT_PORT)]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if "bundle" in spec["code"]:
        mounts.append({"name": "code", "mountPath": CODE_DIR, "readOnly": True})
    return {
        "name": "function",
        "image": spec["code"].get("image", installation.runtime_image),
        "imagePullPolicy": installation.pull_policy,
        "command": [*AGENT_COMMAND, "--config", _config_argument(config), *listen],
        "env": [
            {"name": POD_NAME_VARIABLE, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        ],
        "ports": [{"name": PORT_NAME, "containerPort": AGENT_PORT, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": "/kubefn/healthz", "port": PORT_NAME},
            "periodSeconds": 1,  # a cold start waits for readiness
        },
        "resources": {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {
                "memory": memory,
                "ephemeral-storage": _mebibytes(spec["ephemeralStorageMB"]),
            },
        },
        "securityContext": _security_context(),
        "volumeMounts": mounts,
    }


def _config_argument(config: Mapping[str, Any]) -> str:
    """The instance config as the agent's --config, its instanceId the pod's name.

    Kubernetes expands `$(VAR)` in a command and turns `$$` into `$`, so every `$`
    of the config is doubled, except in the one reference to the pod's name.
    """
    reference = f"$({POD_NAME_VARIABLE})"
    text = json.dumps({**config, "instanceId": reference}, sort_keys=True).replace("$", "$$")
    return text.replace(f'"instanceId": "${reference}"', f'"instanceId": "{reference}"')


def deployment(
    compiled: CompiledFunction,
    *,
    revision: int,
    owner: Mapping[str, Any],
    installation: Installation,
) -> dict[str, Any]:
    """The function's instances. A new revision changes the pod template: a rollout."""
    spec = compiled.spec
    digest = spec["code"].get("bundle")
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": _mebibytes(spec["ephemeralStorageMB"])}}
    ]
    if digest is not None:
        volumes.append({"name": "code", "emptyDir": {}})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(compiled, owner=owner),
        "spec": {
            "replicas": 0,
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": {FUNCTION_LABEL: compiled.name}},
            "template": {
                "metadata": {"labels": {**labels(compiled.name), REVISION_LABEL: str(revision)}},
                "spec": {
                    "automountServiceAccountToken": False,  # function code gets no API access
                    "enableServiceLinks": False,  # nor other services' variables in its env
                    "terminationGracePeriodSeconds": (
                        spec["timeoutSeconds"] + TERMINATION_GRACE_SECONDS
                    ),
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "fsGroup": RUN_AS,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "initContainers": (
                        [_loader(digest, installation=installation)] if digest is not None else []
                    ),
                    "containers": [_agent(compiled, revision=revision, installation=installation)],
                    "volumes": volumes,
                },
            },
        },
    }


def without_replicas(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The Deployment as a patch that leaves the autoscaler's replica count alone."""
    spec = {key: value for key, value in deployment["spec"].items() if key != "replicas"}
    return {**deployment, "spec": spec}


def service(compiled: CompiledFunction, *, owner: Mapping[str, Any]) -> dict[str, Any]:
    """Headless: the gateway picks an instance itself, so no virtual IP stands between."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(compiled, owner=owner),
        "spec": {
            "clusterIP": "None",
            "selector": {FUNCTION_LABEL: compiled.name},
            "ports": [
                {"name": PORT_NAME, "port": AGENT_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}
            ],
        },
    }


def _metadata(compiled: CompiledFunction, *, owner: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": workload_name(compiled.name),
        "namespace": compiled.namespace,
        "labels": labels(compiled.name),
        "ownerReferences": [owner_reference(owner)],
    }
