"""The custom resource kinds kubefn defines, in one table.

CRD generation, manifest loading and the operator all read this table, so a new
kind (StateMachine, Api) is added here once: its schemas, its names, its printer
columns and its compile step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kubefn import config, function, statemachine, table
from kubefn.schema import Problem, Schema

GROUP = "kubefn.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class Compile(Protocol):
    """A kind's compile step: a manifest in, what the data plane reads out; raises Invalid.

    `base_dir` resolves files next to the manifest (kubefn dev); `config_maps`
    holds the ConfigMaps of the manifest's namespace, by name.
    """

    def __call__(
        self,
        manifest: Mapping[str, Any],
        *,
        base_dir: Path | None,
        config_maps: Mapping[str, Mapping[str, str]],
    ) -> config.Compiled: ...


ChangeRules = Callable[[Mapping[str, Any], Mapping[str, Any]], list[Problem]]
"""Problems of replacing a published (compiled) spec with a new one."""


def _any_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Problem]:
    return []


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    spec_schema: Schema
    status_schema: Schema
    compile: Compile
    printer_columns: tuple[dict[str, str], ...] = ()
    name_path: str = "metadata.name"
    """Where a manifest names what it publishes (the name in its config key)."""
    check_change: ChangeRules = _any_change


def _compile_function(
    manifest: Mapping[str, Any],
    *,
    base_dir: Path | None,
    config_maps: Mapping[str, Mapping[str, str]],
) -> function.CompiledFunction:
    return function.compile_function(manifest, base_dir=base_dir, config_maps=config_maps)


def _compile_table(
    manifest: Mapping[str, Any],
    *,
    base_dir: Path | None,
    config_maps: Mapping[str, Mapping[str, str]],
) -> table.CompiledTable:
    return table.compile_table(manifest)


def _compile_statemachine(
    manifest: Mapping[str, Any],
    *,
    base_dir: Path | None,
    config_maps: Mapping[str, Mapping[str, str]],
) -> statemachine.CompiledStateMachine:
    return statemachine.compile_statemachine(manifest)


_READY = {
    "name": "Ready",
    "type": "string",
    "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
}
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

FUNCTION = Kind(
    kind=function.KIND,
    plural="functions",
    singular="function",
    short_names=("fn",),
    spec_schema=function.SPEC_SCHEMA,
    status_schema=function.STATUS_SCHEMA,
    compile=_compile_function,
    printer_columns=(
        {"name": "Runtime", "type": "string", "jsonPath": ".spec.runtime"},
        _READY,
        {"name": "Revision", "type": "integer", "jsonPath": ".status.revision"},
        {"name": "Instances", "type": "integer", "jsonPath": ".status.instances"},
        _AGE,
    ),
)

TABLE = Kind(
    kind=table.KIND,
    plural="tables",
    singular="table",
    short_names=("tbl",),
    spec_schema=table.SPEC_SCHEMA,
    status_schema=table.STATUS_SCHEMA,
    compile=_compile_table,
    name_path="spec.tableName",
    check_change=table.check_change,
    printer_columns=(
        _READY,
        {"name": "Items", "type": "integer", "jsonPath": ".status.itemCount"},
        _AGE,
    ),
)

STATE_MACHINE = Kind(
    kind=statemachine.KIND,
    plural="statemachines",
    singular="statemachine",
    short_names=("sm",),
    spec_schema=statemachine.SPEC_SCHEMA,
    status_schema=statemachine.STATUS_SCHEMA,
    compile=_compile_statemachine,
    printer_columns=(
        {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
        _READY,
        _AGE,
    ),
)

KINDS: dict[str, Kind] = {kind.kind: kind for kind in (FUNCTION, TABLE, STATE_MACHINE)}


def compile_manifest(
    manifest: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    config_maps: Mapping[str, Mapping[str, str]] | None = None,
) -> config.Compiled:
    """Compile a manifest of any kubefn kind (its `kind` must be one of KINDS); raises Invalid."""
    kind = KINDS[manifest["kind"]]
    return kind.compile(manifest, base_dir=base_dir, config_maps=config_maps or {})
