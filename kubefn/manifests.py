"""Reading manifests from a folder as `kubectl apply -f DIR` would, and compiling them.

A bad manifest is refused with its file, kind, name and every problem; the
others still load, so one typo never takes the rest of a folder down.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubefn import config, resources
from kubefn.resources import API_VERSION, KINDS
from kubefn.schema import Invalid, Problem, show

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Refused:
    """A manifest that could not be loaded, with every reason."""

    source: str
    kind: str
    name: str
    problems: tuple[Problem, ...]

    def __str__(self) -> str:
        label = self.kind or "document"
        what = f'{label} "{self.name}"' if self.name else label
        lines = [f"{self.source}: {what} refused:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class Loaded:
    source: str
    compiled: config.Compiled
    """Of any kind in kubefn.resources.KINDS (e.g. CompiledFunction, CompiledTable)."""


@dataclass(frozen=True)
class Folder:
    loaded: tuple[Loaded, ...]
    refused: tuple[Refused, ...]


def manifest_files(folder: Path) -> list[Path]:
    """Every manifest file below `folder`, in a stable order."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in MANIFEST_SUFFIXES and not _hidden(p, folder)
    )


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _documents(path: Path) -> Iterator[tuple[str, Any]]:
    """(source label, document) for each YAML document in a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        yield str(path), Problem("file", f"must be UTF-8 text (got byte {exc.start})")
        return
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        yield where, Problem("yaml", f"is not valid YAML: {problem}")
        return
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        yield (f"{path}" if len(docs) == 1 else f"{path}#{index + 1}"), doc


ConfigMaps = Mapping[str, Mapping[str, Mapping[str, str]]]
"""namespace -> ConfigMap name -> its data."""


def load_folder(folder: Path) -> Folder:
    """Compile every kubefn manifest in `folder`; other Kubernetes kinds are skipped.

    ConfigMaps in the folder are what `code.configMapRef` may name, as they would
    be after `kubectl apply -f` of the same folder.
    """
    documents = [
        (path, source, doc) for path in manifest_files(folder) for source, doc in _documents(path)
    ]
    config_maps = _config_maps(doc for _, _, doc in documents)
    loaded: list[Loaded] = []
    refused: list[Refused] = []
    for path, source, doc in documents:
        if isinstance(doc, Problem):
            refused.append(Refused(source, "", "", (doc,)))
            continue
        outcome = compile_document(
            doc, source=source, base_dir=path.parent, config_maps=config_maps
        )
        if isinstance(outcome, Refused):
            refused.append(outcome)
        elif outcome is not None:
            loaded.append(outcome)
    unique, duplicates = _first_of_each(loaded)
    return Folder(loaded=tuple(unique), refused=(*refused, *duplicates))


def _first_of_each(loaded: list[Loaded]) -> tuple[list[Loaded], list[Refused]]:
    """One resource per kind and key: the first one loaded; every later one refused.

    A Table's key is its tableName, so two Tables naming the same table clash
    even when their objects' names differ.
    """
    seen: dict[tuple[str, str], str] = {}
    unique: list[Loaded] = []
    duplicates: list[Refused] = []
    for item in loaded:
        kind, key = item.compiled.kind, item.compiled.key
        if (kind, key) in seen:
            path = KINDS[kind].name_path
            problem = Problem(path, f"is already defined in {seen[kind, key]}")
            name = key.split("/", 1)[1]
            duplicates.append(Refused(item.source, kind, name, (problem,)))
            continue
        seen[kind, key] = item.source
        unique.append(item)
    return unique, duplicates


def _config_maps(documents: Iterable[Any]) -> ConfigMaps:
    """The data of every ConfigMap among `documents`, by namespace and name."""
    found: dict[str, dict[str, Mapping[str, str]]] = {}
    for doc in documents:
        if not isinstance(doc, dict) or doc.get("apiVersion") != "v1":
            continue
        metadata, data = doc.get("metadata"), doc.get("data") or {}
        if doc.get("kind") != "ConfigMap" or not isinstance(metadata, dict):
            continue
        if not isinstance(data, dict) or not isinstance(metadata.get("name"), str):
            continue
        namespace = str(metadata.get("namespace") or "default")
        found.setdefault(namespace, {})[metadata["name"]] = {
            str(key): value for key, value in data.items() if isinstance(value, str)
        }
    return found


def compile_document(
    doc: Any,
    *,
    source: str,
    base_dir: Path,
    config_maps: ConfigMaps | None = None,
) -> Loaded | Refused | None:
    """One document: Loaded, Refused, or None when it is not a kubefn kind."""
    if not isinstance(doc, dict):
        problem = Problem("document", f"must be a mapping (got {show(doc)})")
        return Refused(source, "", "", (problem,))
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    metadata = doc.get("metadata")
    name = str(metadata.get("name") or "") if isinstance(metadata, dict) else ""
    if not isinstance(api_version, str) or not api_version.startswith("kubefn.io/"):
        return None
    label = kind if isinstance(kind, str) else ""
    if api_version != API_VERSION:
        return Refused(
            source, label, name,
            (Problem("apiVersion", f"must be {API_VERSION} (got {show(api_version)})"),),
        )  # fmt: skip
    if not isinstance(kind, str) or kind not in KINDS:
        known = ", ".join(KINDS)
        return Refused(
            source, label, name, (Problem("kind", f"must be one of {known} (got {show(kind)})"),)
        )
    namespace = (metadata.get("namespace") if isinstance(metadata, dict) else None) or "default"
    try:
        compiled = resources.compile_manifest(
            doc, base_dir=base_dir, config_maps=(config_maps or {}).get(str(namespace), {})
        )
    except Invalid as exc:
        return Refused(source, kind, name, tuple(exc.problems))
    return Loaded(source=source, compiled=compiled)
