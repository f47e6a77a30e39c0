"""A validator for the structural OpenAPI v3 subset that CRD schemas use.

The CRD YAML in crds/ is generated from the same schema objects (kubefn.crds),
so the Kubernetes API server and `kubefn dev` refuse the same manifests. Every
problem names the field path, the rule and the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, and what is wrong (rule and value)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class Invalid(ValueError):
    """A manifest (of any kind) that breaks rules; `problems` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def show(value: Any, *, limit: int = 60) -> str:
    """A short, unambiguous rendering of a value for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(value: Any, schema: Schema, *, path: str) -> list[Problem]:
    """All problems of `value` against `schema`; an empty list means valid."""
    return list(_validate(value, schema, path))


def prune_nulls(value: Any, schema: Schema | None) -> Any:
    """`value` as the API server stores it: object fields that are null but not nullable dropped.

    Kubernetes prunes such nulls before defaulting (and a default then takes their
    place), so `memoryMB: null` means the default and `handler: null` means no
    handler. Nulls in arrays and in unknown fields stay, and fail validation.
    """
    if schema is None:
        return value
    if isinstance(value, Mapping):
        properties: Mapping[str, Schema] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        result: dict[Any, Any] = {}
        for key, item in value.items():
            child = properties.get(key, extra if isinstance(extra, Mapping) else None)
            if item is None and child is not None and not child.get("nullable", False):
                continue
            result[key] = prune_nulls(item, child)
        return result
    if isinstance(value, list):
        return [prune_nulls(item, schema.get("items")) for item in value]
    return value


def _type_ok(value: Any, expected: str) -> bool:
    if isinstance(value, bool) and expected in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[expected])


def _validate(value: Any, schema: Schema, path: str) -> Iterator[Problem]:
    if value is None:
        if not schema.get("nullable", False):
            yield Problem(path, "must not be null")
        return
    expected = schema.get("type")
    if expected and not _type_ok(value, expected):
        got = f"{type(value).__name__} {show(value)}"
        yield Problem(path, f"must be of type {expected} (got {got})")
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        yield Problem(path, f"must be one of {allowed} (got {show(value)})")
    if expected in ("integer", "number"):
        yield from _number(value, schema, path)
    elif expected == "string":
        yield from _string(value, schema, path)
    elif expected == "array":
        yield from _array(value, schema, path)
    elif expected == "object":
        yield from _object(value, schema, path)


def _number(value: float, schema: Schema, path: str) -> Iterator[Problem]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None and not low <= value <= high:
        yield Problem(path, f"must be between {low} and {high} (got {show(value)})")
    elif low is not None and value < low:
        yield Problem(path, f"must be at least {low} (got {show(value)})")
    elif high is not None and value > high:
        yield Problem(path, f"must be at most {high} (got {show(value)})")


def _string(value: str, schema: Schema, path: str) -> Iterator[Problem]:
    if "minLength" in schema and len(value) < schema["minLength"]:
        yield Problem(
            path, f"must be at least {schema['minLength']} characters (got {show(value)})"
        )
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        yield Problem(
            path, f"must be at most {schema['maxLength']} characters (got {len(value)} characters)"
        )
    if "pattern" in schema and not re.search(schema["pattern"], value):
        hint = schema.get("x-kubefn-pattern-hint", f"must match {schema['pattern']}")
        yield Problem(path, f"{hint} (got {show(value)})")


def _array(value: list[Any], schema: Schema, path: str) -> Iterator[Problem]:
    if "minItems" in schema and len(value) < schema["minItems"]:
        yield Problem(path, f"must have at least {schema['minItems']} items (got {len(value)})")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        yield Problem(path, f"must have at most {schema['maxItems']} items (got {len(value)})")
    items = schema.get("items")
    if items:
        for index, item in enumerate(value):
            yield from _validate(item, items, f"{path}[{index}]")


def _object(value: Mapping[str, Any], schema: Schema, path: str) -> Iterator[Problem]:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for name in schema.get("required", ()):
        if name not in value:
            yield Problem(f"{path}.{name}", "is required")
    got = ", ".join(sorted(str(key) for key in value)) or "none"
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        hint = schema.get(
            "x-kubefn-count-hint", f"must have at least {schema['minProperties']} entries"
        )
        yield Problem(path, f"{hint} (got {got})")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        hint = schema.get(
            "x-kubefn-count-hint", f"must have at most {schema['maxProperties']} entries"
        )
        yield Problem(path, f"{hint} (got {got})")
    for key, item in value.items():
        child = f"{path}.{key}"
        if not isinstance(key, str):
            # YAML reads `1:` or `ON:` as a number or a boolean, never as the name typed.
            yield Problem(child, f"field name must be a string; quote it (got {show(key)})")
        elif key in properties:
            yield from _validate(item, properties[key], child)
        elif isinstance(extra, Mapping):
            if "x-kubefn-key-pattern" in schema and not re.search(
                schema["x-kubefn-key-pattern"], key
            ):
                yield Problem(child, f"{schema['x-kubefn-key-hint']} (got {show(key)})")
            yield from _validate(item, extra, child)
        elif not schema.get("x-kubernetes-preserve-unknown-fields", False):
            known = ", ".join(sorted(properties)) or "none"
            yield Problem(child, f"unknown field (known fields: {known})")


def kubernetes_schema(schema: Schema) -> dict[str, Any]:
    """The schema as the API server takes it: kubefn's own `x-kubefn-*` hints removed."""
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-kubefn-"):
            continue
        if isinstance(value, Mapping):
            result[key] = (
                kubernetes_schema(value)
                if key in ("items", "additionalProperties")
                else {k: kubernetes_schema(v) for k, v in value.items()}
                if key == "properties"
                else dict(value)
            )
        else:
            result[key] = value
    return result
