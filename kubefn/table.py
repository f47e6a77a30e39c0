"""The Table resource: its schema, its rules beyond the schema, and its compile step.

The vocabulary is DynamoDB's (camelCase), so a CreateTable request maps onto a
spec field by field: the gateway builds a spec from one and calls
`compile_spec`, the operator and `kubefn dev` call `compile_table` on a
manifest. What both return is exactly what the data plane reads from Redis
(kind `Table`, key `<namespace>/<tableName>`, see kubefn.config).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubefn import config, function
from kubefn.schema import Problem, Schema, prune_nulls, show, validate

KIND = "Table"

ATTRIBUTE_TYPES = ("S", "N", "B")
HASH, RANGE = "HASH", "RANGE"
PAY_PER_REQUEST, PROVISIONED = "PAY_PER_REQUEST", "PROVISIONED"
INCLUDE = "INCLUDE"
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
GSI_MAX = 20
LSI_MAX = 5
NON_KEY_ATTRIBUTES_MAX = 100
"""Across all of a table's secondary indexes, as DynamoDB counts them."""

_NAME: Schema = {
    "type": "string",
    "minLength": 3,
    "maxLength": 255,
    "pattern": r"^[a-zA-Z0-9_.\-]+$",
    "x-kubefn-pattern-hint": "must be letters, digits, '_', '.' and '-' only",
}
"""DynamoDB's rule for table and index names."""

_ATTRIBUTE_NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 255}

_THROUGHPUT: Schema = {
    "type": "object",
    "required": ["readCapacityUnits", "writeCapacityUnits"],
    "properties": {
        "readCapacityUnits": {"type": "integer", "minimum": 1},
        "writeCapacityUnits": {"type": "integer", "minimum": 1},
    },
}


def _index(*, throughput: bool, max_items: int) -> Schema:
    properties: dict[str, Any] = {
        "indexName": _NAME,
        "keySchema": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {
                "type": "object",
                "required": ["attributeName", "keyType"],
                "properties": {
                    "attributeName": _ATTRIBUTE_NAME,
                    "keyType": {"type": "string", "enum": [HASH, RANGE]},
                },
            },
        },
        "projection": {
            "type": "object",
            "required": ["projectionType"],
            "properties": {
                "projectionType": {"type": "string", "enum": ["ALL", "KEYS_ONLY", INCLUDE]},
                "nonKeyAttributes": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": NON_KEY_ATTRIBUTES_MAX,
                    "items": _ATTRIBUTE_NAME,
                },
            },
        },
    }
    if throughput:
        properties["provisionedThroughput"] = _THROUGHPUT
    return {
        "type": "array",
        "maxItems": max_items,
        "items": {
            "type": "object",
            "required": ["indexName", "keySchema", "projection"],
            "properties": properties,
        },
    }


_FUNCTION_REF: Schema = {"type": "string"}
"""A Function's name; checked by kubefn.function.check_name, so the message is Function's."""

TRIGGER_DEFAULTS: Mapping[str, Any] = {
    "batchSize": 100,
    "maximumBatchingWindowSeconds": 0,
    "startingPosition": "LATEST",
    "maximumRetryAttempts": -1,
    "bisectBatchOnFunctionError": False,
}

SPEC_SCHEMA: Schema = {
    "type": "object",
    "required": ["keySchema"],
    "properties": {
        "tableName": _NAME,
        "keySchema": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {
                "type": "object",
                "required": ["attributeName", "attributeType", "keyType"],
                "properties": {
                    "attributeName": _ATTRIBUTE_NAME,
                    "attributeType": {"type": "string", "enum": list(ATTRIBUTE_TYPES)},
                    "keyType": {"type": "string", "enum": [HASH, RANGE]},
                },
            },
        },
        "attributeDefinitions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["attributeName", "attributeType"],
                "properties": {
                    "attributeName": _ATTRIBUTE_NAME,
                    "attributeType": {"type": "string", "enum": list(ATTRIBUTE_TYPES)},
                },
            },
        },
        "billingMode": {
            "type": "string",
            "enum": [PAY_PER_REQUEST, PROVISIONED],
            "default": PAY_PER_REQUEST,
        },
        "provisionedThroughput": _THROUGHPUT,
        "ttl": {
            "type": "object",
            "required": ["attributeName"],
            "properties": {"attributeName": _ATTRIBUTE_NAME},
        },
        "stream": {
            "type": "object",
            "required": ["enabled"],
            "properties": {
                "enabled": {"type": "boolean"},
                "viewType": {"type": "string", "enum": list(STREAM_VIEW_TYPES)},
            },
        },
        "globalSecondaryIndexes": _index(throughput=True, max_items=GSI_MAX),
        "localSecondaryIndexes": _index(throughput=False, max_items=LSI_MAX),
        "tableClass": {
            "type": "string",
            "enum": ["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
            "default": "STANDARD",
        },
        "deletionPolicy": {"type": "string", "enum": ["Retain", "Delete"], "default": "Retain"},
        "triggers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["function"],
                "properties": {
                    "function": _FUNCTION_REF,
                    "batchSize": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 10000,
                        "default": TRIGGER_DEFAULTS["batchSize"],
                    },
                    "maximumBatchingWindowSeconds": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 300,
                        "default": TRIGGER_DEFAULTS["maximumBatchingWindowSeconds"],
                    },
                    "startingPosition": {
                        "type": "string",
                        "enum": ["TRIM_HORIZON", "LATEST"],
                        "default": TRIGGER_DEFAULTS["startingPosition"],
                    },
                    "maximumRetryAttempts": {
                        "type": "integer",
                        "minimum": -1,
                        "maximum": 10000,
                        "default": TRIGGER_DEFAULTS["maximumRetryAttempts"],
                    },
                    "bisectBatchOnFunctionError": {
                        "type": "boolean",
                        "default": TRIGGER_DEFAULTS["bisectBatchOnFunctionError"],
                    },
                    "onFailure": {
                        "type": "object",
                        "required": ["function"],
                        "properties": {"function": _FUNCTION_REF},
                    },
                },
            },
        },
    },
}

STATUS_SCHEMA: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


@dataclass(frozen=True)
class CompiledTable:
    """A validated Table as the data plane serves it.

    `name` is the table's name in the DynamoDB API (`spec.tableName`), which is
    not always the Kubernetes object's name; `spec` has every default filled in.
    """

    namespace: str
    name: str
    spec: dict[str, Any]
    bundle: bytes | None = None
    """Always None: a table has no code. Here for kubefn.config.Compiled."""

    @property
    def kind(self) -> str:
        return KIND

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def digest(self) -> str:
        return config.spec_digest(self.spec)


class InvalidTable(ValueError):
    """A Table manifest (or CreateTable request) that breaks rules; `problems` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def check_spec(spec: Any, path: str = "spec") -> list[Problem]:
    """Every problem with a Table spec: the schema's and DynamoDB's rules beyond it.

    The rules run on every part the schema found sound, so one pass reports
    every problem (as kubefn.function.check_spec does).
    """
    spec = prune_nulls(spec, SPEC_SCHEMA)
    problems = validate(spec, SPEC_SCHEMA, path=path)
    if isinstance(spec, Mapping):
        problems += _Rules(spec, path=path, broken={p.path for p in problems}).check()
    return problems


def check_name(name: Any, *, path: str) -> list[Problem]:
    """A table name by DynamoDB's rule (3-255 of letters, digits, '_', '.', '-')."""
    return validate(name, _NAME, path=path)


class _Rules:
    """DynamoDB's rules that a schema cannot say: keys, types, indexes, billing, triggers."""

    def __init__(self, spec: Mapping[str, Any], *, path: str, broken: set[str]) -> None:
        self.spec, self.path, self.broken = spec, path, broken
        self.problems: list[Problem] = []
        self.defined: dict[str, str] = {}
        """Attribute name -> where attributeDefinitions first defines it."""

    def sound(self, relative: str) -> bool:
        """Whether the field at `relative` (below the spec) has no schema problem in it."""
        at = f"{self.path}.{relative}"
        return not any(p == at or p.startswith((f"{at}.", f"{at}[")) for p in self.broken)

    def items(self, name: str) -> list[tuple[str, Mapping[str, Any]]]:
        """(relative path, item) for each sound item of the list field `name`."""
        value = self.spec.get(name)
        if not isinstance(value, list):
            return []
        listed = [(f"{name}[{i}]", item) for i, item in enumerate(value)]
        return [(where, item) for where, item in listed if self.sound(where)]

    def refuse(self, relative: str, message: str) -> None:
        self.problems.append(Problem(f"{self.path}.{relative}", message))

    def check(self) -> list[Problem]:
        table_key = self.key_schema()
        types = self.attribute_types(table_key)
        self.indexes(table_key, types)
        self.billing()
        self.triggers()
        return self.problems

    def key_schema(self) -> list[Mapping[str, Any]] | None:
        """The table's key elements, when sound; their own rules checked."""
        key = self.spec.get("keySchema")
        if not isinstance(key, list) or not self.sound("keySchema"):
            return None
        self.key_rules(key, where="keySchema")
        return key

    def key_rules(self, key: Sequence[Mapping[str, Any]], *, where: str) -> None:
        """One HASH key, listed first; at most one RANGE key; no attribute twice."""
        kinds = [element["keyType"] for element in key]
        got = ", ".join(kinds)
        if kinds.count(HASH) != 1:
            self.refuse(where, f"must have exactly one HASH key (got keyTypes {got})")
        elif kinds[0] != HASH:
            self.refuse(
                f"{where}[0].keyType", f"must be HASH: the HASH key comes first (got {got})"
            )
        if kinds.count(RANGE) > 1:
            self.refuse(where, f"must have at most one RANGE key (got keyTypes {got})")
        seen: dict[str, int] = {}
        for i, element in enumerate(key):
            name = element["attributeName"]
            if name in seen:
                self.refuse(
                    f"{where}[{i}].attributeName",
                    f"is already the key attribute of {where}[{seen[name]}] (got {show(name)})",
                )
            seen.setdefault(name, i)

    def attribute_types(self, table_key: list[Mapping[str, Any]] | None) -> dict[str, str] | None:
        """Attribute name -> type, from keySchema and attributeDefinitions; None if unsound."""
        types = {e["attributeName"]: e["attributeType"] for e in reversed(table_key or [])}
        defined: dict[str, str] = {}
        for where, item in self.items("attributeDefinitions"):
            name, kind = item["attributeName"], item["attributeType"]
            if name in defined:
                self.refuse(
                    f"{where}.attributeName",
                    f"is already defined by {defined[name]} (got {show(name)})",
                )
                continue
            defined[name] = where
            if name in types and types[name] != kind:
                self.refuse(
                    f"{where}.attributeType",
                    f"must be {types[name]}, the type keySchema gives {show(name)} "
                    f"(got {show(kind)})",
                )
                continue
            types.setdefault(name, kind)
        self.defined = defined
        if table_key is None or not self.sound("attributeDefinitions"):
            return None
        return types

    def indexes(
        self, table_key: list[Mapping[str, Any]] | None, types: dict[str, str] | None
    ) -> None:
        """Index keys and names, projections, and the attribute definitions indexes use."""
        used = {e["attributeName"] for e in table_key or []}
        names: dict[str, str] = {}
        non_key = 0
        hashes = [e["attributeName"] for e in table_key or [] if e["keyType"] == HASH]
        table_hash = hashes[0] if len(hashes) == 1 else None
        table_range = next(
            (e["attributeName"] for e in table_key or [] if e["keyType"] == RANGE), None
        )
        local = self.items("localSecondaryIndexes")
        if local and table_key is not None and table_range is None:
            self.refuse(
                "localSecondaryIndexes",
                f"need a table with a RANGE key (keySchema has HASH {show(table_hash)} only)",
            )
        every = [(where, index, False) for where, index in self.items("globalSecondaryIndexes")]
        every += [(where, index, True) for where, index in local]
        for where, index, is_local in every:
            name = index["indexName"]
            if name in names:
                self.refuse(
                    f"{where}.indexName", f"is already the name of {names[name]} (got {show(name)})"
                )
            names.setdefault(name, where)
            key = index["keySchema"]
            self.key_rules(key, where=f"{where}.keySchema")
            for j, element in enumerate(key):
                attribute = element["attributeName"]
                used.add(attribute)
                if types is not None and attribute not in types:
                    self.refuse(
                        f"{where}.keySchema[{j}].attributeName",
                        f"has no type: define it in attributeDefinitions (got {show(attribute)})",
                    )
            if is_local:
                self.local_key(where, key, table_hash=table_hash)
            projection = index["projection"]
            kind, attributes = projection["projectionType"], projection.get("nonKeyAttributes")
            if kind == INCLUDE and attributes is None:
                self.refuse(
                    f"{where}.projection.nonKeyAttributes", "is required for projectionType INCLUDE"
                )
            elif kind != INCLUDE and attributes is not None:
                self.refuse(
                    f"{where}.projection.nonKeyAttributes",
                    f"is only for projectionType INCLUDE (got projectionType {show(kind)})",
                )
            elif attributes is not None:
                non_key += len(attributes)
                if (
                    non_key > NON_KEY_ATTRIBUTES_MAX
                    and non_key - len(attributes) <= NON_KEY_ATTRIBUTES_MAX
                ):
                    self.refuse(
                        f"{where}.projection.nonKeyAttributes",
                        f"must keep the non-key attributes of all indexes at most "
                        f"{NON_KEY_ATTRIBUTES_MAX} (got {non_key} up to here)",
                    )
        all_indexes_sound = self.sound("globalSecondaryIndexes") and self.sound(
            "localSecondaryIndexes"
        )
        if types is not None and all_indexes_sound:
            for name, where in self.defined.items():
                if name not in used:
                    self.refuse(
                        f"{where}.attributeName",
                        "is not a key attribute of the table or of an index; DynamoDB refuses "
                        f"unused definitions (got {show(name)})",
                    )

    def local_key(self, where: str, key: Sequence[Mapping[str, Any]], *, table_hash: Any) -> None:
        """A local index shares the table's HASH key and sorts by a RANGE key of its own."""
        first = key[0]
        if (
            table_hash is not None
            and first["keyType"] == HASH
            and first["attributeName"] != table_hash
        ):
            self.refuse(
                f"{where}.keySchema[0].attributeName",
                f"must be the table's HASH key {show(table_hash)} "
                f"(got {show(first['attributeName'])})",
            )
        if all(element["keyType"] != RANGE for element in key):
            got = ", ".join(f"{e['keyType']} {e['attributeName']}" for e in key)
            self.refuse(f"{where}.keySchema", f"must have a RANGE key (got {got})")

    def billing(self) -> None:
        """Provisioned throughput exactly when billing is PROVISIONED."""
        if not self.sound("billingMode"):
            return
        mode = self.spec.get("billingMode", PAY_PER_REQUEST)
        if mode == PROVISIONED and "provisionedThroughput" not in self.spec:
            self.refuse("provisionedThroughput", "is required for billingMode PROVISIONED")
        places = [""] if "provisionedThroughput" in self.spec else []
        places += [
            f"{where}." for where, index in self.items("globalSecondaryIndexes")
            if "provisionedThroughput" in index
        ]  # fmt: skip
        if mode != PROVISIONED:
            for place in places:
                self.refuse(
                    f"{place}provisionedThroughput",
                    f"is only for billingMode PROVISIONED (got billingMode {show(mode)})",
                )

    def triggers(self) -> None:
        """Triggers read the stream, call valid Function names, each Function once."""
        stream = self.spec.get("stream")
        stream = stream if isinstance(stream, Mapping) else {}
        enabled = stream.get("enabled") is True
        if enabled and self.sound("stream") and "viewType" not in stream:
            self.refuse("stream.viewType", "is required when stream.enabled is true")
        triggers = self.spec.get("triggers")
        if isinstance(triggers, list) and triggers and self.sound("stream") and not enabled:
            got = f"stream.enabled {show(stream['enabled'])}" if stream else "no stream"
            self.refuse("triggers", f"need stream.enabled true (got {got})")
        seen: dict[str, str] = {}
        for where, trigger in self.items("triggers"):
            name = trigger["function"]
            self.problems += function.check_name(name, path=f"{self.path}.{where}.function")
            if name in seen:
                self.refuse(
                    f"{where}.function",
                    f"is already the function of {seen[name]} (got {show(name)})",
                )
            seen.setdefault(name, where)
            if "onFailure" in trigger:
                failure = trigger["onFailure"]["function"]
                self.problems += function.check_name(
                    failure, path=f"{self.path}.{where}.onFailure.function"
                )


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
    """Whether withdrawing the table (as `spec` says) deletes its items too."""
    return isinstance(spec, Mapping) and spec.get("deletionPolicy") == "Delete"


def stream_arn(*, region: str, account_id: str, table_name: str, label: str) -> str:
    """A table stream's id as DynamoDB spells it (LatestStreamArn)."""
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{table_name}/stream/{label}"
