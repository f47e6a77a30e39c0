"""The Deployment and Service a Function owns: pure builders, checked by example."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from kubefn import naming
from kubefn.function import CompiledFunction, compile_function
from kubefn_operator import objects
from kubefn_runtime.config import InstanceConfig

INSTALLATION = objects.Installation(
    redis_url="redis://redis:6379/0",
    runtime_image="kubefn-runtime:1",
    loader_image="kubefn-operator:1",
    region="eu-west-1",
    account_id="123456789012",
)
OWNER = {
    "apiVersion": "kubefn.io/v1alpha1",
    "kind": "Function",
    "metadata": {"name": "hello", "namespace": "team", "uid": "u-1"},
}
SPEC = {
    "runtime": "python3.11",
    "handler": "app.handler",
    "timeoutSeconds": 30,
    "environment": {"GREETING": "hi"},
    "code": {"inline": {"app.py": "def handler(e, c): return 1\n"}},
}


def compiled(**spec: Any) -> CompiledFunction:
    return compile_function({"metadata": OWNER["metadata"], "spec": {**SPEC, **spec}})


def deployment(function: CompiledFunction, revision: int = 3) -> dict[str, Any]:
    return objects.deployment(function, revision=revision, owner=OWNER, installation=INSTALLATION)


def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def expand(text: str, variables: dict[str, str]) -> str:
    """What the kubelet does to a command: `$(VAR)` is the variable, `$$` is `$`."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return "$" if name is None else variables.get(name, match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", one, text)


def agent_config(deployment: dict[str, Any], *, pod_name: str = "pod-1") -> dict[str, Any]:
    """The instance config the agent receives in a pod named `pod_name`."""
    command = pod(deployment)["containers"][0]["command"]
    argument = command[command.index("--config") + 1]
    config: dict[str, Any] = json.loads(expand(argument, {objects.POD_NAME_VARIABLE: pod_name}))
    return config


@pytest.mark.parametrize(
    ("memory_mb", "cpu"),
    [
        pytest.param(128, "73m", id="smallest"),
        pytest.param(1769, "1000m", id="one-vcpu"),
        pytest.param(10240, "5789m", id="largest"),
    ],
)
def test_cpu_grows_with_memory_as_on_lambda(memory_mb: int, cpu: str) -> None:
    agent = pod(deployment(compiled(memoryMB=memory_mb)))["containers"][0]
    memory = f"{memory_mb + objects.AGENT_OVERHEAD_MB}Mi"
    assert agent["resources"]["requests"] == {"cpu": cpu, "memory": memory}


def test_limits_are_the_function_memory_with_the_agent_and_storage() -> None:
    agent = pod(deployment(compiled(memoryMB=512, ephemeralStorageMB=2048)))["containers"][0]
    assert agent["resources"]["limits"] == {"memory": "560Mi", "ephemeral-storage": "2048Mi"}


def test_tmp_is_as_large_as_the_ephemeral_storage() -> None:
    volumes = {v["name"]: v for v in pod(deployment(compiled(ephemeralStorageMB=2048)))["volumes"]}
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "2048Mi"}


def test_a_code_bundle_is_loaded_by_an_init_container() -> None:
    function = compiled()
    spec = pod(deployment(function))
    [loader] = spec["initContainers"]
    digest = function.spec["code"]["bundle"]
    assert loader["command"][-4:] == ["--digest", digest, "--into", objects.CODE_DIR]
    assert env(loader) == {"REDIS_URL": INSTALLATION.redis_url}
    agent = spec["containers"][0]
    assert agent["image"] == "kubefn-runtime:1"
    assert agent["command"][:3] == list(objects.AGENT_COMMAND)
    mounts = {m["name"]: m for m in agent["volumeMounts"]}
    assert mounts["code"] == {"name": "code", "mountPath": objects.CODE_DIR, "readOnly": True}


def test_an_image_brings_its_own_code() -> None:
    spec = pod(deployment(compiled(code={"image": "example.com/fn:2"})))
    agent = spec["containers"][0]
    assert (spec["initContainers"], agent["image"]) == ([], "example.com/fn:2")
    assert agent["command"][:3] == list(objects.AGENT_COMMAND)
    assert [v["name"] for v in spec["volumes"]] == ["tmp"]
    assert [m["name"] for m in agent["volumeMounts"]] == ["tmp"]


def test_the_agent_gets_its_instance_config() -> None:
    assert agent_config(deployment(compiled(), revision=7), pod_name="hello-7c9-x2") == {
        "function": "hello",
        "namespace": "team",
        "version": "$LATEST",
        "revision": 7,
        "runtime": "python3.11",
        "handler": "app.handler",
        "command": None,
        "codeDir": objects.CODE_DIR,
        "memoryMB": 128,
        "timeoutSeconds": 30,
        "environment": {"GREETING": "hi"},
        "region": "eu-west-1",
        "accountId": "123456789012",
        "instanceId": "hello-7c9-x2",
        "logPrefix": "[hello] ",
    }


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("$$5", id="double-dollar"),
        pytest.param("$(HOME)", id="reference"),
        pytest.param(f"$({objects.POD_NAME_VARIABLE})", id="the-pod-reference"),
        pytest.param('"instanceId": "$(X)"', id="look-alike"),
    ],
)
def test_variables_reach_the_function_as_written(value: str) -> None:
    config = agent_config(deployment(compiled(environment={"VAR": value})))
    assert (config["environment"], config["instanceId"]) == ({"VAR": value}, "pod-1")


def test_every_container_runs_unprivileged() -> None:
    spec = pod(deployment(compiled()))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    for container in [*spec["initContainers"], *spec["containers"]]:
        context = container["securityContext"]
        assert (context["readOnlyRootFilesystem"], context["allowPrivilegeEscalation"]) == (
            True,
            False,
        )
        assert context["capabilities"] == {"drop": ["ALL"]}


def test_an_invocation_in_flight_may_finish_on_scale_in() -> None:
    assert pod(deployment(compiled(timeoutSeconds=900)))["terminationGracePeriodSeconds"] == 910


def test_a_new_revision_changes_the_pod_template() -> None:
    function = compiled()
    assert (
        deployment(function, 1)["spec"]["template"] != deployment(function, 2)["spec"]["template"]
    )


def test_every_pod_is_labelled_with_its_revision() -> None:
    template = deployment(compiled(), revision=7)["spec"]["template"]
    assert template["metadata"]["labels"][naming.REVISION_LABEL] == "7"


def test_the_selector_spans_revisions() -> None:
    """A Deployment's selector is immutable; a new revision rolls the same Deployment."""
    selector = deployment(compiled(), revision=7)["spec"]["selector"]["matchLabels"]
    assert selector == {naming.FUNCTION_LABEL: "hello"}


def test_the_deployment_starts_at_zero_and_leaves_scale_to_the_autoscaler() -> None:
    body = deployment(compiled())
    original = copy.deepcopy(body)
    patch = objects.without_replicas(body)
    assert body["spec"]["replicas"] == 0
    assert "replicas" not in patch["spec"]
    assert patch["spec"]["template"] == body["spec"]["template"]
    assert body == original


def test_owned_objects_point_at_their_function() -> None:
    function = compiled()
    for owned in (deployment(function), objects.service(function, owner=OWNER)):
        assert owned["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "kubefn.io/v1alpha1",
                "kind": "Function",
                "name": "hello",
                "uid": "u-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert owned["metadata"]["labels"][naming.FUNCTION_LABEL] == "hello"


def test_the_service_is_headless_over_the_function_pods() -> None:
    service = objects.service(compiled(), owner=OWNER)
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {naming.FUNCTION_LABEL: "hello"}
    assert deployment(compiled())["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_the_runtime_agent_accepts_the_config() -> None:
    config = InstanceConfig.from_dict(agent_config(deployment(compiled(memoryMB=256))))
    assert (config.function, config.code_dir, config.memory_mb) == ("hello", objects.CODE_DIR, 256)
