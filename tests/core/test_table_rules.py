"""Every rule of the Table manifest: a bad manifest and the problem it is refused with.

Each expected problem is the whole text, so the field path, the rule and the
offending value are all pinned.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubefn import table

ABSENT = object()
"""Removes a field from the base spec."""

ID = {"attributeName": "id", "attributeType": "S", "keyType": "HASH"}
TS = {"attributeName": "ts", "attributeType": "N", "keyType": "RANGE"}
EMAIL = {"attributeName": "email", "attributeType": "S"}
AGE = {"attributeName": "age", "attributeType": "N"}
NAME_HINT = "must be letters, digits, '_', '.' and '-' only"
DNS_HINT = "must be lower-case letters, digits and '-' (a DNS label)"
UNUSED = "is not a key attribute of the table or of an index; DynamoDB refuses unused definitions"
THROUGHPUT = {"readCapacityUnits": 5, "writeCapacityUnits": 5}
STREAM = {"enabled": True, "viewType": "NEW_IMAGE"}


def _key(name: str, key_type: str) -> dict[str, str]:
    return {"attributeName": name, "keyType": key_type}


def _gsi(name: str = "byEmail", *key: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "indexName": name,
        "keySchema": list(key) or [_key("email", "HASH")],
        "projection": {"projectionType": "ALL"},
        **extra,
    }


def _lsi(name: str = "byAge", *key: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "indexName": name,
        "keySchema": list(key) or [_key("id", "HASH"), _key("age", "RANGE")],
        "projection": {"projectionType": "KEYS_ONLY"},
        **extra,
    }


def _manifest(metadata: Any = ABSENT, **changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"keySchema": [ID, TS]}
    for key, value in changes.items():
        if value is ABSENT:
            spec.pop(key, None)
        else:
            spec[key] = value
    return {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "Table",
        "metadata": {"name": "users"} if metadata is ABSENT else metadata,
        "spec": spec,
    }


def _problems(manifest: dict[str, Any]) -> list[str]:
    with pytest.raises(table.InvalidTable) as info:
        table.compile_table(manifest)
    return [str(problem) for problem in info.value.problems]


@pytest.mark.parametrize(
    "changes, expected",
    [
        # tableName (DynamoDB's naming rule)
        pytest.param(
            {"tableName": "ab"},
            "spec.tableName: must be at least 3 characters (got 'ab')",
            id="table-name-too-short",
        ),
        pytest.param(
            {"tableName": "x" * 256},
            "spec.tableName: must be at most 255 characters (got 256 characters)",
            id="table-name-too-long",
        ),
        pytest.param(
            {"tableName": "my table"},
            f"spec.tableName: {NAME_HINT} (got 'my table')",
            id="table-name-bad-character",
        ),
        # keySchema, by the schema
        pytest.param({"keySchema": ABSENT}, "spec.keySchema: is required", id="key-missing"),
        pytest.param(
            {"keySchema": []}, "spec.keySchema: must have at least 1 items (got 0)", id="key-empty"
        ),
        pytest.param(
            {"keySchema": [ID, TS, {**TS, "attributeName": "x"}]},
            "spec.keySchema: must have at most 2 items (got 3)",
            id="key-three-elements",
        ),
        pytest.param(
            {"keySchema": [{**ID, "attributeType": "BOOL"}]},
            "spec.keySchema[0].attributeType: must be one of S, N, B (got 'BOOL')",
            id="key-type-not-scalar",
        ),
        pytest.param(
            {"keySchema": [{**ID, "keyType": "PARTITION"}]},
            "spec.keySchema[0].keyType: must be one of HASH, RANGE (got 'PARTITION')",
            id="key-type-unknown",
        ),
        pytest.param(
            {"keySchema": [{"attributeName": "id", "keyType": "HASH"}]},
            "spec.keySchema[0].attributeType: is required",
            id="key-without-type",
        ),
        pytest.param(
            {"keySchema": [{**ID, "attributeName": ""}]},
            "spec.keySchema[0].attributeName: must be at least 1 characters (got '')",
            id="key-name-empty",
        ),
        # keySchema, beyond the schema
        pytest.param(
            {"keySchema": [TS]},
            "spec.keySchema: must have exactly one HASH key (got keyTypes RANGE)",
            id="key-no-hash",
        ),
        pytest.param(
            {"keySchema": [ID, {**ID, "attributeName": "other"}]},
            "spec.keySchema: must have exactly one HASH key (got keyTypes HASH, HASH)",
            id="key-two-hashes",
        ),
        pytest.param(
            {"keySchema": [TS, ID]},
            "spec.keySchema[0].keyType: must be HASH: the HASH key comes first (got RANGE, HASH)",
            id="key-hash-not-first",
        ),
        pytest.param(
            {"keySchema": [ID, {**TS, "attributeName": "id", "attributeType": "S"}]},
            "spec.keySchema[1].attributeName: is already the key attribute of keySchema[0]"
            " (got 'id')",
            id="key-attribute-twice",
        ),
        # attributeDefinitions
        pytest.param(
            {"attributeDefinitions": [{"attributeName": "id", "attributeType": "N"}]},
            "spec.attributeDefinitions[0].attributeType: must be S, the type keySchema gives 'id'"
            " (got 'N')",
            id="definition-contradicts-key",
        ),
        pytest.param(
            {"attributeDefinitions": [EMAIL, EMAIL], "globalSecondaryIndexes": [_gsi()]},
            "spec.attributeDefinitions[1].attributeName: is already defined by"
            " attributeDefinitions[0] (got 'email')",
            id="definition-twice",
        ),
        pytest.param(
            {"attributeDefinitions": [EMAIL]},
            f"spec.attributeDefinitions[0].attributeName: {UNUSED} (got 'email')",
            id="definition-unused",
        ),
        pytest.param(
            {"attributeDefinitions": [{"attributeName": "email", "attributeType": "SS"}]},
            "spec.attributeDefinitions[0].attributeType: must be one of S, N, B (got 'SS')",
            id="definition-type-not-scalar",
        ),
        # billing
        pytest.param(
            {"billingMode": "ON_DEMAND"},
            "spec.billingMode: must be one of PAY_PER_REQUEST, PROVISIONED (got 'ON_DEMAND')",
            id="billing-mode-unknown",
        ),
        pytest.param(
            {"billingMode": "PROVISIONED"},
            "spec.provisionedThroughput: is required for billingMode PROVISIONED",
            id="provisioned-without-throughput",
        ),
        pytest.param(
            {"provisionedThroughput": THROUGHPUT},
            "spec.provisionedThroughput: is only for billingMode PROVISIONED"
            " (got billingMode 'PAY_PER_REQUEST')",
            id="throughput-on-demand",
        ),
        pytest.param(
            {
                "billingMode": "PROVISIONED",
                "provisionedThroughput": {**THROUGHPUT, "readCapacityUnits": 0},
            },
            "spec.provisionedThroughput.readCapacityUnits: must be at least 1 (got 0)",
            id="throughput-zero",
        ),
        pytest.param(
            {"billingMode": "PROVISIONED", "provisionedThroughput": {"readCapacityUnits": 1}},
            "spec.provisionedThroughput.writeCapacityUnits: is required",
            id="throughput-half",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [_gsi(provisionedThroughput=THROUGHPUT)],
            },
            "spec.globalSecondaryIndexes[0].provisionedThroughput: is only for billingMode"
            " PROVISIONED (got billingMode 'PAY_PER_REQUEST')",
            id="index-throughput-on-demand",
        ),
        # ttl, stream, class, deletion policy
        pytest.param(
            {"ttl": {"attributeName": ""}},
            "spec.ttl.attributeName: must be at least 1 characters (got '')",
            id="ttl-empty-name",
        ),
        pytest.param({"ttl": {}}, "spec.ttl.attributeName: is required", id="ttl-without-name"),
        pytest.param(
            {"stream": {"enabled": True}},
            "spec.stream.viewType: is required when stream.enabled is true",
            id="stream-without-view-type",
        ),
        pytest.param(
            {"stream": {"enabled": True, "viewType": "ALL"}},
            "spec.stream.viewType: must be one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE,"
            " NEW_AND_OLD_IMAGES (got 'ALL')",
            id="stream-view-type-unknown",
        ),
        pytest.param(
            {"stream": {"enabled": "yes"}},
            "spec.stream.enabled: must be of type boolean (got str 'yes')",
            id="stream-enabled-not-boolean",
        ),
        pytest.param(
            {"tableClass": "GLACIER"},
            "spec.tableClass: must be one of STANDARD, STANDARD_INFREQUENT_ACCESS (got 'GLACIER')",
            id="table-class-unknown",
        ),
        pytest.param(
            {"deletionPolicy": "Orphan"},
            "spec.deletionPolicy: must be one of Retain, Delete (got 'Orphan')",
            id="deletion-policy-unknown",
        ),
        pytest.param(
            {"deletionProtectionEnabled": "on"},
            "spec.deletionProtectionEnabled: must be of type boolean (got str 'on')",
            id="deletion-protection-not-boolean",
        ),
        pytest.param(
            {"readCapacity": 5},
            "spec.readCapacity: unknown field (known fields: attributeDefinitions, billingMode,"
            " deletionPolicy, deletionProtectionEnabled, globalSecondaryIndexes, keySchema,"
            " localSecondaryIndexes, provisionedThroughput, stream, tableClass, tableName,"
            " triggers, ttl)",
            id="unknown-field",
        ),
    ],
)
def test_table_rule(changes: dict[str, Any], expected: str) -> None:
    assert _problems(_manifest(**changes)) == [expected]


@pytest.mark.parametrize(
    "changes, expected",
    [
        pytest.param(
            {"globalSecondaryIndexes": [_gsi()]},
            "spec.globalSecondaryIndexes[0].keySchema[0].attributeName: has no type:"
            " define it in attributeDefinitions (got 'email')",
            id="gsi-attribute-without-type",
        ),
        pytest.param(
            {"attributeDefinitions": [EMAIL], "globalSecondaryIndexes": [_gsi("ab")]},
            "spec.globalSecondaryIndexes[0].indexName: must be at least 3 characters (got 'ab')",
            id="gsi-name-too-short",
        ),
        pytest.param(
            {"attributeDefinitions": [EMAIL], "globalSecondaryIndexes": [_gsi("by email")]},
            f"spec.globalSecondaryIndexes[0].indexName: {NAME_HINT} (got 'by email')",
            id="gsi-name-bad-character",
        ),
        pytest.param(
            {"attributeDefinitions": [EMAIL], "globalSecondaryIndexes": [_gsi(), _gsi()]},
            "spec.globalSecondaryIndexes[1].indexName: is already the name of"
            " globalSecondaryIndexes[0] (got 'byEmail')",
            id="gsi-name-twice",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL, AGE],
                "globalSecondaryIndexes": [_gsi("byAge", _key("email", "HASH"))],
                "localSecondaryIndexes": [_lsi()],
            },
            "spec.localSecondaryIndexes[0].indexName: is already the name of"
            " globalSecondaryIndexes[0] (got 'byAge')",
            id="index-name-shared-by-gsi-and-lsi",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [_gsi("byEmail", _key("email", "RANGE"))],
            },
            "spec.globalSecondaryIndexes[0].keySchema: must have exactly one HASH key"
            " (got keyTypes RANGE)",
            id="gsi-without-hash",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [
                    _gsi("byEmail", _key("id", "RANGE"), _key("email", "HASH"))
                ],
            },
            "spec.globalSecondaryIndexes[0].keySchema[0].keyType: must be HASH: the HASH key"
            " comes first (got RANGE, HASH)",
            id="gsi-hash-not-first",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [
                    _gsi("byEmail", _key("email", "HASH"), _key("email", "RANGE"))
                ],
            },
            "spec.globalSecondaryIndexes[0].keySchema[1].attributeName: is already the key"
            " attribute of globalSecondaryIndexes[0].keySchema[0] (got 'email')",
            id="gsi-attribute-twice",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [_gsi(**{"keySchema": [{**EMAIL, "keyType": "HASH"}]})],
            },
            "spec.globalSecondaryIndexes[0].keySchema[0].attributeType: unknown field"
            " (known fields: attributeName, keyType)",
            id="gsi-key-with-type",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [_gsi(projection={"projectionType": "INCLUDE"})],
            },
            "spec.globalSecondaryIndexes[0].projection.nonKeyAttributes: is required for"
            " projectionType INCLUDE",
            id="include-without-attributes",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [
                    _gsi(projection={"projectionType": "ALL", "nonKeyAttributes": ["name"]})
                ],
            },
            "spec.globalSecondaryIndexes[0].projection.nonKeyAttributes: is only for"
            " projectionType INCLUDE (got projectionType 'ALL')",
            id="attributes-without-include",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [_gsi(projection={"projectionType": "SOME"})],
            },
            "spec.globalSecondaryIndexes[0].projection.projectionType: must be one of ALL,"
            " KEYS_ONLY, INCLUDE (got 'SOME')",
            id="projection-type-unknown",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [
                    _gsi(
                        projection={
                            "projectionType": "INCLUDE",
                            "nonKeyAttributes": [f"a{i}" for i in range(101)],
                        }
                    )
                ],
            },
            "spec.globalSecondaryIndexes[0].projection.nonKeyAttributes: must have at most 100"
            " items (got 101)",
            id="include-too-many-attributes",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [
                    _gsi(
                        f"index{n}",
                        projection={
                            "projectionType": "INCLUDE",
                            "nonKeyAttributes": [f"a{i}" for i in range(60)],
                        },
                    )
                    for n in range(2)
                ],
            },
            "spec.globalSecondaryIndexes[1].projection.nonKeyAttributes: must keep the non-key"
            " attributes of all indexes at most 100 (got 120 up to here)",
            id="include-too-many-attributes-across-indexes",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL],
                "globalSecondaryIndexes": [_gsi(f"index{n}") for n in range(21)],
            },
            "spec.globalSecondaryIndexes: must have at most 20 items (got 21)",
            id="gsi-too-many",
        ),
        # local secondary indexes
        pytest.param(
            {"keySchema": [ID], "attributeDefinitions": [AGE], "localSecondaryIndexes": [_lsi()]},
            "spec.localSecondaryIndexes: need a table with a RANGE key (keySchema has HASH 'id'"
            " only)",
            id="lsi-on-a-hash-only-table",
        ),
        pytest.param(
            {
                "attributeDefinitions": [EMAIL, AGE],
                "localSecondaryIndexes": [
                    _lsi("byAge", _key("email", "HASH"), _key("age", "RANGE"))
                ],
            },
            "spec.localSecondaryIndexes[0].keySchema[0].attributeName: must be the table's HASH"
            " key 'id' (got 'email')",
            id="lsi-hash-not-the-tables",
        ),
        pytest.param(
            {"localSecondaryIndexes": [_lsi("byId", _key("id", "HASH"))]},
            "spec.localSecondaryIndexes[0].keySchema: must have a RANGE key (got HASH id)",
            id="lsi-without-range",
        ),
        pytest.param(
            {
                "attributeDefinitions": [AGE],
                "localSecondaryIndexes": [
                    _lsi(f"index{n}", _key("id", "HASH"), _key("age", "RANGE")) for n in range(6)
                ],
            },
            "spec.localSecondaryIndexes: must have at most 5 items (got 6)",
            id="lsi-too-many",
        ),
        pytest.param(
            {
                "attributeDefinitions": [AGE],
                "localSecondaryIndexes": [_lsi(provisionedThroughput=THROUGHPUT)],
            },
            "spec.localSecondaryIndexes[0].provisionedThroughput: unknown field"
            " (known fields: indexName, keySchema, projection)",
            id="lsi-with-throughput",
        ),
    ],
)
def test_index_rule(changes: dict[str, Any], expected: str) -> None:
    assert _problems(_manifest(**changes)) == [expected]


@pytest.mark.parametrize(
    "changes, expected",
    [
        pytest.param(
            {"triggers": [{"function": "on-change"}]},
            "spec.triggers: need stream.enabled true (got no stream)",
            id="trigger-without-stream",
        ),
        pytest.param(
            {"stream": {"enabled": False}, "triggers": [{"function": "on-change"}]},
            "spec.triggers: need stream.enabled true (got stream.enabled False)",
            id="trigger-with-stream-disabled",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "On_Change"}]},
            f"spec.triggers[0].function: {DNS_HINT} (got 'On_Change')",
            id="trigger-function-not-a-function-name",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": ""}]},
            "spec.triggers[0].function: is required (got '')",
            id="trigger-function-empty",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "a"}, {"function": "a", "batchSize": 5}]},
            "spec.triggers[1].function: is already the function of triggers[0] (got 'a')",
            id="trigger-function-twice",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "a", "onFailure": {"function": "DLQ"}}]},
            f"spec.triggers[0].onFailure.function: {DNS_HINT} (got 'DLQ')",
            id="on-failure-not-a-function-name",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "a", "onFailure": {}}]},
            "spec.triggers[0].onFailure.function: is required",
            id="on-failure-without-function",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"batchSize": 10}]},
            "spec.triggers[0].function: is required",
            id="trigger-without-function",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "a", "batchSize": 0}]},
            "spec.triggers[0].batchSize: must be between 1 and 10000 (got 0)",
            id="batch-size-zero",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "a", "batchSize": 10001}]},
            "spec.triggers[0].batchSize: must be between 1 and 10000 (got 10001)",
            id="batch-size-too-large",
        ),
        pytest.param(
            {
                "stream": STREAM,
                "triggers": [{"function": "a", "maximumBatchingWindowSeconds": 301}],
            },
            "spec.triggers[0].maximumBatchingWindowSeconds: must be between 0 and 300 (got 301)",
            id="batching-window-too-long",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "a", "startingPosition": "AT_TIMESTAMP"}]},
            "spec.triggers[0].startingPosition: must be one of TRIM_HORIZON, LATEST"
            " (got 'AT_TIMESTAMP')",
            id="starting-position-unknown",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "a", "maximumRetryAttempts": -2}]},
            "spec.triggers[0].maximumRetryAttempts: must be between -1 and 10000 (got -2)",
            id="retries-below-forever",
        ),
        pytest.param(
            {"stream": STREAM, "triggers": [{"function": "a", "bisectBatchOnFunctionError": 1}]},
            "spec.triggers[0].bisectBatchOnFunctionError: must be of type boolean (got int 1)",
            id="bisect-not-boolean",
        ),
    ],
)
def test_trigger_rule(changes: dict[str, Any], expected: str) -> None:
    assert _problems(_manifest(**changes)) == [expected]


@pytest.mark.parametrize(
    "metadata, expected",
    [
        pytest.param(
            {"name": "ab"},
            "metadata.name: must be at least 3 characters (got 'ab'); it is the table's name"
            " when spec.tableName is not set",
            id="name-too-short-for-a-table",
        ),
        pytest.param(None, "metadata.name: is required (got no metadata)", id="no-metadata"),
        pytest.param(
            {"name": "Users"}, f"metadata.name: {DNS_HINT} (got 'Users')", id="name-not-a-label"
        ),
    ],
)
def test_metadata_rule(metadata: Any, expected: str) -> None:
    assert _problems(_manifest(metadata)) == [expected]


def test_a_short_object_name_is_fine_with_a_table_name() -> None:
    assert table.compile_table(_manifest({"name": "ab"}, tableName="Users")).name == "Users"


def test_a_missing_spec_is_refused() -> None:
    manifest = {"kind": "Table", "metadata": {"name": "users"}}
    assert _problems(manifest) == ["spec: is required"]


def test_every_problem_is_reported_in_one_pass() -> None:
    manifest = _manifest(
        keySchema=[TS, ID],
        attributeDefinitions=[EMAIL, {"attributeName": "id", "attributeType": "N"}],
        billingMode="PROVISIONED",
        localSecondaryIndexes=[_lsi("byAge", _key("id", "HASH"))],
        triggers=[{"function": "x_y"}],
        tableClass="GLACIER",
    )
    assert [problem.split(":")[0] for problem in _problems(manifest)] == [
        "spec.tableClass",
        "spec.keySchema[0].keyType",
        "spec.attributeDefinitions[1].attributeType",
        "spec.localSecondaryIndexes[0].keySchema",
        "spec.attributeDefinitions[0].attributeName",
        "spec.provisionedThroughput",
        "spec.triggers",
        "spec.triggers[0].function",
    ]


def test_rules_skip_fields_the_schema_already_refused() -> None:
    """A keySchema with a broken element is not also refused for its HASH count."""
    manifest = _manifest(keySchema=[{**TS, "keyType": "SORT"}])
    assert _problems(manifest) == [
        "spec.keySchema[0].keyType: must be one of HASH, RANGE (got 'SORT')"
    ]


def test_compile_spec_paths_point_into_the_spec() -> None:
    """The gateway's CreateTable maps each problem's path back to its request field."""
    spec = {"keySchema": [TS], "stream": {"enabled": True}}
    with pytest.raises(table.InvalidTable) as info:
        table.compile_spec("default", "x", spec)
    assert [str(p) for p in info.value.problems] == [
        "spec.tableName: must be at least 3 characters (got 'x')",
        "spec.keySchema: must have exactly one HASH key (got keyTypes RANGE)",
        "spec.stream.viewType: is required when stream.enabled is true",
    ]


def test_compile_spec_of_a_spec_that_is_not_a_mapping() -> None:
    with pytest.raises(table.InvalidTable) as info:
        table.compile_spec("default", "Users", [])  # type: ignore[arg-type]
    assert [str(p) for p in info.value.problems] == ["spec: must be of type object (got list [])"]


@pytest.mark.parametrize(
    "change, expected",
    [
        pytest.param(
            {"tableName": "Other"},
            "spec.tableName: cannot change once the table exists (is 'users', got 'Other')",
            id="rename",
        ),
        pytest.param(
            {"keySchema": [ID]},
            "spec.keySchema: cannot change once the table exists"
            " (is [HASH id S, RANGE ts N], got [HASH id S])",
            id="key-schema",
        ),
        pytest.param(
            {
                "attributeDefinitions": [AGE],
                "localSecondaryIndexes": [_lsi()],
            },
            "spec.localSecondaryIndexes: cannot change once the table exists (is [], got [byAge])",
            id="local-index-added",
        ),
    ],
)
def test_what_a_table_cannot_change(change: dict[str, Any], expected: str) -> None:
    old = table.compile_table(_manifest()).spec
    new = table.compile_table(_manifest(**change)).spec
    assert [str(p) for p in table.check_change(old, new)] == [expected]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            {"attributeDefinitions": [EMAIL], "globalSecondaryIndexes": [_gsi()]}, id="gsi"
        ),
        pytest.param({"stream": STREAM}, id="stream"),
        pytest.param({"ttl": {"attributeName": "expiresAt"}}, id="ttl"),
        pytest.param(
            {"billingMode": "PROVISIONED", "provisionedThroughput": THROUGHPUT}, id="billing"
        ),
        pytest.param({"deletionPolicy": "Delete"}, id="deletion-policy"),
    ],
)
def test_what_a_table_can_change(change: dict[str, Any]) -> None:
    old = table.compile_table(_manifest()).spec
    assert table.check_change(old, table.compile_table(_manifest(**change)).spec) == []
