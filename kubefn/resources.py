"""The custom resource kinds kubefn defines, in one table.

CRD generation, manifest loading and the operator all read this table, so a new
kind (Table, StateMachine) is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubefn import function
from kubefn.schema import Schema

GROUP = "kubefn.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    spec_schema: Schema
    status_schema: Schema
    printer_columns: tuple[dict[str, str], ...] = ()


FUNCTION = Kind(
    kind=function.KIND,
    plural="functions",
    singular="function",
    short_names=("fn",),
    spec_schema=function.SPEC_SCHEMA,
    status_schema=function.STATUS_SCHEMA,
    printer_columns=(
        {"name": "Runtime", "type": "string", "jsonPath": ".spec.runtime"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "Revision", "type": "integer", "jsonPath": ".status.revision"},
        {"name": "Instances", "type": "integer", "jsonPath": ".status.instances"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ),
)

KINDS: dict[str, Kind] = {FUNCTION.kind: FUNCTION}
