"""Valid Table manifests compile into what the data plane reads from Redis."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import yaml

from kubefn import table
from tests.conftest import REPO

ID = {"attributeName": "id", "attributeType": "S", "keyType": "HASH"}
TS = {"attributeName": "ts", "attributeType": "N", "keyType": "RANGE"}
THROUGHPUT = {"readCapacityUnits": 5, "writeCapacityUnits": 2}


def _manifest(*, metadata: Any = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "Table",
        "metadata": metadata or {"name": "users"},
        "spec": {"keySchema": [ID, TS], **spec},
    }


def _compile(**kwargs: Any) -> table.CompiledTable:
    return table.compile_table(_manifest(**kwargs))


@pytest.mark.parametrize(
    "field, default",
    [
        pytest.param("billingMode", "PAY_PER_REQUEST", id="billingMode"),
        pytest.param("tableClass", "STANDARD", id="tableClass"),
        pytest.param("deletionPolicy", "Retain", id="deletionPolicy"),
        pytest.param("stream", {"enabled": False}, id="stream"),
        pytest.param("globalSecondaryIndexes", [], id="globalSecondaryIndexes"),
        pytest.param("localSecondaryIndexes", [], id="localSecondaryIndexes"),
        pytest.param("triggers", [], id="triggers"),
        pytest.param("tableName", "users", id="tableName"),
    ],
)
def test_defaults_are_filled(field: str, default: Any) -> None:
    assert _compile().spec[field] == default


def test_absent_fields_stay_absent() -> None:
    spec = _compile().spec
    assert ("ttl" in spec, "provisionedThroughput" in spec) == (False, False)


def test_a_null_field_means_its_default() -> None:
    assert _compile(billingMode=None, ttl=None).spec["billingMode"] == "PAY_PER_REQUEST"


def test_key_attributes_are_listed_with_their_types() -> None:
    email = {"attributeName": "email", "attributeType": "S"}
    gsi = {
        "indexName": "byEmail",
        "keySchema": [{"attributeName": "email", "keyType": "HASH"}],
        "projection": {"projectionType": "ALL"},
    }
    compiled = _compile(
        attributeDefinitions=[email, {"attributeName": "id", "attributeType": "S"}],
        globalSecondaryIndexes=[gsi],
    )
    assert compiled.spec["attributeDefinitions"] == [
        {"attributeName": "email", "attributeType": "S"},
        {"attributeName": "id", "attributeType": "S"},
        {"attributeName": "ts", "attributeType": "N"},
    ]


def test_trigger_defaults_are_filled() -> None:
    compiled = _compile(
        stream={"enabled": True, "viewType": "NEW_IMAGE"},
        triggers=[{"function": "on-change", "batchSize": 10, "onFailure": {"function": "dlq"}}],
    )
    assert compiled.spec["triggers"] == [
        {
            "function": "on-change",
            "batchSize": 10,
            "maximumBatchingWindowSeconds": 0,
            "startingPosition": "LATEST",
            "maximumRetryAttempts": -1,
            "bisectBatchOnFunctionError": False,
            "onFailure": {"function": "dlq"},
        }
    ]


def test_a_disabled_stream_keeps_no_view_type() -> None:
    assert _compile(stream={"enabled": False, "viewType": "NEW_IMAGE"}).spec["stream"] == {
        "enabled": False
    }


def test_an_enabled_stream_keeps_its_view_type() -> None:
    stream = {"enabled": True, "viewType": "KEYS_ONLY"}
    assert _compile(stream=stream).spec["stream"] == stream


def test_a_provisioned_gsi_takes_the_tables_throughput_unless_it_has_its_own() -> None:
    email = {"attributeName": "email", "attributeType": "S"}
    own = {"readCapacityUnits": 1, "writeCapacityUnits": 1}
    gsis = [
        {
            "indexName": name,
            "keySchema": [{"attributeName": "email", "keyType": "HASH"}],
            "projection": {"projectionType": "KEYS_ONLY"},
            **extra,
        }
        for name, extra in (("inherits", {}), ("owns", {"provisionedThroughput": own}))
    ]
    compiled = _compile(
        billingMode="PROVISIONED",
        provisionedThroughput=THROUGHPUT,
        attributeDefinitions=[email],
        globalSecondaryIndexes=gsis,
    )
    assert [g["provisionedThroughput"] for g in compiled.spec["globalSecondaryIndexes"]] == [
        THROUGHPUT,
        own,
    ]
    assert compiled.spec["provisionedThroughput"] == THROUGHPUT


def test_table_name_names_the_table() -> None:
    compiled = _compile(tableName="Users.v2")
    assert (compiled.name, compiled.key, compiled.spec["tableName"]) == (
        "Users.v2",
        "default/Users.v2",
        "Users.v2",
    )


def test_namespace_is_part_of_the_key() -> None:
    compiled = _compile(metadata={"name": "users", "namespace": "team-a"})
    assert (compiled.namespace, compiled.key) == ("team-a", "team-a/users")


def test_a_compiled_table_is_kind_table_without_a_bundle() -> None:
    compiled = _compile()
    assert (compiled.kind, compiled.bundle) == ("Table", None)


def test_digest_is_the_sha256_of_the_canonical_spec() -> None:
    compiled = _compile()
    canonical = json.dumps(compiled.spec, sort_keys=True, separators=(",", ":"))
    assert compiled.digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_digest_ignores_defaults_spelled_out() -> None:
    spelled = _compile(billingMode="PAY_PER_REQUEST", tableClass="STANDARD", triggers=[])
    assert spelled.digest == _compile().digest


def test_digest_changes_with_the_spec() -> None:
    assert _compile(ttl={"attributeName": "exp"}).digest != _compile().digest


def test_compile_spec_is_compile_table_without_a_manifest() -> None:
    spec = {"keySchema": [ID, TS], "stream": {"enabled": True, "viewType": "NEW_IMAGE"}}
    from_request = table.compile_spec("default", "users", spec)
    assert from_request == table.compile_table(_manifest(stream=spec["stream"]))


def test_compile_spec_prefers_the_specs_table_name() -> None:
    assert table.compile_spec("ns", "ignored", {"keySchema": [ID], "tableName": "Users"}).key == (
        "ns/Users"
    )


def test_compile_does_not_change_its_input() -> None:
    manifest = _manifest(
        stream={"enabled": True, "viewType": "NEW_IMAGE"}, triggers=[{"function": "f"}]
    )
    before = json.dumps(manifest, sort_keys=True)
    table.compile_table(manifest)
    assert json.dumps(manifest, sort_keys=True) == before


def test_the_example_compiles() -> None:
    manifest = yaml.safe_load((REPO / "examples" / "tables" / "users.yaml").read_text())
    compiled = table.compile_table(manifest)
    assert compiled.spec["stream"]["enabled"] and compiled.spec["globalSecondaryIndexes"]
    assert "ttl" in compiled.spec


def test_table_name_of_a_manifest() -> None:
    assert [
        table.table_name(_manifest(tableName="Users")),
        table.table_name(_manifest()),
        table.table_name({"spec": None}),
    ] == ["Users", "users", None]


def test_stream_arn() -> None:
    arn = table.stream_arn(
        region="eu-west-1", account_id="123", table_name="Users", label="2024-05-01T12:00:00.000"
    )
    assert arn == "arn:aws:dynamodb:eu-west-1:123:table/Users/stream/2024-05-01T12:00:00.000"


@pytest.mark.parametrize(
    ("policy", "protected", "deletes"),
    [("Retain", False, False), ("Delete", False, True), ("Delete", True, False)],
)
def test_items_go_with_the_table_only_under_delete_and_no_protection(
    policy: str, protected: bool, deletes: bool
) -> None:
    spec = {"deletionPolicy": policy, "deletionProtectionEnabled": protected}
    assert table.deletes_items(spec) is deletes
