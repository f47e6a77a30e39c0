"""The operator asks the API server for exactly what cluster.PERMISSIONS (and so the
chart's ClusterRole) grants: a call outside it would be forbidden in a cluster, a
grant it never uses is privilege it does not need.
"""

from __future__ import annotations

import kmock

from kubefn_operator import cluster
from tests.operator.apiserver import (
    CONFIG_MAPS,
    FUNCTIONS,
    STATE_MACHINES,
    TABLES,
    Api,
    Operator,
    eventually,
)

_VERBS = {
    kmock.action.LIST: "list",
    kmock.action.WATCH: "watch",
    kmock.action.FETCH: "get",
    kmock.action.CREATE: "create",
    kmock.action.UPDATE: "patch",
    kmock.action.DELETE: "delete",
}

# Kopf lists and watches these only to notice CRDs and namespaces come and go,
# which the tests switch off (kmock cannot list namespaces).
_SCANNING = {
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("", "namespaces"),
}

SPEC = {"runtime": "python3.11", "handler": "app.handler"}
TABLE = {"keySchema": [{"attributeName": "id", "attributeType": "S", "keyType": "HASH"}]}
MACHINE = {"definition": {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}}


def used_by_operator(emulator: kmock.KubernetesEmulator) -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every API request but the test's own and discovery."""
    used = set()
    for request in emulator:
        if request.headers.get("User-Agent", "").startswith("kmock/"):
            continue
        if request.resource is None or request.resource.plural is None or request.action is None:
            continue
        plural = request.resource.plural
        resource = f"{plural}/{request.subresource}" if request.subresource else plural
        used.add((request.resource.group or "", resource, _VERBS[request.action]))
    return used


async def test_the_operator_uses_exactly_what_its_role_grants(api: Api, operator: Operator) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "code"}}
    await api.create(CONFIG_MAPS, {**config_map, "data": {"app.py": "def handler(e, c): pass"}})
    await api.create_function("fn", {**SPEC, "code": {"configMapRef": {"name": "code"}}})
    await eventually(lambda: api.status("fn", generation=1, ready="True"), what="creation")
    await api.patch(FUNCTIONS, "fn", {"spec": {"memoryMB": 64}})
    await eventually(lambda: api.status("fn", generation=2, ready="False"), what="refusal")
    await api.patch(FUNCTIONS, "fn", {"spec": {"memoryMB": 256}})
    await eventually(lambda: api.status("fn", generation=3, ready="True"), what="update")
    await api.delete(FUNCTIONS, "fn")
    await eventually(lambda: api.get(FUNCTIONS, "fn") is None, what="deletion")
    await api.create_table("tbl", TABLE)
    await eventually(
        lambda: api.status("tbl", generation=1, ready="True", resource=TABLES), what="table"
    )
    await api.patch(TABLES, "tbl", {"spec": {"billingMode": "PROVISIONED"}})
    await eventually(
        lambda: api.status("tbl", generation=2, ready="False", resource=TABLES), what="refusal"
    )
    await api.delete(TABLES, "tbl")
    await eventually(lambda: api.get(TABLES, "tbl") is None, what="table deletion")
    await api.create_statemachine("sm", MACHINE)
    await eventually(
        lambda: api.status("sm", generation=1, ready="True", resource=STATE_MACHINES),
        what="state machine",
    )
    await api.patch(STATE_MACHINES, "sm", {"spec": {"type": "QUICK"}})
    await eventually(
        lambda: api.status("sm", generation=2, ready="False", resource=STATE_MACHINES),
        what="state machine refusal",
    )
    await api.delete(STATE_MACHINES, "sm")
    await eventually(lambda: api.get(STATE_MACHINES, "sm") is None, what="state machine deletion")

    granted = {
        (permission.group, permission.resource, verb)
        for permission in cluster.PERMISSIONS
        if (permission.group, permission.resource) not in _SCANNING
        for verb in permission.verbs
    }
    assert used_by_operator(api.emulator) == granted
