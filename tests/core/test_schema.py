"""The structural-schema validator itself, and that no input crashes the Function checks."""

from __future__ import annotations

from typing import Any

import pytest

from kubefn import crds, function, resources, schema

INTEGER = {"type": "integer", "minimum": 1, "maximum": 9}
OBJECT = {
    "type": "object",
    "required": ["a"],
    "properties": {"a": {"type": "string"}, "b": {"type": "integer", "nullable": True}},
}


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param(0, "x: must be between 1 and 9 (got 0)", id="below"),
        pytest.param(10, "x: must be between 1 and 9 (got 10)", id="above"),
        pytest.param(False, "x: must be of type integer (got bool False)", id="bool"),
        pytest.param(1.0, "x: must be of type integer (got float 1.0)", id="float"),
        pytest.param("1", "x: must be of type integer (got str '1')", id="string"),
        pytest.param(None, "x: must not be null", id="null"),
    ],
)
def test_integer_problems(value: Any, expected: str) -> None:
    assert [str(p) for p in schema.validate(value, INTEGER, path="x")] == [expected]


@pytest.mark.parametrize("value", [1, 5, 9])
def test_integer_in_bounds_is_valid(value: int) -> None:
    assert schema.validate(value, INTEGER, path="x") == []


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param({}, ["x.a: is required"], id="required"),
        pytest.param({"a": "s", "c": 1}, ["x.c: unknown field (known fields: a, b)"], id="unknown"),
        pytest.param({"a": 1}, ["x.a: must be of type string (got int 1)"], id="nested-type"),
        pytest.param({"a": "s", "b": None}, [], id="nullable-null"),
        pytest.param(
            {"a": "s", 2: "t"},
            ["x.2: field name must be a string; quote it (got 2)"],
            id="key-not-a-string",
        ),
    ],
)
def test_object_problems(value: Any, expected: list[str]) -> None:
    assert [str(p) for p in schema.validate(value, OBJECT, path="x")] == expected


@pytest.mark.parametrize(
    "value, pruned",
    [
        pytest.param({"a": None, "b": None}, {"b": None}, id="non-nullable-dropped"),
        pytest.param({"a": "s", "c": None}, {"a": "s", "c": None}, id="unknown-field-kept"),
        pytest.param([None], [None], id="list-item-kept"),
        pytest.param("s", "s", id="scalar"),
    ],
)
def test_prune_nulls(value: Any, pruned: Any) -> None:
    assert schema.prune_nulls(value, OBJECT) == pruned


def test_prune_nulls_does_not_change_its_input() -> None:
    value = {"a": None}
    schema.prune_nulls(value, OBJECT)
    assert value == {"a": None}


@pytest.mark.parametrize(
    "value, shown",
    [
        pytest.param("abc", "'abc'", id="string-quoted"),
        pytest.param(1, "1", id="int"),
        pytest.param("x" * 100, "'" + "x" * 56 + "...", id="long-cut-to-60"),
    ],
)
def test_show(value: Any, shown: str) -> None:
    assert schema.show(value) == shown


def _keys(tree: Any) -> set[str]:
    if isinstance(tree, dict):
        return set(tree) | {k for value in tree.values() for k in _keys(value)}
    if isinstance(tree, list):
        return {k for value in tree for k in _keys(value)}
    return set()


def test_crd_carries_no_kubefn_hints() -> None:
    definition = crds.definition(resources.FUNCTION)
    assert not {key for key in _keys(definition) if key.startswith("x-kubefn-")}


def test_crd_spec_schema_is_the_function_schema() -> None:
    version = crds.definition(resources.FUNCTION)["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec == schema.kubernetes_schema(function.SPEC_SCHEMA)


# Robustness: whatever a manifest holds, the checks answer with problems, never a crash.

ODD_VALUES = [
    pytest.param(None, id="null"),
    pytest.param(True, id="bool"),
    pytest.param(0, id="zero"),
    pytest.param(-1, id="negative"),
    pytest.param(1.5, id="float"),
    pytest.param("", id="empty-string"),
    pytest.param("x", id="string"),
    pytest.param([], id="empty-list"),
    pytest.param([None], id="list-of-null"),
    pytest.param({}, id="empty-map"),
    pytest.param({"a": None}, id="map-of-null"),
    pytest.param({1: 2}, id="map-int-key"),
    pytest.param({"image": "x", "command": 1}, id="map-mixed"),
]


@pytest.mark.parametrize("value", ODD_VALUES)
@pytest.mark.parametrize("field", [*function.SPEC_SCHEMA["properties"], "unknown"])
def test_odd_spec_value_never_crashes(field: str, value: Any) -> None:
    spec = {"runtime": "python3.11", "handler": "app.handler", "code": {"inline": {"a.py": ""}}}
    manifest = {"metadata": {"name": "hello"}, "spec": {**spec, field: value}}
    try:
        function.compile_function(manifest)
    except function.InvalidFunction as exc:
        assert exc.problems


@pytest.mark.parametrize("value", ODD_VALUES)
@pytest.mark.parametrize("field", ["name", "namespace"])
def test_odd_metadata_value_never_crashes(field: str, value: Any) -> None:
    spec = {"runtime": "python3.11", "handler": "app.handler", "code": {"image": "x"}}
    manifest = {"metadata": {"name": "hello", field: value}, "spec": spec}
    try:
        function.compile_function(manifest)
    except function.InvalidFunction as exc:
        assert exc.problems
