"""DynamoDB's rules for a Table spec that a schema cannot say: keys, types, indexes,
billing, triggers.

Run by kubefn.table.check_spec after the schema, on every part the schema found
sound, so one pass reports every problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubefn import function
from kubefn.schema import Problem, show
from kubefn.table_schema import (
    HASH,
    INCLUDE,
    NON_KEY_ATTRIBUTES_MAX,
    PAY_PER_REQUEST,
    PROVISIONED,
    RANGE,
)


def check(spec: Mapping[str, Any], *, path: str, broken: set[str]) -> list[Problem]:
    """Every rule-breaking problem of `spec`; fields at or below a `broken` path are skipped."""
    return _Rules(spec, path=path, broken=broken).check()


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
