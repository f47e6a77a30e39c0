"""The Function resource: its schema, its rules beyond the schema, and its compile step.

The operator and `kubefn dev` both call `compile_function`; what it returns is
exactly what the data plane reads from Redis (see kubefn.config).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubefn import codebundle, config, limits
from kubefn.schema import Invalid, Problem, Schema, prune_nulls, show, validate

KIND = "Function"
PYTHON_RUNTIMES = ("python3.11", "python3.12", "python3.13")
RUNTIMES = (*PYTHON_RUNTIMES, "provided")

_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,62}[a-z0-9])?$"
_FILE_PART = r"(?!\.\.?(/|$))[A-Za-z0-9_.\-]+"
_FILE_NAME_PATTERN = rf"^{_FILE_PART}(/{_FILE_PART})*$"
"""Relative, no empty, '.' or '..' parts: every name stays inside the folder it unpacks to."""

SPEC_SCHEMA: Schema = {
    "type": "object",
    "required": ["runtime", "code"],
    "properties": {
        "runtime": {"type": "string", "enum": list(RUNTIMES)},
        "handler": {
            "type": "string",
            "maxLength": 128,
            "pattern": r"^([A-Za-z0-9_\-]+/)*[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$",
            "x-kubefn-pattern-hint": "must be module.function, e.g. app.handler",
        },
        "command": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
        },
        "code": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "x-kubefn-count-hint": "must set exactly one of inline, configMapRef, image, path",
            "properties": {
                "inline": {
                    "type": "object",
                    "minProperties": 1,
                    "x-kubefn-count-hint": "must hold at least one file",
                    "additionalProperties": {"type": "string"},
                    "x-kubefn-key-pattern": _FILE_NAME_PATTERN,
                    "x-kubefn-key-hint": (
                        "must be a relative file name: no leading or trailing '/', "
                        "no empty, '.' or '..' parts"
                    ),
                },
                "configMapRef": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "minLength": 1}},
                },
                "image": {"type": "string", "minLength": 1},
                "path": {"type": "string", "minLength": 1},
            },
        },
        "memoryMB": {
            "type": "integer",
            "minimum": limits.MEMORY_MB_MIN,
            "maximum": limits.MEMORY_MB_MAX,
            "default": limits.MEMORY_MB_DEFAULT,
        },
        "timeoutSeconds": {
            "type": "integer",
            "minimum": limits.TIMEOUT_SECONDS_MIN,
            "maximum": limits.TIMEOUT_SECONDS_MAX,
            "default": limits.TIMEOUT_SECONDS_DEFAULT,
        },
        "environment": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "x-kubefn-key-pattern": r"^[A-Za-z][A-Za-z0-9_]+$",
            "x-kubefn-key-hint": "must be a letter followed by one or more letters, digits or _",
        },
        "ephemeralStorageMB": {
            "type": "integer",
            "minimum": limits.EPHEMERAL_STORAGE_MB_MIN,
            "maximum": limits.EPHEMERAL_STORAGE_MB_MAX,
            "default": limits.EPHEMERAL_STORAGE_MB_DEFAULT,
        },
        "reservedConcurrency": {
            "type": "integer",
            "minimum": 0,
            "maximum": limits.ACCOUNT_CONCURRENCY - limits.UNRESERVED_CONCURRENCY_MIN,
            "nullable": True,
        },
        "provisionedConcurrency": {
            "type": "integer",
            "minimum": 0,
            "maximum": limits.ACCOUNT_CONCURRENCY - limits.UNRESERVED_CONCURRENCY_MIN,
            "default": 0,
        },
        "snapStart": {
            "type": "object",
            "properties": {
                "applyOn": {"type": "string", "enum": ["PublishedVersions", "None"]},
            },
        },
    },
}

STATUS_SCHEMA: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

_RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)


@dataclass(frozen=True)
class CompiledFunction(config.CompiledResource):
    """A validated Function as the data plane runs it.

    `spec` is JSON-ready and holds no code: the code travels as a content-addressed
    bundle (`bundle`), so that a version is immutable and a change makes a new digest.
    """

    @property
    def kind(self) -> str:
        return KIND


class InvalidFunction(Invalid):
    """A Function manifest that breaks rules; `problems` lists every one."""


def check_spec(spec: Any, *, path: str = "spec") -> list[Problem]:
    """Every problem with a Function spec: the schema's and the rules it cannot express.

    The spec is checked as the API server stores it (see `prune_nulls`), and the
    rules beyond the schema run on every field the schema found sound, so one
    pass reports every problem.
    """
    spec = prune_nulls(spec, SPEC_SCHEMA)
    problems = validate(spec, SPEC_SCHEMA, path=path)
    if isinstance(spec, Mapping):
        broken = {problem.path for problem in problems}
        problems += _rules(spec, path=path, broken=broken)
    return problems


def _sound(spec: Mapping[str, Any], name: str, *, path: str, broken: set[str]) -> bool:
    """Whether `spec[name]` is present and the schema found nothing wrong in it."""
    field_path = f"{path}.{name}"
    return name in spec and not any(
        p == field_path or p.startswith((f"{field_path}.", f"{field_path}[")) for p in broken
    )


def _rules(spec: Mapping[str, Any], *, path: str, broken: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    code = spec.get("code")
    has_image = isinstance(code, Mapping) and "image" in code
    if _sound(spec, "runtime", path=path, broken=broken):
        runtime = spec["runtime"]
        if runtime in PYTHON_RUNTIMES:
            if "handler" not in spec:
                problems.append(Problem(f"{path}.handler", f"is required for runtime {runtime}"))
            if "command" in spec:
                problems.append(
                    Problem(
                        f"{path}.command", f"is only for runtime provided (got runtime {runtime})"
                    )
                )
        elif "command" not in spec and not has_image:
            problems.append(
                Problem(
                    f"{path}.command", "is required for runtime provided unless code.image is set"
                )
            )
    environment = spec.get("environment")
    if isinstance(environment, Mapping):
        names = [key for key in environment if isinstance(key, str)]
        size = sum(
            len(key.encode()) + len(value.encode())
            for key, value in environment.items()
            if isinstance(key, str) and isinstance(value, str)
        )
        if size > limits.ENVIRONMENT_BYTES_MAX:
            problems.append(
                Problem(
                    f"{path}.environment",
                    f"total size must be at most {limits.ENVIRONMENT_BYTES_MAX} bytes "
                    f"(got {size} bytes)",
                )
            )
        for key in sorted(set(names) & _RESERVED_ENV):
            problems.append(
                Problem(
                    f"{path}.environment.{key}", f"is reserved by the runtime (got {show(key)})"
                )
            )
    if _sound(spec, "reservedConcurrency", path=path, broken=broken) and (
        "provisionedConcurrency" not in spec
        or _sound(spec, "provisionedConcurrency", path=path, broken=broken)
    ):
        reserved = spec["reservedConcurrency"]
        provisioned = spec.get("provisionedConcurrency", 0)
        if reserved is not None and provisioned > reserved:
            problems.append(
                Problem(
                    f"{path}.provisionedConcurrency",
                    f"must be at most reservedConcurrency {reserved} (got {provisioned})",
                )
            )
    return problems


_DNS_LABEL: Schema = {
    "type": "string",
    "maxLength": 63,
    "pattern": _NAME_PATTERN,
    "x-kubefn-pattern-hint": "must be lower-case letters, digits and '-' (a DNS label)",
}


def check_name(name: Any, *, path: str = "metadata.name") -> list[Problem]:
    """Function names are DNS labels: they name Kubernetes objects too."""
    if name is None or name == "":
        return [Problem(path, f"is required (got {show(name)})")]
    return validate(name, _DNS_LABEL, path=path)


def check_metadata(metadata: Any) -> list[Problem]:
    """The name (required) and the namespace (optional), both DNS labels."""
    if metadata is None:
        return [Problem("metadata.name", "is required (got no metadata)")]
    if not isinstance(metadata, Mapping):
        return validate(metadata, {"type": "object"}, path="metadata")
    problems = check_name(metadata.get("name"))
    if metadata.get("namespace") not in (None, ""):
        problems += validate(metadata["namespace"], _DNS_LABEL, path="metadata.namespace")
    return problems


def with_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec with every schema default filled in."""
    result = dict(spec)
    for name, prop in SPEC_SCHEMA["properties"].items():
        if "default" in prop and name not in result:
            result[name] = prop["default"]
    result.setdefault("environment", {})
    result["snapStart"] = {"applyOn": "None", **(spec.get("snapStart") or {})}
    result.setdefault("reservedConcurrency", None)
    return result


def compile_function(
    manifest: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    config_maps: Mapping[str, Mapping[str, str]] | None = None,
) -> CompiledFunction:
    """Validate a Function manifest and resolve its code into a bundle.

    `base_dir` resolves `code.path` (one-machine use); `config_maps` holds the data
    of ConfigMaps that `code.configMapRef` may name (the operator reads them).
    Raises InvalidFunction listing every problem.
    """
    metadata = manifest.get("metadata")
    problems = check_metadata(metadata)
    spec = manifest.get("spec")
    if spec is None:
        problems.append(Problem("spec", "is required"))
    else:
        problems += check_spec(spec)
    if problems:
        raise InvalidFunction(problems)
    assert isinstance(metadata, Mapping)
    compiled = with_defaults(prune_nulls(spec, SPEC_SCHEMA))
    code = compiled.pop("code")
    bundle: bytes | None = None
    files: dict[str, bytes] | None = None
    if "inline" in code:
        files = {name: text.encode() for name, text in code["inline"].items()}
    elif "path" in code:
        files = _read_path(code["path"], base_dir=base_dir)
    elif "configMapRef" in code:
        ref = code["configMapRef"]["name"]
        if config_maps is None or ref not in config_maps:
            raise InvalidFunction(
                [Problem("spec.code.configMapRef.name", f"no ConfigMap named {show(ref)}")]
            )
        files = {name: text.encode() for name, text in config_maps[ref].items()}
    if files is not None:
        try:
            bundle, digest = codebundle.pack(files)
        except codebundle.BundleTooLarge as exc:
            raise InvalidFunction([Problem("spec.code", str(exc))]) from None
        compiled["code"] = {"bundle": digest, "size": len(bundle)}
    else:
        compiled["code"] = {"image": code["image"]}
    return CompiledFunction(
        namespace=metadata.get("namespace") or "default",
        name=metadata["name"],
        spec=compiled,
        bundle=bundle,
    )


def _read_path(relative: str, *, base_dir: Path | None) -> dict[str, bytes]:
    if base_dir is None:
        raise InvalidFunction(
            [Problem("spec.code.path", f"is only for kubefn dev (got {show(relative)})")]
        )
    folder = (base_dir / relative).resolve()
    if not folder.is_dir():
        raise InvalidFunction(
            [Problem("spec.code.path", f"must name a folder (no folder at {folder})")]
        )
    try:
        return codebundle.read_folder(folder)
    except codebundle.BundleTooLarge as exc:
        raise InvalidFunction([Problem("spec.code.path", str(exc))]) from None
