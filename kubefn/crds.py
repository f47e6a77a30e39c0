"""CustomResourceDefinitions generated from the schemas the code validates with.

crds/*.yaml are this module's output (`kubefn crds --write`); a test fails when
they drift apart from the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubefn.resources import GROUP, KINDS, VERSION, Kind
from kubefn.schema import kubernetes_schema


def definition(kind: Kind) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": kubernetes_schema(kind.spec_schema),
            "status": kubernetes_schema(kind.status_schema),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["kubefn"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(c) for c in kind.printer_columns],
                }
            ],
        },
    }


def render(kind: Kind) -> str:
    header = "# Generated from kubefn's own schema by `kubefn crds --write`; do not edit.\n"
    return header + yaml.safe_dump(definition(kind), sort_keys=False, width=100)


def files() -> dict[str, str]:
    """File name -> YAML text for every kind."""
    return {f"{kind.plural}.{GROUP}.yaml": render(kind) for kind in KINDS.values()}


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files().items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written
