"""The CRD YAML is generated from the schemas the code validates with: one source of truth.

If a test here fails after a schema change, regenerate with
`.venv/bin/python -c "from pathlib import Path; from kubefn import crds; crds.write(Path('crds'))"`
and copy crds/*.yaml into charts/kubefn/crds/.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubefn import crds
from kubefn.resources import KINDS

REPO = Path(__file__).resolve().parent.parent
FOLDERS = (REPO / "crds", REPO / "charts" / "kubefn" / "crds")

# The keywords apiextensions.k8s.io/v1 JSONSchemaProps accepts (besides x-kubernetes-*).
_KEYWORDS = frozenset(
    {
        "type", "format", "title", "description", "default", "example", "externalDocs",
        "enum", "nullable", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
        "multipleOf", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "maxProperties", "minProperties", "required", "items", "properties",
        "additionalProperties", "allOf", "oneOf", "anyOf", "not",
    }
)  # fmt: skip


def _nodes(schema: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every schema node below (and including) `schema`, with its path."""
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            yield from _nodes(schema[key], f"{path}[{key}]")


def _open_api_schemas() -> list[Any]:
    return [
        pytest.param(version["schema"]["openAPIV3Schema"], id=f"{kind}/{version['name']}")
        for kind, spec in ((k, crds.definition(v)["spec"]) for k, v in KINDS.items())
        for version in spec["versions"]
    ]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: str(f.relative_to(REPO)))
def test_crd_files_are_what_the_code_generates(folder: Path) -> None:
    on_disk = {path.name: path.read_text() for path in folder.glob("*.yaml")}
    assert on_disk == crds.files()


@pytest.mark.parametrize("schema", _open_api_schemas())
def test_every_schema_node_has_a_type(schema: Mapping[str, Any]) -> None:
    untyped = [path for path, node in _nodes(schema, "") if not node.get("type")]
    assert untyped == []


@pytest.mark.parametrize("schema", _open_api_schemas())
def test_schema_uses_only_keywords_the_api_server_knows(schema: Mapping[str, Any]) -> None:
    unknown = [
        f"{path}: {key}"
        for path, node in _nodes(schema, "")
        for key in node
        if key not in _KEYWORDS and not key.startswith("x-kubernetes-")
    ]
    assert unknown == []


@pytest.mark.parametrize("schema", _open_api_schemas())
def test_schema_is_structural(schema: Mapping[str, Any]) -> None:
    """Kubernetes refuses properties beside additionalProperties, or additionalProperties false."""
    broken = [
        path
        for path, node in _nodes(schema, "")
        if ("properties" in node and "additionalProperties" in node)
        or node.get("additionalProperties") is False
        or node.get("uniqueItems") is True
    ]
    assert broken == []


def test_generated_yaml_parses_back_to_the_definition() -> None:
    for kind in KINDS.values():
        assert yaml.safe_load(crds.render(kind)) == crds.definition(kind)
