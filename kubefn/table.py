"""The Table resource: its compile step, and what a change of an existing table may touch.

The vocabulary is DynamoDB's (camelCase), so a CreateTable request maps onto a
spec field by field: the gateway builds a spec from one and calls
`compile_spec`, the operator and `kubefn dev` call `compile_table` on a
manifest. What both return is exactly what the data plane reads from Redis
(kind `Table`, key `<namespace>/<tableName>`, see kubefn.config).

The schema and its constants live in kubefn.table_schema, the rules beyond the
schema in kubefn.table_rules; both are re-exported here, the one public surface.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubefn import config, function, table_rules
from kubefn.schema import Invalid, Problem, prune_nulls, show, validate
from kubefn.table_schema import (
    ATTRIBUTE_TYPES,
    GSI_MAX,
    HASH,
    INCLUDE,
    KIND,
    LSI_MAX,
    NAME,
    NON_KEY_ATTRIBUTES_MAX,
    PAY_PER_REQUEST,
    PROVISIONED,
    RANGE,
    SPEC_SCHEMA,
    STATUS_SCHEMA,
    STREAM_VIEW_TYPES,
    TRIGGER_DEFAULTS,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "GSI_MAX",
    "HASH",
    "IMMUTABLE",
    "INCLUDE",
    "KIND",
    "LSI_MAX",
    "NON_KEY_ATTRIBUTES_MAX",
    "PAY_PER_REQUEST",
    "PROVISIONED",
    "RANGE",
    "SPEC_SCHEMA",
    "STATUS_SCHEMA",
    "STREAM_VIEW_TYPES",
    "TRIGGER_DEFAULTS",
    "CompiledTable",
    "InvalidTable",
    "check_change",
    "check_name",
    "check_spec",
    "compile_spec",
    "compile_table",
    "deletes_items",
    "stream_arn",
    "table_name",
    "with_defaults",
]


@dataclass(frozen=True)
class CompiledTable(config.CompiledResource):
    """A validated Table as the data plane serves it.

    `name` is the table's name in the DynamoDB API (`spec.tableName`), which is
    not always the Kubernetes object's name; `spec` has every default filled in.
    """

    @property
    def kind(self) -> str:
        return KIND


class InvalidTable(Invalid):
    """A Table manifest (or CreateTable request) that breaks rules; `problems` lists every one."""


def check_spec(spec: Any, path: str = "spec") -> list[Problem]:
    """Every problem with a Table spec: the schema's and DynamoDB's rules beyond it.

    The rules run on every part the schema found sound, so one pass reports
    every problem (as kubefn.function.check_spec does).
    """
    spec = prune_nulls(spec, SPEC_SCHEMA)
    problems = validate(spec, SPEC_SCHEMA, path=path)
    if isinstance(spec, Mapping):
        problems += table_rules.check(spec, path=path, broken={p.path for p in problems})
    return problems


def check_name(name: Any, *, path: str) -> list[Problem]:
    """A table name by DynamoDB's rule (3-255 of letters, digits, '_', '.', '-')."""
    return validate(name, NAME, path=path)


def with_defaults(spec: Mapping[str, Any], *, table_name: str) -> dict[str, Any]:
    """A valid spec in its compiled form: every default filled in, every type listed."""
    result = dict(spec)
    for name, prop in SPEC_SCHEMA["properties"].items():
        if "default" in prop and name not in result:
            result[name] = prop["default"]
    result["tableName"] = table_name
    key = [dict(e) for e in spec["keySchema"]]
    result["keySchema"] = key
    types = {e["attributeName"]: e["attributeType"] for e in key}
    for item in spec.get("attributeDefinitions") or []:
        types.setdefault(item["attributeName"], item["attributeType"])
    result["attributeDefinitions"] = [
        {"attributeName": name, "attributeType": types[name]} for name in sorted(types)
    ]
    stream = spec.get("stream") or {"enabled": False}
    # A disabled stream has no view type: the same table, whatever was left behind.
    result["stream"] = dict(stream) if stream["enabled"] else {"enabled": False}
    throughput = spec.get("provisionedThroughput")
    result["globalSecondaryIndexes"] = [
        _index_defaults(index, throughput=throughput)
        for index in spec.get("globalSecondaryIndexes") or []
    ]
    result["localSecondaryIndexes"] = [
        _index_defaults(index, throughput=None) for index in spec.get("localSecondaryIndexes") or []
    ]
    result["triggers"] = [{**TRIGGER_DEFAULTS, **t} for t in spec.get("triggers") or []]
    return result


def _index_defaults(index: Mapping[str, Any], *, throughput: Any) -> dict[str, Any]:
    """An index with its projection copied; a GSI of a PROVISIONED table has the table's
    throughput unless it has its own (DynamoDB would require one)."""
    result = {**index, "keySchema": [dict(e) for e in index["keySchema"]]}
    result["projection"] = dict(index["projection"])
    if throughput is not None:
        result.setdefault("provisionedThroughput", dict(throughput))
    return result


def compile_spec(namespace: str, name: str, spec: Mapping[str, Any]) -> CompiledTable:
    """Validate a spec (e.g. built from a CreateTable request) and compile it.

    `name` is the table's name when the spec has no `tableName` (a manifest's
    metadata.name). Raises InvalidTable; every problem's path starts with `spec`.
    """
    problems = check_spec(spec)
    if not isinstance(spec, Mapping) or spec.get("tableName") is None:
        problems = check_name(name, path="spec.tableName") + problems
    if problems:
        raise InvalidTable(problems)
    return _compiled(namespace, name, spec)


def _compiled(namespace: str, name: str, spec: Mapping[str, Any]) -> CompiledTable:
    pruned = prune_nulls(spec, SPEC_SCHEMA)
    table_name = pruned.get("tableName") or name
    return CompiledTable(
        namespace=namespace,
        name=table_name,
        spec=with_defaults(pruned, table_name=table_name),
    )


def compile_table(manifest: Mapping[str, Any]) -> CompiledTable:
    """Validate a Table manifest and compile it; raises InvalidTable listing every problem.

    Without `spec.tableName` the table takes the object's name, which must then
    also be a valid DynamoDB table name (at least 3 characters).
    """
    metadata = manifest.get("metadata")
    problems = function.check_metadata(metadata)
    spec = manifest.get("spec")
    if spec is None:
        problems.append(Problem("spec", "is required"))
    else:
        problems += check_spec(spec)
    named = isinstance(spec, Mapping) and spec.get("tableName") is not None
    if isinstance(metadata, Mapping) and not named and not _problems_at(problems, "metadata.name"):
        problems += [
            Problem(p.path, f"{p.message}; it is the table's name when spec.tableName is not set")
            for p in check_name(metadata.get("name"), path="metadata.name")
        ]
    if problems:
        raise InvalidTable(problems)
    assert isinstance(metadata, Mapping) and isinstance(spec, Mapping)
    return _compiled(metadata.get("namespace") or "default", metadata["name"], spec)


def _problems_at(problems: Sequence[Problem], path: str) -> list[Problem]:
    """The problems at `path` or below it."""
    return [p for p in problems if p.path == path or p.path.startswith((f"{path}.", f"{path}["))]


def table_name(manifest: Mapping[str, Any]) -> str | None:
    """The table a manifest names, valid or not: spec.tableName, else metadata.name."""
    spec, metadata = manifest.get("spec"), manifest.get("metadata")
    named = spec.get("tableName") if isinstance(spec, Mapping) else None
    if isinstance(named, str) and named:
        return named
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) and name else None


IMMUTABLE = ("tableName", "keySchema", "localSecondaryIndexes")
"""What DynamoDB never changes on an existing table: its data is laid out by them."""


def check_change(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str = "spec"
) -> list[Problem]:
    """Problems of replacing the compiled spec `old` (whose table may hold items) with `new`."""
    problems = []
    for name in IMMUTABLE:
        if _layout(old.get(name), name) != _layout(new.get(name), name):
            problems.append(
                Problem(
                    f"{path}.{name}",
                    f"cannot change once the table exists (is {_brief(old.get(name))}, "
                    f"got {_brief(new.get(name))})",
                )
            )
    return problems


def _layout(value: Any, name: str) -> Any:
    if name == "localSecondaryIndexes":  # their projections and order do not move items
        return sorted((i["indexName"], json.dumps(i["keySchema"])) for i in value or [])
    return value


def _brief(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
        return "[" + ", ".join(_brief(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if "indexName" in value:
            return str(value["indexName"])
        parts: Iterator[str] = (
            str(value.get(k)) for k in ("keyType", "attributeName", "attributeType") if k in value
        )
        return " ".join(parts)
    return show(value)


def deletes_items(spec: Any) -> bool:
    """Whether withdrawing the table (as `spec` says) deletes its items too: never while
    deletion protection is on."""
    return (
        isinstance(spec, Mapping)
        and spec.get("deletionPolicy") == "Delete"
        and not spec.get("deletionProtectionEnabled", False)
    )


def stream_arn(*, region: str, account_id: str, table_name: str, label: str) -> str:
    """A table stream's id as DynamoDB spells it (LatestStreamArn)."""
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{table_name}/stream/{label}"
